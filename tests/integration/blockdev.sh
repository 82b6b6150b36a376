#!/bin/bash
# IMAGE may be a block device: safemount serves a loop device read-write,
# holds it exclusively (the kernel cannot mount it at the same time), and
# `-u` leaves it e2fsck-clean.  A filesystem with multi-mount protection is
# refused read-write with a message naming the feature and served read-only.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
sm_require_root
sm_setup
T=$SM_TMP
command -v losetup >/dev/null || sm_skip "losetup (util-linux) is not installed"

mkimg "$T/a.img" 64M -t ext4
dev=$(losetup -f --show "$T/a.img") || sm_fail "losetup failed"
sm_on_exit "losetup -d '$dev'"
sm_mount "$dev" "$T/m"
grep -q "^$dev $T/m fuse.safemount " /proc/mounts || sm_fail "/proc/mounts does not show $dev as the source"
echo "on a block device" >"$T/m/f" || sm_fail "write on the block-device mount failed"
mkdir -p "$T/k"
if mount -t ext4 "$dev" "$T/k" 2>/dev/null; then
	umount "$T/k"
	sm_fail "the kernel mounted $dev while safemount served it"
fi
sm_umount "$T/m"
fsck_clean "$dev"
sm_mount "$dev" "$T/m" -o ro
[ "$(cat "$T/m/f")" = "on a block device" ] || sm_fail "data written through the block device did not survive"
sm_umount "$T/m"

# Multi-mount protection: read-only only.
mkimg "$T/mmp.img" 64M -t ext4 -O mmp
out=$("$SAFEMOUNT" "$T/mmp.img" "$T/m" 2>&1) && sm_fail "a rw mount of an MMP filesystem succeeded"
case $out in *mmp*) ;; *) sm_fail "the MMP refusal does not name the feature: $out" ;; esac
sm_mount "$T/mmp.img" "$T/m" -o ro
[ -d "$T/m/lost+found" ] || sm_fail "the read-only MMP mount does not show lost+found"
sm_umount "$T/m"
fsck_clean "$T/mmp.img"
echo PASS
