# Persistent reservations with the Linux host's nvme resv-* commands as one host and the test's raw host as the
# other: register, acquire Write Exclusive, report (extended), then the peer preempts and the Linux host loses
# write access, keeps reads and finds a Registration Preempted notice in log 80h. Needs: IOP_PORT, IOP_NQN, IOP_SYNC_PORT.
connect connect || finish
dev=$(ns_dev "$IOP_NQN" 1) || { fail ns1 "no block device"; finish; }
c=""
for x in /sys/class/nvme/nvme*; do [ "$(cat "$x/subsysnqn" 2>/dev/null)" = "$IOP_NQN" ] && c=${x##*/}; done
value hostid "$(cat "/sys/class/nvme/$c/hostid" 2>/dev/null)"
check register nvme resv-register "$dev" --nrkey=0xAAAA --rrega=0
check acquire nvme resv-acquire "$dev" --crkey=0xAAAA --rtype=1 --racqa=0
nvme resv-report "$dev" --eds -o json > /tmp/r1.json 2>&1; sed 's/^/    /' /tmp/r1.json | head -n 30
value report1 "$(tr -d ' \n\t' < /tmp/r1.json)"
check write-as-holder dd if=/dev/urandom of="$dev" bs=4k count=1 oflag=direct
sync_host peer && pass peer-sync || fail peer-sync
if dd if=/dev/urandom of="$dev" bs=4k count=1 oflag=direct 2>/tmp/dd.err; then
  fail write-refused "the write after the preempt succeeded"
else
  pass write-refused "$(tail -n 1 /tmp/dd.err)"
fi
check read-still dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct
nvme resv-report "$dev" --eds -o json > /tmp/r2.json 2>&1; sed 's/^/    /' /tmp/r2.json | head -n 30
value report2 "$(tr -d ' \n\t' < /tmp/r2.json)"
nvme get-log "/dev/$c" --log-id=0x80 --log-len=64 -b > /tmp/l80 2>/dev/null
value log80 "$(od -An -tx1 -N16 /tmp/l80 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
value dmesg.conflict "$(dmesg | grep -ci 'reservation conflict')"
check register-again nvme resv-register "$dev" --nrkey=0xAAAA --rrega=0
out=$(nvme disconnect -n "$IOP_NQN" 2>&1); msg "disconnect: $out"
case $out in *"disconnected 1 controller"*) pass disconnect ;; *) fail disconnect "$out" ;; esac
finish
