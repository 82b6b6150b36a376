#!/bin/bash
# Differential read view: an image populated through the kernel's ext4 (all
# file types, sizes around block boundaries, a sparse 5 GiB file, an extent
# tree with an index block, preallocated extents, fast/slow symlinks, hard
# links, device nodes, xattrs incl. external blocks, POSIX ACLs, setuid/
# setgid/sticky, 32-bit uids, ns timestamps before 1970 and after 2038,
# unicode and 255-byte names, a 50,000-entry htree directory) must look
# exactly the same through safemount -o ro as through the kernel (ro,noload):
# type, mode, nlink, owner, size, st_blocks, rdev, mtime/ctime with ns,
# content, symlink targets, hard-link identity, every xattr.  A ro safemount
# mount must leave the image byte-identical.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/differential.sh"
export TZ=UTC
sm_require_root
sm_setup
diff_require_tools
T=$SM_TMP

mkimg "$T/k.img" 640M -t ext4 -N 70000
kmount "$T/k.img" "$T/k"
diff_populate "$T/k"
kumount "$T/k"
fsck_clean "$T/k.img"
cp --sparse=always "$T/k.img" "$T/s.img"
before=$(sha256sum <"$T/s.img")

kmount "$T/k.img" "$T/k" -o ro,noload
sm_mount "$T/s.img" "$T/s" -o ro
diff_manifest "$T/k" "$T/k.man" -B
diff_manifest "$T/s" "$T/s.man" -B

# The test logic itself: the kernel's view has what was populated.
n=$(wc -l <"$T/k.man")
[ "$n" -gt 50050 ] || sm_fail "kernel manifest has only $n lines (populate went wrong)"
grep -q '^sizes/sparse5g f .* 5368709120 ' "$T/k.man" || sm_fail "kernel manifest lacks the 5 GiB sparse file"
grep -q '^attrs/acl .*system.posix_acl_access=' "$T/k.man" || sm_fail "kernel manifest lacks the ACL"

diff_compare "$T/k.man" "$T/s.man" "kernel (ro,noload) vs safemount -o ro"

# readdir of the 50,000-entry directory: every name exactly once (the
# manifest tool reports duplicates as errors), and lookups of names not
# returned by readdir behave alike.
[ -e "$T/s/big/file025000" ] || sm_fail "lookup big/file025000 failed on safemount"
[ ! -e "$T/s/big/file050001" ] || sm_fail "lookup of a missing name in big/ succeeded on safemount"

sm_umount "$T/s"
after=$(sha256sum <"$T/s.img")
[ "$before" = "$after" ] || sm_fail "safemount -o ro changed the image (sha256 $before -> $after)"
fsck_clean "$T/s.img"
diff_done
echo "PASS: diff_read ($n paths identical)"
