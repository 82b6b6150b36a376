# shellcheck shell=bash
# Differential helpers: build populated images through the kernel, run one
# write workload on any mount, and compare tree manifests (tests/tools/
# tree_manifest) of the kernel's view and safemount's view.
#   . "$SM_SOURCE_DIR/tests/lib/common.sh"
#   . "$SM_SOURCE_DIR/tests/lib/differential.sh"

DIFF_MANIFEST="$SM_TOOLS/tree_manifest"

diff_require_tools() {
	local t
	[ -x "$DIFF_MANIFEST" ] || sm_fail "tree_manifest not built at $DIFF_MANIFEST"
	for t in getfattr setfattr getfacl setfacl debugfs e2fsck sha256sum; do
		command -v "$t" >/dev/null || sm_skip "needs $t (attr, acl, e2fsprogs)"
	done
}

# diff_manifest DIR OUT [tree_manifest flags]: fails the case on read errors.
diff_manifest() {
	local dir=$1 out=$2; shift 2
	"$DIFF_MANIFEST" "$@" "$dir" >"$out" 2>"$out.err" || {
		head -20 "$out.err" >&2
		sm_fail "tree_manifest $* $dir reported errors (see above)"
	}
}

# diff_compare A B WHAT: identical manifests, else print the diff head and
# record a failure; the case goes on (to show every difference) and
# diff_done fails it at the end.
DIFF_FAILS=()
diff_compare() {
	local a=$1 b=$2 what=$3 n
	if ! cmp -s "$a" "$b"; then
		n=$(diff "$a" "$b" | grep -c '^[<>]')
		echo "--- $a" >&2
		echo "+++ $b" >&2
		diff -U0 "$a" "$b" | sed -n '3,60p' | cut -c1-400 >&2
		echo "DIFFERENCE: $what: manifests differ ($n differing lines, diff head above)" >&2
		DIFF_FAILS+=("$what")
	fi
}
diff_done() {
	[ ${#DIFF_FAILS[@]} = 0 ] || sm_fail "${#DIFF_FAILS[@]} comparison(s) differ: ${DIFF_FAILS[*]}"
}

# A deterministic source of bytes (64 MiB), so both sides write the same data.
diff_make_data() {
	DIFF_DATA=$SM_TMP/data.bin
	[ -f "$DIFF_DATA" ] || head -c 64M /dev/urandom >"$DIFF_DATA"
}

# diff_bytes COUNT SKIP: COUNT bytes of the data file from offset SKIP.
diff_bytes() { tail -c +"$(($2 + 1))" "$DIFF_DATA" | head -c "$1"; }

# diff_populate DIR: a rich tree, written through whatever is mounted on DIR
# (the kernel for diff_read).  Needs ~60,000 inodes and ~40 MiB.
diff_populate() {
	local d=$1 i long255 uni255 t
	diff_make_data
	(
		set -e
		cd "$d"
		mkdir -p a/b/c/d empty sizes links special attrs modes owners times names big
		# Sizes around block boundaries; content from the data file.
		: >sizes/s0
		for i in 1 60 61 4095 4096 4097 65535 65536 65537 1048576 3000000; do
			diff_bytes "$i" "$i" >"sizes/s$i"
		done
		# Sparse 5 GiB with data at both ends and one island in the middle.
		truncate -s 5G sizes/sparse5g
		diff_bytes 4096 7 | dd of=sizes/sparse5g conv=notrunc status=none
		diff_bytes 5000 9 | dd of=sizes/sparse5g bs=1 seek=$((5 * 1024 * 1024 * 1024 - 5000)) conv=notrunc status=none
		diff_bytes 10 11 | dd of=sizes/sparse5g bs=1 seek=$((2 * 1024 * 1024 * 1024 + 12345)) conv=notrunc status=none
		# Many extents: every other 4 KiB block -> an extent tree with an index block.
		for i in $(seq 0 2 400); do
			diff_bytes 4096 $((i * 100)) | dd of=sizes/fragmented bs=4096 seek="$i" conv=notrunc status=none
		done
		# Unwritten (preallocated) extents read as zeros; partly written.
		fallocate -l 1M sizes/prealloc
		diff_bytes 3000 77 | dd of=sizes/prealloc bs=1 seek=200000 conv=notrunc status=none
		: >sizes/prealloc_keep; fallocate -n -l 2M sizes/prealloc_keep   # beyond EOF
		echo tail >sizes/prealloc_keep
		for i in 1 2 3; do diff_bytes 5000 "$i" >"a/b/c/d/f$i"; done
		# Links: fast and slow symlinks, dangling, to a dir; hard links across dirs.
		ln -s target-short links/fast
		t=$(printf 'long/%.0s' $(seq 1 40))end
		ln -s "$t" links/slow
		ln -s "$(printf 'x%.0s' $(seq 1 4000))" links/slow4000
		ln -s ../a/b links/todir
		ln -s /nonexistent/dangling links/dangling
		echo hardlinked >links/h1
		ln links/h1 links/h2
		ln links/h1 a/b/h3
		ln links/fast links/fast_hard
		# Special files.
		mkfifo special/fifo
		mknod special/null c 1 3
		mknod special/loop b 7 0
		mknod special/bigdev c 259 1048575
		python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' special/sock 2>/dev/null || true
		# Extended attributes and ACLs.
		echo x >attrs/f
		setfattr -n user.small -v hello attrs/f
		setfattr -n user.empty attrs/f
		setfattr -n user.bin -v 0x00ff00fe attrs/f
		setfattr -n user.big -v "$(printf 'v%.0s' $(seq 1 3000))" attrs/f
		setfattr -n trusted.t -v trustme attrs/f
		for i in $(seq 1 30); do setfattr -n "user.many$i" -v "value$i" attrs/f; done
		mkdir attrs/dir
		setfattr -n user.ondir -v dirval attrs/dir
		echo acl >attrs/acl
		setfacl -m u:1234:rwx,g:5678:r-x,m::rwx attrs/acl
		mkdir attrs/defacl
		setfacl -d -m u:1234:rwx,g::r-x attrs/defacl
		echo inherits >attrs/defacl/child
		mkdir attrs/defacl/subdir
		# Modes.
		for m in 0000 0400 0644 0755 4755 2755 6755 1777 0777 0711; do
			echo "$m" >"modes/f$m"; chmod "$m" "modes/f$m"
		done
		mkdir modes/sticky modes/sgid modes/d0700
		chmod 1777 modes/sticky; chmod 2775 modes/sgid; chmod 0700 modes/d0700
		# Owners, incl. 32-bit uids.
		for o in 0:0 1:1 1234:5678 65534:65534 70000:80000 4000000000:4000000001; do
			echo "$o" >"owners/f_${o/:/_}"; chown "$o" "owners/f_${o/:/_}"
		done
		ln -s somewhere owners/link; chown -h 4321:8765 owners/link
		mkdir owners/dir; chown 1000:1000 owners/dir
		# Timestamps with nanoseconds, before 1970 and after 2038.
		for t in "2001-02-03 04:05:06.123456789" "1969-12-31 23:59:59.999999999" \
			 "1901-12-14 00:00:00.000000001" "2038-01-19 03:14:08.5" "2100-06-07 08:09:10.000000007" \
			 "2446-05-10 22:38:55.999999999"; do
			i=$(echo "$t" | tr -c '0-9' '_')
			echo "$t" >"times/f$i"
			touch -d "$t" "times/f$i"
		done
		ln -s x times/link; touch -h -d "2005-05-05 05:05:05.555555555" times/link
		mkdir times/dir; touch -d "1999-09-09 09:09:09.090909090" times/dir
		# Names: unicode, 255 bytes (ASCII and multibyte), odd characters.
		long255=$(printf 'n%.0s' $(seq 1 255))
		uni255=$(printf 'é%.0s' $(seq 1 127))x
		for n in "héllo wörld" "日本語のファイル" "emoji-😀" "$long255" "$uni255" \
			 " lead space" "trail space " "new
line" "tab	name" '*?[]' '-dash' '\back' "$(printf 'ctl\001\177')"; do
			echo "$n" >"names/$n"
		done
		mkdir "names/${long255:0:250}.d"
		# A large directory (htree): 50,000 entries of varying name lengths.
		(cd big && seq -f 'file%06g' 1 25000 | xargs touch && \
			seq -f 'a-much-longer-name-to-spread-the-hash-space-%06g.txt' 1 25000 | xargs touch)
		echo content >big/file012345
	)
	[ $? = 0 ] || sm_fail "populating $d failed"
}

# diff_workload DIR: ~45 mixed write operations, deterministic, run the same
# way on the kernel's ext4 and on safemount.  Each failing step fails the case.
diff_workload() {
	local d=$1 src=$SM_TMP/cpsrc i
	diff_make_data
	if [ ! -d "$src" ]; then
		mkdir -p "$src/x/y"
		echo one >"$src/one"; diff_bytes 20000 5 >"$src/x/two"; ln -s one "$src/x/y/l"
		chmod 0640 "$src/one"; setfattr -n user.cp -v copied "$src/one"
		touch -h -d "2010-10-10 10:10:10.101010101" "$src/one" "$src/x/two" "$src/x/y/l" "$src/x/y" "$src/x" "$src"
	fi
	wstep() { "$@" || { echo "workload step failed: $*" | cut -c1-200 >&2; return 1; }; }
	(
		set -e
		cd "$d"
		wstep mkdir -p d1/d2/d3 d4/sub d5 hdir hgone
		wstep sh -c 'printf "small\n" >d1/small'
		wstep sh -c 'printf "more\n" >>d1/small'
		diff_bytes 100000 0 >d1/medium
		diff_bytes 3000000 1000 >d4/sub/large
		# Overwrite in the middle, extend with a hole, shrink to an odd size.
		diff_bytes 10000 555 | wstep dd of=d1/medium bs=1 seek=5000 conv=notrunc status=none
		diff_bytes 4096 999 | wstep dd of=d1/sparse bs=4096 seek=1000 status=none
		wstep truncate -s 12345 d4/sub/large
		wstep truncate -s 50000 d1/small
		wstep truncate -s 3 d1/small
		: >d1/emptied; diff_bytes 777 1 >d1/emptied; wstep truncate -s 0 d1/emptied
		diff_bytes 5000 3 >d1/rewrite; : >d1/rewrite; echo again >>d1/rewrite
		# Renames: within a dir, across dirs, over an existing file, dirs across dirs.
		echo a >d1/ren_a; wstep mv d1/ren_a d1/ren_b
		echo c >d1/ren_c; wstep mv d1/ren_c d5/ren_c
		echo victim >d5/victim; echo winner >d1/winner; wstep mv -f d1/winner d5/victim
		wstep mv d4/sub d1/d2/moved_sub
		wstep mv d4 d5/d4moved
		mkdir d5/emptytarget d1/dsrc; echo in >d1/dsrc/f
		wstep python3 -c 'import os; os.rename("d1/dsrc", "d5/emptytarget")'
		# Hard links and unlink.
		echo linked >d1/l1; wstep ln d1/l1 d5/l2; wstep ln d1/l1 d1/d2/l3; wstep rm d1/l1
		echo gone >d1/gone; wstep rm d1/gone
		mkdir d1/rmme; wstep rmdir d1/rmme
		# Symlinks: fast, slow, dangling; replace one.
		wstep ln -s small d1/sym_fast
		wstep ln -s "$(printf 'p%.0s' $(seq 1 300))" d1/sym_slow
		wstep ln -s /does/not/exist d1/sym_dangling
		wstep ln -sfn d2 d1/sym_fast
		# Modes and owners.
		echo m >d1/mode; wstep chmod 4755 d1/mode; wstep chmod 2711 d1/mode; wstep chmod 0600 d1/mode
		wstep chmod 1777 d5
		wstep chown 1234:5678 d1/medium; wstep chown 4000000000:65534 d1/mode
		wstep chown -h 77:88 d1/sym_slow; wstep chown 99:99 d1/d2
		# Extended attributes and ACLs.
		echo x >d1/xa
		wstep setfattr -n user.a -v alpha d1/xa
		wstep setfattr -n user.b -v "$(printf 'b%.0s' $(seq 1 900))" d1/xa
		wstep setfattr -n user.a -v replaced d1/xa
		wstep setfattr -n user.c -v gamma d1/xa; wstep setfattr -x user.c d1/xa
		wstep setfattr -n user.dir -v d d1/d2
		echo acl >d1/acl; wstep setfacl -m u:1234:rw-,g:5678:r--,m::rw- d1/acl
		wstep setfacl -d -m u:4321:rwx,g::r-x,o::--- d5
		echo inherit >d5/inherited; mkdir d5/inherited_dir
		wstep setfacl -b d1/acl; wstep setfacl -m u:99:r-- d1/acl
		# Special files.
		wstep mknod d1/chr c 1 5; wstep mknod d1/blk b 8 16; wstep mkfifo d1/fifo
		# Preallocation and hole punching.
		wstep fallocate -l 1M d1/prealloc
		diff_bytes 200000 42 >d1/punched; wstep fallocate -p -o 8192 -l 65536 d1/punched
		# Many files in one directory (htree growth), and create+delete.
		(cd hdir && seq -f 'entry-with-a-longish-name-%05g' 1 3000 | xargs touch) || { echo "workload: hdir create failed" >&2; exit 1; }
		(cd hgone && seq -f 'tmp%05g' 1 3000 | xargs touch && seq -f 'tmp%05g' 1 3000 | xargs rm) || { echo "workload: hgone churn failed" >&2; exit 1; }
		echo kept >hgone/survivor
		# An htree directory made by the kernel beforehand (see diff_write.sh):
		# add 1000 names and remove 500 old ones through this driver.
		if [ -d preidx ]; then
			(cd preidx && seq -f 'added-later-%05g' 1 1000 | xargs touch && \
				seq -f 'old%05g' 1 4 2000 | xargs rm) || { echo "workload: preidx churn failed" >&2; exit 1; }
		fi
		# cp -a of a small tree (times, modes, xattrs preserved).
		wstep cp -a "$src" d5/copied
		# Names.
		echo u >"d1/ünïcödé 名前"; echo l >"d1/$(printf 'L%.0s' $(seq 1 255))"
		# Last: explicit times everywhere so the comparison can include mtime.
		find . -depth -print0 | xargs -0 touch -h -d "2011-11-11 11:11:11.111111111" || { echo "workload: touch all failed" >&2; exit 1; }
		wstep touch -d "2003-03-03 03:03:03.303030303" d1/medium
		wstep touch -h -d "1960-01-01 00:00:00.000000001" d1/sym_fast
		wstep touch -d "2200-02-02 02:02:02.020202020" d1/d2
		wstep touch -m -d "2004-04-04 04:04:04.4" d1/small
	)
	[ $? = 0 ] || sm_fail "write workload on $d failed"
}

# diff_holders IMAGE...: pids of processes that have one of the files open.
diff_holders() {
	local f p pids="" real
	for f in "$@"; do
		real=$(readlink -f "$f")
		for p in /proc/[0-9]*; do
			ls -l "$p/fd" 2>/dev/null | grep -qF -- "-> $real" && pids="$pids ${p#/proc/}"
		done
	done
	echo $pids
}

# diff_mount IMAGE DIR ro|rw / diff_umount DIR: safemount, or the kernel's
# ext4 when SM_DRIVER=kernel (to validate a case's logic before safemount
# works, or to compare).
diff_mount() {
	if [ "${SM_DRIVER:-safemount}" = kernel ]; then
		kmount "$1" "$2" -o "$3"
	else
		sm_mount "$1" "$2" -o "$3"
	fi
}
diff_umount() {
	if [ "${SM_DRIVER:-safemount}" = kernel ]; then kumount "$1"; else sm_umount "$1"; fi
}
