#!/usr/bin/env bash
# Two network namespaces joined by N veth pairs, for MPTCP tests. Addresses come only from 198.18.0.0/15
# (RFC 2544 benchmarking range): path k is 198.18.k.1/24 (initiator) <-> 198.18.k.2/24 (target).
#
#   mptcp-testbed.sh up [--tag T] [--paths N] [--rate RATE] [--target-endpoints signal|none]
#   mptcp-testbed.sh down [--tag T]              # idempotent, also after a failed run
#   mptcp-testbed.sh path-down K | path-up K [--tag T]
#   mptcp-testbed.sh mptcp-off SIDE | mptcp-on SIDE [--tag T]   # SIDE = initiator | target
#   mptcp-testbed.sh status [--tag T]
#
# Namespaces are nvmi-T (initiator) and nvmt-T (target); interfaces vi<k>-T / vt<k>-T, so T is at most
# 8 characters. Path 1 carries the initial subflow; on paths 2..N the initiator has "subflow" endpoints
# the target announces nothing unless --target-endpoints signal; limits allow N-1 extra subflows.
# --rate puts a tc tbf shaper on both ends of every path (e.g. 100mbit).
set -euo pipefail

TAG=mp; PATHS=2; RATE=""; TARGET_EP=none
cmd=${1:-}; [ $# -gt 0 ] && shift
arg=""
if [[ "$cmd" =~ ^(path-down|path-up|mptcp-off|mptcp-on)$ ]]; then arg=${1:?"$cmd needs an argument"}; shift; fi
while [ $# -gt 0 ]; do
  case $1 in
    --tag) TAG=$2; shift ;;
    --paths) PATHS=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --target-endpoints) TARGET_EP=$2; shift ;;
    *) echo "mptcp-testbed: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ "$TAG" =~ ^[a-z0-9]{1,8}$ ]] || { echo "mptcp-testbed: --tag must be 1-8 of [a-z0-9]" >&2; exit 2; }
[[ "$PATHS" =~ ^[1-8]$ ]] || { echo "mptcp-testbed: --paths must be 1..8" >&2; exit 2; }
[[ "$TARGET_EP" =~ ^(signal|none)$ ]] || { echo "mptcp-testbed: --target-endpoints is signal or none" >&2; exit 2; }
NI=nvmi-$TAG; NT=nvmt-$TAG

ini() { ip netns exec "$NI" "$@"; }
tgt() { ip netns exec "$NT" "$@"; }

down() {
  # Deleting a namespace deletes its veth ends (and so both ends of every pair).
  for ns in "$NI" "$NT"; do
    ip netns del "$ns" 2>/dev/null || true
  done
}

up() {
  down
  trap 'echo "mptcp-testbed: setup failed, tearing down" >&2; down' ERR
  ip netns add "$NI"
  ip netns add "$NT"
  for ns in "$NI" "$NT"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.mptcp.enabled=1
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done
  for k in $(seq 1 "$PATHS"); do
    vi=vi$k-$TAG; vt=vt$k-$TAG
    ip link add "$vi" netns "$NI" type veth peer name "$vt" netns "$NT"
    ip -n "$NI" addr add "198.18.$k.1/24" dev "$vi"
    ip -n "$NT" addr add "198.18.$k.2/24" dev "$vt"
    ip -n "$NI" link set "$vi" up
    ip -n "$NT" link set "$vt" up
    if [ -n "$RATE" ]; then
      ip netns exec "$NI" tc qdisc replace dev "$vi" root tbf rate "$RATE" burst 64kb latency 20ms
      ip netns exec "$NT" tc qdisc replace dev "$vt" root tbf rate "$RATE" burst 64kb latency 20ms
    fi
  done
  local extra=$((PATHS - 1))
  ip -n "$NI" mptcp limits set subflow "$extra" add_addr_accepted "$extra"
  ip -n "$NT" mptcp limits set subflow "$extra" add_addr_accepted "$extra"
  for k in $(seq 2 "$PATHS"); do
    ip -n "$NI" mptcp endpoint add "198.18.$k.1" dev "vi$k-$TAG" subflow
    [ "$TARGET_EP" = signal ] && ip -n "$NT" mptcp endpoint add "198.18.$k.2" dev "vt$k-$TAG" signal
  done
  trap - ERR
  echo "mptcp-testbed: up tag=$TAG paths=$PATHS rate=${RATE:-none} initiator=$NI target=$NT"
}

path() { # $1 = up|down, $2 = K
  [[ "$2" =~ ^[1-8]$ ]] || { echo "mptcp-testbed: path number must be 1..8" >&2; exit 2; }
  ip -n "$NI" link set "vi$2-$TAG" "$1"
  ip -n "$NT" link set "vt$2-$TAG" "$1"
}

side_ns() {
  case $1 in initiator) echo "$NI" ;; target) echo "$NT" ;; *) echo "mptcp-testbed: SIDE is initiator or target" >&2; exit 2 ;; esac
}

case $cmd in
  up) up ;;
  down) down; echo "mptcp-testbed: down tag=$TAG" ;;
  path-down) path down "$arg" ;;
  path-up) path up "$arg" ;;
  mptcp-off) ip netns exec "$(side_ns "$arg")" sysctl -qw net.mptcp.enabled=0 ;;
  mptcp-on) ip netns exec "$(side_ns "$arg")" sysctl -qw net.mptcp.enabled=1 ;;
  status)
    for ns in "$NI" "$NT"; do
      echo "== $ns (net.mptcp.enabled=$(ip netns exec "$ns" sysctl -n net.mptcp.enabled))"
      ip -n "$ns" -br addr; ip -n "$ns" mptcp endpoint show; ip -n "$ns" mptcp limits show
    done ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
