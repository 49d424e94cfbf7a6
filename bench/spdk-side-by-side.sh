#!/usr/bin/env bash
# Side by side with SPDK, interleaved, both questions of issue 16 in one run: for each run, SPDK's nvmf_tgt (1 GiB
# Malloc bdev) then our nvme-mptls-target (1 GiB memory namespace, filled once), each started fresh on CPU 0; against
# each, every cell is driven by spdk_nvme_perf and then by `nvme-mptls bench` (default --completions inline), both on
# CPU 1. Per run it prints the four IOPS figures; at the end min–median–max over the runs of
#   target ratio    = perf → ours / perf → SPDK     (our target, SPDK's initiator)
#   initiator ratio = bench → SPDK / perf → SPDK    (our initiator, SPDK's target)
#   ours end to end = bench → ours / perf → SPDK
# QD1 cells compare IOPS, which at depth 1 is the inverse of the mean latency.
# Usage: bench/spdk-side-by-side.sh [runs] [seconds] [cells]   (cells: rw:bs:depth,..., default the matrix's five)
#   NVMEMPTLS_SPDK: an SPDK tree built by ../shared/bench/spdk-build.sh. Build ours first (dotnet build -c Release).
#   SBS_TARGET_ENV (optional): VAR=VALUE pairs for our target, e.g. "NVMEMPTLS_Target__ReceivePollMicroseconds=50".
#   SBS_BENCH_ARGS (optional): extra arguments of our measured bench runs, e.g. "--poll-us 50".
set -euo pipefail
RUNS=${1:-3}; SECS=${2:-5}; CELLS=${3:-randread:4k:1,randread:4k:32,randwrite:4k:32,read:128k:16,write:128k:16}
SPDK=${NVMEMPTLS_SPDK:?set NVMEMPTLS_SPDK to an SPDK tree built by ../shared/bench/spdk-build.sh}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$ROOT/src/Target/Service/bin/Release/net10.0/nvme-mptls-target.dll
CLI=$ROOT/src/Initiator/Cli/bin/Release/net10.0/nvme-mptls.dll
[[ -f $TARGET && -f $CLI ]] || { echo "build first: dotnet build NvmeMptls.sln -c Release" >&2; exit 2; }
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:6e6f6e65-0000-4000-8000-62656e636821
read -ra TARGET_ENV <<<"${SBS_TARGET_ENV:-}"; read -ra BENCH_ARGS <<<"${SBS_BENCH_ARGS:-}"
OUT=$(mktemp -d /tmp/spdk-side-by-side.XXXXXX)
echo "# targets on CPU 0, initiators on CPU 1, ${SECS} s cells, ${RUNS} runs; our target env: ${SBS_TARGET_ENV:-none}; our bench args: ${SBS_BENCH_ARGS:-none}; results in $OUT" >&2
IFS=, read -ra cells <<<"$CELLS"

perf() { # port nqn rw bs depth -> iops
  local bytes=4096; [[ $4 == 128k ]] && bytes=131072
  (cd "$SPDK" && LD_LIBRARY_PATH=$PWD/build/lib taskset -c 1 ./build/bin/spdk_nvme_perf --no-huge -s 1024 -c 0x2 -q "$5" -o "$bytes" \
    -w "$3" -t "$SECS" -r "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$1 subnqn:$2 hostnqn:$HOSTNQN" 2>&1) | awk '/^Total/{print $3}'
}

bench() { # port nqn rw bs depth -> iops
  taskset -c 1 dotnet "$CLI" bench -a 127.0.0.1 -s "$1" -n "$2" --multipath disabled --hostnqn "$HOSTNQN" --name cell --rw "$3" --bs "$4" \
    --iodepth "$5" --size 1GiB --ramp_time 1 --runtime "$SECS" --time_based "${BENCH_ARGS[@]}" --output-format json | jq '.jobs[0].read.iops + .jobs[0].write.iops'
}

cells_against() { # label port nqn run
  for cell in "${cells[@]}"; do
    IFS=: read -r rw bs qd <<<"$cell"
    local p b; p=$(perf "$2" "$3" "$rw" "$bs" "$qd"); b=$(bench "$2" "$3" "$rw" "$bs" "$qd")
    echo "$4 $1 $rw/$bs/QD$qd ${p:-0} ${b:-0}" | tee -a "$OUT/results.txt"
  done
}

for run in $(seq "$RUNS"); do
  port=$((20000 + RANDOM % 20000)); sock=$OUT/spdk.sock
  (cd "$SPDK" && LD_LIBRARY_PATH=$PWD/build/lib exec taskset -c 0 ./build/bin/nvmf_tgt --no-huge -s 2048 -m 0x1 -r "$sock") >"$OUT/spdk-$run.log" 2>&1 &
  spdk=$!
  rpc() { python3 "$SPDK/scripts/rpc.py" -s "$sock" "$@" >/dev/null; }
  for _ in $(seq 240); do rpc spdk_get_version 2>/dev/null && break; sleep 0.25; done
  rpc nvmf_create_transport -t TCP
  rpc bdev_malloc_create -b Malloc0 1024 512
  rpc nvmf_create_subsystem nqn.2016-06.io.spdk:bench -a -s SPDK00000000000001
  rpc nvmf_subsystem_add_ns nqn.2016-06.io.spdk:bench Malloc0
  rpc nvmf_subsystem_add_listener nqn.2016-06.io.spdk:bench -t tcp -a 127.0.0.1 -s "$port"
  # Fill the Malloc bdev as ours is filled: --no-huge memory is faulted in on first touch (untouched, 4 KiB randread
  # QD32 measured page faults: 98k IOPS instead of ~300k).
  taskset -c 1 dotnet "$CLI" bench -a 127.0.0.1 -s "$port" -n nqn.2016-06.io.spdk:bench --multipath disabled --hostnqn "$HOSTNQN" \
    --name fill --rw write --bs 128k --iodepth 16 --size 1GiB --output-format json >/dev/null
  cells_against spdk "$port" nqn.2016-06.io.spdk:bench "$run"
  kill "$spdk"; wait "$spdk" 2>/dev/null || true

  port=$((20000 + RANDOM % 20000)); log=$OUT/ours-$run.log
  env "${TARGET_ENV[@]}" DOTNET_gcServer=0 taskset -c 0 dotnet "$TARGET" --listen "127.0.0.1:$port" --discovery none --memory-ns 1GiB --multipath disabled >"$log" 2>&1 &
  ours=$!
  for _ in $(seq 300); do grep -q "is serving" "$log" && break; sleep 0.1; done
  taskset -c 1 dotnet "$CLI" bench -a 127.0.0.1 -s "$port" -n nqn.2026-01.io.nvmemptls:default --multipath disabled --hostnqn "$HOSTNQN" \
    --name fill --rw write --bs 128k --iodepth 16 --size 1GiB --output-format json >/dev/null
  cells_against ours "$port" nqn.2026-01.io.nvmemptls:default "$run"
  kill "$ours"; wait "$ours" 2>/dev/null || true
done

python3 - "$OUT/results.txt" <<'PY'
import sys, statistics as st, collections
runs = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    run, target, cell, perf, bench = line.split()
    runs[(cell, run)][target] = (float(perf), float(bench))
cells = collections.OrderedDict()
for (cell, run), v in runs.items():
    if 'spdk' in v and 'ours' in v and v['spdk'][0] > 0:
        cells.setdefault(cell, []).append(v)
f = lambda xs: f"{min(xs):.2f}–{st.median(xs):.2f}–{max(xs):.2f}"
m = lambda xs: f"{st.median(xs):.0f}"
print("| cell | perf → SPDK | perf → ours | bench → SPDK | bench → ours | target ratio (perf → ours / perf → SPDK) | initiator ratio (bench → SPDK / perf → SPDK) | ours end to end / SPDK end to end |")
print("|---|---|---|---|---|---|---|---|")
for cell, vs in cells.items():
    print(f"| {cell} | {m([v['spdk'][0] for v in vs])} | {m([v['ours'][0] for v in vs])} | {m([v['spdk'][1] for v in vs])} | {m([v['ours'][1] for v in vs])} | "
          f"{f([v['ours'][0]/v['spdk'][0] for v in vs])} | {f([v['spdk'][1]/v['spdk'][0] for v in vs])} | {f([v['ours'][1]/v['spdk'][0] for v in vs])} |")
print("IOPS medians over the runs; ratios min–median–max of the per-run ratios (above 1.0: ours does more).")
PY
