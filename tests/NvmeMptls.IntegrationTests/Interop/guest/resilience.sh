# Keep-alive over an idle period, target restart with automatic reconnect, and a namespace added
# while connected. Needs: IOP_PORT, IOP_NQN, IOP_IDLE_S, IOP_MB, IOP_SYNC_PORT.
# wait_for SECONDS CMD... : poll CMD every 0.5 s until it succeeds or SECONDS pass
wait_for() {
  local limit=$(( $1 * 2 )) i=0; shift
  while [ $i -lt $limit ]; do "$@" && return 0; sleep 0.5; i=$((i + 1)); done
  return 1
}
reconnected() { dmesg | grep -q "$ctrl: Successfully reconnected"; }
is_live() { [ "$(ctrl_state "$ctrl")" = live ]; }
# same_data NAME FILE : read FILE's size from the namespace start (O_DIRECT) and compare
same_data() {
  dd if="$dev" of=/tmp/rb bs=1M count="$IOP_MB" iflag=direct 2>/tmp/dd.log || { sed 's/^/    /' /tmp/dd.log; fail "$1" "read failed"; return 1; }
  if cmp -s "$2" /tmp/rb; then pass "$1"; else fail "$1" "data differs"; fi
}

connect connect -i 2 --reconnect-delay 1 --ctrl-loss-tmo 60 || finish
dev=$(ns_dev "$IOP_NQN" 1) || { fail ns1 "no block device"; finish; }
ctrl=$(ctrl_of "$dev")
dd if=/dev/urandom of=/tmp/before bs=1M count="$IOP_MB" 2>/dev/null
dd if=/tmp/before of="$dev" bs=1M count="$IOP_MB" oflag=direct conv=fsync 2>/dev/null && pass write-before || fail write-before

msg "idle for $IOP_IDLE_S s (keep-alive: KATO $(nvme get-feature "/dev/$ctrl" -f 0x0f 2>&1 | sed 's/.*value://'))"
sleep "$IOP_IDLE_S"
value idle.state "$(ctrl_state "$ctrl")"
value idle.resets "$(dmesg | grep -c "$ctrl: .*\(keep-alive\|Keep Alive\|reset\|Reconnecting\)")"
same_data idle-io /tmp/before

sync_host restart && pass restart-sync || fail restart-sync
if wait_for 60 reconnected && wait_for 10 is_live; then
  pass reconnected "$(dmesg | grep "$ctrl: Successfully reconnected" | tail -n 1)"
  same_data restart-data-survives /tmp/before
  verify_io restart-io "$dev" "$IOP_MB" 1M
else
  fail reconnected "state $(ctrl_state "$ctrl")"
fi

sync_host add-ns && pass add-ns-sync || fail add-ns-sync
if dev2=$(ns_dev "$IOP_NQN" 2 15); then
  pass ns-added "$dev2"
  value ns2.size "$(blockdev --getsize64 "$dev2")"
  value ns2.aen "$(dmesg | grep -c "$ctrl: rescanning namespaces")"
else
  fail ns-added "no /dev/nvme*n2 within 15 s"
fi
value ctrl.reconnects "$(dmesg | grep -c "$ctrl: Successfully reconnected")"
disconnect disconnect
kernel_errors
finish
