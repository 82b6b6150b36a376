#!/bin/bash
# A normal user mounts an image they own on a directory they own (design.md
# §1, §2.5), without any change to /dev/fuse (fusermount3 does the mount):
#  - the mount: "IMAGE DIR fuse.safemount" with nosuid,nodev and no
#    allow_other in /proc/mounts (fusermount3 3.14 cannot set nosymfollow,
#    so it is not required here);
#  - the server is contained like a root mount's (sm_check_contained:
#    Seccomp 2, NoNewPrivs 1, no capabilities, its own user/mnt/net
#    namespaces, an empty root, only the image, /dev/fuse, /dev/null and a
#    syslog socket open) and runs with the user's own uid and gid;
#  - ownership is mapped to the user: every inode (the root directory,
#    lost+found, files and a 0700 directory root made in the image before
#    mounting, a file owned by 4242:4343) appears as the user's uid:gid,
#    modes unchanged; so the user can read root's 0600 file and write into
#    root's 0700 directory;
#  - the user creates, writes, reads, renames and deletes files; `safemount
#    -u` as the user unmounts; then e2fsck -fn is clean, nothing holds the
#    image, and what the user wrote is in the image (read with debugfs);
#  - `-o allow_other` as the user: exit 1, one sentence naming allow_other,
#    nothing mounted; an image the user cannot read: exit 32 (or 1), one
#    sentence naming the image, nothing mounted;
#  - `-o uid=N,gid=N`: as the user only their own uid/gid are accepted
#    (another uid or gid, 0 included, is refused with exit 1); as root any
#    N, and every inode (new ones too) appears owned by N.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
sm_require_root
for t in fuser e2fsck debugfs setpriv fusermount3; do command -v "$t" >/dev/null || sm_skip "needs $t"; done
U=$(sm_test_user smtest)
U2=$(sm_test_user smtest2)
UU=$(id -u "$U") UG=$(id -g "$U") U2U=$(id -u "$U2") U2G=$(id -g "$U2")
as_user() { sm_as_user "$U" "$@"; }

# expect_refused RC_WANTED(1|32|"1 32") TEXT -- CMD...: the command fails
# with one of the exit codes, exactly one line on stderr mentioning TEXT
# (case-insensitive), nothing mounted on $M and nothing holding the image.
expect_refused() {
	local want=$1 text=$2 rc=0; shift 3
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" = 0 ]; then
		umount -l "$M" 2>/dev/null
		sm_fail "'$*' succeeded; expected a refusal mentioning '$text'"
	fi
	case " $want " in *" $rc "*) ;; *) sm_fail "'$*' exited $rc, expected $want (stderr: $(cat "$T/err"))" ;; esac
	[ "$(wc -l <"$T/err")" = 1 ] || sm_fail "'$*' printed $(wc -l <"$T/err") lines on stderr, expected one sentence: $(head -5 "$T/err")"
	grep -qiF -- "$text" "$T/err" || sm_fail "'$*': the message does not mention '$text': $(cat "$T/err")"
	[ -z "$(sm_mounts_line "$M")" ] || { umount -l "$M"; sm_fail "'$*' failed but left a mount on $M"; }
	! fuser -s "$T/u.img" "$T/noread.img" 2>/dev/null || sm_fail "'$*' failed but left process(es) holding an image: $(fuser "$T/u.img" "$T/noread.img" 2>&1)"
}

# owners_are UIDGID RUNNER... -- PATH...: stat -c %u:%g of each path (run by
# RUNNER, e.g. as_user) is UIDGID.
owners_are() {
	local want=$1 run=() p got; shift
	while [ "$1" != -- ]; do run+=("$1"); shift; done
	shift
	for p in "$@"; do
		got=$("${run[@]}" stat -c %u:%g "$p" 2>&1)
		[ "$got" = "$want" ] || sm_fail "$p appears owned by '$got', expected $want"
	done
}

# --- where /dev/fuse is root-only: a clean refusal, then the rest of the
# case in a private mount namespace with a 0666 /dev/fuse (common.sh) ---
if ! sm_user_has_fuse "$U"; then
	sm_setup
	T=$SM_TMP M=$T/m
	mkimg "$T/u.img" 32M -t ext4
	mkdir -p "$M"
	chown "$U:" "$T/u.img" "$M"
	usm=$(sm_user_exec "$U" "$SAFEMOUNT") || exit 1
	(cd "$T" && expect_refused "32 1" /dev/fuse -- as_user "$usm" "$T/u.img" "$M")
	[ $? = 0 ] || exit 1
	echo "root-only /dev/fuse: the user's mount is refused cleanly; the rest runs with a private 0666 /dev/fuse"
	sm_cleanup
	trap - EXIT
	SM_TMP=""
	sm_reexec_with_user_fuse "$@"
fi
sm_setup
T=$SM_TMP
M=$T/m
cd "$T" || sm_fail "cd $T"
# The user runs the binary under test (a copy of it where the checkout
# is out of the user's reach); root runs the same bytes.
SAFEMOUNT=$(sm_user_exec "$U" "$SAFEMOUNT") || exit 1

# --- the image: made and populated by root ---
S=$T/seed
mkdir -p "$S/rootdir"
echo "root's file" >"$S/rootfile"
echo inner >"$S/rootdir/inner"
echo other >"$S/other"
chown 4242:4343 "$S/other"
chmod 600 "$S/rootfile"
chmod 700 "$S/rootdir"
chown 0:0 "$S" "$S/rootfile" "$S/rootdir" "$S/rootdir/inner"
mkimg "$T/u.img" 64M -t ext4 -d "$S"
for p in / /rootfile /rootdir /rootdir/inner /lost+found; do
	debugfs -R "stat $p" "$T/u.img" 2>/dev/null | grep -qE 'User: +0 +Group: +0 ' ||
		sm_fail "test logic: $p in the image is not owned by 0:0"
done
debugfs -R "stat /other" "$T/u.img" 2>/dev/null | grep -qE 'User: +4242 +Group: +4343 ' ||
	sm_fail "test logic: /other in the image is not owned by 4242:4343"
chown "$U:" "$T/u.img"
chmod 600 "$T/u.img"
mkdir -p "$M"
chown "$U:" "$M"

# --- the user mounts it ---
as_user "$SAFEMOUNT" "$T/u.img" "$M" || sm_fail "safemount as $U failed"
sm_on_exit "umount -l '$M'"
line=$(sm_mounts_line "$M")
[ -n "$line" ] || sm_fail "safemount as $U returned 0 but $M is not mounted"
read -r src _ type opts _ <<<"$line"
[ "$src" = "$T/u.img" ] || sm_fail "/proc/mounts source is '$src', expected $T/u.img"
[ "$type" = fuse.safemount ] || sm_fail "/proc/mounts type is '$type', expected fuse.safemount"
for o in nosuid nodev; do
	echo ",$opts," | grep -q ",$o," || sm_fail "user mount: /proc/mounts options '$opts' lack $o"
done
echo ",$opts," | grep -q ",allow_other," && sm_fail "user mount: /proc/mounts options '$opts' have allow_other"
pid=$(sm_server_pid "$T/u.img") || sm_fail "cannot find the server of the user mount (the one process holding $T/u.img)"
echo "user mount server: pid $pid, Uid $(sm_status "$pid" Uid), Gid $(sm_status "$pid" Gid), Groups '$(sm_status "$pid" Groups)'"
sm_check_contained "$pid" "$UU" "$UG" "$T/u.img" user mnt net

# --- ownership is the user's ---
owners_are "$UU:$UG" as_user -- "$M" "$M/lost+found" "$M/rootfile" "$M/rootdir" "$M/rootdir/inner" "$M/other"
[ "$(as_user stat -c %a "$M/rootfile")" = 600 ] || sm_fail "the mode of /rootfile changed: $(as_user stat -c %a "$M/rootfile")"
[ "$(as_user stat -c %a "$M/rootdir")" = 700 ] || sm_fail "the mode of /rootdir changed: $(as_user stat -c %a "$M/rootdir")"
[ "$(as_user cat "$M/rootfile" 2>&1)" = "root's file" ] || sm_fail "$U cannot read root's 0600 file that appears to be theirs"
[ "$(as_user cat "$M/rootdir/inner" 2>&1)" = inner ] || sm_fail "$U cannot read inside root's 0700 directory that appears to be theirs"

# --- the user works on it ---
head -c 300000 /dev/urandom >"$T/rand"
chmod 644 "$T/rand"
as_user sh -c 'echo "user data" >"$1/new"' sh "$M" || sm_fail "$U cannot create a file"
[ "$(as_user cat "$M/new")" = "user data" ] || sm_fail "$U cannot read back a new file"
as_user cp "$T/rand" "$M/big" || sm_fail "$U cannot write a 300 KB file"
as_user cmp -s "$T/rand" "$M/big" || sm_fail "the 300 KB file reads back differently"
as_user mkdir "$M/udir" || sm_fail "$U cannot mkdir"
as_user mv "$M/new" "$M/udir/renamed" || sm_fail "$U cannot rename"
as_user test ! -e "$M/new" || sm_fail "the old name still exists after rename"
[ "$(as_user cat "$M/udir/renamed")" = "user data" ] || sm_fail "the renamed file reads wrong"
as_user sh -c 'echo tmp >"$1/tmp" && rm "$1/tmp"' sh "$M" || sm_fail "$U cannot create and delete a file"
as_user test ! -e "$M/tmp" || sm_fail "a deleted file still exists"
as_user sh -c 'echo by-user >"$1/rootdir/by-user"' sh "$M" || sm_fail "$U cannot write into root's 0700 directory that appears to be theirs"
owners_are "$UU:$UG" as_user -- "$M/udir" "$M/udir/renamed" "$M/big" "$M/rootdir/by-user"

rc=0
as_user "$SAFEMOUNT" -u "$M" >"$T/out" 2>&1 || rc=$?
[ "$rc" = 0 ] || sm_fail "safemount -u as $U exited $rc: $(cat "$T/out")"
[ -z "$(sm_mounts_line "$M")" ] || sm_fail "safemount -u as $U returned 0 but $M is still mounted"
! fuser -s "$T/u.img" 2>/dev/null || sm_fail "-u returned but process(es) $(fuser "$T/u.img" 2>/dev/null) still hold the image"
fsck_clean "$T/u.img"
[ "$(debugfs -R 'cat /udir/renamed' "$T/u.img" 2>/dev/null)" = "user data" ] || sm_fail "the image lacks /udir/renamed after -u"
[ "$(debugfs -R 'cat /rootdir/by-user' "$T/u.img" 2>/dev/null)" = by-user ] || sm_fail "the image lacks /rootdir/by-user after -u"
debugfs -R "dump /big $T/big.out" "$T/u.img" >/dev/null 2>&1
cmp -s "$T/rand" "$T/big.out" || sm_fail "the image's /big differs from what $U wrote"
debugfs -R 'stat /tmp' "$T/u.img" 2>&1 | grep -q 'File not found' || sm_fail "the deleted /tmp is still in the image"
debugfs -R 'stat /new' "$T/u.img" 2>&1 | grep -q 'File not found' || sm_fail "the renamed-away /new is still in the image"

# --- refusals as the user ---
expect_refused 1 allow_other -- as_user "$SAFEMOUNT" -o allow_other "$T/u.img" "$M"
cp --sparse=always "$T/u.img" "$T/noread.img"
chown 0:0 "$T/noread.img"
chmod 600 "$T/noread.img"
expect_refused "32 1" noread.img -- as_user "$SAFEMOUNT" "$T/noread.img" "$M"
expect_refused 1 uid -- as_user "$SAFEMOUNT" -o uid=0 "$T/u.img" "$M"
expect_refused 1 uid -- as_user "$SAFEMOUNT" -o "uid=$U2U" "$T/u.img" "$M"
expect_refused 1 gid -- as_user "$SAFEMOUNT" -o gid=0 "$T/u.img" "$M"
expect_refused 1 gid -- as_user "$SAFEMOUNT" -o "gid=$U2G" "$T/u.img" "$M"

# --- -o uid=,gid= as the user: their own ids are fine ---
as_user "$SAFEMOUNT" -o "uid=$UU,gid=$UG" "$T/u.img" "$M" || sm_fail "-o uid=$UU,gid=$UG (the user's own ids) as $U failed"
owners_are "$UU:$UG" as_user -- "$M" "$M/rootfile" "$M/other"
as_user "$SAFEMOUNT" -u "$M" || sm_fail "safemount -u as $U failed (after -o uid=,gid=)"
[ -z "$(sm_mounts_line "$M")" ] || sm_fail "-u as $U left $M mounted"

# --- -o uid=,gid= as root: every inode appears owned by N ---
sm_mount "$T/u.img" "$M" -o uid=4321,gid=4322
echo "made by root" >"$M/rootnew" || sm_fail "root cannot create a file on the uid=4321 mount"
mkdir "$M/rootnewdir" || sm_fail "root cannot mkdir on the uid=4321 mount"
owners_are 4321:4322 -- "$M" "$M/lost+found" "$M/rootfile" "$M/rootdir" "$M/rootdir/inner" "$M/other" \
	"$M/udir/renamed" "$M/rootnew" "$M/rootnewdir"
sm_umount "$M"
fsck_clean "$T/u.img"

echo "PASS: nonroot_mount"
