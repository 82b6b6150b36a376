#!/bin/bash
# The known failure modes of fuse2fs (docs: /work/shared/field-notes.md),
# each checked against the kernel's ext4 so safemount does not repeat them:
# a 256-byte name leaves an empty-named entry; sub-second timestamps read
# back as .000000000; FALLOC_FL_ZERO_RANGE gives EINVAL; SUID survives a
# non-owner write; truncate to 999999999999999 reads back size 0; the
# server keeps writing after umount returns; -o ro writes the image.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/semantics.sh"
sem_init
sem_users
umask 022
A=$SEM_UA B=$SEM_UB
SEM_SOPTS=allow_other

# no_empty_names IMAGE DIR: debugfs lists DIR without an empty-named entry.
no_empty_names() {
	local out
	out=$(debugfs -R "ls -p $2" "$1" 2>&1) || { echo "debugfs failed: $out"; return; }
	if echo "$out" | grep -qE '^/[0-9]+/[0-7]+/[0-9]*/[0-9]*//'; then
		echo "no: $(echo "$out" | grep -E '^/[0-9]+/[0-7]+/[0-9]*/[0-9]*//' | head -3 | tr '\n' ' ')"
	else
		echo yes
	fi
}

scen_corners() {
	local n256 i t
	n256=$(sem_name 256 x)
	mkdir "$M/d"
	echo keep >"$M/d/keep"
	# 1. A 256-byte name: ENAMETOOLONG, nothing written.
	sem_t "create 256-byte name" ENAMETOOLONG open "$M/d/$n256" "O_WRONLY|O_CREAT" 0644
	sem_t "mkdir 256-byte name" ENAMETOOLONG mkdir "$M/d/$n256" 0755
	sem_t "symlink 256-byte name" ENAMETOOLONG symlink keep "$M/d/$n256"
	sem_t "link 256-byte name" ENAMETOOLONG link "$M/d/keep" "$M/d/$n256"
	sem_t "rename to 256-byte name" ENAMETOOLONG rename "$M/d/keep" "$M/d/$n256"
	sem_tx "ls works" "keep rc=0" ls "$M/d"
	sem_t "readdir exact" "[.] [..] [keep] OK" readdir "$M/d"
	sem_remount
	sem_tx "ls after remount" "keep rc=0" ls "$M/d"
	_sem_umount
	sem_fsck "after 256-byte names" "$SEM_IMG"
	_sem_check "no empty-named entry (debugfs)" yes "$(no_empty_names "$SEM_IMG" /d)"
	_sem_mount

	# 2. Sub-second timestamps.
	sem_t "utimens with ns" OK utimens "$M/d/keep" 1234567890 123456789 1234567891 987654321
	sem_t "ns read back" "OK atime=1234567890.123456789 mtime=1234567891.987654321" stat "$M/d/keep" atime,mtime
	: >"$M/d/new"
	t=$("$SEM" stat "$M/d/new" mtime,ctime)
	_sem_check "new file has ns" yes "$(case $t in *.000000000*) echo "no: $t" ;; *) echo yes ;; esac)"
	sem_remount
	sem_t "ns after remount" "OK atime=1234567890.123456789 mtime=1234567891.987654321" stat "$M/d/keep" atime,mtime
	_sem_check "new file's ns survive remount" yes "$([ "$t" = "$("$SEM" stat "$M/d/new" mtime,ctime)" ] && echo yes || echo no)"

	# 3. FALLOC_FL_ZERO_RANGE works, aligned or not, inside or past EOF.
	"$SEM" fill "$M/z" 0 20000 z >/dev/null
	sem_t "zero_range aligned" OK fallocate "$M/z" zero_range 4096 4096
	sem_t "zero_range unaligned" OK fallocate "$M/z" zero_range 100 50
	sem_t "zero_range keep_size" OK fallocate "$M/z" zero_range,keep_size 19000 5000
	sem_t "zero_range past EOF" OK fallocate "$M/z" zero_range 30000 1000
	sem_t "zero_range size" "OK size=31000" stat "$M/z" size
	sem_t "zeroed 100..150" 'OK 3 z\x00\x00' read "$M/z" 99 3
	sem_t "zeroed end 150" 'OK 2 \x00z' read "$M/z" 149 2
	sem_t "zeroed 4096..8192" 'OK 3 z\x00\x00' read "$M/z" 4095 3
	sem_t "zeroed end 8192" 'OK 2 \x00z' read "$M/z" 8191 2
	sem_t "zeroed tail" 'OK 2 z\x00' read "$M/z" 18999 2
	sem_tx "zero_range sum" "" "$SEM" sum "$M/z"
	sem_tx "xfs_io-style zero" "rc=0" fallocate -z -o 0 -l 1 "$M/z"

	# 4. EFBIG, size unchanged.
	sem_t "truncate 999999999999999" EFBIG truncate "$M/d/keep" 999999999999999
	sem_t "size unchanged" "OK size=5" stat "$M/d/keep" size
	sem_remount
	sem_t "size unchanged after remount" "OK size=5" stat "$M/d/keep" size

	# 5. A non-owner's write clears SUID (and SGID with group exec).
	install -d -m 0777 "$M/w"
	sem_tu "$A" "A creates" OK open "$M/w/s" "O_WRONLY|O_CREAT" 0644
	sem_tu "$A" "A chmod 6777" OK chmod "$M/w/s" 6777
	sem_tu "$B" "B writes" "OK 1" write "$M/w/s" 0 x
	sem_t "SUID/SGID cleared" "OK mode=100777" stat "$M/w/s" mode
	sem_tu "$A" "A chmod 4777" OK chmod "$M/w/s" 4777
	sem_tx "B appends via shell" "rc=0" sem_as "$B" sh -c "echo y >>'$M/w/s'"
	sem_t "SUID cleared by append" "OK mode=100777" stat "$M/w/s" mode
	sem_remount
	sem_t "cleared mode persists" "OK mode=100777" stat "$M/w/s" mode

	# 6. After unmount returns, the image is complete: fsck at once, 5 times,
	# with writes in between (sem_remount runs e2fsck -fn with no pause).
	for i in 1 2 3 4 5; do
		# Enough dirty data and metadata that a late write-back is likely
		# to still be running if unmount returned too early.
		"$SEM" fill "$M/big$i" 0 $((32 << 20)) "$i" >/dev/null
		mkdir -p "$M/tree$i/a/b"
		for t in $(seq 1 200); do echo "$i $t" >"$M/tree$i/a/b/f$t"; done
		rm -f "$M/big$((i - 1))"
		setfattr -n user.round -v "$i" "$M/tree$i" 2>/dev/null
		truncate -s 12345 "$M/big$i"
		sem_remount
	done
	sem_t "last round intact" 'OK 4 5\x207\x0a' read "$M/tree5/a/b/f7" 0 100
	sem_t "xattr intact" "OK 5" getxattr "$M/tree5" user.round
	sem_tx "sum after rounds" "" "$SEM" sum "$M/big5"
}

# -o ro never writes the image: its bytes are identical afterwards.
scen_ro() {
	local h0 h1
	h0=$(sha256sum <"$SM_TMP/ro.base.img" | cut -d' ' -f1)
	sem_t "read seeded file" "OK 6 seeded" read "$M/seed/file" 0 100
	sem_tx "walk" "" sh -c "find '$M' | sort | sed 's|$M||' | tr '\\n' ' '"
	sem_t "create on ro" EROFS open "$M/new" "O_WRONLY|O_CREAT" 0644
	sem_t "write on ro" EROFS open "$M/seed/file" O_WRONLY
	sem_t "mkdir on ro" EROFS mkdir "$M/nd" 0755
	sem_t "unlink on ro" EROFS unlink "$M/seed/file"
	sem_t "chmod on ro" EROFS chmod "$M/seed/file" 0600
	sem_t "utimens on ro" EROFS utimens "$M/seed/file" NOW 0 NOW 0
	sem_t "setxattr on ro" EROFS setxattr "$M/seed/file" user.x y
	sem_tx "chattr on ro" "" sh -c "chattr +i '$M/seed/file' 2>&1 | sed 's|$M||'"
	sem_drop_caches
	cat "$M/seed/file" >/dev/null
	_sem_umount
	h1=$(sha256sum <"$SEM_IMG" | cut -d' ' -f1)
	_sem_check "image bytes unchanged by the ro mount" yes "$([ "$h0" = "$h1" ] && echo yes || echo no)"
	_sem_mount
}

sem_compare corners scen_corners
mkdir -p "$SM_TMP/seed/seed"
printf seeded >"$SM_TMP/seed/seed/file"
ln -s file "$SM_TMP/seed/seed/link"
SEM_MKFS="-t ext4 -b 4096 -d $SM_TMP/seed" SEM_KOPTS=ro,noload SEM_SOPTS=ro sem_compare ro scen_ro
sem_finish
