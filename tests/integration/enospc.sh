#!/bin/bash
# Running out of space and of inodes: writes fail with ENOSPC ("No space
# left on device"), never another error, a partial write reports exactly
# what landed (file size = bytes dd says it copied), the full filesystem is
# fsck-clean, statfs says it is full, and after deleting everything the
# space and inodes come back (statfs on the live mount, and after -u and a
# remount compared with a fresh image within a small margin).
# SM_DRIVER=kernel runs it on the kernel's ext4 (validates the test).
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/differential.sh"
sm_require_root
sm_setup
T=$SM_TMP
M=$T/m

sfree() { stat -f -c %f "$1"; }     # free blocks (statfs f_bfree)
sffree() { stat -f -c %d "$1"; }    # free inodes (statfs f_ffree)
sb_field() { dumpe2fs -h "$1" 2>/dev/null | sed -n "s/^$2: *//p"; }

# ---------- blocks: an 8 MiB image ----------
mkimg "$T/b.img" 8M -t ext4
fresh_blocks=$(sb_field "$T/b.img" "Free blocks")
diff_mount "$T/b.img" "$M" rw
total=$(stat -f -c %b "$M")
fresh_live=$(sfree "$M")
[ "$fresh_live" -gt 1000 ] || sm_fail "statfs on a fresh 8 MiB image reports only $fresh_live free blocks"
mkdir "$M/d"; echo small >"$M/d/small"
dd if=/dev/urandom of="$M/fill" bs=64k 2>"$T/dd.err"; rc=$?
[ "$rc" != 0 ] || sm_fail "dd filling an 8 MiB filesystem did not fail"
grep -q "No space left on device" "$T/dd.err" || sm_fail "filling: expected ENOSPC, dd said: $(cat "$T/dd.err")"
copied=$(sed -n 's/^\([0-9]*\) bytes.*copied.*/\1/p' "$T/dd.err")
size=$(stat -c %s "$M/fill")
[ -n "$copied" ] && [ "$copied" = "$size" ] || sm_fail "dd reported $copied bytes copied but the file has $size bytes"
[ "$size" -gt $((5 * 1024 * 1024)) ] || sm_fail "only $size bytes fit into an 8 MiB filesystem"
# Fill the crumbs: small files until ENOSPC, each error must be ENOSPC.
i=0; err=""
while [ $i -lt 5000 ]; do
	if ! head -c 3000 /dev/zero >"$M/d/crumb$i" 2>"$T/w.err"; then err=$(cat "$T/w.err"); break; fi
	i=$((i + 1))
done
[ -n "$err" ] || sm_fail "5000 more 3000-byte files fit into a full filesystem"
echo "$err" | grep -q "No space left on device" || sm_fail "small file on a full fs: expected ENOSPC, got: $err"
# Appending to an existing file, writing into a hole and setting a big xattr must fail with ENOSPC too.
if head -c 100000 /dev/zero >>"$M/d/small" 2>"$T/w.err"; then sm_fail "append of 100 KB to a full filesystem succeeded"; fi
grep -q "No space left on device" "$T/w.err" || sm_fail "append on a full fs: expected ENOSPC, got: $(cat "$T/w.err")"
cat "$M/fill" >/dev/null || sm_fail "reading the fill file back failed"
left=$(sfree "$M")
# (the kernel's ext4 keeps min(2%, 4096 blocks) back for metadata)
[ "$left" -le $((total / 20)) ] || sm_fail "statfs says $left of $total blocks free on a full filesystem"
diff_umount "$M"
fsck_clean "$T/b.img"

diff_mount "$T/b.img" "$M" rw
# A short append before ENOSPC is allowed; the old bytes must be intact and
# anything appended must be what was written (zeros).
[ "$(head -c 6 "$M/d/small" | od -An -c | tr -d ' ')" = 'small\n' ] || sm_fail "d/small's old content changed by the failed append"
[ "$(tail -c +7 "$M/d/small" | tr -d '\0' | wc -c)" = 0 ] || sm_fail "d/small: the partial append left non-zero bytes"
rm -rf "$M/fill" "$M/d" || sm_fail "deleting everything failed"
sync -f "$M" 2>/dev/null
back=$(sfree "$M")
[ $((fresh_live - back)) -le 16 ] || sm_fail "after deleting everything statfs shows $back free blocks, fresh was $fresh_live"
diff_umount "$M"
fsck_clean "$T/b.img"
after=$(sb_field "$T/b.img" "Free blocks")
[ $((fresh_blocks - after)) -le 16 ] || sm_fail "superblock free blocks $after after cleanup, fresh image $fresh_blocks"
diff_mount "$T/b.img" "$M" ro
again=$(sfree "$M")
[ $((fresh_live - again)) -le 16 ] || sm_fail "remounted: statfs shows $again free blocks, fresh was $fresh_live"
diff_umount "$M"

# ---------- inodes: -N 64 ----------
mkimg "$T/i.img" 16M -t ext4 -N 64
fresh_inodes=$(sb_field "$T/i.img" "Free inodes")
diff_mount "$T/i.img" "$M" rw
live_inodes=$(sffree "$M")
[ "$live_inodes" = "$fresh_inodes" ] || sm_fail "statfs reports $live_inodes free inodes, the superblock $fresh_inodes"
n=0; err=""
while [ $n -lt 1000 ]; do
	if [ $((n % 5)) = 4 ]; then
		mkdir "$M/dir$n" 2>"$T/w.err" || { err=$(cat "$T/w.err"); break; }
	else
		touch "$M/file$n" 2>"$T/w.err" || { err=$(cat "$T/w.err"); break; }
	fi
	n=$((n + 1))
done
[ -n "$err" ] || sm_fail "1000 inodes created on a filesystem with 64"
echo "$err" | grep -q "No space left on device" || sm_fail "out of inodes: expected ENOSPC, got: $err"
[ "$n" = "$fresh_inodes" ] || sm_fail "created $n inodes before ENOSPC, the image had $fresh_inodes free"
[ "$(sffree "$M")" = 0 ] || sm_fail "statfs shows $(sffree "$M") free inodes when none are left"
if ln -s target "$M/onemore" 2>"$T/w.err"; then sm_fail "symlink created with no free inode"; fi
grep -q "No space left on device" "$T/w.err" || sm_fail "symlink without inodes: expected ENOSPC, got: $(cat "$T/w.err")"
if ln "$M/file0" "$M/hardlink" 2>/dev/null; then rm "$M/hardlink"; else sm_fail "a hard link (no new inode) failed on an inode-full fs"; fi
diff_umount "$M"
fsck_clean "$T/i.img"
diff_mount "$T/i.img" "$M" rw
rm -rf "$M"/file* "$M"/dir* || sm_fail "deleting the files failed"
[ "$(sffree "$M")" = "$fresh_inodes" ] || sm_fail "after deleting, statfs shows $(sffree "$M") free inodes, fresh $fresh_inodes"
diff_umount "$M"
fsck_clean "$T/i.img"
[ "$(sb_field "$T/i.img" "Free inodes")" = "$fresh_inodes" ] || sm_fail "superblock free inodes not back to $fresh_inodes"
echo "PASS: enospc"
