#!/bin/bash
# Differential write: the same ~50-step workload (mkdir -p, writes, appends,
# overwrite in place, truncate up/down, renames within/across directories and
# over existing files and empty directories, hard links, unlink, rmdir, fast/
# slow/dangling symlinks, chmod incl. setuid/setgid/sticky, chown incl. 32-bit
# ids and symlinks, xattrs incl. an external block and removal, ACLs incl.
# default-ACL inheritance, mknod, fallocate and hole punching, 3000 files in
# one directory (htree growth) plus 3000 created and deleted, cp -a, unicode
# and 255-byte names, explicit ns timestamps) runs on two copies of one image,
# under the kernel's ext4 and under safemount rw.  Both must fsck clean and
# look identical: live (each through its own driver) and afterwards, both
# mounted read-only by the kernel (the on-disk result).  Directory sizes are
# not compared: libext2fs and the kernel pack and split directory blocks
# differently.  The safemount-written
# htree directory must list all 3000 names under the kernel.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/differential.sh"
export TZ=UTC
umask 022
sm_require_root
sm_setup
diff_require_tools
command -v python3 >/dev/null || sm_skip "needs python3 (rename over a directory)"
T=$SM_TMP

mkimg "$T/base.img" 256M -t ext4 -b 4096 -I 256
# An htree-indexed directory made by the kernel, which the workload grows.
kmount "$T/base.img" "$T/b"
mkdir "$T/b/preidx"
(cd "$T/b/preidx" && seq -f 'old%05g' 1 2000 | xargs touch) || sm_fail "creating preidx failed"
kumount "$T/b"
debugfs -R "stat /preidx" "$T/base.img" 2>/dev/null | grep -q 'Flags: 0x[0-9a-f]*1[0-9a-f][0-9a-f][0-9a-f]$' ||
	sm_fail "the kernel did not index preidx (test setup)"
cp --sparse=always "$T/base.img" "$T/k.img"
cp --sparse=always "$T/base.img" "$T/s.img"

# Kernel side.
kmount "$T/k.img" "$T/k"
diff_workload "$T/k"
diff_manifest "$T/k" "$T/k.live" -C -D
kumount "$T/k"
fsck_clean "$T/k.img"

# safemount side.
sm_mount "$T/s.img" "$T/s" -o rw
diff_workload "$T/s"
diff_manifest "$T/s" "$T/s.live" -C -D
sm_umount "$T/s"
fsck_clean "$T/s.img"

# The test logic: the workload did what it says on the kernel.
grep -q '^d1/sym_fast l .*->d2 ' "$T/k.live" || sm_fail "kernel manifest: sym_fast was not replaced"
[ "$(grep -c '^hdir/' "$T/k.live")" = 3000 ] || sm_fail "kernel manifest: hdir does not hold 3000 files"
grep -q '^d5/inherited .*system.posix_acl_access=' "$T/k.live" || sm_fail "kernel manifest: no inherited ACL"

diff_compare "$T/k.live" "$T/s.live" "live views (kernel on its image vs safemount on its image)"

# The on-disk result, both read by the kernel.
kmount "$T/k.img" "$T/kk" -o ro,noload
kmount "$T/s.img" "$T/ks" -o ro,noload
diff_manifest "$T/kk" "$T/k.disk" -C -D
diff_manifest "$T/ks" "$T/s.disk" -C -D
diff_compare "$T/k.disk" "$T/s.disk" "on-disk result (both images read by the kernel)"

n=$(ls -f "$T/ks/hdir" | grep -c '^entry-with-a-longish-name-')
[ "$n" = 3000 ] || sm_fail "kernel lists $n of 3000 files in the safemount-written hdir"
for i in 00001 01500 03000; do
	[ -e "$T/ks/hdir/entry-with-a-longish-name-$i" ] || sm_fail "kernel lookup of hdir/entry-with-a-longish-name-$i failed"
done
# Lookups through the kernel use the htree index: every added name must be
# found by name, every removed one must be gone.
(cd "$T/ks/preidx" && seq -f 'added-later-%05g' 1 1000 | xargs stat -c %n >/dev/null) ||
	sm_fail "kernel lookup of names safemount added to an indexed directory failed"
n=$(cd "$T/ks/preidx" && seq -f 'old%05g' 1 4 2000 | xargs ls -d 2>/dev/null | wc -l)
[ "$n" = 0 ] || sm_fail "$n names safemount removed from the indexed directory are still found by the kernel"
[ "$(ls -f "$T/ks/hgone" | grep -vc '^\.\.\?$')" = 1 ] || sm_fail "hgone should hold only 'survivor' under the kernel"
echo "info: preidx flags after safemount: $(debugfs -R 'stat /preidx' "$T/s.img" 2>/dev/null | grep -o 'Flags: 0x[0-9a-f]*') (0x1000 = htree index)"
echo "info: hdir flags kernel: $(debugfs -R 'stat /hdir' "$T/k.img" 2>/dev/null | grep -o 'Flags: 0x[0-9a-f]*'), safemount: $(debugfs -R 'stat /hdir' "$T/s.img" 2>/dev/null | grep -o 'Flags: 0x[0-9a-f]*')"
diff_done
echo "PASS: diff_write ($(wc -l <"$T/k.disk") paths identical)"
