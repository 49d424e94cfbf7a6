#!/usr/bin/env bash
# A/B of two builds of the target (and its load generator), interleaved: for each run and cell, build A then build B,
# each a fresh `nvme-mptls-target` with a 1 GiB memory namespace pinned to CPU 0 and `nvme-mptls bench` pinned to CPU 1.
# Target CPU per I/O comes from /proc/<pid>/stat (utime+stime) around the bench process, divided by IOPS × runtime,
# as the matrix does (the ramp and connect are inside the window, so the figure is an upper bound on both sides alike).
# Usage: bench/ab-compare.sh DIR_A DIR_B [runs] [seconds] [carriers] [cells]
#   DIR_x holds target/nvme-mptls-target.dll and cli/nvme-mptls.dll (copies of the two Release output folders).
#   carriers: comma list of tcp,mptcp,tls/tcp,tls/mptcp (default tcp,tls/tcp)
#   cells: comma list of randread:4k:32, read:128k:16, ... (default both)
#   AB_ENV_A / AB_ENV_B (optional): VAR=VALUE pairs set for side A's / B's target and load generator, so one build can be
#   compared with itself under two settings (DIR_A = DIR_B). AB_TARGET_ENV_x / AB_INIT_ENV_x: the same, for the target only / the load generator only.
#   AB_INIT_ARGS_A / AB_INIT_ARGS_B (optional): extra arguments of the measured bench run, e.g. "--completions pool".
# Prints one line per run and a min/median/max summary of B/A ratios.
set -euo pipefail
A=$1; B=$2; RUNS=${3:-3}; SECS=${4:-5}; CARRIERS=${5:-tcp,tls/tcp}; CELLS=${6:-randread:4k:32,read:128k:16}
source "$(dirname "$0")/lib/common.sh"; KEY=$BENCH_TLS_KEY
NQN=nqn.2026-01.io.nvmemptls:default
TICK=$(getconf CLK_TCK)
OUT=$(mktemp -d /tmp/ab-compare.XXXXXX)
echo "# results in $OUT" >&2

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

run_one() { # dir carrier rw bs qd envs -> "iops mibs cpu_us_per_io"
  local dir=$1 carrier=$2 rw=$3 bs=$4 qd=$5
  local -a envs tenvs ienvs iargs; read -ra envs <<<"${6:-}"; read -ra tenvs <<<"${7:-}"; read -ra ienvs <<<"${8:-}"; read -ra iargs <<<"${9:-}"
  local port=$((20000 + RANDOM % 20000)) mp=disabled tlsargs=() ctls=()
  [[ $carrier == *mptcp ]] && mp=required
  [[ $carrier == tls/* ]] && tlsargs=(--tls required --tls-key "$KEY") && ctls=(--tls --tls-key "$KEY")
  local log=$OUT/target-$$-$RANDOM.log
  env "${envs[@]}" "${tenvs[@]}" DOTNET_gcServer=0 taskset -c 0 dotnet "$dir/target/nvme-mptls-target.dll" --listen "127.0.0.1:$port" --discovery none \
    --memory-ns 1GiB --multipath "$mp" "${tlsargs[@]}" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do grep -q "is serving" "$log" 2>/dev/null && break; sleep 0.1; done
  # The dotnet host execs the app in the same process: $pid is the target.
  local nqn=$NQN
  # Fill the namespace once so reads touch allocated chunks.
  env "${envs[@]}" taskset -c 1 dotnet "$dir/cli/nvme-mptls.dll" bench -a 127.0.0.1 -s "$port" -n "$nqn" --multipath "$mp" "${ctls[@]}" \
    --name fill --rw write --bs 128k --iodepth 16 --size 1GiB --output-format json >/dev/null
  local t0; t0=$(cpu_ticks $pid)
  local json; json=$(env "${envs[@]}" "${ienvs[@]}" taskset -c 1 dotnet "$dir/cli/nvme-mptls.dll" bench -a 127.0.0.1 -s "$port" -n "$nqn" --multipath "$mp" "${ctls[@]}" \
    --name cell --rw "$rw" --bs "$bs" --iodepth "$qd" --size 1GiB --ramp_time 1 --runtime "$SECS" --time_based --output-format json "${iargs[@]}")
  local t1; t1=$(cpu_ticks $pid)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local iops mibs err
  iops=$(jq '.jobs[0].read.iops + .jobs[0].write.iops' <<<"$json")
  mibs=$(jq '(.jobs[0].read.bw_bytes + .jobs[0].write.bw_bytes) / 1048576' <<<"$json")
  err=$(jq '.jobs[0].total_err' <<<"$json")
  [[ $err == 0 ]] || echo "WARNING: $err errors" >&2
  python3 -c "print(f'{$iops:.0f} {$mibs:.1f} {($t1-$t0)*1e6/$TICK/($iops*$SECS):.2f}')"
}

IFS=, read -ra carriers <<<"$CARRIERS"; IFS=, read -ra cells <<<"$CELLS"
for run in $(seq "$RUNS"); do
  for carrier in "${carriers[@]}"; do
    for cell in "${cells[@]}"; do
      IFS=: read -r rw bs qd <<<"$cell"
      for side in A B; do
        dir=$A; envs=${AB_ENV_A:-}; tenvs=${AB_TARGET_ENV_A:-}; ienvs=${AB_INIT_ENV_A:-}; iargs=${AB_INIT_ARGS_A:-}
        [[ $side == B ]] && dir=$B && envs=${AB_ENV_B:-} && tenvs=${AB_TARGET_ENV_B:-} && ienvs=${AB_INIT_ENV_B:-} && iargs=${AB_INIT_ARGS_B:-}
        r=$(run_one "$dir" "$carrier" "$rw" "$bs" "$qd" "$envs" "$tenvs" "$ienvs" "$iargs")
        echo "$run $carrier $rw/$bs/QD$qd $side $r" | tee -a "$OUT/results.txt"
      done
    done
  done
done
python3 - "$OUT/results.txt" <<'EOF'
import sys, statistics as st, collections
rows = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    run, carrier, cell, side, iops, mibs, cpu = line.split()
    rows[(carrier, cell, run)][side] = (float(iops), float(mibs), float(cpu))
cells = collections.defaultdict(list)
for (carrier, cell, run), v in rows.items():
    if 'A' in v and 'B' in v:
        cells[(carrier, cell)].append((v['A'], v['B']))
print("| carrier | cell | A IOPS (med) | B IOPS (med) | A MiB/s (med) | B MiB/s (med) | B/A IOPS min–med–max | A CPU µs/IO (med) | B CPU µs/IO (med) | B/A CPU/IO min–med–max |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (carrier, cell), pairs in cells.items():
    r = sorted(b[0] / a[0] for a, b in pairs); c = sorted(b[2] / a[2] for a, b in pairs)
    med = lambda xs: st.median(xs)
    print(f"| {carrier} | {cell} | {med([a[0] for a,b in pairs]):.0f} | {med([b[0] for a,b in pairs]):.0f} | "
          f"{med([a[1] for a,b in pairs]):.0f} | {med([b[1] for a,b in pairs]):.0f} | {r[0]:.2f}–{med(r):.2f}–{r[-1]:.2f} | "
          f"{med([a[2] for a,b in pairs]):.2f} | {med([b[2] for a,b in pairs]):.2f} | {c[0]:.2f}–{med(c):.2f}–{c[-1]:.2f} |")
EOF
