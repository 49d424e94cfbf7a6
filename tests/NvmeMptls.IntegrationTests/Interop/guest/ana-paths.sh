# ANA helpers shared by the multipath guest scripts (ana.sh, gateway.sh): per-path state in sysfs and a verifying
# write/read/compare loop through the multipath device that runs in the background across path changes.
ana_wait() {
  local limit=$(( $1 * 10 )) i=0; shift
  while [ $i -lt $limit ]; do "$@" && return 0; sleep 0.1; i=$((i + 1)); done
  return 1
}
# ctrl_on PORT : the controller (nvmeY) of IOP_NQN connected to TCP port PORT
ctrl_on() {
  local c
  for c in /sys/class/nvme/nvme*; do
    [ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$IOP_NQN" ] || continue
    case "$(cat "$c/address" 2>/dev/null)," in *"trsvcid=$1,"*) echo "${c##*/}"; return 0 ;; esac
  done
  return 1
}
# path_attr PORT ATTR : ATTR (ana_state, ana_grpid) of the per-path namespace node under that controller
path_attr() {
  local c p
  c=$(ctrl_on "$1") || { echo none; return; }
  for p in /sys/class/nvme/$c/nvme*c*n1; do [ -e "$p/$2" ] && { cat "$p/$2"; return; }; done
  echo none
}
path_state() { path_attr "$1" ana_state; }
# loop_start DEV MB : write, read back and compare 1 MiB after the first MB MiB, round after round, until loop_stop
loop_start() {
  local dev=$1 mb=$2
  rm -f /tmp/stop /tmp/loop.err /tmp/loop.fail; : > /tmp/loop.count
  (
    n=0
    while [ ! -e /tmp/stop ]; do
      dd if=/dev/urandom of=/tmp/lp bs=64k count=16 2>/dev/null
      dd if=/tmp/lp of="$dev" bs=64k count=16 seek=$((mb * 16)) oflag=direct 2>>/tmp/loop.err || echo write >> /tmp/loop.fail
      dd if="$dev" of=/tmp/lr bs=64k count=16 skip=$((mb * 16)) iflag=direct 2>>/tmp/loop.err || echo read >> /tmp/loop.fail
      cmp -s /tmp/lp /tmp/lr || echo mismatch >> /tmp/loop.fail
      n=$((n + 1)); echo $n > /tmp/loop.count
    done
  ) &
  LOOP_PID=$!
}
loop_rounds() { cat /tmp/loop.count 2>/dev/null || echo 0; }
# loop_stop : stop the loop; values loop.rounds and loop.failures, the first errors it saw
loop_stop() {
  touch /tmp/stop; wait "$LOOP_PID"
  value loop.rounds "$(loop_rounds)"
  value loop.failures "$(cat /tmp/loop.fail 2>/dev/null | wc -l)"
  sed 's/^/    loop: /' /tmp/loop.err 2>/dev/null | grep -iv records | head -n 10
}
