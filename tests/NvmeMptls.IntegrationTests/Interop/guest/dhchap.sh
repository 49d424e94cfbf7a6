# In-band authentication (DH-HMAC-CHAP) of the Linux host against our target. IOP_CASES is a list of
# "name|hostnqn|hostid|host secret|ctrl secret or -|expect (ok|refused)[|keep-alive seconds]"; per case: nvme connect with
# --dhchap-secret [--dhchap-ctrl-secret], an O_DIRECT write/read verify of IOP_MB MiB, disconnect.
# Reports dhchap.<name>.time (connect time). The case named IOP_REAUTH_CASE then re-authenticates (the secret written
# again to sysfs) and verifies I/O once more (check reauth-io-<name>). Then, if IOP_GEN_HOSTNQN is set: nvme-cli generates the host key
# (--hmac=1) and the controller key (--hmac=2) itself, sends them to the test (sync "dhchap-keys HOST CTRL"), which
# adds them to the target's configuration file, and connects bidirectionally with them (case "cli-generated").
if [ -d /sys/module/nvme_auth ] || modprobe nvme_auth 2>/dev/null; then pass nvme-auth-module; else fail nvme-auth-module "no nvme_auth in this kernel"; fi
value kernel "$(uname -r)"
value nvme-cli "$(nvme version 2>&1 | head -n 1)"
echo "$IOP_CASES" | tr ';' '\n' > /tmp/cases
while IFS='|' read -r name hnqn hid hkey ckey expect kato; do
  [ -n "$name" ] || continue
  set -- --hostnqn="$hnqn" --hostid="$hid" --dhchap-secret="$hkey" -i 1
  [ "$ckey" = "-" ] || set -- "$@" --dhchap-ctrl-secret="$ckey"
  [ -z "$kato" ] || set -- "$@" --keep-alive-tmo="$kato"
  t=$(uptime_cs)
  if nvme connect -t tcp -a "$IOP_A" -s "$IOP_PORT" -n "$IOP_NQN" "$@" > /tmp/connect.out 2>&1; then
    value "dhchap.$name.time" "$(elapsed "$t")"
    if [ "$expect" = refused ]; then
      fail "$name" "connected although the secret is wrong"; nvme disconnect -n "$IOP_NQN" > /dev/null 2>&1; continue
    fi
    pass "connect-$name"
    if dev=$(ns_dev "$IOP_NQN" 1); then
      ctrl=$(ctrl_of "$dev")
      value "dhchap.$name.queues" "$(( $(cat /sys/class/nvme/$ctrl/queue_count) - 1 ))"
      verify_io "io-$name" "$dev" "$IOP_MB" 1M
      if [ "$name" = "${IOP_REAUTH_CASE:-}" ]; then
        # re-authentication as an operator starts it: rewriting the secret in sysfs re-runs DH-HMAC-CHAP on every queue
        if printf '%s' "$hkey" > "/sys/class/nvme/$ctrl/dhchap_secret"; then
          sleep 3; verify_io "reauth-io-$name" "$dev" "$IOP_MB" 1M
        else
          fail "reauth-io-$name" "writing /sys/class/nvme/$ctrl/dhchap_secret failed"
        fi
      fi
    else
      fail "io-$name" "no block device"
    fi
    disconnect "disconnect-$name"
  else
    value "dhchap.$name.time" "$(elapsed "$t")"
    value "dhchap.$name.error" "$(head -n 2 /tmp/connect.out | tr '\n' ' ')"
    if [ "$expect" = refused ]; then
      pass "$name" "$(head -n 1 /tmp/connect.out)"
    else
      sed 's/^/    /' /tmp/connect.out; dmesg | grep -iE 'nvme' | tail -n 15 | sed 's/^/    dmesg: /'
      fail "connect-$name"
    fi
  fi
done < /tmp/cases
if [ -n "${IOP_GEN_HOSTNQN:-}" ]; then
  hkey=$(nvme gen-dhchap-key --hmac=1 -n "$IOP_GEN_HOSTNQN" 2>&1) && ckey=$(nvme gen-dhchap-key --hmac=2 -n "$IOP_NQN" 2>&1) ||
    fail cli-generated-keys "$hkey $ckey"
  value dhchap.cli-generated.keys "$hkey $ckey"
  if sync_host "dhchap-keys $hkey $ckey"; then
    echo "cli-generated|$IOP_GEN_HOSTNQN|$IOP_GEN_HOSTID|$hkey|$ckey|ok" > /tmp/cases
    while IFS='|' read -r name hnqn hid hkey ckey expect; do
      t=$(uptime_cs)
      if nvme connect -t tcp -a "$IOP_A" -s "$IOP_PORT" -n "$IOP_NQN" --hostnqn="$hnqn" --hostid="$hid" -i 1 \
          --dhchap-secret="$hkey" --dhchap-ctrl-secret="$ckey" > /tmp/connect.out 2>&1; then
        value "dhchap.$name.time" "$(elapsed "$t")"; pass "connect-$name"
        if dev=$(ns_dev "$IOP_NQN" 1); then verify_io "io-$name" "$dev" "$IOP_MB" 1M; else fail "io-$name" "no block device"; fi
        disconnect "disconnect-$name"
      else
        sed 's/^/    /' /tmp/connect.out; dmesg | grep -iE 'nvme' | tail -n 15 | sed 's/^/    dmesg: /'; fail "connect-$name"
      fi
    done < /tmp/cases
  else
    fail connect-cli-generated "sync failed"
  fi
fi
dmesg | grep -iE 'auth|dhchap' | tail -n 40 | sed 's/^/  dmesg-auth: /'
finish
