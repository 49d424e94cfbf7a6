#!/usr/bin/env bash
# Where our target's CPU goes under SPDK's load generator: a fresh `nvme-mptls-target` (1 GiB memory namespace, filled
# once, plain TCP) pinned to CPU 0 with JIT symbol maps on, `spdk_nvme_perf` pinned to CPU 1, and `perf record` on the
# target for the middle of the run. Prints the top symbols (self time, whole process) and a summary by area (kernel
# network stack, syscalls, .NET runtime/GC, our code, BCL), each as a share of the samples and as µs of CPU per I/O.
# Usage: bench/profile-target.sh [rw] [bytes] [depth] [seconds]   (default randread 4096 32 10)
#   NVMEMPTLS_SPDK: an SPDK tree built by ../shared/bench/spdk-build.sh. PROFILE_TARGET_ENV: VAR=VALUE pairs for the target.
#   PROFILE_LOAD=bench: load with our `nvme-mptls bench` instead of spdk_nvme_perf (no SPDK needed);
#   PROFILE_TLS=1 (with PROFILE_LOAD=bench): TLS 1.3 with the bench suite's PSK on both ends.
#   PROFILE_SIDE=initiator (with PROFILE_LOAD=bench): profile the load generator instead of the target.
set -euo pipefail
RW=${1:-randread}; BYTES=${2:-4096}; DEPTH=${3:-32}; SECS=${4:-10}
LOAD=${PROFILE_LOAD:-perf}
[[ $LOAD == bench ]] || SPDK=${NVMEMPTLS_SPDK:?set NVMEMPTLS_SPDK to an SPDK tree built by ../shared/bench/spdk-build.sh}
[[ ${PROFILE_TLS:-0} == 1 && $LOAD != bench ]] && { echo "PROFILE_TLS=1 needs PROFILE_LOAD=bench" >&2; exit 2; }
SIDE=${PROFILE_SIDE:-target}
[[ $SIDE == target || ( $SIDE == initiator && $LOAD == bench ) ]] || { echo "PROFILE_SIDE=initiator needs PROFILE_LOAD=bench" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$ROOT/src/Target/Service/bin/Release/net10.0/nvme-mptls-target.dll
CLI=$ROOT/src/Initiator/Cli/bin/Release/net10.0/nvme-mptls.dll
[[ -f $TARGET && -f $CLI ]] || { echo "build first: dotnet build NvmeMptls.sln -c Release" >&2; exit 2; }
source "$(dirname "$0")/lib/common.sh"; KEY=$BENCH_TLS_KEY
TLS_TARGET=(); TLS_BENCH=()
[[ ${PROFILE_TLS:-0} == 1 ]] && TLS_TARGET=(--tls required --tls-key "$KEY") && TLS_BENCH=(--tls --tls-key "$KEY")
command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)" >&2; exit 2; }
read -ra TARGET_ENV <<<"${PROFILE_TARGET_ENV:-}"
OUT=$(mktemp -d /tmp/profile-target.XXXXXX)
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001
NQN=nqn.2026-01.io.nvmemptls:default
port=$((20000 + RANDOM % 20000))
# Perf maps name JIT-compiled code; W^X double mapping hides it from perf, and ReadyToRun code (the BCL) is in no map
# unless it is compiled by the JIT too.
env "${TARGET_ENV[@]}" DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 DOTNET_ReadyToRun=0 DOTNET_gcServer=0 taskset -c 0 dotnet "$TARGET" --listen "127.0.0.1:$port" \
  --discovery none --memory-ns 1GiB --multipath disabled "${TLS_TARGET[@]}" >"$OUT/target.log" 2>&1 &
t=$!
trap 'kill $t 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q "is serving" "$OUT/target.log" && break; sleep 0.1; done

perf_run() { # rw bytes depth seconds
  if [[ $LOAD == bench ]]; then
    DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 DOTNET_ReadyToRun=0 taskset -c 1 dotnet "$CLI" bench -a 127.0.0.1 -s "$port" -n "$NQN" --multipath disabled --hostnqn "$HOSTNQN" "${TLS_BENCH[@]}" \
      --name cell --rw "$1" --bs "$2" --iodepth "$3" --size 1GiB --runtime "$4" --time_based --output-format json 2>>"$OUT/bench.err" |
      jq '.jobs[0].read.iops + .jobs[0].write.iops'
    return
  fi
  (cd "$SPDK" && LD_LIBRARY_PATH=$PWD/build/lib taskset -c 1 ./build/bin/spdk_nvme_perf --no-huge -s 1024 -c 0x2 -q "$3" -o "$2" \
    -w "$1" -t "$4" -r "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$port subnqn:$NQN hostnqn:$HOSTNQN" 2>&1) | awk '/^Total/{print $3}'
}

# Fill the namespace (a read of a never-written chunk returns zeros without touching memory) and warm the JIT.
perf_run write 131072 16 $((1024 / 128 / 16 + 2)) >/dev/null
perf_run "$RW" "$BYTES" "$DEPTH" 2 >/dev/null

perf_run "$RW" "$BYTES" "$DEPTH" "$SECS" >"$OUT/iops" &
load=$!
sleep 2
profiled=$t
[[ $SIDE == initiator ]] && profiled=$(pgrep -n -f "nvme-mptls.dll bench -a 127.0.0.1 -s $port")
perf record -F 2999 -g -p "$profiled" -o "$OUT/perf.data" -- sleep $(((SECS - 4) / 2)) >/dev/null 2>&1
# System calls per I/O over the same run (tracepoints, counted in the kernel: no slowdown worth speaking of).
SYSCALLS=(sendto sendmsg writev recvfrom recvmsg readv epoll_wait epoll_pwait poll ppoll futex sched_yield)
events=$(printf 'syscalls:sys_enter_%s,' "${SYSCALLS[@]}")
perf stat -x, -e "${events%,}" -p "$profiled" -o "$OUT/syscalls.csv" -- sleep $(((SECS - 4) / 2)) >/dev/null 2>&1 || true
wait "$load"
iops=$(cat "$OUT/iops")
perf report -i "$OUT/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' >"$OUT/all.txt" || true
samples=$(perf script -i "$OUT/perf.data" -F time 2>/dev/null | wc -l)
echo "# $RW ${BYTES} B QD$DEPTH${TLS_BENCH:+ TLS}, target CPU 0, $LOAD CPU 1, profiled: $SIDE: $iops IOPS; $samples samples at 2999 Hz over $(((SECS - 4) / 2)) s; files in $OUT"
echo "## system calls per I/O (over $(((SECS - 4) / 2)) s)"
awk -F, -v iops="$iops" -v s=$(((SECS - 4) / 2)) '$1 ~ /^[0-9]+$/ && $1 > 0 {sub("syscalls:sys_enter_", "", $3); printf "%s %.3f\n", $3, $1 / (iops * s)}' "$OUT/syscalls.csv"
echo "## top symbols (self)"
sed -n 1,40p "$OUT/all.txt"
# Areas by DSO and symbol name; µs per I/O = share × (samples / 2999 Hz) / (IOPS × seconds) of one CPU.
python3 - "$OUT/all.txt" "$iops" "$samples" $(((SECS - 4) / 2)) <<'PY'
import sys, re, collections
path, iops, samples, secs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
areas = collections.Counter()
for line in open(path):
    m = re.match(r'\s+([\d.]+)%\s+(.+?)\s+\[(.)\]\s+(.*)', line)
    if not m: continue
    share, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
    if kind == 'k':
        if re.search(r'tcp|ip_|skb|net_|sock|napi|loopback|__dev|nf_|inet|dst_|sk_', sym): area = 'kernel: TCP/IP stack'
        elif re.search(r'epoll|ep_|poll|futex|schedule|switch|wake|sched|pick_|enqueue|dequeue|update_', sym): area = 'kernel: scheduling, epoll, futex'
        elif re.search(r'copy|memcpy|memset|clear_page|rep_movs', sym): area = 'kernel: copies'
        else: area = 'kernel: other (syscall entry, mm, ...)'
    elif 'libcoreclr' in dso or 'libclrjit' in dso or 'libSystem.Native' in dso: area = '.NET runtime (GC, stubs, interop)'
    elif 'libcrypto' in dso or 'Cryptography.Native' in dso: area = 'OpenSSL (AES-GCM, EVP calls)'
    elif 'libc' in dso: area = 'libc'
    elif re.search(r'NvmeMptls', sym): area = 'ours (NvmeMptls.*)'
    elif re.search(r'System\.IO\.Pipelines|Pipe', sym): area = 'System.IO.Pipelines'
    elif re.search(r'System\.Net\.Sockets|Socket', sym): area = 'System.Net.Sockets'
    elif re.search(r'System\.Threading|Channel|Task|Interlocked', sym): area = 'threading, channels, tasks'
    else: area = 'other managed (BCL, stubs)'
    areas[area] += share
cpu_us_per_io = samples / 2999.0 / (iops * secs) * 1e6 if iops else 0
print(f"## by area (of {cpu_us_per_io:.2f} µs of the profiled process's CPU per I/O sampled)")
print("| area | share | µs per I/O |\n|---|---|---|")
for area, share in areas.most_common():
    print(f"| {area} | {share:.1f}% | {share / 100 * cpu_us_per_io:.2f} |")
PY
