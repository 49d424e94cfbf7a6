# Native NVMe multipath over the two gateways of a gateway group (two of our target processes on one RBD image,
# ANA group leased in RADOS): the owner's path optimized, the standby's inaccessible. A verifying loop runs through
# the multipath device while the test kills the owner with SIGKILL (the other gateway takes the lease over once it
# expires, fences the old owner and turns optimized), restarts it (it rejoins as standby) and moves the group back
# with a planned move. Needs IOP_PORT (gw1, the owner), IOP_PORT2 (gw2), IOP_NQN, IOP_MB, IOP_SYNC_PORT; helpers in
# ana-paths.sh. Times in ms from the moment the test answered the sync request.
state_is() { [ "$(path_state "$1")" = "$2" ]; }
owner_is() { [ "$(path_state "$1")" = optimized ] && [ "$(path_state "$2")" = inaccessible ]; }
rounds_past() { [ "$(loop_rounds)" -gt "$1" ]; }

value multipath.param "$(cat /sys/module/nvme_core/parameters/multipath 2>/dev/null)"
# Reconnect every second so the restarted gateway's path comes back quickly; keep trying for ten minutes.
connect connect1 -i 2 --reconnect-delay=1 --ctrl-loss-tmo=600 || finish
msg "nvme connect -t tcp -a $IOP_A -s $IOP_PORT2 -n $IOP_NQN -i 2 --reconnect-delay=1 --ctrl-loss-tmo=600"
check connect2 nvme connect -t tcp -a "$IOP_A" -s "$IOP_PORT2" -n "$IOP_NQN" -i 2 --reconnect-delay=1 --ctrl-loss-tmo=600 || finish
dev=$(ns_dev "$IOP_NQN" 1) || { fail ns1 "no block device"; finish; }
two_paths() { [ "$(ls -d /sys/class/nvme/nvme*/nvme*c*n1 2>/dev/null | wc -l)" = 2 ]; }
ana_wait 10 two_paths
value before.gw1 "$(path_state "$IOP_PORT")"
value before.gw2 "$(path_state "$IOP_PORT2")"
nvme list-subsys "$dev" 2>&1 | sed 's/^/    /'

dd if=/dev/urandom of=/tmp/keep bs=1M count="$IOP_MB" 2>/dev/null
dd if=/tmp/keep of="$dev" bs=1M count="$IOP_MB" oflag=direct conv=fsync 2>/dev/null && pass keep-write || fail keep-write
loop_start "$dev" "$IOP_MB"
ana_wait 30 rounds_past 3 && pass io-before || fail io-before "$(loop_rounds) rounds"

# 1. The owner is killed: I/O waits in the host's multipath queue until gw2 owns the group.
sync_host kill && pass kill-sync || fail kill-sync
t=$(uptime_cs); r=$(loop_rounds)
# (gw1's path keeps its last state while its controller reconnects to nothing, so only gw2's state is asked.)
if ana_wait 120 state_is "$IOP_PORT2" optimized; then
  value kill.ana.ms $(( ($(uptime_cs) - t) * 10 ))
  pass takeover "gw1 $(path_state "$IOP_PORT"), gw2 $(path_state "$IOP_PORT2")"
else
  fail takeover "gw1 $(path_state "$IOP_PORT"), gw2 $(path_state "$IOP_PORT2")"
fi
# A round started before the kill may finish first; two more rounds means I/O really goes through gw2.
ana_wait 120 rounds_past $((r + 1)) && { value kill.resume.ms $(( ($(uptime_cs) - t) * 10 )); pass io-after-kill; } || fail io-after-kill "$(loop_rounds) rounds"

# 2. The killed gateway restarts and rejoins as standby: the host's path to it comes back, inaccessible.
sync_host restart && pass restart-sync || fail restart-sync
ana_wait 120 state_is "$IOP_PORT" inaccessible && pass rejoined "gw1 $(path_state "$IOP_PORT")" || fail rejoined "gw1 $(path_state "$IOP_PORT")"

# 3. A planned move gives the group back to gw1.
sync_host move && pass move-sync || fail move-sync
t=$(uptime_cs); r=$(loop_rounds)
if ana_wait 60 owner_is "$IOP_PORT" "$IOP_PORT2"; then
  value move.ana.ms $(( ($(uptime_cs) - t) * 10 ))
  pass moved-back "gw1 $(path_state "$IOP_PORT"), gw2 $(path_state "$IOP_PORT2")"
else
  fail moved-back "gw1 $(path_state "$IOP_PORT"), gw2 $(path_state "$IOP_PORT2")"
fi
ana_wait 60 rounds_past $((r + 1)) && pass io-after-move || fail io-after-move "$(loop_rounds) rounds"

loop_stop
dd if="$dev" of=/tmp/kb bs=1M count="$IOP_MB" iflag=direct 2>/dev/null && cmp -s /tmp/keep /tmp/kb && pass keep-after || fail keep-after
nvme list-subsys "$dev" 2>&1 | sed 's/^/    /'
value kernel.io-errors "$(dmesg | grep -ciE 'I/O error|blk_update_request|critical medium')"
dmesg | grep -iE 'nvme' | tail -n 25 | sed 's/^/    dmesg: /'
out=$(nvme disconnect -n "$IOP_NQN" 2>&1); msg "disconnect: $out"
case $out in *"disconnected 2 controller"*) pass disconnect ;; *) fail disconnect "$out" ;; esac
finish
