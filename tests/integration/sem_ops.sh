#!/bin/bash
# Everyday operations compared with the kernel's ext4: utimensat, timestamp
# precision and range across a remount, truncate, O_APPEND, rename over
# files and directories, directory link counts, which timestamps each
# operation changes, special files, readdir after churn, statfs,
# SEEK_DATA/SEEK_HOLE, fallocate modes and a file larger than 4 GiB.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/semantics.sh"
sem_init
umask 022

# "yes" when a timestamp is within 10 s of now.
recent() {
	local t now
	t=$(sem_field "$1" "$2")
	t=${t%.*}
	now=$(date +%s)
	[ $((now - t)) -le 10 ] && [ $((t - now)) -le 10 ] && echo yes || echo "no ($t vs $now)"
}

scen_times() {
	echo data >"$M/f"
	sem_t "utimens explicit ns" OK utimens "$M/f" 1000 123456789 2000 987654321
	sem_t "explicit read back" "OK atime=1000.123456789 mtime=2000.987654321" stat "$M/f" atime,mtime
	sem_changed_t "ctime changes on utimens" yes "$M/f" ctime "$SEM" utimens "$M/f" 1000 1 2000 2
	sem_t "utimens OMIT atime" OK utimens "$M/f" OMIT 0 3000 5
	sem_t "atime kept, mtime set" "OK atime=1000.000000001 mtime=3000.000000005" stat "$M/f" atime,mtime
	sem_t "utimens NOW mtime" OK utimens "$M/f" OMIT 0 NOW 0
	sem_tx "mtime is now" "yes rc=0" recent "$M/f" mtime
	sem_t "atime still kept" "OK atime=1000.000000001" stat "$M/f" atime
	sem_t "utimens NOW both" OK utimens "$M/f" NOW 0 NOW 0
	sem_tx "atime is now" "yes rc=0" recent "$M/f" atime
	sem_t "utimens OMIT both" OK utimens "$M/f" OMIT 0 OMIT 0
	sem_t "reset" OK utimens "$M/f" 1000 0 2000 0
	sem_tx "touch -a" "rc=0" touch -a "$M/f"
	sem_t "touch -a kept mtime" "OK mtime=2000.000000000" stat "$M/f" mtime
	sem_tx "atime after touch -a" "yes rc=0" recent "$M/f" atime
	sem_t "reset again" OK utimens "$M/f" 1000 0 2000 0
	sem_tx "touch -m" "rc=0" touch -m "$M/f"
	sem_t "touch -m kept atime" "OK atime=1000.000000000" stat "$M/f" atime
	sem_tx "mtime after touch -m" "yes rc=0" recent "$M/f" mtime
	sem_tx "touch -d" "rc=0" touch -d "2021-03-04 05:06:07.123456789 UTC" "$M/f"
	sem_t "touch -d read back" "OK atime=1614834367.123456789 mtime=1614834367.123456789" stat "$M/f" atime,mtime
	# Range of the extra timestamp bits: before 1970 and after 2038.
	: >"$M/old"
	sem_t "utimens 1901" OK utimens "$M/old" -2147483647 5 -100000 999999999
	sem_t "pre-1970 read back" "OK atime=-2147483647.000000005 mtime=-100000.999999999" stat "$M/old" atime,mtime
	: >"$M/new"
	sem_t "utimens 2100/2400" OK utimens "$M/new" 4102444800 7 13569465600 999999999
	sem_t "post-2038 read back" "OK atime=4102444800.000000007 mtime=13569465600.999999999" stat "$M/new" atime,mtime
	# ext4 (256-byte inodes) spans [-2^31, 2^34 - 1 - 2^31]: the kernel
	# clamps beyond that, and a clamped time loses its nanoseconds.
	: >"$M/clamp"
	sem_t "utimens out of range" OK utimens "$M/clamp" -3000000000 5 16000000000 5
	sem_t "clamped" "OK atime=-2147483648.000000000 mtime=15032385535.000000000" stat "$M/clamp" atime,mtime
	: >"$M/created"
	local before after
	before=$("$SEM" stat "$M/created" atime,mtime,ctime)
	case $before in *.000000000*) echo "created has sub-second times: no ($before)" ;; *) echo "created has sub-second times: yes" ;; esac
	sem_remount
	sem_t "explicit after remount" "OK atime=1614834367.123456789 mtime=1614834367.123456789" stat "$M/f" atime,mtime
	sem_t "pre-1970 after remount" "OK atime=-2147483647.000000005 mtime=-100000.999999999" stat "$M/old" atime,mtime
	sem_t "post-2038 after remount" "OK atime=4102444800.000000007 mtime=13569465600.999999999" stat "$M/new" atime,mtime
	sem_t "clamped after remount" "OK atime=-2147483648.000000000 mtime=15032385535.000000000" stat "$M/clamp" atime,mtime
	after=$("$SEM" stat "$M/created" atime,mtime,ctime)
	[ "$before" = "$after" ] && echo "created times survive remount: yes" ||
		echo "created times survive remount: no ($before -> $after)"
}

scen_data() {
	sem_t "write" "OK 10" write "$M/f" 0 0123456789 creat
	sem_t "shrink" OK truncate "$M/f" 4
	sem_t "after shrink" "OK 4 0123" read "$M/f" 0 100
	sem_t "grow" OK truncate "$M/f" 8
	sem_t "grow reads zeros" 'OK 8 0123\x00\x00\x00\x00' read "$M/f" 0 100
	sem_t "shrink to 2 then grow to 6" OK truncate "$M/f" 2
	sem_t "grow" OK truncate "$M/f" 6
	sem_t "stale bytes gone" 'OK 6 01\x00\x00\x00\x00' read "$M/f" 0 100
	# Shrinking into the middle of a block must zero the block's tail.
	sem_t "fill 3 blocks" OK fill "$M/g" 0 12288 z
	sem_t "shrink mid-block" OK truncate "$M/g" 5000
	sem_t "grow back" OK truncate "$M/g" 12288
	sem_tx "tail zeroed" "OK size=12288 fnv=* rc=0" "$SEM" sum "$M/g"
	sem_t "byte 4999" "OK 2 z\\x00" read "$M/g" 4999 2
	sem_t "byte 8192" 'OK 1 \x00' read "$M/g" 8192 1
	sem_t "O_TRUNC" OK open "$M/f" "O_WRONLY|O_TRUNC"
	sem_t "size after O_TRUNC" "OK size=0 blocks=0" stat "$M/f" size,blocks
	sem_t "append 1" "OK 3" write "$M/f" 0 abc append
	sem_t "append after seek 0" "OK 3" write "$M/f" 0 def append
	sem_t "append after seek 100" "OK 3" write "$M/f" 100 ghi append
	sem_t "appended" "OK 9 abcdefghi" read "$M/f" 0 100
	sem_t "pwrite past EOF" "OK 1" write "$M/f" 20 X
	sem_t "gap is zeros" 'OK 21 abcdefghi\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00X' read "$M/f" 0 100
	sem_t "O_EXCL new" OK open "$M/new" "O_WRONLY|O_CREAT|O_EXCL" 0640
	sem_t "O_EXCL mode" "OK mode=100640 size=0" stat "$M/new" mode,size
	sem_t "O_EXCL again" EEXIST open "$M/new" "O_WRONLY|O_CREAT|O_EXCL" 0640
	sem_t "write 2 MiB" OK fill "$M/big" 0 2097152 q
	sem_tx "2 MiB sum" "" "$SEM" sum "$M/big"
	sem_t "2 MiB blocks" "OK size=2097152 blocks=4096" stat "$M/big" size,blocks
	sem_remount
	sem_tx "2 MiB sum after remount" "" "$SEM" sum "$M/big"
	sem_t "f after remount" 'OK 21 abcdefghi\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00X' read "$M/f" 0 100
}

scen_rename_links() {
	mkdir -p "$M/p1" "$M/p2"
	echo one >"$M/p1/a"
	echo two >"$M/p1/b"
	ln "$M/p1/b" "$M/p2/b2"
	sem_t "rename file over file" OK rename "$M/p1/a" "$M/p1/b"
	sem_t "target replaced" "OK 4 one\\x0a" read "$M/p1/b" 0 10
	sem_t "source gone" ENOENT stat "$M/p1/a"
	sem_t "old target's other link" "OK nlink=1" stat "$M/p2/b2" nlink
	sem_t "old target's data" "OK 4 two\\x0a" read "$M/p2/b2" 0 10
	sem_t "rename over own hard link" OK rename "$M/p2/b2" "$M/p2/b2"
	ln "$M/p1/b" "$M/p1/hl"
	sem_t "rename onto a hard link of itself" OK rename "$M/p1/b" "$M/p1/hl"
	sem_t "both names stay" "OK nlink=2" stat "$M/p1/hl" nlink
	sem_t "p1 nlink" "OK nlink=2" stat "$M/p1" nlink
	sem_t "mkdir sub" OK mkdir "$M/p1/sub" 0755
	sem_t "p1 nlink +1" "OK nlink=3" stat "$M/p1" nlink
	sem_t "sub nlink" "OK nlink=2" stat "$M/p1/sub" nlink
	sem_t "mkdir sub2" OK mkdir "$M/p1/sub2" 0755
	sem_t "p1 nlink +2" "OK nlink=4" stat "$M/p1" nlink
	sem_t "rmdir sub2" OK rmdir "$M/p1/sub2"
	sem_t "p1 nlink back" "OK nlink=3" stat "$M/p1" nlink
	sem_t "move dir to p2" OK rename "$M/p1/sub" "$M/p2/sub"
	sem_t "p1 nlink after move" "OK nlink=2" stat "$M/p1" nlink
	sem_t "p2 nlink after move" "OK nlink=3" stat "$M/p2" nlink
	sem_tx "sub/.. is p2" "yes rc=0" sem_same "$M/p2/sub/.." "$M/p2"
	mkdir "$M/p1/e1" "$M/p2/e2"
	sem_t "dir over empty dir across parents" OK rename "$M/p1/e1" "$M/p2/e2"
	sem_t "p1 nlink" "OK nlink=2" stat "$M/p1" nlink
	sem_t "p2 nlink" "OK nlink=4" stat "$M/p2" nlink
	sem_t "root nlink" "OK nlink=5" stat "$M" nlink
	sem_tx "e2/.. is p2" "yes rc=0" sem_same "$M/p2/e2/.." "$M/p2"
	sem_t "listing p2" "[.] [..] [b2] [e2] [sub] OK" readdir "$M/p2"
	sem_remount
	sem_t "p2 nlink after remount" "OK nlink=4" stat "$M/p2" nlink
	sem_t "listing p2 after remount" "[.] [..] [b2] [e2] [sub] OK" readdir "$M/p2"
}

scen_stamps() {
	mkdir "$M/d" "$M/d2"
	echo x >"$M/d/f"
	ln "$M/d/f" "$M/d2/keep"	# a stable name for the inode that gets renamed
	: >"$M/d/e"
	sem_changed_t "create: parent mtime" yes "$M/d" mtime touch "$M/d/new"
	sem_changed_t "create: parent ctime" yes "$M/d" ctime touch "$M/d/new2"
	sem_changed_t "unlink: parent mtime" yes "$M/d" mtime rm "$M/d/new"
	sem_changed_t "unlink: parent ctime" yes "$M/d" ctime rm "$M/d/new2"
	sem_changed_t "mkdir: parent mtime" yes "$M/d" mtime mkdir "$M/d/s"
	sem_changed_t "rmdir: parent mtime" yes "$M/d" mtime rmdir "$M/d/s"
	sem_changed_t "rename: source parent mtime" yes "$M/d" mtime mv "$M/d/f" "$M/d2/f"
	sem_changed_t "rename: target parent mtime" yes "$M/d" mtime mv "$M/d2/f" "$M/d/f"
	sem_changed_t "rename: renamed file ctime" yes "$M/d2/keep" ctime mv "$M/d/f" "$M/d/g"
	sem_changed_t "rename: renamed file mtime" no "$M/d2/keep" mtime mv "$M/d/g" "$M/d/h"
	sem_changed_t "link: parent mtime" yes "$M/d" mtime ln "$M/d/h" "$M/d/l"
	sem_changed_t "link: file ctime" yes "$M/d/h" ctime ln "$M/d/h" "$M/d/l2"
	sem_changed_t "link: file mtime" no "$M/d/h" mtime ln "$M/d/h" "$M/d/l3"
	sem_changed_t "unlink: file ctime" yes "$M/d/h" ctime rm "$M/d/l3"
	sem_changed_t "symlink: parent mtime" yes "$M/d" mtime ln -s x "$M/d/sl"
	sem_changed_t "chmod: ctime" yes "$M/d/h" ctime chmod 600 "$M/d/h"
	sem_changed_t "chmod: mtime" no "$M/d/h" mtime chmod 644 "$M/d/h"
	sem_changed_t "chown: ctime" yes "$M/d/h" ctime chown 1:1 "$M/d/h"
	sem_changed_t "setxattr: ctime" yes "$M/d/h" ctime "$SEM" setxattr "$M/d/h" user.k v
	sem_changed_t "setxattr: mtime" no "$M/d/h" mtime "$SEM" setxattr "$M/d/h" user.k w
	sem_changed_t "write: mtime" yes "$M/d/h" mtime "$SEM" write "$M/d/h" 0 y
	sem_changed_t "write: ctime" yes "$M/d/h" ctime "$SEM" write "$M/d/h" 0 z
	sem_changed_t "write: parent mtime" no "$M/d" mtime "$SEM" write "$M/d/h" 0 w
	sem_changed_t "truncate: mtime" yes "$M/d/h" mtime truncate -s 100 "$M/d/h"
	sem_changed_t "truncate same size: mtime" yes "$M/d/h" mtime "$SEM" truncate "$M/d/h" 100
	sem_changed_t "O_TRUNC of empty: mtime" yes "$M/d/e" mtime "$SEM" open "$M/d/e" "O_WRONLY|O_CREAT|O_TRUNC"
	sem_changed_t "read: mtime" no "$M/d/h" mtime cat "$M/d/h"
	sem_changed_t "stat: ctime" no "$M/d/h" ctime stat "$M/d/h"
	sem_changed_t "readdir: dir mtime" no "$M/d" mtime ls "$M/d"
}

scen_special() {
	sem_t "mkfifo" OK mknod "$M/fifo" fifo 0644
	sem_t "fifo stat" "OK mode=010644 size=0" stat "$M/fifo" mode,size
	sem_t "mksock" OK mknod "$M/sock" sock 0600
	sem_t "sock stat" "OK mode=140600" stat "$M/sock" mode
	sem_t "mknod chr" OK mknod "$M/chr" chr 0640 1 3
	sem_t "chr stat" "OK mode=020640 rdev=1:3" stat "$M/chr" mode,rdev
	sem_t "mknod blk big numbers" OK mknod "$M/blk" blk 0600 259 1048575
	sem_t "blk stat" "OK mode=060600 rdev=259:1048575" stat "$M/blk" mode,rdev
	sem_t "mknod chr 0:0" OK mknod "$M/wh" chr 0600 0 0
	sem_t "chr 0:0 stat" "OK mode=020600 rdev=0:0" stat "$M/wh" mode,rdev
	sem_tx "fifo works" "hello rc=0" sh -c "(echo hello >'$M/fifo' &) ; cat '$M/fifo'"
	sem_remount
	sem_t "chr after remount" "OK mode=020640 rdev=1:3" stat "$M/chr" mode,rdev
	sem_t "blk after remount" "OK mode=060600 rdev=259:1048575" stat "$M/blk" mode,rdev
	sem_t "fifo after remount" "OK mode=010644" stat "$M/fifo" mode
	sem_t "sock after remount" "OK mode=140600" stat "$M/sock" mode
}

scen_readdir() {
	local i expect
	local -A names=()
	mkdir "$M/d"
	# Churn, keeping the expected set of names in names[].
	for i in $(seq 1 1500); do : >"$M/d/file-$i"; names[file-$i]=1; done
	for i in $(seq 1 3 1500); do rm "$M/d/file-$i"; unset "names[file-$i]"; done
	for i in $(seq 2 7 1500); do
		[ -n "${names[file-$i]:-}" ] || continue
		mv "$M/d/file-$i" "$M/d/moved-$i"
		unset "names[file-$i]"; names[moved-$i]=1
	done
	for i in $(seq 1 5 1500); do
		[ -n "${names[file-$i]:-}" ] && continue
		: >"$M/d/again-$i"; names[again-$i]=1
	done
	mkdir "$M/d/sub"
	names[sub]=1 names[.]=1 names[..]=1
	expect=$(printf '%s\n' "${!names[@]}" | LC_ALL=C sort | sed 's/.*/[&]/' | tr '\n' ' ')
	sem_t "listing after churn" "${expect}OK" readdir "$M/d"
	sem_tx "entry count" "" sh -c "ls -a '$M/d' | wc -l"
	sem_remount
	sem_t "listing after remount" "${expect}OK" readdir "$M/d"
	rm -rf "$M/d/"*
	sem_t "emptied" "[.] [..] OK" readdir "$M/d"
	sem_t "rmdir emptied" OK rmdir "$M/d"
}

scen_statfs() {
	local s
	s=$("$SEM" statfs "$M")
	echo "$s" >"$SM_TMP/statfs.$SEM_SIDE.0"
	sem_tx "statfs fixed fields" "" sh -c "echo '$s' | tr ' ' '\\n' | grep -E '^(OK|bsize|blocks|files|namelen)' | tr '\\n' ' '"
	"$SEM" fill "$M/f" 0 $((8 << 20)) a >/dev/null
	sync
	"$SEM" statfs "$M" >"$SM_TMP/statfs.$SEM_SIDE.1"
	rm "$M/f"
	sync
	"$SEM" statfs "$M" >"$SM_TMP/statfs.$SEM_SIDE.2"
	sem_tx "df works" "rc=0" sh -c "df -P '$M' >/dev/null"
}

# statfs_check: free counts of both sides within a few blocks of each other,
# and 8 MiB of data must cost (about) 2048 blocks on both.
statfs_check() {
	local i k s kf sf kb sb
	for i in 0 1 2; do
		k=$(cat "$SM_TMP/statfs.kernel.$i") s=$(cat "$SM_TMP/statfs.safemount.$i")
		kf=$(echo "$k" | sed 's/.*bfree=\([0-9]*\).*/\1/') sf=$(echo "$s" | sed 's/.*bfree=\([0-9]*\).*/\1/')
		[ $((kf - sf)) -le 16 ] && [ $((sf - kf)) -le 16 ] ||
			sem_bad "[statfs] step $i: free blocks differ: kernel '$k' safemount '$s'"
		kf=$(echo "$k" | sed 's/.*ffree=\([0-9]*\).*/\1/') sf=$(echo "$s" | sed 's/.*ffree=\([0-9]*\).*/\1/')
		[ "$kf" = "$sf" ] || sem_bad "[statfs] step $i: free inodes differ: kernel '$k' safemount '$s'"
	done
	for side in kernel safemount; do
		kb=$(sed 's/.*bfree=\([0-9]*\).*/\1/' "$SM_TMP/statfs.$side.0")
		sb=$(sed 's/.*bfree=\([0-9]*\).*/\1/' "$SM_TMP/statfs.$side.1")
		[ $((kb - sb)) -ge 2048 ] && [ $((kb - sb)) -le 2100 ] ||
			sem_bad "[statfs/$side] 8 MiB took $((kb - sb)) blocks"
		sb=$(sed 's/.*bfree=\([0-9]*\).*/\1/' "$SM_TMP/statfs.$side.2")
		[ "$kb" = "$sb" ] || sem_bad "[statfs/$side] free blocks after rm: $sb, before: $kb"
	done
}

scen_seek() {
	"$SEM" write "$M/s" 0 head creat >/dev/null
	"$SEM" write "$M/s" $((1 << 20)) mid >/dev/null
	"$SEM" write "$M/s" $((3 << 20)) tail >/dev/null
	sync
	sem_t "size" "OK size=$(((3 << 20) + 4))" stat "$M/s" size
	sem_t "data 0" "OK 0" lseek "$M/s" data 0
	sem_t "hole 0" "OK 4096" lseek "$M/s" hole 0
	sem_t "data 4096" "OK 1048576" lseek "$M/s" data 4096
	sem_t "hole 1M" "OK 1052672" lseek "$M/s" hole 1048576
	sem_t "data 1M+5000" "OK 3145728" lseek "$M/s" data 1053576
	sem_t "hole 3M" "OK 3145732" lseek "$M/s" hole 3145728
	sem_t "data at EOF" ENXIO lseek "$M/s" data 3145732
	sem_t "hole at EOF" ENXIO lseek "$M/s" hole 3145732
	sem_t "data past EOF" ENXIO lseek "$M/s" data 9999999
	sem_t "hole 2" "OK 4096" lseek "$M/s" hole 2
	sem_t "hole read zeros" 'OK 4 \x00\x00\x00\x00' read "$M/s" 8192 4
	: >"$M/empty"
	sem_t "data in empty" ENXIO lseek "$M/empty" data 0
	sem_t "hole in empty" ENXIO lseek "$M/empty" hole 0
	truncate -s 1M "$M/allhole"
	sem_t "data in all-hole" ENXIO lseek "$M/allhole" data 0
	sem_t "hole in all-hole" "OK 0" lseek "$M/allhole" hole 0
	# Unwritten (preallocated) extents read as zeros and count as holes.
	"$SEM" write "$M/u" 0 x creat >/dev/null
	sem_t "prealloc keep_size" OK fallocate "$M/u" keep_size 0 65536
	sem_t "prealloc past EOF" OK fallocate "$M/u" 0 0 65536
	sync
	sem_t "unwritten: data 0" "OK 0" lseek "$M/u" data 0
	sem_t "unwritten: hole 0" "OK 4096" lseek "$M/u" hole 0
	sem_t "unwritten: data 4096" ENXIO lseek "$M/u" data 4096
	# Twelve separate extents: more than the inode holds, so the tree has
	# an index level (ext2fs_extent_goto() then replays a leaf).
	for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
		"$SEM" write "$M/deep" $((i << 20)) "x$i" creat >/dev/null
	done
	sync
	sem_t "deep tree: data 4096" "OK 1048576" lseek "$M/deep" data 4096
	sem_t "deep tree: data 5M+4096" "OK 6291456" lseek "$M/deep" data $(((5 << 20) + 4096))
	sem_t "deep tree: hole 10M" "OK 10489856" lseek "$M/deep" hole $((10 << 20))
	sem_t "deep tree: read 11M" "OK 3 x11" read "$M/deep" $((11 << 20)) 3
	sem_t "deep tree: read 7M" "OK 2 x7" read "$M/deep" $((7 << 20)) 2
	sem_remount
	sem_t "after remount: data 4096" "OK 1048576" lseek "$M/s" data 4096
	sem_t "after remount: hole 0" "OK 4096" lseek "$M/s" hole 0
	sem_t "after remount: unwritten hole 0" "OK 4096" lseek "$M/u" hole 0
	sem_t "after remount: unwritten data 4096" ENXIO lseek "$M/u" data 4096
}

scen_falloc() {
	local f=$M/fa
	sem_t "create" "OK 4" write "$f" 0 base creat
	sem_t "fallocate 0..64K" OK fallocate "$f" 0 0 65536
	sem_t "size extended" "OK size=65536 blocks=128" stat "$f" size,blocks
	sem_t "prealloc reads zeros" 'OK 6 base\x00\x00' read "$f" 0 6
	sem_t "keep_size past EOF" OK fallocate "$f" keep_size 65536 65536
	sem_t "keep_size: size kept" "OK size=65536 blocks=256" stat "$f" size,blocks
	sem_t "fill data" OK fill "$f" 0 65536 d
	sem_t "punch without keep_size" EOPNOTSUPP fallocate "$f" punch_hole 4096 8192
	sem_t "punch 4K..12K" OK fallocate "$f" keep_size,punch_hole 4096 8192
	sem_t "punched reads zeros" 'OK 3 d\x00\x00' read "$f" 4095 3
	sem_t "after punch" 'OK 2 \x00d' read "$f" 12287 2
	sem_t "punch: size kept, blocks freed" "OK size=65536 blocks=240" stat "$f" size,blocks
	sem_t "punch unaligned" OK fallocate "$f" keep_size,punch_hole 20000 100
	sem_t "unaligned punch zeros" 'OK 4 d\x00\x00\x00' read "$f" 19999 4
	sem_t "unaligned punch end" 'OK 2 \x00d' read "$f" 20099 2
	sem_t "unaligned punch frees nothing" "OK blocks=240" stat "$f" blocks
	sem_t "zero_range" OK fallocate "$f" zero_range 30000 10000
	sem_t "zero_range zeros" 'OK 3 d\x00\x00' read "$f" 29999 3
	sem_t "zero_range end" 'OK 2 \x00d' read "$f" 39999 2
	sem_t "zero_range size" "OK size=65536" stat "$f" size
	sem_t "zero_range past EOF" OK fallocate "$f" zero_range 65536 8192
	sem_t "zero_range extends" "OK size=73728" stat "$f" size
	sem_t "zero_range keep_size past EOF" OK fallocate "$f" zero_range,keep_size 73728 8192
	sem_t "zero_range keep_size: size" "OK size=73728" stat "$f" size
	sem_t "punch+zero_range" EOPNOTSUPP fallocate "$f" punch_hole,zero_range 0 4096
	sem_t "negative len" EINVAL fallocate "$f" 0 0 -1
	sem_t "offset past max" EFBIG fallocate "$f" 0 $(((1 << 44) - 4096)) 4096
	sem_tx "sum" "" "$SEM" sum "$f"
	# Writes into preallocated (unwritten) blocks: the middle of an
	# extent, its start, its end and across it, then the whole rest.
	local p=$M/prealloc
	: >"$p"
	sem_t "prealloc 8M" OK fallocate "$p" 0 0 8388608
	sem_t "write mid-extent" OK fill "$p" 1048576 12288 m
	sem_t "write at start, unaligned" OK fill "$p" 100 5000 s
	sem_t "write at the end" OK fill "$p" 8384512 4096 e
	sem_t "write across written and unwritten" OK fill "$p" 1040000 20000 x
	# (Not blocks: ext4 zeroes small unwritten pieces instead of splitting
	# them and may stay within the inode's four extents where we need an
	# index block.)
	sem_t "prealloc: size unchanged" "OK size=8388608" stat "$p" size
	sem_t "zeros before the first write" 'OK 3 \x00\x00s' read "$p" 98 3
	sem_t "unwritten between reads zeros" 'OK 2 \x00\x00' read "$p" 2097152 2
	sem_tx "prealloc sum" "" "$SEM" sum "$p"
	sem_t "fill the rest in order" OK fill "$p" 0 8388608 r
	sem_tx "prealloc sum after fill" "" "$SEM" sum "$p"
	mkdir "$M/d"
	sem_t "fallocate a directory" EISDIR fallocate "$M/d" 0 0 4096
	sem_remount
	sem_tx "sum after remount" "" "$SEM" sum "$f"
	sem_t "stat after remount" "" stat "$f" size,blocks
}

# COLLAPSE_RANGE / INSERT_RANGE shift data by whole blocks.
# COLLAPSE_RANGE / INSERT_RANGE are not implemented by safemount (not among
# the modes it promises): it must say EOPNOTSUPP — never EINVAL, never a
# half-done shift — so callers fall back; the kernel's ext4 does the shift.
scen_falloc_shift() {
	local f=$M/sh
	"$SEM" fill "$f" 0 4096 a >/dev/null
	"$SEM" fill "$f" 4096 4096 b >/dev/null
	"$SEM" fill "$f" 8192 4096 c >/dev/null
	# The two sides differ on purpose: their checks stay out of the
	# compared transcript (failures are still recorded).
	case $SEM_SIDE in
	kernel*)
		sem_t "collapse unaligned" EINVAL fallocate "$f" collapse_range 1000 4096
		sem_t "collapse 4K at 4K" OK fallocate "$f" collapse_range 4096 4096
		sem_t "collapsed size" "OK size=8192" stat "$f" size
		;;
	*)
		sem_t "collapse unaligned" EOPNOTSUPP fallocate "$f" collapse_range 1000 4096
		sem_t "collapse 4K at 4K" EOPNOTSUPP fallocate "$f" collapse_range 4096 4096
		sem_t "insert 4K at 4K" EOPNOTSUPP fallocate "$f" insert_range 4096 4096
		sem_t "size unchanged" "OK size=12288" stat "$f" size
		sem_t "data in place" "OK 2 ab" read "$f" 4095 2
		;;
	esac >/dev/null
	sem_remount
	sem_t "readable after remount" "OK 1 a" read "$f" 0 1
}

scen_big() {
	local g4=$((1 << 32))
	sem_t "write at 4G+1" "OK 5" write "$M/big" $((g4 + 1)) above creat
	sem_t "write at 5G-5" "OK 5" write "$M/big" $((5 * (1 << 30) - 5)) final
	sem_t "write at 4G-2" "OK 2" write "$M/big" $((g4 - 2)) ed
	sem_t "size 5G" "OK size=5368709120 blocks=24" stat "$M/big" size,blocks
	sem_remount
	sem_t "read 4G+1" "OK 5 above" read "$M/big" $((g4 + 1)) 5
	sem_t "read across 4G" 'OK 4 ed\x00a' read "$M/big" $((g4 - 2)) 4
	sem_t "read at 5G-5" "OK 5 final" read "$M/big" $((5 * (1 << 30) - 5)) 100
	sem_t "read hole at 4.5G" 'OK 4 \x00\x00\x00\x00' read "$M/big" $((g4 + (1 << 29))) 4
	sem_t "read at EOF" "OK 0" read "$M/big" $((5 * (1 << 30))) 4
	sem_t "seek data past 4G" "OK $g4" lseek "$M/big" data $((g4 - 4096 + 4096))
	sem_t "truncate to 4G+3" OK truncate "$M/big" $((g4 + 3))
	sem_t "after truncate" 'OK 5 ed\x00ab' read "$M/big" $((g4 - 2)) 10
	sem_t "blocks after truncate" "OK blocks=16" stat "$M/big" blocks
}

sem_compare ops_times scen_times
sem_compare ops_data scen_data
sem_compare ops_rename_links scen_rename_links
sem_compare ops_stamps scen_stamps
sem_compare ops_special scen_special
sem_compare ops_readdir scen_readdir
sem_compare ops_statfs scen_statfs
case " ${SEM_SIDES:-kernel safemount} " in *" kernel "*" safemount "*) statfs_check ;; esac
sem_compare ops_seek scen_seek
sem_compare ops_falloc scen_falloc
sem_compare ops_falloc_shift scen_falloc_shift
sem_compare ops_big scen_big
sem_finish
