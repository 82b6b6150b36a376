#!/bin/bash
# Metadata is held back in the server's block cache (src/io/cache_io.c), and
# must still reach the image without anyone asking: a file created on a
# mount that then stays idle is on the image within the 5 s write-back
# interval (plus slack), as the kernel's ext4 commits it; fsync puts it
# there at once; unmount leaves the image fsck-clean.  Read from copies of
# the image taken while mounted, with debugfs.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
sm_require_root
sm_setup
T=$SM_TMP
command -v debugfs >/dev/null || sm_skip "debugfs (e2fsprogs) is not installed"

# on_image NAME TEXT: a copy of the image, taken now, holds /NAME with TEXT.
on_image() {
	cp --sparse=always "$T/a.img" "$T/snap.img" || sm_fail "cannot copy the image"
	debugfs -R "cat /$1" "$T/snap.img" 2>/dev/null | grep -qx "$2"
}

mkimg "$T/a.img" 64M -t ext4
sm_mount "$T/a.img" "$T/m"

# fsync: on the image before the call returns.
dd of="$T/m/synced" conv=fsync status=none <<< "synced text" || sm_fail "dd conv=fsync failed"
on_image synced "synced text" || sm_fail "a file created and fsynced is not on the image right after fsync"

# Idle: no sync, no more requests; the server's flusher writes it.
echo "idle text" > "$T/m/idle"
start=$(date +%s%N)
found=
while [ "$(sm_elapsed_ms "$start")" -lt 12000 ]; do
	if on_image idle "idle text"; then
		found=$(sm_elapsed_ms "$start")
		break
	fi
	sleep 0.5
done
[ -n "$found" ] || sm_fail "a file created on an idle mount was not on the image after 12 s"

sm_umount "$T/m"
fsck_clean "$T/a.img"
echo "PASS (idle file on the image after ${found} ms)"
