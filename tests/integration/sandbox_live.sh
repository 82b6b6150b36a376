#!/bin/bash
# The server of a live root mount is contained (design.md §2.1, §3), seen
# from outside through /proc:
#  - the helper has exited once `safemount IMAGE DIR` returns; the server
#    (a separate process: the only one holding IMAGE open) is not the helper;
#  - /proc/PID/status: Seccomp 2, NoNewPrivs 1, CapEff/CapPrm/CapBnd (and
#    CapInh/CapAmb) all zero, Uid and Gid non-zero in all four fields and
#    not the ids of any account but `safemount` (65533 when there is none),
#    no supplementary group 0;
#  - its own mnt, net, ipc, uts and user namespaces;
#  - its root is an empty directory, not our /;
#  - its descriptors: /dev/null, the image (O_RDWR on a rw mount, O_RDONLY
#    on -o ro), /dev/fuse, at most one socket (syslog); nothing else;
#  - the mount: /proc/mounts "IMAGE(absolute) DIR fuse.safemount" with
#    nosuid, nodev and nosymfollow (a symlink on the mount is not followed:
#    ELOOP); `-o symfollow` drops nosymfollow (the link is followed); df
#    shows the image as the source;
#  - looking at it changes nothing: the mount still reads and writes, -u
#    succeeds, e2fsck -fn is clean.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
sm_require_root
sm_setup
for t in fuser e2fsck debugfs df; do command -v "$t" >/dev/null || sm_skip "needs $t"; done
T=$SM_TMP
M=$T/m
cd "$T" || sm_fail "cd $T"
mkimg "$T/a.img" 64M -t ext4
mkdir -p "$M"

opt_has() { echo ",$1," | grep -q ",$2,"; }

# image_fd_mode PID IMAGE: O_RDONLY / O_WRONLY / O_RDWR of the server's
# descriptor(s) of IMAGE (from /proc/PID/fdinfo), one line each.
image_fd_mode() {
	local p real flags
	real=$(readlink -f "$2")
	for p in "/proc/$1/fd/"*; do
		[ "$(readlink "$p")" = "$real" ] || continue
		flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$1/fdinfo/${p##*/}")
		case $((8#$flags & 3)) in 0) echo O_RDONLY ;; 1) echo O_WRONLY ;; *) echo O_RDWR ;; esac
	done | sort -u
}

# check_mount_line DIR IMAGE SYMFOLLOW(yes|no) RO(yes|no)
check_mount_line() {
	local line src type opts o
	line=$(sm_mounts_line "$1")
	[ -n "$line" ] || sm_fail "$1 is not in /proc/mounts although safemount returned 0"
	read -r src _ type opts _ <<<"$line"
	[ "$src" = "$2" ] || sm_fail "/proc/mounts source is '$src', expected the absolute image path $2"
	[ "$type" = fuse.safemount ] || sm_fail "/proc/mounts type is '$type', expected fuse.safemount"
	for o in nosuid nodev; do
		opt_has "$opts" $o || sm_fail "/proc/mounts options '$opts' lack $o"
	done
	if [ "$3" = yes ]; then
		opt_has "$opts" nosymfollow && sm_fail "-o symfollow: /proc/mounts options '$opts' still have nosymfollow"
	else
		opt_has "$opts" nosymfollow || sm_fail "/proc/mounts options '$opts' lack nosymfollow (the default)"
	fi
	if [ "$4" = yes ]; then
		opt_has "$opts" ro || sm_fail "-o ro: /proc/mounts options '$opts' lack ro"
	else
		opt_has "$opts" rw || sm_fail "/proc/mounts options '$opts' lack rw"
	fi
	o=$(df --output=source "$1" 2>&1 | tail -n 1)
	[ "$o" = "$2" ] || sm_fail "df $1 shows the source '$o', expected $2"
}

# --- a rw mount: the helper returns, the server is someone else ---
"$SAFEMOUNT" "$T/a.img" "$M" &
helper=$!
wait "$helper" || sm_fail "safemount $T/a.img $M failed"
sm_on_exit "'$SAFEMOUNT' -u '$M'"
[ -n "$(sm_mounts_line "$M")" ] || sm_fail "safemount returned 0 but $M is not mounted"
[ ! -d "/proc/$helper" ] || sm_fail "the helper ($helper) still exists after returning"
pid=$(sm_server_pid "$T/a.img") || sm_fail "cannot find the server: not exactly one process holds $T/a.img after the helper returned"
[ "$pid" != "$helper" ] || sm_fail "the process holding the image is the helper itself"
echo "server: pid $pid, $(sm_status "$pid" Name), Uid $(sm_status "$pid" Uid), Gid $(sm_status "$pid" Gid), Groups '$(sm_status "$pid" Groups)'"
echo "server limits: $(grep -E '^Max (open files|file size|address space|processes)' "/proc/$pid/limits" | tr -s ' ' | tr '\n' ';')"
sm_check_contained "$pid" dedicated dedicated "$T/a.img" mnt net ipc uts user
[ "$(image_fd_mode "$pid" "$T/a.img")" = O_RDWR ] ||
	sm_fail "rw mount: the server's image descriptor is $(image_fd_mode "$pid" "$T/a.img" | tr '\n' ' '), expected O_RDWR"
check_mount_line "$M" "$T/a.img" no no

# nosymfollow in effect: creating and reading a link works, following fails.
echo "the target" >"$T/target"
ln -s "$T/target" "$M/link" || sm_fail "cannot create a symlink on the mount"
[ "$(readlink "$M/link")" = "$T/target" ] || sm_fail "readlink of a symlink on the mount is wrong"
if cat "$M/link" >/dev/null 2>"$T/err"; then
	sm_fail "a symlink on a nosymfollow mount was followed"
fi
grep -q "Too many levels of symbolic links" "$T/err" ||
	sm_fail "following a symlink on a nosymfollow mount: expected ELOOP, got: $(cat "$T/err")"

# Still serving after all that inspection; the same server.
echo "written after inspection" >"$M/after" || sm_fail "cannot write after the inspection"
[ "$(cat "$M/after")" = "written after inspection" ] || sm_fail "cannot read back after the inspection"
[ "$(sm_server_pid "$T/a.img")" = "$pid" ] || sm_fail "the server changed or died during the test"
sm_umount "$M"
[ -z "$(sm_mounts_line "$M")" ] || sm_fail "-u returned but $M is still mounted"
! fuser -s "$T/a.img" 2>/dev/null || sm_fail "-u returned but process(es) $(fuser "$T/a.img" 2>/dev/null) still hold the image"
fsck_clean "$T/a.img"
[ "$(debugfs -R 'cat /after' "$T/a.img" 2>/dev/null)" = "written after inspection" ] ||
	sm_fail "after -u the image does not contain /after"

# --- -o ro: the same containment, and the image is opened read-only ---
sum=$(sha256sum <"$T/a.img")
sm_mount "$T/a.img" "$M" -o ro
pid=$(sm_server_pid "$T/a.img") || sm_fail "-o ro: cannot find the server"
sm_check_contained "$pid" dedicated dedicated "$T/a.img" mnt net ipc uts user
[ "$(image_fd_mode "$pid" "$T/a.img")" = O_RDONLY ] ||
	sm_fail "-o ro: the server's image descriptor is $(image_fd_mode "$pid" "$T/a.img" | tr '\n' ' '), expected O_RDONLY"
check_mount_line "$M" "$T/a.img" no yes
[ "$(cat "$M/after")" = "written after inspection" ] || sm_fail "-o ro: cannot read a file"
sm_umount "$M"
[ "$(sha256sum <"$T/a.img")" = "$sum" ] || sm_fail "-o ro changed the image"

# --- -o symfollow: no nosymfollow, the link is followed ---
sm_mount "$T/a.img" "$M" -o symfollow
pid=$(sm_server_pid "$T/a.img") || sm_fail "-o symfollow: cannot find the server"
sm_check_contained "$pid" dedicated dedicated "$T/a.img" mnt net ipc uts user
check_mount_line "$M" "$T/a.img" yes no
[ "$(cat "$M/link" 2>&1)" = "the target" ] || sm_fail "-o symfollow: the symlink was not followed: $(cat "$M/link" 2>&1)"
sm_umount "$M"
fsck_clean "$T/a.img"

# --- the address-space cap: default 1G, -o memlimit= sets it ---
as_limit() { awk '/^Max address space/ { print $4 }' "/proc/$1/limits"; }
sm_mount "$T/a.img" "$M" -o ro
pid=$(sm_server_pid "$T/a.img") || sm_fail "cannot find the server"
want=$((1 << 30))
case ${SM_BUILD_DIR:-} in *asan*) want=unlimited ;; esac   # sanitizer builds skip RLIMIT_AS
[ "$(as_limit "$pid")" = "$want" ] || sm_fail "default RLIMIT_AS is $(as_limit "$pid"), want $want"
# The helper widens the mount's read-ahead to one 1 MiB READ.
dev=$(stat -c %d "$M")
ra=$(cat "/sys/class/bdi/$((dev >> 8)):$((dev & 255))/read_ahead_kb")
[ "$ra" = 1024 ] || sm_fail "read_ahead_kb of the mount is $ra, want 1024"
sm_umount "$M"
sm_mount "$T/a.img" "$M" -o ro,memlimit=256M
pid=$(sm_server_pid "$T/a.img") || sm_fail "cannot find the server"
[ "$want" = unlimited ] || want=$((256 << 20))
[ "$(as_limit "$pid")" = "$want" ] || sm_fail "memlimit=256M gave RLIMIT_AS $(as_limit "$pid"), want $want"
ls -R "$M" >/dev/null || sm_fail "memlimit=256M: the mount does not serve"
sm_umount "$M"
# The block cache: none, or larger than the default; too large is refused.
for c in 0 64M; do
	sm_mount "$T/a.img" "$M" -o ro,cache=$c
	ls -R "$M" >/dev/null || sm_fail "cache=$c: the mount does not serve"
	sm_umount "$M"
done
"$SAFEMOUNT" -o cache=5G "$T/a.img" "$M" 2>"$T/err" && sm_fail "cache=5G was accepted"
grep -q "up to 4G" "$T/err" || sm_fail "cache=5G: unclear refusal: $(cat "$T/err")"
"$SAFEMOUNT" -o memlimit=1M "$T/a.img" "$M" 2>"$T/err" && sm_fail "memlimit=1M was accepted"
grep -q "at least 64M" "$T/err" || sm_fail "memlimit=1M: unclear refusal: $(cat "$T/err")"

# --- an image path longer than fsconfig() takes (255 bytes): mount(2),
# the same flags; a refused image there leaves nothing mounted ---
long=$T/$(printf 'd%.0s' $(seq 1 100))/$(printf 'e%.0s' $(seq 1 100))/$(printf 'f%.0s' $(seq 1 60))
mkdir -p "$long"
cp "$T/a.img" "$long/long.img"
sm_mount "$long/long.img" "$M"
line=$(sm_mounts_line "$M")
case $line in *" fuse.safemount "*nosuid*nodev*nosymfollow*) ;;
	*) sm_fail "long image path: mount line is '$line'" ;; esac
[ "$(awk -v d="$M" '$2 == d { print $1 }' /proc/mounts)" = "$long/long.img" ] || sm_fail "long image path: wrong source"
pid=$(sm_server_pid "$long/long.img") || sm_fail "long image path: cannot find the server"
sm_check_contained "$pid" dedicated dedicated "$long/long.img" mnt net ipc uts user
echo long >"$M/long" || sm_fail "long image path: cannot write"
sm_umount "$M"
fsck_clean "$long/long.img"
head -c 8M /dev/zero >"$long/bad.img"
"$SAFEMOUNT" "$long/bad.img" "$M" 2>"$T/err"
rc=$?
[ $rc = 32 ] || sm_fail "long path to a non-ext4 file: exit $rc, want 32"
[ -z "$(sm_mounts_line "$M")" ] || sm_fail "long path to a non-ext4 file: left a mount behind"

echo "PASS: sandbox_live"
