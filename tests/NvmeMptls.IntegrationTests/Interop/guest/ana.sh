# Native NVMe multipath over two ports of our target with ANA: one path optimized, one inaccessible; a verifying
# workload through the multipath device while the test swaps the states in the target's configuration (planned
# move: live reload, ANA Change notice, the host re-reads log 0Ch and moves I/O). Needs: IOP_PORT, IOP_PORT2,
# IOP_NQN, IOP_MB, IOP_SYNC_PORT; helpers in ana-paths.sh.
swapped() { [ "$(path_state "$IOP_PORT2")" = optimized ] && [ "$(path_state "$IOP_PORT")" = inaccessible ]; }

value multipath.param "$(cat /sys/module/nvme_core/parameters/multipath 2>/dev/null)"
connect connect1 -i 2 || finish
msg "nvme connect -t tcp -a $IOP_A -s $IOP_PORT2 -n $IOP_NQN -i 2"
check connect2 nvme connect -t tcp -a "$IOP_A" -s "$IOP_PORT2" -n "$IOP_NQN" -i 2 || finish
dev=$(ns_dev "$IOP_NQN" 1) || { fail ns1 "no block device"; finish; }
paths() { ls -d /sys/class/nvme/nvme*/nvme*c*n1 2>/dev/null | wc -l; }
ana_wait 10 [ "$(paths)" = 2 ]
value paths.count "$(paths)"
value before.port1 "$(path_state "$IOP_PORT")"
value before.port2 "$(path_state "$IOP_PORT2")"
value ns.anagrpid "$(path_attr "$IOP_PORT" ana_grpid)"
nvme list-subsys "$dev" > /tmp/ls.out 2>&1; sed 's/^/    /' /tmp/ls.out
value list-subsys.optimized "$(grep -c 'live optimized' /tmp/ls.out)"
value list-subsys.inaccessible "$(grep -c 'live inaccessible' /tmp/ls.out)"
for port in "$IOP_PORT" "$IOP_PORT2"; do
  c=$(ctrl_on "$port")
  nvme ana-log "/dev/$c" > /tmp/ana.out 2>&1 && pass "ana-log.$port" || fail "ana-log.$port"
  sed 's/^/    /' /tmp/ana.out | head -n 30
  value "ana-log.$port.groups" "$(grep -c '^grpid' /tmp/ana.out)"
  value "ana-log.$port.state" "$(grep -ioE 'optimized|non-optimized|inaccessible|persistent-loss|change' /tmp/ana.out | head -n 1 | tr 'A-Z' 'a-z')"
done
verify_io io-before "$dev" "$IOP_MB" 64k

# keep data written before the move, then run a verifying loop through the multipath device during it
dd if=/dev/urandom of=/tmp/keep bs=1M count="$IOP_MB" 2>/dev/null
dd if=/tmp/keep of="$dev" bs=1M count="$IOP_MB" oflag=direct conv=fsync 2>/dev/null && pass keep-write || fail keep-write
loop_start "$dev" "$IOP_MB"
sleep 1
t=$(uptime_cs)
sync_host swap && pass swap-sync || fail swap-sync
if ana_wait 30 swapped; then
  pass swapped "port $IOP_PORT $(path_state "$IOP_PORT"), port $IOP_PORT2 $(path_state "$IOP_PORT2")"
  value swap.ms $(( ($(uptime_cs) - t) * 10 ))
else
  fail swapped "port $IOP_PORT $(path_state "$IOP_PORT"), port $IOP_PORT2 $(path_state "$IOP_PORT2")"
fi
sleep 2
loop_stop
dd if="$dev" of=/tmp/kb bs=1M count="$IOP_MB" iflag=direct 2>/dev/null && cmp -s /tmp/keep /tmp/kb && pass keep-after-move || fail keep-after-move
verify_io io-after "$dev" "$IOP_MB" 64k
nvme list-subsys "$dev" 2>&1 | sed 's/^/    /'
value dmesg.ana "$(dmesg | grep -ciE 'ana')"
value kernel.io-errors "$(dmesg | grep -ciE 'I/O error|blk_update_request|critical medium')"
out=$(nvme disconnect -n "$IOP_NQN" 2>&1); msg "disconnect: $out"
case $out in *"disconnected 2 controller"*) pass disconnect ;; *) fail disconnect "$out" ;; esac
kernel_errors
finish
