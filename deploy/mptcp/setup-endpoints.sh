#!/usr/bin/env bash
# Configures the in-kernel MPTCP path manager of a host with several interfaces.
#
#   setup-endpoints.sh [--dry-run] [--netns NS] [--flags FLAGS] [--subflows N] [--add-addr-accepted N] IFACE...
#
#   IFACE...            interfaces whose addresses become endpoints (every IPv4 and global IPv6 address on them).
#                       Leave out the interface that carries the initial connection on an initiator: its address
#                       is used anyway, an extra endpoint for it only adds a duplicate subflow.
#   --flags FLAGS       endpoint flags, quoted if several: "subflow" (initiator: open extra subflows from this
#                       address), "signal" (target: announce this address to peers), "subflow backup", ...
#                       Default: subflow.
#   --subflows N        limit of extra subflows per connection (default: number of addresses, at most 8).
#   --add-addr-accepted N  how many announced peer addresses to use (default: same as --subflows).
#   --netns NS          configure network namespace NS instead of this one.
#   --dry-run           print the commands, change nothing.
#
# Idempotent: an endpoint that already has the address and the flags is kept; one with other flags or
# another device is replaced. Also sets net.mptcp.enabled=1.
set -euo pipefail

DRY=0; NETNS=""; FLAGS="subflow"; SUBFLOWS=""; ACCEPTED=""; IFACES=()
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) DRY=1 ;;
    --netns) NETNS=$2; shift ;;
    --flags) FLAGS=$2; shift ;;
    --subflows) SUBFLOWS=$2; shift ;;
    --add-addr-accepted) ACCEPTED=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "setup-endpoints: unknown option $1" >&2; exit 2 ;;
    *) IFACES+=("$1") ;;
  esac
  shift
done
[ ${#IFACES[@]} -gt 0 ] || { echo "setup-endpoints: name at least one interface (see --help)" >&2; exit 2; }
for f in $FLAGS; do
  [[ "$f" =~ ^(subflow|signal|backup|fullmesh)$ ]] || { echo "setup-endpoints: flag '$f' is not subflow, signal, backup or fullmesh" >&2; exit 2; }
done

IP=(ip); [ -n "$NETNS" ] && IP=(ip -n "$NETNS")
SYSCTL=(sysctl); [ -n "$NETNS" ] && SYSCTL=(ip netns exec "$NETNS" sysctl)
run() { echo "+ $*"; [ "$DRY" = 1 ] || "$@"; }

run "${SYSCTL[@]}" -qw net.mptcp.enabled=1

count=0
existing=$("${IP[@]}" mptcp endpoint show 2>/dev/null || true)
for dev in "${IFACES[@]}"; do
  "${IP[@]}" link show dev "$dev" >/dev/null 2>&1 || { echo "setup-endpoints: no interface $dev" >&2; exit 1; }
  addrs=$("${IP[@]}" -o addr show dev "$dev" scope global | awk '{print $4}' | cut -d/ -f1)
  [ -n "$addrs" ] || { echo "setup-endpoints: $dev has no global address, skipped" >&2; continue; }
  for a in $addrs; do
    count=$((count + 1))
    line=$(echo "$existing" | awk -v a="$a" '$1 == a' || true)
    if [ -n "$line" ]; then
      have=$(echo "$line" | tr ' ' '\n' | grep -xE 'subflow|signal|backup|fullmesh' | sort | tr '\n' ' ')
      want=$(echo "$FLAGS" | tr ' ' '\n' | sort | tr '\n' ' ')
      if [ "$have" = "$want" ] && echo "$line" | grep -q " dev $dev\b"; then
        echo "= $a ($dev) already an endpoint with flags: $FLAGS"
        continue
      fi
      id=$(echo "$line" | awk '{for (i = 1; i < NF; i++) if ($i == "id") print $(i + 1)}')
      run "${IP[@]}" mptcp endpoint delete id "$id"
    fi
    # shellcheck disable=SC2086 # FLAGS holds several words on purpose
    run "${IP[@]}" mptcp endpoint add "$a" dev "$dev" $FLAGS
  done
done

[ "$count" -gt 8 ] && count=8
SUBFLOWS=${SUBFLOWS:-$count}
ACCEPTED=${ACCEPTED:-$SUBFLOWS}
run "${IP[@]}" mptcp limits set subflow "$SUBFLOWS" add_addr_accepted "$ACCEPTED"
if [ "$DRY" = 0 ]; then
  "${IP[@]}" mptcp endpoint show
  "${IP[@]}" mptcp limits show
fi
