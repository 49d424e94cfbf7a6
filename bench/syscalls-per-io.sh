#!/usr/bin/env bash
# System calls per I/O on both ends, our target and our bench: a fresh `nvme-mptls-target` (1 GiB memory namespace,
# filled once) pinned to CPU 0, `nvme-mptls bench` pinned to CPU 1, and `perf stat` counting each end's send and receive
# calls for 3 s in the middle of an 8 s run. Sends and receives per I/O depend on how bursts are framed, not on the
# machine's fast or slow mode, as IOPS do.
# Usage: bench/syscalls-per-io.sh DIR rw bs depth      (DIR holds target/ and cli/ copies of the Release outputs, as
#        for bench/ab-compare.sh; "." means this tree's Release build)
#   SYSCALLS_TLS=1: TLS 1.3 with the bench suite's PSK on both ends.
set -euo pipefail
[[ $# -eq 4 ]] || { echo "usage: bench/syscalls-per-io.sh DIR rw bs depth" >&2; exit 2; }
DIR=$1; RW=$2; BS=$3; QD=$4
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ $DIR == . ]]; then
  TARGET=$ROOT/src/Target/Service/bin/Release/net10.0/nvme-mptls-target.dll; CLI=$ROOT/src/Initiator/Cli/bin/Release/net10.0/nvme-mptls.dll
else
  TARGET=$DIR/target/nvme-mptls-target.dll; CLI=$DIR/cli/nvme-mptls.dll
fi
[[ -f $TARGET && -f $CLI ]] || { echo "no build at $TARGET / $CLI (dotnet build NvmeMptls.sln -c Release)" >&2; exit 2; }
command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)" >&2; exit 2; }
source "$(dirname "$0")/lib/common.sh"; KEY=$BENCH_TLS_KEY
NQN=nqn.2026-01.io.nvmemptls:default
TT=(); TB=()
[[ ${SYSCALLS_TLS:-0} == 1 ]] && TT=(--tls required --tls-key "$KEY") && TB=(--tls --tls-key "$KEY")
OUT=$(mktemp -d /tmp/syscalls-per-io.XXXXXX)
port=$((20000 + RANDOM % 20000))
DOTNET_gcServer=0 taskset -c 0 dotnet "$TARGET" --listen "127.0.0.1:$port" --discovery none --memory-ns 1GiB --multipath disabled "${TT[@]}" >"$OUT/target.log" 2>&1 &
t=$!
trap 'kill $t 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q "is serving" "$OUT/target.log" && break; sleep 0.1; done
bench() { exec taskset -c 1 dotnet "$CLI" bench -a 127.0.0.1 -s "$port" -n "$NQN" --multipath disabled "${TB[@]}" --size 1GiB --output-format json "$@"; }
(bench --name fill --rw write --bs 128k --iodepth 16) >/dev/null 2>"$OUT/fill.err"
# The subshell execs down to the bench (taskset, the dotnet host): $! is its pid.
(bench --name cell --rw "$RW" --bs "$BS" --iodepth "$QD" --runtime 8 --time_based) >"$OUT/bench.json" 2>"$OUT/bench.err" &
b=$!; bp=$b
sleep 3
EV=syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,task-clock
perf stat -x, -e "$EV" -p "$t" -o "$OUT/target.csv" -- sleep 3 >/dev/null 2>&1 &
perf stat -x, -e "$EV" -p "$bp" -o "$OUT/bench.csv" -- sleep 3 >/dev/null 2>&1
wait "$b"
iops=$(jq '.jobs[0].read.iops + .jobs[0].write.iops' "$OUT/bench.json")
echo "$RW $BS QD$QD${TB:+ TLS}: $(printf '%.0f' "$iops") IOPS | target per I/O:$(per_io "$OUT/target.csv" "$iops" 3) | bench per I/O:$(per_io "$OUT/bench.csv" "$iops" 3)"
