#!/usr/bin/env bash
# Our initiator against spdk_nvme_perf on one SPDK target: SPDK's nvmf_tgt (1 GiB Malloc bdev, filled once) pinned to
# CPU 0, and on CPU 1 spdk_nvme_perf and `nvme-mptls bench` taking turns at one cell, 8 s each, `perf stat` counting
# the load generator's system calls and CPU for 3 s in the middle, and SPDK's target's system calls in the same 3 s.
# Prints IOPS, system calls and CPU µs per I/O.
# Usage: bench/initiator-vs-perf.sh [rw] [bytes] [depth] [turns]     (default randwrite 4096 32 2)
#   NVMEMPTLS_SPDK: an SPDK tree built by ../shared/bench/spdk-build.sh.
#   INITIATORS: the turns' order, words "perf" and "bench" or "bench:DIR" (DIR/cli/nvme-mptls.dll, another build), with
#   "bench:DIR:VAR=VALUE" to set one environment variable for it; default "perf bench" repeated [turns] times.
#   BENCH_ARGS: more options for every bench turn (e.g. "--poll-us 50").
set -euo pipefail
RW=${1:-randwrite}; BS=${2:-4096}; QD=${3:-32}; TURNS=${4:-2}
SPDK=${NVMEMPTLS_SPDK:?set NVMEMPTLS_SPDK to an SPDK tree built by ../shared/bench/spdk-build.sh}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib/common.sh"
CLI=$ROOT/src/Initiator/Cli/bin/Release/net10.0/nvme-mptls.dll
[[ -f $CLI ]] || { echo "build first: dotnet build NvmeMptls.sln -c Release" >&2; exit 2; }
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001
NQN=nqn.2016-06.io.spdk:bench
OUT=$(mktemp -d /tmp/initiator-vs-perf.XXXXXX)
port=$((20000 + RANDOM % 20000)); sock=$OUT/spdk.sock
(cd "$SPDK" && LD_LIBRARY_PATH=$PWD/build/lib exec taskset -c 0 ./build/bin/nvmf_tgt --no-huge -s 2048 -m 0x1 -r "$sock") >"$OUT/spdk.log" 2>&1 &
spdk=$!
trap 'kill $spdk 2>/dev/null || true' EXIT
rpc() { python3 "$SPDK/scripts/rpc.py" -s "$sock" "$@" >/dev/null; }
for _ in $(seq 240); do rpc spdk_get_version 2>/dev/null && break; sleep 0.25; done
rpc nvmf_create_transport -t TCP
rpc bdev_malloc_create -b Malloc0 1024 512
rpc nvmf_create_subsystem "$NQN" -a -s SPDK00000000000001
rpc nvmf_subsystem_add_ns "$NQN" Malloc0
rpc nvmf_subsystem_add_listener "$NQN" -t tcp -a 127.0.0.1 -s "$port"
taskset -c 1 dotnet "$CLI" bench -a 127.0.0.1 -s "$port" -n "$NQN" --multipath disabled --hostnqn "$HOSTNQN" --name fill --rw write --bs 128k \
  --iodepth 16 --size 1GiB --output-format json >/dev/null
EV=syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,syscalls:sys_enter_readv,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_sched_yield,task-clock
order=${INITIATORS:-$(for _ in $(seq "$TURNS"); do printf 'perf bench '; done)}
for who in $order; do
  IFS=: read -r kind dir var <<<"$who"
  if [[ $kind == perf ]]; then
    (cd "$SPDK" && LD_LIBRARY_PATH=$PWD/build/lib exec taskset -c 1 ./build/bin/spdk_nvme_perf --no-huge -s 1024 -c 0x2 -q "$QD" -o "$BS" -w "$RW" -t 8 \
      -r "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$port subnqn:$NQN hostnqn:$HOSTNQN") >"$OUT/load.out" 2>"$OUT/load.err" &
  else
    cli=$CLI; [[ -n $dir ]] && cli=$dir/cli/nvme-mptls.dll
    env ${var:+"$var"} taskset -c 1 dotnet "$cli" bench -a 127.0.0.1 -s "$port" -n "$NQN" --multipath disabled --hostnqn "$HOSTNQN" --name cell --rw "$RW" \
      --bs "$BS" --iodepth "$QD" --size 1GiB --runtime 8 --time_based --output-format json ${BENCH_ARGS:-} >"$OUT/load.out" 2>"$OUT/load.err" &
  fi
  # Both forms exec (subshell exec, env, taskset, the dotnet host) down to the load generator: $! is its pid.
  l=$!; p=$l; sleep 3
  perf stat -x, -e "$EV" -p "$spdk" -o "$OUT/target.csv" -- sleep 3 >/dev/null 2>&1 &
  perf stat -x, -e "$EV" -p "$p" -o "$OUT/stat.csv" -- sleep 3 >/dev/null 2>&1
  wait $!
  wait "$l"
  if [[ $kind == perf ]]; then iops=$(awk '/^Total/{print $3}' "$OUT/load.out"); else iops=$(jq '.jobs[0].read.iops + .jobs[0].write.iops' "$OUT/load.out"); fi
  echo "$who $RW $BS QD$QD: $(printf '%.0f' "$iops") IOPS | initiator per I/O:$(per_io "$OUT/stat.csv" "$iops" 3) | SPDK target per I/O:$(per_io "$OUT/target.csv" "$iops" 3)"
done
