#!/bin/bash
# chattr +S is honoured: the kernel cannot see the flag through FUSE, so the
# server itself must make writes to such a file reach the image before it
# replies.  Observed with strace on the server: a write to a +S file makes it
# fsync the image; the same write to a plain file does not.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
sm_require_root
sm_setup
T=$SM_TMP
command -v strace >/dev/null || sm_skip "strace is not installed"

mkimg "$T/a.img" 64M -t ext4
sm_mount "$T/a.img" "$T/m"
pid=$(fuser "$T/a.img" 2>/dev/null | tr -s ' ' '\n' | grep -E '^[0-9]+$' | head -n 1)
[ -n "$pid" ] || sm_fail "cannot find the server holding $T/a.img"
touch "$T/m/plain" "$T/m/synced"
chattr +S "$T/m/synced" || sm_fail "chattr +S failed"
lsattr "$T/m/synced" | grep -q '^[^ ]*S' || sm_fail "lsattr does not show S: $(lsattr "$T/m/synced")"
sync

# count_fsyncs FILE: fsync/fdatasync calls the server makes while we write FILE.
count_fsyncs() {
	local log=$T/strace.$RANDOM
	strace -f -qq -e trace=fsync,fdatasync -p "$pid" -o "$log" &
	local st=$!
	sleep 0.5    # let strace attach to every thread
	dd if=/dev/zero of="$1" bs=4k count=4 conv=notrunc status=none
	sleep 0.3
	kill "$st"; wait "$st" 2>/dev/null
	grep -cE 'fsync|fdatasync' "$log"
}
n_plain=$(count_fsyncs "$T/m/plain")
n_sync=$(count_fsyncs "$T/m/synced")
[ "$n_sync" -ge 1 ] || sm_fail "a write to a chattr +S file made no fsync of the image"
[ "$n_plain" = 0 ] || sm_fail "a write to a plain file made $n_plain fsync(s): the test cannot tell the difference"
sm_umount "$T/m"
fsck_clean "$T/a.img"
echo "PASS (fsyncs: plain $n_plain, +S $n_sync)"
