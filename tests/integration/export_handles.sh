#!/bin/bash
# File handles (name_to_handle_at/open_by_handle_at, as used by NFS export
# and fanotify): a handle taken on a safemount mount opens the same file
# while mounted, after the dentry cache is dropped, and after an unmount and
# a new mount of the same image; once the file is deleted (and after its
# inode is reused by a new file) the handle yields ESTALE, never the new
# file.  Directory handles work the same way.
# SM_DRIVER=kernel runs it on the kernel's ext4 (validates the test).
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/differential.sh"
sm_require_root
sm_setup
T=$SM_TMP
H=$SM_TOOLS/diff_handle
[ -x "$H" ] || sm_fail "diff_handle not built at $H"
M=$T/m

mkimg "$T/a.img" 64M -t ext4 -T default
diff_mount "$T/a.img" "$M" rw
echo "first line of the file" >"$M/file"; echo second >>"$M/file"
mkdir "$M/dir"; echo "in a dir" >"$M/dir/inner"
echo "doomed" >"$M/doomed"
h=$("$H" get "$M/file" 2>"$T/err") || sm_fail "name_to_handle_at on safemount failed: $(cat "$T/err")"
hd=$("$H" get "$M/dir/inner" 2>"$T/err") || sm_fail "name_to_handle_at of dir/inner failed: $(cat "$T/err")"
hx=$("$H" get "$M/doomed" 2>"$T/err") || sm_fail "name_to_handle_at of doomed failed: $(cat "$T/err")"

got=$("$H" open "$M" "$h" 2>"$T/err") || sm_fail "open_by_handle_at while mounted failed: $(cat "$T/err")"
[ "$got" = "first line of the file" ] || sm_fail "open_by_handle_at while mounted read '$got'"

# Not in the dentry cache any more: the server must resolve the handle.
sync; echo 2 >/proc/sys/vm/drop_caches
got=$("$H" open "$M" "$h" 2>"$T/err") || sm_fail "open_by_handle_at after drop_caches failed: $(cat "$T/err")"
[ "$got" = "first line of the file" ] || sm_fail "open_by_handle_at after drop_caches read '$got'"

diff_umount "$M"
fsck_clean "$T/a.img"
diff_mount "$T/a.img" "$M" rw
got=$("$H" open "$M" "$h" 2>"$T/err") || sm_fail "open_by_handle_at after unmount+remount failed: $(cat "$T/err")"
[ "$got" = "first line of the file" ] || sm_fail "open_by_handle_at after remount read '$got'"
got=$("$H" open "$M" "$hd" 2>"$T/err") || sm_fail "open_by_handle_at of dir/inner after remount failed: $(cat "$T/err")"
[ "$got" = "in a dir" ] || sm_fail "open_by_handle_at of dir/inner after remount read '$got'"
[ "$("$H" get "$M/file")" = "$h" ] || sm_fail "the handle of the same file changed across a remount"

# Deleted: ESTALE (with the inode still cached, and after a remount).
doomed_ino=$(stat -c %i "$M/doomed")
rm "$M/doomed"
if got=$("$H" open "$M" "$hx" 2>"$T/err"); then sm_fail "handle of a deleted file opened (read '$got')"; fi
grep -q ESTALE "$T/err" || sm_fail "handle of a deleted file: expected ESTALE, got: $(cat "$T/err")"
# Reuse the inode number for a new file: the old handle must not open it.
for i in $(seq 1 20); do echo "newcomer $i" >"$M/new$i"; done
reused=$(stat -c '%i %n' "$M"/new* | awk -v i="$doomed_ino" '$1 == i {print $2}')
echo "info: inode $doomed_ino of the deleted file reused by: ${reused:-nothing}"
diff_umount "$M"
diff_mount "$T/a.img" "$M" rw
if got=$("$H" open "$M" "$hx" 2>"$T/err"); then sm_fail "handle of a deleted file opened after remount and inode reuse (read '$got')"; fi
grep -q ESTALE "$T/err" || sm_fail "handle of a deleted file after remount: expected ESTALE, got: $(cat "$T/err")"
diff_umount "$M"
fsck_clean "$T/a.img"
echo "PASS: export_handles"
