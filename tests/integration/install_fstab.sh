#!/bin/bash
# safemount as a mount(8) helper: "mount -t fuse.safemount IMAGE DIR" and
# fstab lines of type fuse.safemount work through mount.fuse3 (which runs
# "safemount IMAGE DIR -o OPTS" with options such as dev,suid,noauto,nofail,
# x-* added or passed through); the result is a live nosuid,nodev mount with
# the image as source, ro when asked, paths with spaces survive, a failure is
# a non-zero exit with nothing mounted, and the image is fsck-clean after
# safemount -u (or after a plain umount once the server has exited).
# mount(8) gives its helpers a fixed PATH, so the case links $SAFEMOUNT as
# /usr/local/sbin/safemount for its duration (and skips if something else
# is installed there); mount.fuse3 invoked directly is tested with a private
# PATH directory.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/differential.sh"
sm_require_root
sm_setup
T=$SM_TMP
M=$T/m
mkdir -p "$M" "$T/bin"

MF=$(command -v mount.fuse3 || echo /sbin/mount.fuse3)
[ -x "$MF" ] || sm_skip "mount.fuse3 not installed (Debian package fuse3)"
[ -x /sbin/mount.fuse ] || [ -x /usr/sbin/mount.fuse ] || sm_skip "no mount.fuse helper for mount(8) to run"
mounted() { D="$1" awk '$2 == ENVIRON["D"] {f=1} END {exit !f}' /proc/mounts; }
mline() { D="$1" awk '$2 == ENVIRON["D"]' /proc/mounts; }

check_line() {   # check_line DIR SOURCE(escaped) MODE
	local line; line=$(mline "$1")
	[ -n "$line" ] || sm_fail "$1 is not mounted"
	set -- $line "$2" "$3"
	[ "$1" = "$7" ] || sm_fail "source in /proc/mounts is '$1', expected '$7'"
	[ "$3" = fuse.safemount ] || sm_fail "type in /proc/mounts is '$3'"
	for o in "$8" nosuid nodev; do
		echo ",$4," | grep -q ",$o," || sm_fail "/proc/mounts options '$4' lack $o"
	done
}
wait_free() {    # after a plain umount the server finishes in the background
	local i
	for i in $(seq 100); do [ -z "$(diff_holders "$1")" ] && return 0; sleep 0.1; done
	sm_fail "the server still holds $1 10 s after umount"
}

mkimg "$T/a.img" 64M -t ext4 -T default

# ---- mount.fuse3 run directly, safemount found through PATH ----
ln -s "$(readlink -f "$SAFEMOUNT")" "$T/bin/safemount"
PATH="$T/bin:$PATH" "$MF" "$T/a.img" "$M" -t fuse.safemount -o rw,dev,suid,noatime 2>"$T/err" ||
	sm_fail "mount.fuse3 IMAGE DIR -t fuse.safemount failed: $(cat "$T/err")"
sm_on_exit "'$SAFEMOUNT' -u '$M'"
check_line "$M" "$T/a.img" rw
echo "via mount.fuse3" >"$M/f1" || sm_fail "write through the mount.fuse3 mount failed"
sm_umount "$M"
fsck_clean "$T/a.img"

# ---- mount(8) with -t fuse.safemount ----
L=/usr/local/sbin/safemount
if [ -e "$L" ] || [ -L "$L" ]; then
	[ "$(readlink -f "$L")" = "$(readlink -f "$SAFEMOUNT")" ] ||
		sm_skip "$L exists and is not the safemount under test"
else
	ln -s "$(readlink -f "$SAFEMOUNT")" "$L" || sm_skip "cannot create $L"
	sm_on_exit "rm -f '$L'"
fi

mount -t fuse.safemount "$T/a.img" "$M" 2>"$T/err" || sm_fail "mount -t fuse.safemount IMAGE DIR failed: $(cat "$T/err")"
sm_on_exit "'$SAFEMOUNT' -u '$M'"
check_line "$M" "$T/a.img" rw
[ "$(cat "$M/f1")" = "via mount.fuse3" ] || sm_fail "f1 not readable through mount -t fuse.safemount"
echo "via mount -t" >"$M/f2" || sm_fail "write through mount -t fuse.safemount failed"
sm_umount "$M"
fsck_clean "$T/a.img"

mount -t fuse.safemount -o ro,noatime "$T/a.img" "$M" 2>"$T/err" || sm_fail "mount -t fuse.safemount -o ro failed: $(cat "$T/err")"
check_line "$M" "$T/a.img" ro
if touch "$M/x" 2>/dev/null; then sm_fail "write succeeded on a -o ro mount made by mount(8)"; fi
sm_umount "$M"

# A failure through mount(8): non-zero exit and nothing mounted.
if mount -t fuse.safemount "$T/missing.img" "$M" 2>"$T/err"; then sm_fail "mount -t fuse.safemount of a missing image succeeded"; fi
! mounted "$M" || sm_fail "a failed mount(8) left $M mounted"
grep -q "missing.img" "$T/err" || sm_fail "mount(8) failure message does not name the image: $(cat "$T/err")"

# A path with a space, through mount(8).
cp --sparse=always "$T/a.img" "$T/my image.img"
mkdir -p "$T/my mnt"
mount -t fuse.safemount "$T/my image.img" "$T/my mnt" 2>"$T/err" || sm_fail "mount(8) with spaces in the paths failed: $(cat "$T/err")"
sm_on_exit "'$SAFEMOUNT' -u '$T/my mnt'"
check_line "$T/my\\040mnt" "$T/my\\040image.img" rw
sm_umount "$T/my mnt"

# ---- fstab lines (mount -T FILE) ----
cat >"$T/fstab" <<FSTAB
# a temporary fstab for this case
$T/a.img  $M  fuse.safemount  noauto,ro,nofail,x-test=1,_netdev  0 0
$T/my\\040image.img  $T/my\\040mnt  fuse.safemount  defaults,noatime  0 0
FSTAB
mount -T "$T/fstab" "$M" 2>"$T/err" || sm_fail "mount -T fstab DIR failed: $(cat "$T/err")"
check_line "$M" "$T/a.img" ro
[ "$(cat "$M/f2")" = "via mount -t" ] || sm_fail "f2 not readable through the fstab mount"
sm_umount "$M"
mount -T "$T/fstab" "$T/my image.img" 2>"$T/err" || sm_fail "mount -T fstab IMAGE (by source) failed: $(cat "$T/err")"
check_line "$T/my\\040mnt" "$T/my\\040image.img" rw
echo "via fstab" >"$T/my mnt/f3" || sm_fail "write through the rw fstab mount failed"
umount "$T/my mnt" || sm_fail "plain umount of the fstab mount failed"
wait_free "$T/my image.img"
fsck_clean "$T/my image.img"
[ "$(debugfs -R 'cat /f3' "$T/my image.img" 2>/dev/null)" = "via fstab" ] || sm_fail "f3 written through the fstab mount is not in the image"
fsck_clean "$T/a.img"
echo "PASS: install_fstab"
