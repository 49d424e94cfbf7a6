# Secure channel concatenation (TP 8018) of the Linux host (kernel 7.x, nvme-cli with --concat) against our target.
# IOP_CASES is a list of "name|hostnqn|hostid|host secret|ctrl secret or -|expect (ok|refused)"; per case:
# nvme connect --concat --dhchap-secret [--dhchap-ctrl-secret] (the admin queue authenticates in the clear with SC_C
# NEWTLSPSK, then the kernel reconnects admin and I/O queues with TLS under the generated PSK through tlshd), the
# generated identity the kernel used (concat.<name>.identity), an O_DIRECT write/read verify, disconnect.
# A case named "*-noconcat" connects without --concat to a host the target requires to concatenate: refused.
if [ -d /sys/module/nvme_auth ] || modprobe nvme_auth 2>/dev/null; then pass nvme-auth-module; else fail nvme-auth-module "no nvme_auth in this kernel"; fi
value kernel "$(uname -r)"
value nvme-cli "$(nvme version 2>&1 | head -n 1)"
tlshd_log() { [ -f /tmp/tlshd.log ] && sed 's/^/    tlshd: /' /tmp/tlshd.log | tail -n "${1:-30}"; }
identity_used() {
  local serial; serial=$(cat "/sys/class/nvme/$1/tls_key" 2>/dev/null)
  grep -i "^0*${serial#0x} " /proc/keys | sed 's/.*psk *//; s/: [0-9]*$//'
}
tls_start || { fail tlshd; finish; }
echo "$IOP_CASES" | tr ';' '\n' > /tmp/cases
while IFS='|' read -r name hnqn hid hkey ckey expect; do
  [ -n "$name" ] || continue
  set -- --hostnqn="$hnqn" --hostid="$hid" --dhchap-secret="$hkey" -i 2
  [ "$ckey" = "-" ] || set -- "$@" --dhchap-ctrl-secret="$ckey"
  case $name in *-noconcat) ;; *) set -- "$@" --concat ;; esac
  t=$(uptime_cs)
  if nvme connect -t tcp -a "$IOP_A" -s "$IOP_PORT" -n "$IOP_NQN" "$@" > /tmp/connect.out 2>&1; then
    value "concat.$name.time" "$(elapsed "$t")"
    if [ "$expect" = refused ]; then
      fail "$name" "connected although it should be refused"; nvme disconnect -n "$IOP_NQN" > /dev/null 2>&1; continue
    fi
    pass "connect-$name"
    if dev=$(ns_dev "$IOP_NQN" 1); then
      ctrl=$(ctrl_of "$dev")
      value "concat.$name.identity" "$(identity_used "$ctrl")"
      value "concat.$name.queues" "$(( $(cat /sys/class/nvme/$ctrl/queue_count) - 1 ))"
      verify_io "io-$name" "$dev" "$IOP_MB" 1M
      # re-authentication through sysfs (same secret): on a concatenated controller the kernel negotiates SC_C
      # REPLACETLSPSK on its TLS admin queue, inserts the new generated key and revokes the old one (sysfs tls_key
      # keeps naming the key of the running TLS sessions, so the new identity is read from the keyring)
      old=$(identity_used "$ctrl")
      printf '%s' "$hkey" > "/sys/class/nvme/$ctrl/dhchap_secret" 2>/tmp/replace.err || sed 's/^/    /' /tmp/replace.err
      i=0; new=$old
      while [ $i -lt 50 ] && [ "$new" = "$old" ]; do
        sleep 0.1; i=$((i + 1))
        new=$(grep ' psk ' /proc/keys | sed 's/.*psk *//; s/: [0-9]*$//' | grep "^NVMe1G0. $hnqn $IOP_NQN " | grep -vF "$old" | tail -n 1)
        [ -n "$new" ] || new=$old
      done
      value "concat.$name.replaced" "$new"
      if [ -n "$new" ] && [ "$new" != "$old" ]; then pass "replace-$name"; else fail "replace-$name" "identity still '$new'"; fi
      verify_io "io-after-replace-$name" "$dev" "$IOP_MB" 1M
    else
      fail "io-$name" "no block device"
    fi
    disconnect "disconnect-$name"
  else
    value "concat.$name.time" "$(elapsed "$t")"
    value "concat.$name.error" "$(head -n 2 /tmp/connect.out | tr '\n' ' ')"
    if [ "$expect" = refused ]; then
      pass "$name" "$(head -n 1 /tmp/connect.out)"
    else
      sed 's/^/    /' /tmp/connect.out; dmesg | grep -iE 'nvme|tls' | tail -n 20 | sed 's/^/    dmesg: /'; tlshd_log 20
      fail "connect-$name"
    fi
  fi
done < /tmp/cases
dmesg | grep -iE 'auth|dhchap|concat|tls' | tail -n 40 | sed 's/^/  dmesg-auth: /'
tlshd_log 20
finish
