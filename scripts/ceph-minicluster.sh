#!/usr/bin/env bash
# Single-node throwaway Ceph for the RBD namespace tests (Debian 12 packages, 16.2.x pacific), no systemd,
# no cephadm, no containers: 1 mon + 1 OSD (memstore by default), cephx on, loopback (127.0.0.1) only.
# Creates pool "rbd" and a 1 GiB image "img". Based on ../shared/ceph/minicluster.sh.
#
#   ceph-minicluster.sh install          # apt-get the packages (once per machine; test.sh lists them too)
#   ceph-minicluster.sh start            # prints: CEPH_CONF=/path/ceph.conf
#   ceph-minicluster.sh image NAME SIZE  # one more image in pool rbd (e.g. image data 256M)
#   ceph-minicluster.sh stop             # kills only the daemons it started (pid files), removes the dir
#   ceph-minicluster.sh status
#
# Environment knobs:
#   MINICEPH_DIR   scratch dir                  (default /tmp/minceph)
#   MINICEPH_STORE memstore | bluestore         (default memstore)
#   MINICEPH_PORT  mon v2 port; v1 = PORT+1     (default 23300; below the kernel's ephemeral range 32768-60999,
#                  so an outgoing connection's local port never takes it)
#   MINICEPH_MS_PORTS  first:last port for the OSD's messengers (default 26800:27300, also below that range)
#   MINICEPH_MGR   1 = also start a ceph-mgr    (default 0; needs ceph-mgr pkg)
#   MINICEPH_IMG_SIZE   rbd image size          (default 1G)
#   MINICEPH_EXTRA  extra "key = value" lines appended to [global]
#
# After start, clients use:  ceph -c $CEPH_CONF ...,  rbd -c $CEPH_CONF ...,
# librados: rados_create(&c,"admin"); rados_conf_read_file(c, CEPH_CONF).
set -euo pipefail

D=${MINICEPH_DIR:-/tmp/minceph}
STORE=${MINICEPH_STORE:-memstore}
PORT=${MINICEPH_PORT:-23300}
MS_PORTS=${MINICEPH_MS_PORTS:-26800:27300}
V1PORT=$((PORT + 1))
WANT_MGR=${MINICEPH_MGR:-0}
IMG_SIZE=${MINICEPH_IMG_SIZE:-1G}
CONF=$D/ceph.conf

now() { date +%s.%N; }
log() { printf '[minicluster %6.2fs] %s\n' "$(echo "$(now) - $T0" | bc)" "$*" >&2; }
T0=$(now)

# alive = exists and not a zombie (daemons are reparented; a zombie still answers kill -0)
proc_alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
pid_alive() { [ -f "$1" ] && proc_alive "$(cat "$1")"; }

do_install() {
  # librbd1/librados2 come with ceph-common; the target loads librbd.so.1 and needs no -dev package
  local pkgs="ceph-mon ceph-osd ceph-common uuid-runtime bc"
  [ "$WANT_MGR" = 1 ] && pkgs="$pkgs ceph-mgr"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs
}

do_stop() {
  local f pid n
  # osd first (it wants the mon while shutting down), then mgr, then mon
  for f in "$D"/run/osd.*.pid "$D"/run/mgr.*.pid "$D"/run/mon.*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if proc_alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for n in $(seq 1 50); do proc_alive "$pid" || break; sleep 0.1; done
      proc_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
      log "stopped $(basename "$f" .pid) (pid $pid)"
    fi
    rm -f "$f"
  done
  [ -f "$D/osd0.img" ] && rm -f "$D/osd0.img"
  rm -rf "$D"
}

write_conf() {
  local fsid=$1
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon initial members = a
mon host = [v2:127.0.0.1:$PORT,v1:127.0.0.1:$V1PORT]
public network = 127.0.0.0/8
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind port min = ${MS_PORTS%%:*}
ms bind port max = ${MS_PORTS##*:}
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $D/run
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
crash dir = $D/crash
log to stderr = false
err to stderr = true
mon cluster log file = $D/log/cluster.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
# test cluster: commit map changes quicker than the 1 s default
paxos propose interval = 0.1
ms async op threads = 2
${MINICEPH_EXTRA:-}

[client]
keyring = $D/keyring
admin socket = $D/run/\$cluster-\$name.\$pid.\$cctid.asok
log file = $D/log/\$name.\$pid.log
err to stderr = false

[mon]
mon data = $D/mon/\$cluster-\$id
keyring = $D/mon/\$cluster-\$id/keyring
mon memory target = 268435456
mon osd full ratio = .97
mon osd backfillfull ratio = .96
mon osd nearfull ratio = .95

[osd]
osd data = $D/osd/\$cluster-\$id
keyring = $D/osd/\$cluster-\$id/keyring
osd objectstore = $STORE
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2
osd crush update on start = true
memstore device bytes = 3221225472
# page set: ~25% less RSS and faster than the bufferlist objects for 4K I/O
memstore page set = true
bluestore block path = $D/osd0.img
bluestore block create = true
bluestore block size = 4294967296
bluestore cache autotune = false
bluestore cache size = 134217728
bluestore block db create = false
bluestore block wal create = false
bdev enable discard = false

[mgr]
mgr data = $D/mgr/\$cluster-\$id
keyring = $D/mgr/\$cluster-\$id/keyring
EOF
}

wait_for() { # desc timeout_s cmd...
  local desc=$1 to=$2; shift 2
  local end=$(( $(date +%s) + to ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$end" ] && { log "timeout waiting for $desc"; return 1; }
    sleep 0.2
  done
}

do_start() {
  if pid_alive "$D/run/mon.a.pid"; then
    log "already running"; echo "CEPH_CONF=$CONF"; return 0
  fi
  rm -rf "$D"; mkdir -p "$D"/{run,log,crash,mon,osd,mgr}
  local fsid; fsid=$(uuidgen)
  write_conf "$fsid"
  local C="-c $CONF"

  # keys: mon. and client.admin; the osd key is registered below with "osd new"
  ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$D/keyring" --gen-key -n client.admin \
     --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  ceph-authtool "$D/mon.keyring" --import-keyring "$D/keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$PORT,v1:127.0.0.1:$V1PORT]" "$D/monmap" >/dev/null

  mkdir -p "$D/mon/ceph-a"
  ceph-mon $C --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring"
  ceph-mon $C -i a
  wait_for "mon quorum" 60 ceph $C --connect-timeout 5 mon stat
  log "mon up"

  if [ "$WANT_MGR" = 1 ]; then
    mkdir -p "$D/mgr/ceph-x"
    ceph $C auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
       -o "$D/mgr/ceph-x/keyring"
    ceph-mgr $C -i x
    log "mgr started"
  fi

  # one OSD
  # same order as ceph-volume: register uuid+secret with the mon, then mkfs with that key
  local ouuid id okey; ouuid=$(uuidgen); okey=$(ceph-authtool --gen-print-key)
  id=$(echo "{\"cephx_secret\": \"$okey\"}" | ceph $C osd new "$ouuid" -i -)
  mkdir -p "$D/osd/ceph-$id"
  ceph-authtool --create-keyring "$D/osd/ceph-$id/keyring" -n "osd.$id" --add-key "$okey" >/dev/null
  ceph-osd $C -i "$id" --mkfs --osd-uuid "$ouuid" >"$D/log/osd-mkfs.out" 2>&1 \
     || { cat "$D/log/osd-mkfs.out" >&2; return 1; }
  ceph-osd $C -i "$id"
  wait_for "osd.$id up" 90 bash -c "ceph $C osd dump 2>/dev/null | grep -q '^osd.$id up'"
  log "osd.$id up ($STORE)"

  ceph $C osd pool create rbd 8 8 replicated >/dev/null 2>&1
  rbd $C pool init rbd
  rbd $C create --size "$IMG_SIZE" rbd/img
  log "rbd/img ($IMG_SIZE) ready"
  echo "CEPH_CONF=$CONF"
}

do_image() { # name size
  [ $# -eq 2 ] || { echo "usage: $0 image NAME SIZE" >&2; return 2; }
  rbd -c "$CONF" create --size "$2" "rbd/$1"
  log "rbd/$1 ($2) ready"
}

do_status() {
  ceph -c "$CONF" -s
  for f in "$D"/run/*.pid; do
    [ -f "$f" ] || continue
    printf '%s pid=%s rss_kb=%s\n' "$(basename "$f" .pid)" "$(cat "$f")" \
      "$(awk '/VmRSS/{print $2}' /proc/"$(cat "$f")"/status 2>/dev/null)"
  done
}

case "${1:-}" in
  install) do_install ;;
  start)   do_start ;;
  stop)    do_stop ;;
  image)   shift; do_image "$@" ;;
  status)  do_status ;;
  *) echo "usage: $0 install|start|image NAME SIZE|stop|status" >&2; exit 2 ;;
esac
