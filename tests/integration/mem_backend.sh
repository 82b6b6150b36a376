#!/bin/bash
# safemount-mem: the in-memory backend (src/mem/) behind the very same
# helper, hand-over, sandboxed server and FUSE glue as safemount.  Every
# kind of request once, through real system calls: data (write, read,
# append, truncate, O_TRUNC, sparse at 1 GiB, fallocate modes, SEEK_DATA),
# names (mkdir/rmdir, 1000-entry readdir, rename with NOREPLACE/EXCHANGE,
# hard links, symlinks), attributes (chmod, chown, ns times, xattrs, ACLs),
# statfs and ENOSPC at the capacity, an unlinked file still open, parallel
# writers; the server contained like safemount's; `safemount -u`; the image
# never touched and nothing kept across mounts.
# shellcheck disable=SC2012 # ls is the readdir under test here
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
sm_require_root
MEM=$(dirname "$SAFEMOUNT")/safemount-mem
[ -x "$MEM" ] || sm_fail "safemount-mem not found at $MEM (built next to safemount by ninja)"
command -v python3 >/dev/null || sm_skip "python3 not installed"
sm_setup
umask 022

SEM=$SM_TOOLS/sem_errno
if [ ! -x "$SEM" ]; then
	[ "${CI:-}" = true ] && sm_fail "$SEM was not built"
	SEM=$SM_TMP/sem_errno
	cc -std=c17 -D_GNU_SOURCE -O2 -Wall -o "$SEM" "$SM_SOURCE_DIR/tests/tools/sem_errno.c" ||
		sm_fail "cannot build sem_errno"
fi

# Failures are collected, so one run reports all of them.
FAILS=()
ck() {   # ck LABEL EXPECTED ACTUAL
	if [ "$2" != "$3" ]; then
		FAILS+=("$1: got '$3', expected '$2'")
		echo "  FAIL $1"
	fi
}
ckm() {  # ckm LABEL GLOB ACTUAL: ACTUAL matches the glob
	# shellcheck disable=SC2053
	[[ $3 == $2 ]] || { FAILS+=("$1: got '$3', expected to match '$2'"); echo "  FAIL $1"; }
}
sem() { "$SEM" "$@" 2>&1 | tr '\n' ' ' | sed 's/ *$//'; }
py() { python3 -c "$@" 2>&1; }
used() { df -B1 --output=used "$M" | tail -1 | tr -d ' '; }
# wait_used LABEL LIMIT: used space drops to at most LIMIT (a FUSE release
# after close is asynchronous, so poll).
wait_used() {
	local i u
	for i in $(seq 1 50); do
		u=$(used)
		[ "$u" -le "$2" ] && break
		sleep 0.1
	done
	ck "$1" yes "$([ "$u" -le "$2" ] && echo yes || echo "no ($u > $2)")"
}

IMG=$SM_TMP/mem.img
M=$SM_TMP/mnt
# The capacity is the image's size: 64 MiB, all of it a hole.
truncate -s 64M "$IMG"
IMG_SUM=$(md5sum <"$IMG")

mkdir -p "$M"
"$MEM" "$IMG" "$M" 2>"$SM_TMP/mount.err" || sm_fail "safemount-mem $IMG $M failed: $(cat "$SM_TMP/mount.err")"
sm_on_exit "'$SAFEMOUNT' -u '$M'"
echo "mounted: $(sm_mounts_line "$M")"
ckm "mount warns that nothing reaches the image" "*keeps the filesystem in memory*" "$(cat "$SM_TMP/mount.err")"
ckm "/proc/mounts" "* fuse.safemount rw,nosuid,nodev,*" "$(sm_mounts_line "$M")"
pid=$(sm_server_pid "$IMG") || sm_fail "cannot find the server: not exactly one process holds $IMG"
sm_check_contained "$pid" dedicated dedicated "$IMG" mnt net ipc uts user

echo "== an empty root"
ck "root listing" ". .." "$(ls -a "$M" | tr '\n' ' ' | sed 's/ $//')"
ck "root" "directory 755 0:0 2 ino=2" "$(stat -c '%F %a %u:%g %h ino=%i' "$M")"

echo "== create, write, read, append, truncate"
printf hello >"$M/f"
ck "read back" hello "$(cat "$M/f")"
printf ' world' >>"$M/f"
ck "append" "hello world 11" "$(cat "$M/f") $(stat -c %s "$M/f")"
ck "pread" "OK 5 world" "$(sem read "$M/f" 6 100)"
truncate -s 5 "$M/f"
ck "truncate down" "hello 5" "$(cat "$M/f") $(stat -c %s "$M/f")"
truncate -s 8 "$M/f"
ck "truncate up reads zeros" "68656c6c6f000000" "$(od -An -tx1 "$M/f" | tr -d ' \n')"
: >"$M/f"
ck "O_TRUNC" 0 "$(stat -c %s "$M/f")"
ck "O_EXCL on an existing name" EEXIST "$(sem open "$M/f" 'O_WRONLY|O_CREAT|O_EXCL')"
ck "open missing" ENOENT "$(sem open "$M/nope" O_RDONLY)"
# 3 MiB of pseudo-random data, unaligned, through the page cache and back.
head -c 3145731 /dev/urandom >"$SM_TMP/rand"
cp "$SM_TMP/rand" "$M/rand"
ck "3 MiB copy" yes "$(cmp -s "$SM_TMP/rand" "$M/rand" && echo yes || echo no)"
ck "blocks of 3 MiB + 3" 6152 "$(stat -c %b "$M/rand")"
dd if=/dev/zero of="$M/rand" bs=1 seek=4095 count=2 conv=notrunc status=none
dd if=/dev/zero of="$SM_TMP/rand" bs=1 seek=4095 count=2 conv=notrunc status=none
ck "write across a page boundary" yes "$(cmp -s "$SM_TMP/rand" "$M/rand" && echo yes || echo no)"
ck "write to a directory" EISDIR "$(sem write "$M" 0 x)"

echo "== mkdir, rmdir, link counts"
mkdir "$M/d"
ck "mkdir" "directory 755 2" "$(stat -c '%F %a %h' "$M/d")"
ck "parent nlink +1" 3 "$(stat -c %h "$M")"
ck "mkdir existing" EEXIST "$(sem mkdir "$M/d" 0755)"
touch "$M/d/x"
ck "rmdir non-empty" ENOTEMPTY "$(sem rmdir "$M/d")"
ck "rmdir a file" ENOTDIR "$(sem rmdir "$M/d/x")"
ck "unlink a directory" EISDIR "$(sem unlink "$M/d")"
rm "$M/d/x"
ck "rmdir" OK "$(sem rmdir "$M/d")"
ck "parent nlink back" 2 "$(stat -c %h "$M")"
ck "name of 255 bytes" OK "$(sem mkdir "$M/$(printf '%255s' '' | tr ' ' n)" 0755)"
ck "name of 256 bytes" ENAMETOOLONG "$(sem mkdir "$M/$(printf '%256s' '' | tr ' ' n)" 0755)"

echo "== readdir of 1000 entries"
mkdir "$M/big"
py "import os
for i in range(1000): open('$M/big/file%04d' % i, 'w').close()"
ck "ls count" 1000 "$(ls "$M/big" | wc -l)"
ck "names" "$(seq -f 'file%04g' 0 999 | md5sum)" "$(ls "$M/big" | md5sum)"
ck "d_ino = st_ino" ok "$(py "import os
bad = [e.name for e in os.scandir('$M/big') if e.inode() != os.lstat(e.path).st_ino]
print('ok' if not bad else bad[:3])")"
# Remove every other name while one directory stream is open: every
# name that stays must still be seen exactly once.
ck "unlink during readdir" "500 500" "$(py "import os
seen, it = [], os.scandir('$M/big')
for n, e in enumerate(it):
	seen.append(e.name)
	if n == 10:
		for i in range(0, 1000, 2): os.unlink('$M/big/file%04d' % i)
it.close()
left = set(os.listdir('$M/big'))
print(len(left), sum(1 for s in seen if s in left))")"
ck "rm -r" gone "$(rm -r "$M/big"; [ -e "$M/big" ] && echo still there || echo gone)"

echo "== rename"
printf A >"$M/a"; printf B >"$M/b"; mkdir "$M/d1" "$M/d2"
mv "$M/a" "$M/a2"
ck "mv" "A ENOENT" "$(cat "$M/a2") $(sem stat "$M/a" mode)"
py "import os; os.rename('$M/a2', '$M/b')"
ck "os.rename over a file" "A ENOENT" "$(cat "$M/b") $(sem stat "$M/a2" mode)"
printf C >"$M/c"
ck "RENAME_NOREPLACE over a file" EEXIST "$(sem rename "$M/c" "$M/b" noreplace)"
ck "RENAME_NOREPLACE to a new name" OK "$(sem rename "$M/c" "$M/c2" noreplace)"
ck "RENAME_EXCHANGE" "OK C A" "$(sem rename "$M/b" "$M/c2" exchange) $(cat "$M/b") $(cat "$M/c2")"
ck "RENAME_EXCHANGE with a missing name" ENOENT "$(sem rename "$M/b" "$M/zz" exchange)"
mkdir "$M/d1/sub"
ck "dir into itself" EINVAL "$(sem rename "$M/d1" "$M/d1/sub/x")"
ck "dir over a file" ENOTDIR "$(sem rename "$M/d1/sub" "$M/b")"
ck "file over a dir" EISDIR "$(sem rename "$M/b" "$M/d2")"
mv "$M/d1/sub" "$M/d2/sub"
ck "dir across parents: nlinks" "2 3" "$(stat -c %h "$M/d1") $(stat -c %h "$M/d2")"
ck "dir across parents: .." yes "$([ "$(stat -c %i "$M/d2/sub/..")" = "$(stat -c %i "$M/d2")" ] && echo yes || echo no)"
touch "$M/d1/t"
ck "dir over a non-empty dir" ENOTEMPTY "$(sem rename "$M/d2/sub" "$M/d1")"
mkdir "$M/d1/empty"
ck "dir over an empty dir" OK "$(sem rename "$M/d2/sub" "$M/d1/empty")"
ck "nlinks after replacing a dir" "3 2" "$(stat -c %h "$M/d1") $(stat -c %h "$M/d2")"
r0=$(stat -c %h "$M")
ck "exchange dir and file across parents" "OK directory regular file" \
	"$(sem rename "$M/d1/empty" "$M/b" exchange) $(stat -c %F "$M/b") $(stat -c %F "$M/d1/empty")"
ck "nlinks after the exchange" "2 $((r0 + 1))" "$(stat -c %h "$M/d1") $(stat -c %h "$M")"

echo "== hard links"
printf L >"$M/h1"
ln "$M/h1" "$M/d2/h2"
ck "nlink 2" "2 2 L" "$(stat -c %h "$M/h1") $(stat -c %h "$M/d2/h2") $(cat "$M/d2/h2")"
ck "same inode" yes "$([ "$(stat -c %i "$M/h1")" = "$(stat -c %i "$M/d2/h2")" ] && echo yes || echo no)"
rm "$M/h1"
ck "nlink back to 1" "1 L" "$(stat -c %h "$M/d2/h2") $(cat "$M/d2/h2")"
ck "link a directory" EPERM "$(sem link "$M/d1" "$M/dl")"
ck "link to an existing name" EEXIST "$(sem link "$M/d2/h2" "$M/c2")"

echo "== symlinks"
ln -s some/target "$M/s"
ck "readlink" some/target "$(readlink "$M/s")"
ck "lstat" "symbolic link 777 11" "$(stat -c '%F %a %s' "$M/s")"
long=$(printf '%4095s' '' | tr ' ' t)
ck "4095-byte target" "OK 4095" "$(sem symlink "$long" "$M/slong") $(readlink "$M/slong" | tr -d '\n' | wc -c)"
ck "4096-byte target" ENAMETOOLONG "$(sem symlink "${long}t" "$M/slong2")"
ck "readlink of a file" EINVAL "$(sem readlink "$M/c2")"

echo "== chmod, chown, times"
printf x >"$M/m"
chmod 4751 "$M/m"
ck "chmod" 4751 "$(stat -c %a "$M/m")"
chown 1234:5678 "$M/m"
ck "chown (drops set-uid)" "1234:5678 751" "$(stat -c '%u:%g %a' "$M/m")"
touch -m -d '2001-02-03 04:05:06.123456789 UTC' "$M/m"
touch -a -d '1999-12-31 23:59:59.5 UTC' "$M/m"
ck "mtime ns" "981173106.123456789" "$(stat -c %.9Y "$M/m")"
ck "atime ns" "946684799.500000000" "$(stat -c %.9X "$M/m")"
before=$(stat -c %.9Z "$M/m"); sleep 0.02; chmod 600 "$M/m"
ck "chmod changes ctime" yes "$([ "$(stat -c %.9Z "$M/m")" != "$before" ] && echo yes || echo no)"
before=$(stat -c %.9Y "$M/d2"); sleep 0.02; touch "$M/d2/new"
ck "create changes the parent's mtime" yes "$([ "$(stat -c %.9Y "$M/d2")" != "$before" ] && echo yes || echo no)"

echo "== xattrs"
setfattr -n user.color -v blue "$M/m"
setfattr -n user.size -v 42 "$M/m"
setfattr -n trusted.t -v secret "$M/m"
ck "getfattr" blue "$(getfattr --absolute-names --only-values -n user.color "$M/m")"
ck "list" "trusted.t user.color user.size" "$(getfattr -m - --absolute-names "$M/m" | grep -v '^#' | grep . | sort | tr '\n' ' ' | sed 's/ *$//')"
setfattr -n user.color -v red "$M/m"
ck "replace" red "$(getfattr --absolute-names --only-values -n user.color "$M/m")"
setfattr -x user.color "$M/m"
ck "removed" ENODATA "$(sem getxattr "$M/m" user.color)"
ck "remove missing" ENODATA "$(sem removexattr "$M/m" user.color)"
ck "unknown namespace" EOPNOTSUPP "$(sem setxattr "$M/m" foo.bar x)"
ck "user.* on a symlink" EPERM "$(py "import os
try: os.setxattr('$M/s', 'user.x', b'1', follow_symlinks=False); print('OK')
except OSError as e: import errno; print(errno.errorcode[e.errno])")"
ck "64 KiB value" "OK 65536" "$(py "import os
os.setxattr('$M/m', 'user.big', b'v' * 65536); print('OK', len(os.getxattr('$M/m', 'user.big')))")"
if command -v setfacl >/dev/null; then
	setfacl -m u:1234:rw "$M/m"
	ckm "access ACL" "*user:1234:rw-*" "$(getfacl -p "$M/m" 2>/dev/null | tr '\n' ' ')"
	ck "ACL mask shows in the mode" 660 "$(stat -c %a "$M/m")"
	mkdir "$M/acl"; setfacl -d -m u:1234:rwx,g::r-x,o::--- "$M/acl"
	touch "$M/acl/inherits"
	ck "default ACL replaces the umask" 660 "$(stat -c %a "$M/acl/inherits")"
	ckm "inherited entry" "*user:1234:rwx*#effective:rw-*" "$(getfacl -p "$M/acl/inherits" 2>/dev/null | tr '\n' ' ')"
fi

echo "== statfs"
ck "df size" 67108864 "$(df -B1 --output=size "$M" | tail -1 | tr -d ' ')"
ck "statfs" "namemax=255 bsize=4096" "$(stat -f -c 'namemax=%l bsize=%S' "$M")"
u0=$(used)
head -c 8M /dev/zero >"$M/eight"
ck "8 MiB are used" yes "$(u=$(used); [ $((u - u0)) -ge 8388608 ] && echo yes || echo "no ($u0 -> $u)")"
rm "$M/eight"
wait_used "space comes back" $((u0 + 65536))

echo "== ENOSPC at the capacity"
u0=$(used)
ck "write past the capacity" ENOSPC "$(py "import os, errno
fd = os.open('$M/full', os.O_WRONLY | os.O_CREAT, 0o644)
try:
	while True: os.write(fd, b'f' * (1 << 20))
except OSError as e: print(errno.errorcode[e.errno])
os.close(fd)")"
ck "the full file reads back" yes "$(sz=$(stat -c %s "$M/full"); [ "$sz" -gt 50000000 ] && [ "$(tr -d f <"$M/full" | wc -c)" = 0 ] && echo yes || echo "no (size $sz)")"
ck "mkdir when full" ENOSPC "$(f=0; for i in $(seq 1 64); do sem mkdir "$M/fill$i" 0755 | grep -q ENOSPC && { f=1; break; }; done; [ $f = 1 ] && echo ENOSPC || echo none)"
rm -rf "$M/full" "$M"/fill*
wait_used "space back after ENOSPC" $((u0 + 65536))

echo "== unlinked while open"
u0=$(used)
ck "read after unlink" "b'data' 0 False 4194304" "$(py "import os
p = '$M/open'
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'data' * (1 << 20))
os.unlink(p)
os.lseek(fd, 0, 0)
st = os.fstat(fd)
print(os.read(fd, 4), st.st_nlink, os.path.exists(p), st.st_size)
os.pwrite(fd, b'more', 1 << 23)
assert os.pread(fd, 4, 1 << 23) == b'more'
os.close(fd)")"
wait_used "an unlinked file's space returns at close" $((u0 + 65536))

echo "== sparse at 1 GiB"
u0=$(used)
printf x | dd of="$M/sparse" bs=1 seek=1G conv=notrunc status=none
ck "size" 1073741825 "$(stat -c %s "$M/sparse")"
ck "one page allocated" 8 "$(stat -c %b "$M/sparse")"
ck "zeros before it" yes "$(cmp -s -n 1048576 "$M/sparse" /dev/zero && dd if="$M/sparse" bs=1M skip=1023 count=1 status=none | cmp -s - <(head -c 1048576 /dev/zero) && echo yes || echo no)"
ck "the byte" x "$(dd if="$M/sparse" bs=1 skip=1G count=1 status=none)"
ck "SEEK_DATA" "OK 1073741824" "$(sem lseek "$M/sparse" data 0)"
ck "SEEK_HOLE" "OK 0" "$(sem lseek "$M/sparse" hole 0)"
ck "little space used" yes "$(u=$(used); [ $((u - u0)) -lt 1048576 ] && echo yes || echo "no ($u0 -> $u)")"
ck "write at the size limit" EFBIG "$(sem write "$M/sparse" 17592186040320 x)"

echo "== fallocate"
u0=$(used)
touch "$M/fa"
ck "fallocate 0" OK "$(sem fallocate "$M/fa" 0 0 1048576)"
ck "size and blocks" "1048576 2048" "$(stat -c '%s %b' "$M/fa")"
ck "keep_size" "OK 1048576 4096" "$(sem fallocate "$M/fa" keep_size 1048576 1048576) $(stat -c '%s %b' "$M/fa")"
head -c 1048576 /dev/urandom | dd of="$M/fa" conv=notrunc status=none
ck "punch_hole" "OK 4064" "$(sem fallocate "$M/fa" keep_size,punch_hole 4096 16384) $(stat -c %b "$M/fa")"
ck "the hole reads zeros" yes "$(dd if="$M/fa" bs=4096 skip=1 count=4 status=none | cmp -s - <(head -c 16384 /dev/zero) && echo yes || echo no)"
ck "SEEK_HOLE finds it" "OK 4096" "$(sem lseek "$M/fa" hole 0)"
ck "zero_range" "OK 1048576" "$(sem fallocate "$M/fa" zero_range 100 200) $(stat -c %s "$M/fa")"
ck "zeroed" yes "$(dd if="$M/fa" bs=100 skip=1 count=2 status=none | cmp -s - <(head -c 200 /dev/zero) && echo yes || echo no)"
ck "punch without keep_size" EOPNOTSUPP "$(sem fallocate "$M/fa" punch_hole 0 4096)"
touch "$M/fb"
ck "more than the capacity (nothing allocated)" "ENOSPC 0" "$(sem fallocate "$M/fb" 0 0 $((1 << 30))) $(stat -c %b "$M/fb")"
rm -f "$M/fa" "$M/fb"
wait_used "fallocated space returns" $((u0 + 65536))

echo "== parallel writers"
for i in 1 2 3 4; do
	head -c $((2 << 20)) "$SM_TMP/rand" >"$SM_TMP/p$i.src"
	printf '%s' "$i" | dd of="$SM_TMP/p$i.src" bs=1 seek=$i conv=notrunc status=none
done
for i in 1 2 3 4; do cp "$SM_TMP/p$i.src" "$M/p$i" & done
wait
for i in 1 2 3 4; do
	ck "writer $i" yes "$(cmp -s "$SM_TMP/p$i.src" "$M/p$i" && echo yes || echo no)"
done

echo "== safemount -u"
"$SAFEMOUNT" -u "$M" || sm_fail "safemount -u $M failed"
ck "unmounted" "" "$(sm_mounts_line "$M")"
ck "nothing holds the image" "" "$(fuser "$IMG" 2>/dev/null | tr -d ' ')"
ck "the image is untouched" "$IMG_SUM" "$(md5sum <"$IMG")"

echo "== a new mount starts empty; the capacity follows memlimit"
# The capacity is the least of the image's size, 8 GiB, half the RAM and
# half the server's address-space limit (none in sanitizer builds).
truncate -s 4G "$IMG"
"$MEM" -o memlimit=256M "$IMG" "$M" 2>/dev/null || sm_fail "second mount failed"
ck "empty again" ". .." "$(ls -a "$M" | tr '\n' ' ' | sed 's/ $//')"
pid=$(sm_server_pid "$IMG") || sm_fail "cannot find the second server"
cap=$((4 << 30))
as=$(awk '/^Max address space/ { print $4 }' "/proc/$pid/limits")
[ "$as" = unlimited ] || { [ $((as / 2)) -lt $cap ] && cap=$((as / 2)); }
ram=$(awk '/^MemTotal:/ { printf "%.0f\n", $2 * 512 }' /proc/meminfo)
[ "$ram" -lt $cap ] && cap=$ram
echo "server RLIMIT_AS: $as"
ck "capacity" $((cap / 4096 * 4096)) "$(df -B1 --output=size "$M" | tail -1 | tr -d ' ')"
"$SAFEMOUNT" -u "$M" || sm_fail "safemount -u $M failed (second mount)"

if [ ${#FAILS[@]} != 0 ]; then
	printf '  %s\n' "${FAILS[@]}" >&2
	sm_fail "${#FAILS[@]} check(s) failed"
fi
echo PASS
