#!/usr/bin/env bash
# 4 KiB randread QD32 on a file namespace: nvme-mptls bench against our target with the io_uring engine (O_DIRECT),
# the same with the positional engine (pread/pwrite through the page cache), and fio's own io_uring engine with
# --direct=1 on the same file, with its default one submission per I/O and with batched submission. Target (and fio) pinned to CPU 0, the load generator to CPU 1; ROUNDS interleaved
# rounds; prints min / median / max IOPS per cell and the ratios of the medians. The machine may be shared: read
# the ratios, not the absolute figures.
#
#   bench/file-engine.sh [FILE] [SECONDS] [ROUNDS]     (build the solution in Release first)
#
# FILE must be on a real file system (not tmpfs); it is created and filled with random data when missing (1 GiB).
# As root the page cache is dropped before each positional cell, so it starts cold like the others.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
file=${1:-/var/tmp/nvmemptls-file-engine.img}
seconds=${2:-10}
rounds=${3:-3}
target_dll=$root/src/Target/Service/bin/Release/net10.0/nvme-mptls-target.dll
cli_dll=$root/src/Initiator/Cli/bin/Release/net10.0/nvme-mptls.dll
nqn=nqn.2026-01.io.nvmemptls:default
[[ -f $target_dll && -f $cli_dll ]] || { echo "build the solution in Release first" >&2; exit 1; }
if [[ ! -f $file ]]; then
    dd if=/dev/urandom of="$file" bs=1M count=1024 status=none
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

drop_cache() { if [[ $(id -u) == 0 ]]; then sync; echo 1 > /proc/sys/vm/drop_caches; fi; }

# ours ENGINE -> IOPS
ours() {
    local engine=$1 port log pid iops
    port=$(free_port)
    log=$(mktemp)
    DOTNET_gcServer=0 taskset -c 0 dotnet "$target_dll" --listen "127.0.0.1:$port" --discovery none --file-ns "$file:1GiB" \
        --io-engine "$engine" --multipath disabled --metrics off > "$log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do grep -q "is serving" "$log" && break; sleep 0.1; done
    grep -q "is serving" "$log" || { cat "$log" >&2; kill "$pid"; return 1; }
    iops=$(taskset -c 1 dotnet "$cli_dll" bench -a 127.0.0.1 -s "$port" -n "$nqn" --multipath disabled --nr-io-queues 1 \
        --name=fileread --rw=randread --bs=4k --iodepth=32 --size=1g --runtime="$seconds" --time_based --ramp_time=1 \
        --output-format=json | python3 -c 'import json,sys; t=sys.stdin.read(); print(round(json.loads(t[t.index("{"):])["jobs"][0]["read"]["iops"]))')
    kill "$pid"; wait "$pid" 2>/dev/null || true
    grep -o "I/O engine [^(]*" "$log" | head -1 >&2
    rm -f "$log"
    echo "$iops"
}

# fio_cell [EXTRA FIO OPTIONS...] -> IOPS
fio_cell() {
    taskset -c 0 fio --name=fileread --filename="$file" --ioengine=io_uring --direct=1 --rw=randread --bs=4k --iodepth=32 \
        --size=1g --runtime="$seconds" --time_based --ramp_time=1 "$@" --output-format=json \
        | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))'
}

# fio's best case: 32 entries per io_uring_enter once 16 have completed (one doorbell per 32 reads on a virtio disk),
# which a network target cannot copy (a host sends its commands as its own completions come back).
FIO_BATCHED=(--iodepth_batch_submit=32 --iodepth_batch_complete_min=8 --iodepth_low=16)

declare -a uring positional fio fiob
for r in $(seq "$rounds"); do
    uring+=("$(ours io_uring)")
    drop_cache
    positional+=("$(ours positional)")
    fio+=("$(fio_cell)")
    fiob+=("$(fio_cell "${FIO_BATCHED[@]}")")
    echo "round $r: io_uring ${uring[-1]}  positional ${positional[-1]}  fio ${fio[-1]}  fio batched ${fiob[-1]}" >&2
done

summary() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%d / %d / %d", a[1], a[int((NR+1)/2)], a[NR]}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "4 KiB randread QD32 on $file, ${seconds}s cells, $rounds interleaved rounds; target/fio on CPU 0, bench on CPU 1"
echo "| cell | IOPS min / median / max |"
echo "|---|---|"
echo "| nvme-mptls bench -> target, io_uring (O_DIRECT) | $(summary "${uring[@]}") |"
echo "| nvme-mptls bench -> target, positional (page cache) | $(summary "${positional[@]}") |"
echo "| fio --ioengine=io_uring --direct=1 (local) | $(summary "${fio[@]}") |"
echo "| fio, batched: ${FIO_BATCHED[*]} (local) | $(summary "${fiob[@]}") |"
mu=$(median "${uring[@]}"); mp=$(median "${positional[@]}"); mf=$(median "${fio[@]}"); mb=$(median "${fiob[@]}")
python3 -c "print(f'ratios of medians: io_uring/fio {$mu/$mf:.2f}, io_uring/fio batched {$mu/$mb:.2f}, positional/fio {$mp/$mf:.2f}, io_uring/positional {$mu/$mp:.2f}')"
