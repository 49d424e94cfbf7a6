# Discovery (both ports), identify/log/feature commands, block device properties, two namespaces,
# discard, write-zeroes and O_DIRECT verify over the queue x digest matrix. Needs: IOP_PORT,
# IOP_DISC_PORT, IOP_NQN, IOP_MATRIX ("1:none 4:digest ..."), IOP_MATRIX_MB (per combination) and,
# for the first combination, IOP_4K_MB + IOP_64K_MB + IOP_1M_MB (4k is slow under TCG).
json() { tr -d '\n' < "$1" | tr -s ' '; }

for p in "$IOP_DISC_PORT" "$IOP_PORT"; do
  if nvme discover -t tcp -a "$IOP_A" -s "$p" -o json > /tmp/disc.json 2>/tmp/disc.err; then
    pass "discover-$p"; value "discover.$p" "$(json /tmp/disc.json)"
  else
    sed 's/^/    /' /tmp/disc.err; fail "discover-$p"
  fi
done

first=1
for combo in $IOP_MATRIX; do
  q=${combo%%:*} dg=${combo#*:} opts="-i $q"
  [ "$dg" = digest ] && opts="$opts -g -G"
  tag="q$q-$dg"
  # shellcheck disable=SC2086
  connect "connect-$tag" $opts || continue
  dev=$(ns_dev "$IOP_NQN" 1) || { fail "ns1-$tag" "no block device"; nvme list-subsys; disconnect "disconnect-$tag"; continue; }
  ctrl=$(ctrl_of "$dev")
  value "queues.$tag" "$(( $(cat /sys/class/nvme/$ctrl/queue_count) - 1 ))"
  if [ $first = 1 ]; then
    first=0
    # errors the kernel's bring-up left in the error log, before any nvme-cli command of ours
    value error-log.after-connect "$(nvme error-log "/dev/$ctrl" -e 1 -o json 2>&1 | tr -d "\n" | tr -s " ")"
    value ns1.size "$(blockdev --getsize64 "$dev")"
    value ns1.lbasize "$(blockdev --getss "$dev")"
    if dev2=$(ns_dev "$IOP_NQN" 2 5); then
      value ns2.size "$(blockdev --getsize64 "$dev2")"
      value ns2.lbasize "$(blockdev --getss "$dev2")"
      check id-ns2 nvme id-ns "$dev2" -o json && value id-ns2 "$(json /tmp/check.out)"
      check ns-descs2 nvme ns-descs "$dev2" -o json && value ns-descs2 "$(json /tmp/check.out)"
    else
      fail ns2 "no block device for NSID 2"
    fi
    check id-ctrl nvme id-ctrl "/dev/$ctrl" -o json && value id-ctrl "$(json /tmp/check.out)"
    check id-ns nvme id-ns "$dev" -o json && value id-ns "$(json /tmp/check.out)"
    check ns-descs nvme ns-descs "$dev" -o json && value ns-descs "$(json /tmp/check.out)"
    check smart-log nvme smart-log "/dev/$ctrl" -o json && value smart-log "$(json /tmp/check.out)"
    check error-log nvme error-log "/dev/$ctrl" -e 4 -o json && value error-log "$(json /tmp/check.out)"
    for f in 7 0x0b 0x0f; do
      check "get-feature-$f" nvme get-feature "/dev/$ctrl" -f "$f" && value "feature.$f" "$(tail -n1 /tmp/check.out)"
    done
    verify_io "io-$tag-4k" "$dev" "$IOP_4K_MB" 4k
    verify_io "io-$tag-64k" "$dev" "$IOP_64K_MB" 64k
    verify_io "io-$tag-1M" "$dev" "$IOP_1M_MB" 1M
    # discard 1 MiB at 1 MiB: reads back as zeroes; the data around it stays
    dd if=/dev/zero of=/tmp/zero bs=1M count=1 2>/dev/null
    if check discard blkdiscard -o 1048576 -l 1048576 "$dev"; then
      dd if="$dev" of=/tmp/rb bs=1M skip=1 count=1 iflag=direct 2>/dev/null
      if cmp -s /tmp/zero /tmp/rb; then pass discard-reads-zero; else fail discard-reads-zero; fi
      dd if="$dev" of=/tmp/rb bs=1M skip=2 count=1 iflag=direct 2>/dev/null
      dd if=/tmp/pattern of=/tmp/exp bs=1M skip=2 count=1 2>/dev/null
      if cmp -s /tmp/exp /tmp/rb; then pass discard-keeps-neighbours; else fail discard-keeps-neighbours; fi
    fi
    # write zeroes (busybox blkdiscard has no -z): 64 KiB at 4 MiB with nvme-cli
    lba=$(blockdev --getss "$dev")
    if check write-zeroes nvme write-zeroes "$dev" -n 1 -s $((4194304 / lba)) -c $((65536 / lba - 1)); then
      dd if="$dev" of=/tmp/rb bs=64k skip=64 count=1 iflag=direct 2>/dev/null
      dd if=/dev/zero of=/tmp/zero64 bs=64k count=1 2>/dev/null
      if cmp -s /tmp/zero64 /tmp/rb; then pass write-zeroes-reads-zero; else fail write-zeroes-reads-zero; fi
      dd if="$dev" of=/tmp/rb bs=64k skip=65 count=1 iflag=direct 2>/dev/null
      dd if=/tmp/pattern of=/tmp/exp bs=64k skip=65 count=1 2>/dev/null
      if cmp -s /tmp/exp /tmp/rb; then pass write-zeroes-keeps-neighbours; else fail write-zeroes-keeps-neighbours; fi
    fi
  else
    verify_io "io-$tag-1M" "$dev" "$IOP_MATRIX_MB" 1M
  fi
  disconnect "disconnect-$tag"
done
kernel_errors
finish
