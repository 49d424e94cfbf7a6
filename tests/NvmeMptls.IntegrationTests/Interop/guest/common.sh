# Helpers shared by the interop guest scripts (busybox sh, run by run-vm.sh after /guest/lib.sh).
# The test prepends IOP_* variables (port numbers, NQN, expected values) to every script.
# Output protocol parsed by LinuxVmOutput.cs:
#   NVMEIOP-CHECK <name> pass|fail [detail]   one line per check
#   NVMEIOP-VALUE <key>=<value>               values the test compares with what our target derives
#   NVMEIOP-SYNC <request>                    the guest asks the test to act (restart, add-ns), then
#                                             waits for the answer on the sync port (nc)
IOP_A=10.0.2.2
IOP_FAILED=0

pass() { echo "NVMEIOP-CHECK $1 pass${2:+ $2}"; }
fail() { echo "NVMEIOP-CHECK $1 fail${2:+ $2}"; IOP_FAILED=1; }
value() { echo "NVMEIOP-VALUE $1=$2"; }
# check NAME CMD... : run CMD, one CHECK line from its exit status; CMD's output is indented
check() {
  local name=$1 rc; shift
  "$@" > /tmp/check.out 2>&1; rc=$?
  sed 's/^/    /' /tmp/check.out | tail -n 40
  if [ $rc -eq 0 ]; then pass "$name"; else fail "$name" "rc=$rc"; fi
  return $rc
}

# sync_host REQUEST : tell the test to do REQUEST and wait until it answers "done REQUEST"
sync_host() {
  local answer
  echo "NVMEIOP-SYNC $1"
  answer=$(echo "$1" | nc "$IOP_A" "$IOP_SYNC_PORT" 2>&1)
  [ "$answer" = "done $1" ] || { msg "sync '$1' answered '$answer'"; return 1; }
}

# ctrl_of DEV : /dev/nvmeXnY -> nvmeX ; ctrl_state NVMEX
ctrl_of() { local d=${1#/dev/}; echo "${d%n*}"; }
ctrl_state() { cat "/sys/class/nvme/$1/state" 2>/dev/null; }

# ns_dev NQN NSID : /dev/nvmeXnY of namespace NSID of subsystem NQN (waits up to TIMEOUT_S seconds)
ns_dev() {
  local nqn=$1 nsid=$2 limit=$(( ${3:-10} * 10 )) i=0 ns
  while [ $i -lt $limit ]; do
    for ns in /sys/block/nvme*n*; do
      case ${ns##*/} in nvme*c*n*) continue ;; esac
      [ "$(cat "$ns/device/subsysnqn" 2>/dev/null)" = "$nqn" ] || continue
      [ "$(cat "$ns/nsid" 2>/dev/null)" = "$nsid" ] || continue
      [ -b "/dev/${ns##*/}" ] && { echo "/dev/${ns##*/}"; return 0; }
    done
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

# connect NAME OPTS... : nvme connect to IOP_NQN on the I/O port
connect() {
  local name=$1; shift
  msg "nvme connect -t tcp -a $IOP_A -s $IOP_PORT -n $IOP_NQN $*"
  if nvme connect -t tcp -a "$IOP_A" -s "$IOP_PORT" -n "$IOP_NQN" "$@" > /tmp/connect.out 2>&1; then
    pass "$name"
  else
    sed 's/^/    /' /tmp/connect.out; dmesg | grep -iE 'nvme|tls' | tail -n 15 | sed 's/^/    dmesg: /'
    fail "$name"; return 1
  fi
}

# disconnect NAME : nvme disconnect; clean means exactly one controller gone and no kernel errors
disconnect() {
  local out
  out=$(nvme disconnect -n "$IOP_NQN" 2>&1)
  msg "disconnect: $out"
  case $out in *"disconnected 1 controller"*) pass "$1" ;; *) fail "$1" "$out" ;; esac
}

# pattern_write DEV MB BS SEED_FILE : write MB MiB of random data at block size BS with O_DIRECT
# verify_io NAME DEV MB BS : write + read back + compare, block size BS (dd syntax: 4k, 64k, 1M)
verify_io() {
  local name=$1 dev=$2 mb=$3 bs=$4 count t
  case $bs in 4k) count=$((mb * 256)) ;; 64k) count=$((mb * 16)) ;; 1M) count=$mb ;; *) fail "$name" "bad bs $bs"; return 1 ;; esac
  dd if=/dev/urandom of=/tmp/pattern bs=1M count="$mb" 2>/dev/null
  t=$(uptime_cs)
  dd if=/tmp/pattern of="$dev" bs="$bs" count="$count" oflag=direct conv=fsync 2>/tmp/dd.log ||
    { sed 's/^/    /' /tmp/dd.log; fail "$name" "write failed"; return 1; }
  dd if="$dev" of=/tmp/readback bs="$bs" count="$count" iflag=direct 2>/tmp/dd.log ||
    { sed 's/^/    /' /tmp/dd.log; fail "$name" "read failed"; return 1; }
  if cmp -s /tmp/pattern /tmp/readback; then
    pass "$name" "$mb MiB bs=$bs in $(elapsed "$t")"
  else
    fail "$name" "$mb MiB bs=$bs read back differs"; return 1
  fi
}

# kernel_errors : nvme kernel messages that indicate a protocol problem (printed, counted)
kernel_errors() {
  dmesg | grep -iE 'nvme' | grep -iE 'error|fail|invalid|timeout|reset|duplicate|ignoring' | sed 's/^/    dmesg: /'
}

finish() {
  dmesg | grep -iE 'nvme|tls' | tail -n 30 | sed 's/^/  dmesg: /'
  exit $IOP_FAILED
}
