#!/bin/bash
# Corrupted images never crash or hang the server (design.md §2.3, §7).
# A small populated image set (ext4 with and without metadata_csum, ext4
# inline_data with and without it, ext2 with 1 KiB blocks and indirect
# blocks, ext3; nested dirs, a 300-entry htree dir, inline/small files, a
# sparse file with an extent index block, short and long symlinks, in-inode
# and block xattrs) gets, each on a fresh copy:
#  - targeted corruptions of superblock fields, group descriptors, the root
#    and other inodes (mode, size, i_blocks, extent headers, links), directory
#    records (rec_len, name_len, inode numbers, '..' and subdir cycles),
#    htree dx_root, extent index loops, symlink sizes, xattr entries and
#    blocks, inline data, indirect blocks, orphan chains;
#  - CORRUPT_ITERS (default 60) seeded random mutations: 10 bytes flipped in
#    metadata blocks (superblock, descriptors, used inode table, directory,
#    extent, xattr and indirect blocks).  CORRUPT_SEED fixes the seed
#    (default 1234, printed); iteration I is reproducible on its own.
# For each image: `safemount -o ro` mounts or refuses (exit != 0, with a
# message, no signal) within 20 s; if mounted, a bounded walk (stat, read,
# readlink, getfattr, ls -la) runs under a timeout; its errors are fine, but
# afterwards the mount root must still answer (no ENOTCONN: the server died)
# and `safemount -u` must succeed in time.  Images without metadata_csum
# (where corruption reaches the parsers, not the checksums) are also
# mounted rw for a few writes (create, mkdir, rename, unlink, rmdir, an
# htree insert).  With ASAN_OPTIONS/UBSAN_OPTIONS log_path=..., any new
# sanitizer log is a failure too.
# A failure prints the reproducer and keeps the image under
# /tmp/sm-corrupt-failures/; CORRUPT_ONLY=SUBSTRING runs only matching cases.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
export TZ=UTC LC_ALL=C
umask 022
sm_require_root
sm_setup
for t in debugfs dumpe2fs e2fsck getfattr setfattr timeout od dd; do
	command -v "$t" >/dev/null || sm_skip "needs $t"
done
T=$SM_TMP
M=$T/mnt
mkdir -p "$M"
ITERS=${CORRUPT_ITERS:-60}
SEED=${CORRUPT_SEED:-1234}
ONLY=${CORRUPT_ONLY:-}
FAILDIR=/tmp/sm-corrupt-failures
START=$SECONDS
echo "corrupt_smoke: seed $SEED, $ITERS random iterations (CORRUPT_SEED, CORRUPT_ITERS)"

# Sanitizer logs: any file that appears under a log_path prefix is a report.
SAN_PREFIXES=()
for v in "${ASAN_OPTIONS:-}" "${UBSAN_OPTIONS:-}"; do
	p=$(printf '%s\n' "$v" | tr ':' '\n' | sed -n 's/^log_path=//p' | head -1)
	[ -n "$p" ] && { mkdir -p "$(dirname "$p")"; SAN_PREFIXES+=("$p"); }
done
san_logs() { local p; for p in "${SAN_PREFIXES[@]}"; do ls -1 "$p".* 2>/dev/null; done | sort; }
SAN_SEEN=$(san_logs)

# ---- building the base images ---------------------------------------------

S=$T/seed
mkdir -p "$S/a/b/c/d" "$S/big" "$S/small"
for i in $(seq 1 300); do echo "entry $i" >"$S/big/entry-with-a-longish-name-$i"; done
echo hi >"$S/small/tiny"
printf 'x%.0s' $(seq 1 100) >"$S/small/hundred"
: >"$S/small/empty"
echo deep >"$S/a/b/c/d/file"
seq 1 60000 >"$S/a/medium"                       # ~330 KB: indirect blocks on ext2
for s in 0 1 10 30 60 100 200; do                # 6 extents: an extent index block
	seq "$s" $((s + 700)) | head -c 4096 | dd of="$S/sparse" bs=4096 seek="$s" conv=notrunc status=none
done
ln -s small/tiny "$S/shortlink"
ln -s "$(printf 'long/%.0s' $(seq 1 60))end" "$S/a/longlink"
setfattr -n user.color -v blue "$S/small/tiny" 2>/dev/null &&
	setfattr -n user.big -v "$(printf 'q%.0s' $(seq 1 600))" "$S/a/medium" &&
	setfattr -n user.dir -v yes "$S/a" || XATTR_BY_DEBUGFS=1

# mkbase NAME MKFS-ARGS...: 12 MiB, populated with -d, htree built by e2fsck -D.
# Fixed UUID, hash seed and time: the same layout on every run.
mkbase() {
	local name=$1 img=$T/$1.img; shift
	truncate -s 12M "$img"
	E2FSPROGS_FAKE_TIME=1600000000 mkfs.ext2 -q -F -U 6b1e1e67-0bd9-4a4f-9b5a-3c6f1e1a2b3c \
		-E hash_seed=2f8e5a8c-6f0f-4c44-8d5e-7a1b2c3d4e5f -d "$S" "$@" "$img" >/dev/null 2>"$T/mkfs.err" ||
		{ cat "$T/mkfs.err"; sm_fail "mkfs $* for base $name failed"; }
	e2fsck -fyD "$img" >/dev/null 2>&1
	if [ "${XATTR_BY_DEBUGFS:-}" ]; then
		debugfs -w -R "ea_set /small/tiny user.color blue" "$img" >/dev/null 2>&1
		debugfs -w -R "ea_set /a user.dir yes" "$img" >/dev/null 2>&1
		debugfs -w -f - "$img" >/dev/null 2>&1 <<<"ea_set /a/medium user.big $(printf 'q%.0s' $(seq 1 600))"
	fi
	e2fsck -fn "$img" >/dev/null 2>&1 || sm_fail "base image $name is not clean after mkfs"
}
mkbase e4 -t ext4 -b 4096
mkbase e4n -t ext4 -b 4096 -O ^metadata_csum
mkbase e4i -t ext4 -b 4096 -O inline_data
mkbase e4in -t ext4 -b 4096 -O inline_data,^metadata_csum
mkbase e2 -t ext2
mkbase e3 -t ext3 -b 1024
ALL="e4 e4n e4i e4in e2 e3"
PAIR="e4 e4n"
INL="e4i e4in"
IND="e2 e3"
nocsum() { case $1 in e4n | e4in | e2 | e3) return 0 ;; *) return 1 ;; esac; }

# ---- locating things in an image ------------------------------------------

dbg() { debugfs -R "$2" "$1" 2>/dev/null; }
# dbgw IMG CMD: change the image through debugfs (checksums recomputed);
# -n: read even what no longer verifies.
dbgw() { debugfs -n -w -R "$2" "$1" >/dev/null 2>&1; }
bsz() { dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Block size: *//p'; }
isz() { dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Inode size: *//p'; }
ino() { dbg "$1" "stat $2" | sed -n '1s/^Inode: *\([0-9]*\).*/\1/p'; }
# ioff IMG INO: byte offset of the on-disk inode.
ioff() {
	local l b o
	l=$(dbg "$1" "imap <$2>" | sed -n 's/.*located at block \([0-9]*\), offset \(0x[0-9a-f]*\).*/\1 \2/p')
	read -r b o <<<"$l"
	echo $((b * $(bsz "$1") + o))
}
# blk IMG PATH [N]: physical block of logical block N (0).
blk() { dbg "$1" "bmap $2 ${3:-0}" | head -1; }
eablk() { dbg "$1" "stat $2" | sed -n 's/.*File ACL: *\([0-9]*\).*/\1/p' | head -1; }
etb() { dbg "$1" "stat $2" | grep -o '(ETB0):[0-9]*' | head -1 | cut -d: -f2; }
indblk() { dbg "$1" "stat $2" | grep -o '(IND):[0-9]*' | head -1 | cut -d: -f2; }
dindblk() { dbg "$1" "stat $2" | grep -o '(DIND):[0-9]*' | head -1 | cut -d: -f2; }
# put IMG OFF NBYTES VALUE: little-endian integer at a byte offset.
put() {
	local s="" i
	for ((i = 0; i < $3; i++)); do s+=$(printf '\\x%02x' $((($4 >> (8 * i)) & 255))); done
	printf "$s" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# iput IMG INO FIELD-OFF NBYTES VALUE: raw inode field, checksum fixed after.
iput() {
	put "$1" $(($(ioff "$1" "$2") + $3)) "$4" "$5"
	dbgw "$1" "sif <$2> checksum calc"
}
# bput IMG BLOCK OFF NBYTES VALUE: raw bytes inside a block.
bput() { put "$1" $(($2 * $(bsz "$1") + $3)) "$4" "$5"; }
# dent IMG DIR NAME: byte offset (in DIR's first block) of entry NAME.
dent() {
	local img=$1 b bs off=0 rl nl name
	b=$(blk "$img" "$2"); bs=$(bsz "$img")
	while [ "$off" -lt "$bs" ]; do
		rl=$(od -An -tu2 -j $((b * bs + off + 4)) -N2 "$img" | tr -d ' ')
		nl=$(od -An -tu1 -j $((b * bs + off + 6)) -N1 "$img" | tr -d ' ')
		name=$(dd if="$img" bs=1 skip=$((b * bs + off + 8)) count="$nl" status=none)
		[ "$name" = "$3" ] && { echo "$off"; return; }
		[ "$rl" -ge 8 ] 2>/dev/null || return
		off=$((off + rl))
	done
}
# dput IMG DIR NAME FIELD-OFF NBYTES VALUE: a field of a directory entry.
dput() {
	local o; o=$(dent "$1" "$2" "$3")
	[ -n "$o" ] || { echo "  (no entry $3 in $2)"; return; }
	bput "$1" "$(blk "$1" "$2")" $((o + $4)) "$5" "$6"
}

# ---- running one image -----------------------------------------------------

FAILS=()
NCASES=0
SERVERS=()
fail_case() {
	local name=$1 img=$2 why=$3 keep
	mkdir -p "$FAILDIR"
	keep=$FAILDIR/$(echo "$name" | tr -c 'A-Za-z0-9_.:-' _).img
	cp "$img" "$keep"
	echo "FAILED: $name: $why" >&2
	echo "  reproduce: CORRUPT_SEED=$SEED CORRUPT_ONLY='$name' $0   (image kept: $keep)" >&2
	FAILS+=("$name: $why")
}

# server_pid IMAGE: the server of the mount just made (the process holding
# IMAGE; its command line is not a contract).
server_pid() { sm_server_pid "$1"; }

# The walk: every path (at most 600), stat, ls -la of each directory, the
# first 256 KiB of each file, each link, the xattrs.  Batched through xargs:
# a process per path would make the suite ten times slower.
walk() {
	cd / || exit 1
	local l=$2
	find "$1" -xdev 2>&1 | grep -v '^find: ' | head -n 600 >"$l"
	xargs -r -d '\n' -a "$l" stat -c '%F|%n' >"$l.types" 2>&1
	sed -n 's/^directory|//p' "$l.types" | xargs -r -d '\n' ls -la >/dev/null
	sed -n 's/^regular .*file|//p' "$l.types" | xargs -r -d '\n' head -q -c 262144 >/dev/null
	sed -n 's/^symbolic link|//p' "$l.types" | xargs -r -d '\n' readlink >/dev/null
	xargs -r -d '\n' -a "$l" getfattr -h -d -m - >/dev/null
}
writes() {
	cd / || exit 1
	echo new >"$1/zz_new"
	mkdir "$1/zz_dir"
	mv "$1/zz_new" "$1/zz_dir/moved"
	ln -s zz_dir "$1/zz_link"
	rm -f "$1/zz_dir/moved" "$1/zz_link"
	rmdir "$1/zz_dir"
	echo x >"$1/big/zz_htree_insert"
	mkdir "$1/big/zz_sub"
	mv "$1/a" "$1/a_renamed" && mv "$1/a_renamed" "$1/a"
	rm -f "$1/small/tiny" "$1/a/b/c/d/file"
	echo more >>"$1/small/hundred"
	setfattr -n user.new -v 1 "$1/small/empty"
	truncate -s 5000 "$1/sparse"
	sync
}

# check_image NAME IMG MODE(ro|rw)
check_image() {
	local name="$1 [$3]" img=$2 rw=$3 rc rc2 pid out=$T/out opts=() t0
	[ -z "$ONLY" ] || [[ $1 == *"$ONLY"* ]] || return 0
	NCASES=$((NCASES + 1))
	t0=$SECONDS
	[ "$rw" = ro ] && opts=(-o ro)
	timeout -k 5 20 "$SAFEMOUNT" "${opts[@]}" "$img" "$M" >"$out" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		if grep -q " $M " /proc/mounts; then umount -l "$M"; fi
		case $rc in
		124 | 137) fail_case "$name" "$img" "mount hung (killed after 20 s)" ;;
		1[2-9][0-9] | 2[0-9][0-9]) fail_case "$name" "$img" "mount died with a signal (exit $rc): $(head -c 300 "$out")" ;;
		*) [ -s "$out" ] || fail_case "$name" "$img" "mount refused (exit $rc) without a message"
		   [ -z "${CORRUPT_VERBOSE:-}" ] || echo "   $name: refused: $(head -c 200 "$out")" ;;
		esac
		check_san "$name" "$img"
		return
	fi
	pid=$(server_pid "$img")
	timeout -k 3 25 bash -c "$(declare -f walk); walk '$M' '$T/list'" >"$out.walk" 2>&1
	rc=$?
	[ $rc = 124 ] || [ $rc = 137 ] && fail_case "$name" "$img" "the walk hung (killed after 25 s)"
	if [ "$rw" = rw ]; then
		timeout -k 3 20 bash -c "$(declare -f writes); writes '$M'" >>"$out.walk" 2>&1
		rc=$?
		[ $rc = 124 ] || [ $rc = 137 ] && fail_case "$name" "$img" "the writes hung (killed after 20 s)"
	fi
	[ -z "${CORRUPT_VERBOSE:-}" ] || echo "   $name: mounted, walked $(wc -l <"$T/list") paths, $(wc -l <"$out.walk") error lines: $(sort "$out.walk" | sed 's/.*: //' | sort | uniq -c | sort -rn | head -3 | tr -s ' \n' ' ')"
	# Alive: the root answers, maybe with an error (a corrupt root inode is
	# EUCLEAN), but not ENOTCONN (the server died) and not never (hung).
	timeout -k 2 5 stat "$M" >"$out.stat" 2>&1
	rc=$?
	timeout -k 2 5 ls "$M" >>"$out.stat" 2>&1
	rc2=$?
	if grep -q 'not connected' "$out.walk" "$out.stat"; then
		fail_case "$name" "$img" "the server died (ENOTCONN): $(grep -h -m1 'not connected' "$out.walk" "$out.stat")"
	elif [ $rc = 124 ] || [ $rc = 137 ] || [ $rc2 = 124 ] || [ $rc2 = 137 ]; then
		fail_case "$name" "$img" "the server stopped answering (stat/ls of the root hung)"
	elif [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
		fail_case "$name" "$img" "the server process $pid is gone"
	fi
	if ! timeout -k 5 20 "$SAFEMOUNT" -u "$M" >"$out.u" 2>&1; then
		fail_case "$name" "$img" "safemount -u failed or hung: $(head -c 300 "$out.u")"
		umount -l "$M" 2>/dev/null
	fi
	# The server goes on exiting after -u returns: checked once at the end.
	[ -z "$pid" ] || SERVERS+=("$pid:$name")
	check_san "$name" "$img"
	[ $((SECONDS - t0)) -lt 5 ] || echo "   (slow: $name took $((SECONDS - t0)) s)"
}
check_san() {
	local now new
	now=$(san_logs)
	[ "$now" = "$SAN_SEEN" ] && return
	new=$(comm -13 <(echo "$SAN_SEEN") <(echo "$now"))
	SAN_SEEN=$now
	[ -n "$new" ] || return
	fail_case "$1" "$2" "sanitizer report(s): $(echo $new)"
	for f in $new; do grep -m3 -E 'ERROR|runtime error|SUMMARY' "$f" | sed 's/^/    /' >&2; done
}

# run NAME "BASES" FUNC [ARGS]: FUNC corrupts a fresh copy of each base.
run() {
	local name=$1 bases=$2 fn=$3 b img; shift 3
	for b in $bases; do
		[ -z "$ONLY" ] || [[ "$b:$name" == *"$ONLY"* ]] || continue
		img=$T/work.img
		cp "$T/$b.img" "$img"
		"$fn" "$img" "$b" "$@"
		check_image "$b:$name" "$img" ro
		if nocsum "$b"; then
			cp "$T/$b.img" "$img"
			"$fn" "$img" "$b" "$@" >/dev/null
			check_image "$b:$name" "$img" rw
		fi
	done
}

# ---- the corruptions -------------------------------------------------------

c_ssv() { dbgw "$1" "ssv $3 $4"; }
c_feat() { dbgw "$1" "feature $3"; }
c_bg() { dbgw "$1" "set_bg ${5:-0} $3 $4"; }
c_sif() { dbgw "$1" "sif $3 $4 $5"; }
c_sifp() { local i; i=$(ino "$1" "$3"); dbgw "$1" "sif <$i> $4 $5"; }
c_iraw() { local i; i=$(ino "$1" "$3"); iput "$1" "$i" "$4" "$5" "$6"; }
c_dent() { dput "$1" "$3" "$4" "$5" "$6" "$7"; }
c_dblk() { bput "$1" "$(blk "$1" "$3" "${7:-0}")" "$4" "$5" "$6"; }
c_bg_itable_to() {          # group 0's inode table onto another structure
	local b; b=$(blk "$1" "$3"); dbgw "$1" "set_bg 0 inode_table $b"
}
c_dotdot_self() {           # '..' of DIR names DIR itself
	local i; i=$(ino "$1" "$3"); dput "$1" "$3" .. 0 4 "$i"
}
c_subdir_cycle() {          # DIR/NAME names an ancestor
	local i; i=$(ino "$1" "$5"); dput "$1" "$3" "$4" 0 4 "$i"
}
c_dot_other() { local i; i=$(ino "$1" "$4"); dput "$1" "$3" . 0 4 "$i"; }
c_dx() {                    # a dx_root field of /big (offsets in the block)
	local b; b=$(blk "$1" /big); bput "$1" "$b" "$3" "$4" "$5"
}
c_dx_self() {               # the first dx entry points back at the dx_root
	local b; b=$(blk "$1" /big); bput "$1" "$b" 36 4 0; bput "$1" "$b" 44 4 0
}
c_extent_loop() {           # /sparse's extent block becomes an index onto itself
	local b; b=$(etb "$1" /sparse)
	[ -n "$b" ] || return
	bput "$1" "$b" 0 2 0xf30a; bput "$1" "$b" 2 2 1; bput "$1" "$b" 6 2 1
	bput "$1" "$b" 12 4 0; bput "$1" "$b" 16 4 "$b"; bput "$1" "$b" 20 2 0
}
c_extent_blk() { local b; b=$(etb "$1" /sparse); [ -n "$b" ] && bput "$1" "$b" "$3" "$4" "$5"; }
c_extent_root_loop() {      # /sparse's root index points at a directory block
	local i b; i=$(ino "$1" /sparse); b=$(blk "$1" /big 1)
	dbgw "$1" "sif <$i> block[4] $b"
}
c_ea() { local b; b=$(eablk "$1" "$3"); [ -n "$b" ] && [ "$b" != 0 ] && bput "$1" "$b" "$4" "$5" "$6"; }
# In-inode xattrs start at 128 + i_extra_isize (32): magic, then entries.
c_ibody_ea() { c_iraw "$1" "$2" "$3" $((160 + $4)) "$5" "$6"; }
c_ind() { local b; b=$(indblk "$1" /a/medium); [ -n "$b" ] && bput "$1" "$b" "$3" "$4" "$5"; }
c_ind_self() { local b; b=$(indblk "$1" /a/medium); [ -n "$b" ] && bput "$1" "$b" 0 4 "$b"; }
c_dind_loop() {             # the double-indirect block lists itself
	local b; b=$(dindblk "$1" /a/medium); [ -n "$b" ] && bput "$1" "$b" 0 4 "$b"
}
c_orphan_loop() {
	local a b; a=$(ino "$1" /small/tiny); b=$(ino "$1" /small/hundred)
	dbgw "$1" "sif <$a> dtime $b"; dbgw "$1" "sif <$b> dtime $a"; dbgw "$1" "ssv last_orphan $a"
}
c_orphan_self() {
	local a; a=$(ino "$1" /small/tiny)
	dbgw "$1" "sif <$a> links_count 0"; dbgw "$1" "sif <$a> dtime $a"; dbgw "$1" "ssv last_orphan $a"
}
c_orphan_dir() {            # an unlinked directory with bad blocks on the chain
	local a; a=$(ino "$1" /a/b)
	dbgw "$1" "sif <$a> links_count 0"; dbgw "$1" "sif <$a> block[5] 0xffffffff"
	dbgw "$1" "ssv last_orphan $a"
}
c_orphan_linked() {         # a linked file on the chain with a huge size
	local a; a=$(ino "$1" /a/medium)
	dbgw "$1" "sif <$a> size 0x7fffffffffff"; dbgw "$1" "ssv last_orphan $a"
}

echo "== targeted corruptions"
run sb_inodes_count_huge "$PAIR" c_ssv inodes_count 0xfffffff0
run sb_inodes_count_small "$PAIR e2" c_ssv inodes_count 9
run sb_inodes_per_group_0 "$PAIR" c_ssv inodes_per_group 0
run sb_inodes_per_group_huge "$PAIR" c_ssv inodes_per_group 0x7ffffff0
run sb_blocks_per_group_0 "$PAIR" c_ssv blocks_per_group 0
run sb_blocks_per_group_8 "$PAIR e2" c_ssv blocks_per_group 8
run sb_blocks_count_huge "$PAIR" c_ssv blocks_count 0xffffffffff
run sb_blocks_count_small "$PAIR e2" c_ssv blocks_count 100
run sb_free_blocks_huge "$PAIR" c_ssv free_blocks_count 0xffffffffff
run sb_log_block_size_7 "$PAIR" c_ssv log_block_size 7
run sb_log_block_size_0 "$PAIR" c_ssv log_block_size 0
run sb_first_data_block "$PAIR e2" c_ssv first_data_block 100
run sb_first_data_block_0 "e2" c_ssv first_data_block 0
run sb_inode_size_0 "$PAIR" c_ssv inode_size 0
run sb_inode_size_129 "$PAIR" c_ssv inode_size 129
run sb_inode_size_4096 "$PAIR" c_ssv inode_size 4096
run sb_first_ino_1 "$PAIR" c_ssv first_ino 1
run sb_first_ino_huge "$PAIR" c_ssv first_ino 0xfffffff0
run sb_rev_level_0 "$PAIR" c_ssv rev_level 0
run sb_desc_size_0 "e4" c_ssv desc_size 0
run sb_desc_size_huge "e4n" c_ssv desc_size 1024
run sb_groups_per_flex_huge "$PAIR" c_ssv log_groups_per_flex 31
run sb_reserved_gdt_huge "$PAIR e2" c_ssv reserved_gdt_blocks 0xffff
run sb_extra_isize_huge "$PAIR" c_ssv min_extra_isize 0xffff
run sb_incompat_unknown "e4" c_ssv feature_incompat 0x80000
run sb_ro_compat_unknown "e4n" c_ssv feature_ro_compat 0x100000
run sb_add_inline_data "$PAIR e2" c_feat inline_data
run sb_clear_extents "e4n" c_feat -extent
run sb_add_extents "e2" c_feat extent
run sb_clear_filetype "e4n e2" c_feat -filetype
run sb_clear_dir_index "e4n" c_feat -dir_index
run sb_needs_recovery "e3 e4n" c_feat needs_recovery
run sb_add_huge_file "e2" c_feat huge_file
run sb_add_ea_inode "e4n" c_feat ea_inode
run sb_add_largedir "e4n" c_feat large_dir
run sb_add_64bit "e2" c_feat 64bit
run sb_clear_64bit "e4n" c_feat -64bit
run sb_add_meta_bg "e4n" c_feat meta_bg
run sb_add_bigalloc_ro "e4n" c_feat bigalloc
run sb_journal_inum_root "e3" c_ssv journal_inum 2
run gd_inode_table_0 "$PAIR e2" c_bg inode_table 0
run gd_inode_table_huge "$PAIR e2" c_bg inode_table 0xfffffff0
run gd_inode_table_dirblock "$PAIR" c_bg_itable_to /big
run gd_inode_table_g1_huge "$PAIR e2" c_bg inode_table 0x7ffffff 1
run gd_block_bitmap_0 "$PAIR e2" c_bg block_bitmap 0
run gd_block_bitmap_huge "$PAIR e2" c_bg block_bitmap 0xfffffff0
run gd_inode_bitmap_huge "$PAIR e2" c_bg inode_bitmap 0xfffffff0
run gd_inode_bitmap_sb "$PAIR" c_bg inode_bitmap 0
run gd_flags_uninit "$PAIR" c_bg flags 7
run gd_itable_unused_huge "$PAIR" c_bg itable_unused 0xffff
run gd_free_inodes_huge "$PAIR e2" c_bg free_inodes_count 0xffff
run root_mode_0 "$ALL" c_sif "<2>" mode 0
run root_mode_file "$PAIR e2" c_sif "<2>" mode 0100644
run root_mode_bad_type "$PAIR" c_sif "<2>" mode 0170755
run root_mode_symlink "$PAIR" c_sif "<2>" mode 0120777
run root_size_0 "$PAIR e2" c_sif "<2>" size 0
run root_size_huge "$ALL" c_sif "<2>" size 0xffffffffffff
run root_blocks_0 "$PAIR" c_sif "<2>" blocks 0
run root_blocks_huge "$PAIR" c_sif "<2>" blocks 0xffffffffffff
run root_links_0 "$PAIR e2" c_sif "<2>" links_count 0
run root_dtime "$PAIR" c_sif "<2>" dtime 12345
run root_flags_0 "$PAIR" c_sif "<2>" flags 0
run root_flags_inline "$PAIR" c_sif "<2>" flags 0x10000000
run root_flags_extents_on_ext2 "e2" c_sif "<2>" flags 0x80000
run root_flags_index "e2 e4n" c_sif "<2>" flags 0x81000
run root_extra_isize_huge "$PAIR" c_sif "<2>" extra_isize 0xfffc
run root_extra_isize_odd "$PAIR" c_sif "<2>" extra_isize 3
run root_eh_magic "$PAIR" c_sif "<2>" block[0] 0x0001f30b
run root_eh_entries_gt_max "$PAIR" c_sif "<2>" block[0] 0x0009f30a
run root_eh_entries_0 "$PAIR" c_sif "<2>" block[0] 0x0000f30a
run root_eh_depth_huge "$PAIR" c_sif "<2>" block[1] 0xffff0004
run root_eh_depth_5 "$PAIR" c_sif "<2>" block[1] 0x00050004
run root_eh_max_huge "$PAIR" c_sif "<2>" block[1] 0x0000ffff
run root_extent_len_huge "$PAIR" c_sif "<2>" block[4] 0x7fff0000
run root_extent_start_huge "$PAIR" c_sif "<2>" block[5] 0xffffffff
run root_file_acl_huge "$PAIR" c_sif "<2>" file_acl 0xffffffffff
run root_file_acl_sb "$PAIR e2" c_sif "<2>" file_acl 0
run root_file_acl_gd "$PAIR e2" c_sif "<2>" file_acl 1
run root_block0_ext2 "e2" c_sif "<2>" block[0] 0xfffffff0
run root_block0_self "e2" c_sif "<2>" block[0] 1
run file_extent_overlap_meta "$PAIR" c_sifp /a/medium block[5] 1
run file_size_huge "$ALL" c_sifp /a/medium size 0xffffffffffff
run file_extents_flag_off "$PAIR" c_sifp /a/medium flags 0
run dir_flags_inline_garbage "$INL e4n" c_sifp /a/b flags 0x10000000
run inline_size_huge "$INL" c_sifp /small/tiny size 0xffffff
run inline_dir_size_huge "$INL" c_sifp /small size 0xffff
run inline_dir_size_small "$INL" c_sifp /small size 3
run inline_dir_reclen_0 "$INL" c_iraw /small 44 2 0
run inline_dir_reclen_huge "$INL" c_iraw /small 44 2 0xfff0
run inline_dir_parent_self "$INL" c_iraw /small 40 4 0
run inline_ea_value_size "$INL" c_ibody_ea /small/tiny 12 4 0xffff
run inline_ea_value_offs "$INL" c_ibody_ea /small/tiny 6 2 0xfff0
run inline_dir_ea_size "$INL" c_ibody_ea /small 12 4 0x7ffffff0
run ibody_ea_magic "$PAIR" c_ibody_ea /small/tiny 0 4 0
run ibody_ea_value_offs "$PAIR" c_ibody_ea /small/tiny 6 2 0xfff0
run ibody_ea_value_size "$PAIR" c_ibody_ea /small/tiny 12 4 0xfffffff0
run ibody_ea_name_len "$PAIR" c_ibody_ea /small/tiny 4 1 0xff
run ibody_ea_inum "$PAIR" c_ibody_ea /small/tiny 8 4 2
run ea_blk_magic "e4n e2" c_ea /a/medium 0 4 0
run ea_blk_h_blocks "e4n e2" c_ea /a/medium 8 4 0xffff
run ea_blk_refcount_0 "e4n e2" c_ea /a/medium 4 4 0
run ea_blk_name_len "e4n e2" c_ea /a/medium 32 1 0xff
run ea_blk_value_offs "e4n e2" c_ea /a/medium 34 2 0xfff0
run ea_blk_value_size "e4n e2" c_ea /a/medium 40 4 0xfffffff0
run ea_blk_value_inum "e4n e2" c_ea /a/medium 36 4 12
run ea_blk_no_end "e4n e2" c_ea /a/medium 32 4 0x01010101
run symlink_size_huge "$ALL" c_sifp /a/longlink size 0xffffffff
run symlink_size_4095 "$ALL" c_sifp /a/longlink size 4095
run fast_symlink_size_60 "$ALL" c_sifp /shortlink size 60
run fast_symlink_size_huge "$ALL" c_sifp /shortlink size 0x10000
run fast_symlink_blocks "$PAIR e2" c_sifp /shortlink blocks 8
run symlink_dir_mode "$PAIR" c_sifp /a/longlink mode 040755
run dir_as_symlink "$PAIR e2" c_sifp /a/b mode 0120777
run file_as_dir "$PAIR e2" c_sifp /a/medium mode 040755
run dev_node "$PAIR" c_sifp /small/empty mode 020644
run dirent_reclen_0 "e4n e4in e2" c_dblk / 0 4 2 0 0   # a block of root: '.' rec_len
run dirent_reclen_0_b "e4n e2" c_dent /a b 4 2 0
run dirent_reclen_past_end "e4n e2" c_dent /a .. 4 2 0xfffc
run dirent_reclen_odd "e4n e2" c_dent /a b 4 2 13
run dirent_namelen_gt_reclen "e4n e2" c_dent /a b 6 1 0xff
run dirent_ino_huge "e4n e4in e2" c_dent /a b 0 4 0xfffffff0
run dirent_ino_1 "e4n e2" c_dent /a b 0 4 1
run dirent_ino_journal "e4n e3" c_dent /a b 0 4 8
run dirent_ino_free "e4n e2" c_dent /a b 0 4 100
run dirent_name_slash "e4n e2" c_dent /a b 8 1 0x2f
run dirent_type_bad "e4n" c_dent /a b 7 1 0xff
run dirent_csum_e4 "e4" c_dent /a b 4 2 0
run dotdot_self "e4n e2" c_dotdot_self /a/b
run dotdot_self_root_child "e4n e2" c_dotdot_self /a
run dot_other "e4n e2" c_dot_other /a/b /a
run subdir_cycle "e4n e2 e4in" c_subdir_cycle /a/b/c d /a
run subdir_to_root "e4n e2" c_subdir_cycle /a/b c /
run subdir_to_self "e4n e2" c_subdir_cycle /a/b c /a/b
run dir_links_1 "$PAIR" c_sifp /a links_count 1
run dir_extent_to_sb "e4n" c_sifp /a/b block[5] 0
run dx_indirect_levels "e4n e2" c_dx 30 1 0xff
run dx_indirect_levels_2 "e4n e2" c_dx 30 1 2
run dx_count_gt_limit "e4n e2" c_dx 34 2 0xffff
run dx_limit_0 "e4n e2" c_dx 32 2 0
run dx_hash_version "e4n e2" c_dx 28 1 0xff
run dx_info_length "e4n e2" c_dx 29 1 0xff
run dx_block_huge "e4n e2" c_dx 36 4 0xfffffff0
run dx_self "e4n e2" c_dx_self
run dx_leaf_reclen_0 "e4n" c_dblk /big 0 4 2 0 1
run dx_csum_e4 "e4" c_dx 34 2 0xffff
run extent_index_loop "e4n" c_extent_loop
run extent_blk_depth_huge "e4n" c_extent_blk 6 2 0xffff
run extent_blk_entries_huge "e4n" c_extent_blk 2 2 0xffff
run extent_blk_magic "e4n" c_extent_blk 0 2 0
run extent_blk_len_huge "e4n" c_extent_blk 16 2 0xffff
run extent_blk_unsorted "e4n" c_extent_blk 12 4 0x7fffffff
run extent_root_to_dirblock "$PAIR" c_extent_root_loop
run ind_self "$IND" c_ind_self
run ind_huge "$IND" c_ind 0 4 0xfffffff0
run ind_sb "$IND" c_ind 4 4 1
run dind_loop "$IND" c_dind_loop
run i_block_ind_huge "$IND" c_sifp /a/medium block[IND] 0xfffffff0
run i_block_tind_self "$IND" c_sifp /a/medium block[TIND] 1
run orphan_loop "$PAIR e2" c_orphan_loop
run orphan_self "$PAIR e2" c_orphan_self
run orphan_huge "$PAIR" c_ssv last_orphan 0xfffffff0
run orphan_root "e4n e2" c_ssv last_orphan 2
run orphan_reserved "e4n" c_ssv last_orphan 7
run orphan_dir "e4n e2" c_orphan_dir
run orphan_linked_huge "e4n e2" c_orphan_linked
echo "   targeted: $NCASES mounts in $((SECONDS - START)) s"

# ---- random mutations -------------------------------------------------------

# ranges IMG: "offset length" of metadata worth flipping.
ranges() {
	local img=$1 bs gdt n p b isz_ lasti it
	bs=$(bsz "$img"); isz_=$(isz "$img")
	echo "1024 1024"                                       # superblock
	gdt=$(( ($(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^First block: *//p') + 1) * bs ))
	echo "$gdt 256"                                        # group descriptors
	# the used part of group 0's inode table
	it=$(dumpe2fs "$img" 2>/dev/null | sed -n 's/^ *Inode table at \([0-9]*\)-.*/\1/p' | head -1)
	lasti=$(dbg "$img" "ncheck -c $(seq -s ' ' 2 40)" | awk 'NR>1 {print $1}' | sort -n | tail -1)
	echo "$((it * bs)) $(( (${lasti:-20} + 1) * isz_ ))"
	for p in / /a /a/b /a/b/c /a/b/c/d /big /small /lost+found; do
		for n in 0 1 2; do
			b=$(blk "$img" "$p" $n)
			[ -n "$b" ] && [ "$b" != 0 ] && echo "$((b * bs)) $bs"
		done
	done
	for b in $(etb "$img" /sparse) $(eablk "$img" /a/medium) $(indblk "$img" /a/medium) $(dindblk "$img" /a/medium); do
		[ "$b" != 0 ] && echo "$((b * bs)) $bs"
	done
}
for b in $ALL; do ranges "$T/$b.img" | grep -v '^0 ' >"$T/$b.ranges"; done

mutate() {
	local img=$1 rf=$2 nr i line off len x pos
	nr=$(wc -l <"$rf")
	for ((i = 0; i < 10; i++)); do
		line=$(sed -n "$((RANDOM % nr + 1))p" "$rf")
		read -r off len <<<"$line"
		pos=$((off + (RANDOM * 32768 + RANDOM) % len))
		x=$(od -An -tu1 -j "$pos" -N1 "$img" | tr -d ' ')
		put "$img" "$pos" 1 $((x ^ (1 + RANDOM % 255)))
	done
}

echo "== random mutations: seed $SEED, $ITERS iterations"
set -- $ALL
NB=$#
RSTART=$SECONDS
for ((it = 0; it < ITERS; it++)); do
	bases=($ALL)
	b=${bases[$((it % NB))]}
	name="rand:$SEED:$it:$b"
	[ -z "$ONLY" ] || [[ $name == *"$ONLY"* ]] || continue
	RANDOM=$((SEED * 100003 + it))
	cp "$T/$b.img" "$T/work.img"
	mutate "$T/work.img" "$T/$b.ranges"
	if nocsum "$b" && [ $((it % 2)) = 1 ]; then
		check_image "$name" "$T/work.img" rw
	else
		check_image "$name" "$T/work.img" ro
	fi
done
echo "   random: $ITERS iterations in $((SECONDS - RSTART)) s"

# Every server must have exited after its -u (no hang at write-back).
# A live (not zombie) `safemount --server` with a recorded pid is ours; a
# recycled pid is someone else's.
is_server() {
	case $(ps -o stat=,args= -p "$1" 2>/dev/null) in
	Z*) return 1 ;;
	*"safemount --server"*) return 0 ;;
	esac
	return 1
}
for _ in $(seq 1 30); do
	left=()
	for s in "${SERVERS[@]}"; do
		is_server "${s%%:*}" && left+=("$s")
	done
	[ ${#left[@]} = 0 ] && break
	sleep 0.5
done
for s in "${left[@]}"; do
	is_server "${s%%:*}" || continue
	echo "FAILED: ${s#*:}: its server ${s%%:*} is still running 15 s after -u" >&2
	FAILS+=("${s#*:}: server still running after -u")
	kill -9 "${s%%:*}" 2>/dev/null
done

echo "corrupt_smoke: $NCASES mounts in $((SECONDS - START)) s, ${#FAILS[@]} failure(s)"
if [ ${#FAILS[@]} != 0 ]; then
	printf '  %s\n' "${FAILS[@]}" >&2
	sm_fail "${#FAILS[@]} corrupted image(s) crashed or hung safemount (seed $SEED; images in $FAILDIR)"
fi
exit 0
