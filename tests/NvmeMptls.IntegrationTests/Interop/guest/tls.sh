# NVMe/TCP TLS 1.3 (trixie: kernel 6.12 + tlshd) against our target holding IOP_TLS_KEY. Three phases, the
# .nvme keyring cleared in between so that "--tls" finds exactly one identity per (host, subsystem):
#  1. v1 RFC-form identities with TLS PSKs the test derived (IOP_RFC_ID/_PSK, IOP_RFC_DISC_ID/_PSK), put into
#     the keyring with keyctl: discovery, connect, I/O verify, identity the kernel used;
#  2. v1 identities as nvme-cli 2.13 derives them (check-tls-key -I 1, libnvme "compat" form): connect;
#  3. the same identities with a different key (IOP_WRONG_KEY): connect must be refused.
H=$(cat /etc/nvme/hostnqn)
tlshd_log() { [ -f /tmp/tlshd.log ] && sed 's/^/    tlshd: /' /tmp/tlshd.log | tail -n "${1:-30}"; }
ring() { printf %d "0x$(grep ' keyring *\.nvme: ' /proc/keys | cut -d' ' -f1)"; }
keys() { grep ' psk ' /proc/keys | sed 's/.*psk *//; s/: [0-9]*$//' | tr '\n' '|'; }
# keyctl_psk IDENTITY HEX : TLS PSK (binary) under IDENTITY in .nvme
keyctl_psk() { printf %s "$2" | xxd -r -p | keyctl padd psk "$1" "$(ring)" > /dev/null; }
# nvmecli_psk KEY SUBNQN : v1 retained PSK for (H, SUBNQN) as nvme-cli derives it
nvmecli_psk() { nvme check-tls-key -d "$1" -n "$H" -c "$2" -I 1 -i > /tmp/insert.log 2>&1 || { sed 's/^/    /' /tmp/insert.log; return 1; }; }
# tls_connect NAME : connect with --tls; on success leave $dev and $ctrl set
tls_connect() {
  connect "$1" --tls -i 2 || { tlshd_log 12; return 1; }
  dev=$(ns_dev "$IOP_NQN" 1) || { fail "$1-ns" "no block device"; return 1; }
  ctrl=$(ctrl_of "$dev")
}
identity_used() {
  local serial; serial=$(cat "/sys/class/nvme/$ctrl/tls_key" 2>/dev/null)
  grep -i "^0*${serial#0x} " /proc/keys | sed 's/.*psk *//; s/: [0-9]*$//'
}

tls_start || { fail tlshd; finish; }
# 1. RFC form
nvmecli_psk "$IOP_TLS_KEY" "$DISC_NQN" > /dev/null 2>&1  # creates the .nvme keyring if the kernel has not
keyctl clear "$(ring)"
if keyctl_psk "$IOP_RFC_ID" "$IOP_RFC_PSK" && keyctl_psk "$IOP_RFC_DISC_ID" "$IOP_RFC_DISC_PSK"; then pass psk-insert; else fail psk-insert; fi
value rfc.keyring "$(keys)"
if nvme discover -t tcp -a "$IOP_A" -s "$IOP_PORT" --tls -o json > /tmp/disc.json 2>/tmp/disc.err; then
  pass discover-tls; value discover "$(tr -d '\n' < /tmp/disc.json | tr -s ' ')"
else
  sed 's/^/    /' /tmp/disc.err; fail discover-tls; tlshd_log 12
fi
if tls_connect connect-tls; then
  value tls.identity "$(identity_used)"
  verify_io io-tls "$dev" "$IOP_MB" 1M
  disconnect disconnect-tls
fi

# 2. nvme-cli 2.13's derivation
keyctl clear "$(ring)"
nvmecli_psk "$IOP_TLS_KEY" "$IOP_NQN" && nvmecli_psk "$IOP_TLS_KEY" "$DISC_NQN" || fail compat-psk-insert
value compat.keyring "$(keys)"
if tls_connect connect-tls-compat; then
  value compat.identity "$(identity_used)"
  disconnect disconnect-tls-compat
fi

# 3. wrong key: only identities derived from IOP_WRONG_KEY in the keyring (the right ones of phase 2 removed)
keyctl clear "$(ring)"
nvmecli_psk "$IOP_WRONG_KEY" "$IOP_NQN" && nvmecli_psk "$IOP_WRONG_KEY" "$DISC_NQN" && pass wrong-psk-insert || fail wrong-psk-insert
if nvme connect -t tcp -a "$IOP_A" -s "$IOP_PORT" -n "$IOP_NQN" --tls -i 1 > /tmp/connect.out 2>&1; then
  fail wrong-key-refused "connected with the wrong key"; nvme disconnect -n "$IOP_NQN"
else
  pass wrong-key-refused "$(head -n 2 /tmp/connect.out | tr '\n' ' ')"
fi
tlshd_log 40
finish
