#!/usr/bin/env bash
# A/B of two settings of our target under SPDK's own load generator, interleaved: for each run and cell, setting A then
# setting B, each a fresh `nvme-mptls-target` (1 GiB memory namespace, plain TCP) pinned to CPU 0 and `spdk_nvme_perf`
# pinned to CPU 1. Target CPU per I/O comes from /proc/<pid>/stat around the perf run, divided by the I/Os done.
# Usage: bench/spdk-perf-ab.sh "ENV_A" "ENV_B" [runs] [seconds] [cells]
#   ENV_x: VAR=VALUE pairs for side x's target, e.g. "NVMEMPTLS_Target__SendMode=loop" "NVMEMPTLS_Target__SendMode=burst".
#   cells: space-separated rw:bytes:depth (default "randread:4096:32 randwrite:4096:32 randread:4096:1 read:131072:16 write:131072:16").
#   NVMEMPTLS_SPDK: an SPDK tree built by ../shared/bench/spdk-build.sh (build/bin/spdk_nvme_perf).
#   AB_DLL_A / AB_DLL_B (optional): another build's nvme-mptls-target.dll for side A / B (default this tree's Release build),
#   to compare two builds under the same settings (ENV_A = ENV_B).
#   AB_FILL=1: write the whole namespace first (8192 sequential 128 KiB writes, not measured). Without it a read of a chunk never
#   written returns zeros without touching memory and a write pays the chunk's first allocation, so write cells need it.
# Prints one line per run and cell, then min/median/max of B/A per cell (IOPS, and target CPU µs per I/O).
set -euo pipefail
EA=$1; EB=$2; RUNS=${3:-3}; SECS=${4:-5}
CELLS=${5:-randread:4096:32 randwrite:4096:32 randread:4096:1 read:131072:16 write:131072:16}
SPDK=${NVMEMPTLS_SPDK:?set NVMEMPTLS_SPDK to an SPDK tree built by ../shared/bench/spdk-build.sh}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DLL=$ROOT/src/Target/Service/bin/Release/net10.0/nvme-mptls-target.dll
[[ -f $DLL ]] || { echo "build first: dotnet build NvmeMptls.sln -c Release" >&2; exit 2; }
TICK=$(getconf CLK_TCK)
OUT=$(mktemp -d /tmp/spdk-perf-ab.XXXXXX)
echo "# target CPU 0, spdk_nvme_perf CPU 1, ${SECS} s cells, results in $OUT" >&2

spdk_perf() { # perf options... (on CPU 1, SPDK's own memory without huge pages)
  (cd "$SPDK" && LD_LIBRARY_PATH=$PWD/build/lib taskset -c 1 ./build/bin/spdk_nvme_perf --no-huge -s 1024 -c 0x2 "$@")
}

one() { # envs rw bytes depth dll -> "iops p50us cpu_us_per_io"
  local -a envs; read -ra envs <<<"$1"
  local port=$((20000 + RANDOM % 20000)) log=$OUT/target-$RANDOM.log
  env "${envs[@]}" DOTNET_gcServer=0 taskset -c 0 dotnet "$5" --listen "127.0.0.1:$port" --discovery none \
    --memory-ns 1GiB --multipath disabled >"$log" 2>&1 &
  local t=$!
  for _ in $(seq 300); do grep -q "is serving" "$log" && break; sleep 0.1; done
  local before after line
  local target="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$port subnqn:nqn.2026-01.io.nvmemptls:default hostnqn:nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001"
  # 8192 sequential 128 KiB writes are the whole 1 GiB (-d ends the run there, -t only bounds it). A failed fill stops
  # the script: the cell would otherwise be measured on an empty namespace, on one side of the A/B only.
  if [[ ${AB_FILL:-0} == 1 ]] && ! spdk_perf -q 16 -o 131072 -w write -d 8192 -t 120 -r "$target" >"$OUT/fill-$port.log" 2>&1; then
    echo "fill failed: $OUT/fill-$port.log" >&2
    kill "$t"; wait "$t" 2>/dev/null || true
    return 1
  fi
  before=$(awk '{print $14+$15}' "/proc/$t/stat")
  line=$(spdk_perf -q "$4" -o "$3" -w "$2" -t "$SECS" -r "$target" 2>&1 | awk '/^Total/{print $3, $5}')
  after=$(awk '{print $14+$15}' "/proc/$t/stat")
  kill "$t"; wait "$t" 2>/dev/null || true
  awk -v l="$line" -v b="$before" -v a="$after" -v tick="$TICK" -v s="$SECS" 'BEGIN{split(l,f," "); printf "%s %s %.2f\n", f[1], f[2], (a-b)/tick*1e6/(f[1]*s)}'
}

for r in $(seq "$RUNS"); do
  for c in $CELLS; do
    IFS=: read -r rw bytes depth <<<"$c"
    a=$(one "$EA" "$rw" "$bytes" "$depth" "${AB_DLL_A:-$DLL}"); b=$(one "$EB" "$rw" "$bytes" "$depth" "${AB_DLL_B:-$DLL}")
    echo "$r $c A $a B $b" | tee -a "$OUT/runs.txt"
  done
done

python3 - "$OUT/runs.txt" <<'PY'
import sys, statistics
cells = {}
for line in open(sys.argv[1]):
    f = line.split()
    a_iops, a_lat, a_cpu, b_iops, b_lat, b_cpu = map(float, (f[3], f[4], f[5], f[7], f[8], f[9]))
    cells.setdefault(f[1], []).append((a_iops, b_iops, b_iops / a_iops, b_cpu / a_cpu, a_lat, b_lat))
print("| cell | A IOPS (median) | B IOPS (median) | B/A IOPS min–median–max | B/A target CPU per I/O min–median–max | mean latency µs A / B (median) |")
print("|---|---|---|---|---|---|")
for cell, rows in cells.items():
    r = lambda i: sorted(x[i] for x in rows)
    fmt = lambda v: f"{v[0]:.2f}–{statistics.median(v):.2f}–{v[-1]:.2f}"
    print(f"| {cell} | {statistics.median(r(0)):,.0f} | {statistics.median(r(1)):,.0f} | {fmt(r(2))} | {fmt(r(3))} | {statistics.median(r(4)):.1f} / {statistics.median(r(5)):.1f} |")
PY
