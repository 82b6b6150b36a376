#!/bin/bash
# The command-line contract: mount returns 0 only once the mount is live,
# /proc/mounts shows "IMAGE(absolute) DIR fuse.safemount ...nosuid,nodev",
# -u returns only after the server has written back and exited (the data is
# in the image, no process holds it, e2fsck -fn is clean); --help/--version
# exit 0; unknown options, a missing image, a non-ext4 file and a missing
# mount point fail with one error sentence, the documented exit code and
# nothing left mounted or running; generic mount(8) options are accepted;
# ro/fsname= show in /proc/mounts; -f stays in the foreground; mounting over
# a non-empty directory behaves like the kernel's mount (hides, then shows).
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/differential.sh"
sm_require_root
sm_setup
T=$SM_TMP
cd "$T" || sm_fail "cd $T"
mkimg "$T/a.img" 64M -t ext4
mkdir -p "$T/m"

mounts_line() { awk -v d="$1" '$2 == d' /proc/mounts; }

# expect_error RC_WANTED WHAT_IN_MESSAGE -- CMD...: non-zero exit (the given
# code, or any non-zero for "nz"), exactly one line on stderr containing the
# given text (case-insensitive), nothing mounted on $T/m afterwards.
expect_error() {
	local want=$1 text=$2 rc; shift 3
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	[ "$rc" != 0 ] || { umount -l "$T/m" 2>/dev/null; sm_fail "'$*' succeeded; expected an error mentioning '$text'"; }
	[ "$want" = nz ] || [ "$rc" = "$want" ] || sm_fail "'$*' exited $rc, expected $want (stderr: $(cat "$T/err"))"
	[ "$(wc -l <"$T/err")" = 1 ] || sm_fail "'$*' printed $(wc -l <"$T/err") lines on stderr, expected one sentence: $(head -5 "$T/err")"
	grep -qiF -- "$text" "$T/err" || sm_fail "'$*': message does not mention '$text': $(cat "$T/err")"
	[ -z "$(mounts_line "$T/m")" ] || sm_fail "'$*' failed but left a mount on $T/m"
}

# --- a plain mount, listed, used, unmounted ---
"$SAFEMOUNT" a.img m || sm_fail "safemount a.img m (relative paths) failed"
sm_on_exit "'$SAFEMOUNT' -u '$T/m'"
line=$(mounts_line "$T/m")     # right after the return: the mount must be live
[ -n "$line" ] || sm_fail "safemount returned 0 but $T/m is not in /proc/mounts"
set -- $line
[ "$1" = "$T/a.img" ] || sm_fail "/proc/mounts source is '$1', expected the absolute image path $T/a.img"
[ "$3" = fuse.safemount ] || sm_fail "/proc/mounts type is '$3', expected fuse.safemount"
for o in rw nosuid nodev; do
	echo ",$4," | grep -q ",$o," || sm_fail "/proc/mounts options '$4' lack $o"
done
[ -d "$T/m/lost+found" ] || sm_fail "lost+found not visible on a fresh ext4 image"
[ "$(stat -c %i "$T/m")" = 1 ] || [ "$(stat -c %i "$T/m")" = 2 ] || echo "info: root inode number $(stat -c %i "$T/m")"
echo "written through safemount" >"$T/m/hello" || sm_fail "cannot write a file on the rw mount"
head -c 300000 /dev/urandom >"$T/big.src"
cp "$T/big.src" "$T/m/big" || sm_fail "cannot copy a 300 KB file onto the mount"
sm_umount "$T/m"
[ -z "$(mounts_line "$T/m")" ] || sm_fail "-u returned but $T/m is still mounted"
holders=$(diff_holders "$T/a.img")
[ -z "$holders" ] || sm_fail "-u returned while process(es) $holders still hold the image"
# Written back before -u returned: read the image directly with debugfs.
[ "$(debugfs -R 'cat /hello' "$T/a.img" 2>/dev/null)" = "written through safemount" ] ||
	sm_fail "after -u the image does not contain /hello"
debugfs -R 'dump /big '"$T/big.out" "$T/a.img" >/dev/null 2>&1
cmp -s "$T/big.src" "$T/big.out" || sm_fail "after -u the image's /big differs from what was written"
fsck_clean "$T/a.img"

# --- help and version ---
out=$("$SAFEMOUNT" --help 2>&1) || sm_fail "safemount --help exited non-zero"
echo "$out" | grep -qi usage || sm_fail "--help prints no usage: $out"
out=$("$SAFEMOUNT" -h 2>&1) || sm_fail "safemount -h exited non-zero"
out=$("$SAFEMOUNT" --version 2>&1) || sm_fail "safemount --version exited non-zero"
echo "$out" | grep -q '[0-9]\.[0-9]' || sm_fail "--version prints no version number: $out"

# --- usage errors: exit 1, one sentence ---
expect_error 1 "--bogus" -- "$SAFEMOUNT" --bogus a.img m
expect_error 1 "bogus_opt" -- "$SAFEMOUNT" -o bogus_opt a.img m
expect_error 1 "usage" -- "$SAFEMOUNT"
expect_error 1 "" -- "$SAFEMOUNT" a.img
expect_error 1 "" -- "$SAFEMOUNT" a.img m extra
expect_error 1 "" -- "$SAFEMOUNT" -o fsname a.img m   # fsname without a value

# --- mount failures: exit 32, one sentence naming the culprit ---
expect_error 32 "nothere.img" -- "$SAFEMOUNT" nothere.img m
head -c 4M /dev/urandom >"$T/random.img"
expect_error 32 "random.img" -- "$SAFEMOUNT" random.img m
: >"$T/empty.img"
expect_error 32 "empty.img" -- "$SAFEMOUNT" empty.img m
expect_error 32 "nodir" -- "$SAFEMOUNT" a.img nodir
expect_error nz "" -- "$SAFEMOUNT" a.img a.img                       # mount point is a file
holders=$(diff_holders "$T/random.img" "$T/a.img")
[ -z "$holders" ] || sm_fail "a failed mount left process(es) $holders holding an image"
expect_error nz "m" -- "$SAFEMOUNT" -u m                               # not mounted

# --- generic mount(8) options are accepted ---
sm_mount "$T/a.img" "$T/m" -o defaults,noatime,exec,nosuid,nodev,auto,nouser,x-foo=bar
[ -n "$(mounts_line "$T/m")" ] || sm_fail "mount with generic options is not live"
[ "$(cat "$T/m/hello")" = "written through safemount" ] || sm_fail "file content wrong after remount"
sm_umount "$T/m"

# --- ro and fsname= ---
sm_mount "$T/a.img" "$T/m" -o ro,fsname=myimage
set -- $(mounts_line "$T/m")
[ "$1" = myimage ] || sm_fail "fsname=myimage: /proc/mounts source is '$1'"
echo ",$4," | grep -q ",ro," || sm_fail "-o ro: /proc/mounts options '$4' lack ro"
if touch "$T/m/new" 2>"$T/err"; then sm_fail "creating a file on a ro mount succeeded"; fi
grep -q "Read-only file system" "$T/err" || sm_fail "write on ro mount: expected EROFS, got: $(cat "$T/err")"
sm_umount "$T/m"
fsck_clean "$T/a.img"

# --- -f stays in the foreground until unmounted, then exits 0 ---
"$SAFEMOUNT" -f "$T/a.img" "$T/m" >"$T/fg.out" 2>&1 &
fg=$!
for i in $(seq 50); do [ -n "$(mounts_line "$T/m")" ] && break; sleep 0.1; done
[ -n "$(mounts_line "$T/m")" ] || sm_fail "safemount -f did not mount within 5 s"
sleep 0.3
kill -0 "$fg" 2>/dev/null || sm_fail "safemount -f exited while the mount is live"
sm_umount "$T/m"
wait "$fg"; rc=$?
[ "$rc" = 0 ] || sm_fail "safemount -f exited $rc after -u: $(cat "$T/fg.out")"

# --- over a non-empty directory: like the kernel, hide then show again ---
mkdir -p "$T/full"; echo below >"$T/full/below"
kmount "$T/a.img" "$T/full" -o ro
[ ! -e "$T/full/below" ] && [ -e "$T/full/hello" ] || sm_fail "test logic: the kernel did not hide the directory's contents"
kumount "$T/full"
[ -e "$T/full/below" ] || sm_fail "test logic: contents not back after the kernel's umount"
"$SAFEMOUNT" "$T/a.img" "$T/full" || sm_fail "safemount over a non-empty directory failed (the kernel's mount allows it)"
sm_on_exit "'$SAFEMOUNT' -u '$T/full'"
[ ! -e "$T/full/below" ] || sm_fail "safemount over a non-empty directory does not hide its contents"
[ -e "$T/full/hello" ] || sm_fail "safemount over a non-empty directory: image contents not visible"
sm_umount "$T/full"
[ "$(cat "$T/full/below")" = below ] || sm_fail "directory contents not back after -u"
fsck_clean "$T/a.img"
# --- an image that cannot be written: ro with a notice; -o rw is an error ---
mkdir -p "$T/rodir" "$T/robind"
cp --sparse=always "$T/a.img" "$T/rodir/w.img"
mount --bind "$T/rodir" "$T/robind" || sm_fail "bind mount for the write-protected case failed"
sm_on_exit "umount '$T/robind'"
mount -o remount,bind,ro "$T/robind" || sm_fail "read-only remount of the bind mount failed"
sum_before=$(sha256sum <"$T/rodir/w.img")
"$SAFEMOUNT" "$T/robind/w.img" "$T/m" 2>"$T/ro.err" || sm_fail "mounting a write-protected image failed: $(cat "$T/ro.err")"
sm_on_exit "'$SAFEMOUNT' -u '$T/m'"
grep -q "write-protected, mounting read-only" "$T/ro.err" || sm_fail "no read-only notice for a write-protected image: $(cat "$T/ro.err")"
case $(mounts_line "$T/m") in *" ro,"*) ;; *) sm_fail "write-protected image not mounted ro: $(mounts_line "$T/m")" ;; esac
sm_umount "$T/m"
rc=0; "$SAFEMOUNT" -o rw "$T/robind/w.img" "$T/m" 2>"$T/rw.err" || rc=$?
[ "$rc" = 32 ] || sm_fail "-o rw on a write-protected image: expected exit 32, got $rc"
grep -q "use -o ro" "$T/rw.err" || sm_fail "-o rw on a write-protected image: no advice in: $(cat "$T/rw.err")"
[ "$(sha256sum <"$T/rodir/w.img")" = "$sum_before" ] || sm_fail "the write-protected image changed"

echo "PASS: cli_basic"
