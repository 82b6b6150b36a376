# Shared helpers for integration cases.  Source it first thing:
#   . "$SM_SOURCE_DIR/tests/lib/common.sh"
# A case exits 0 on pass, 77 on skip (with the reason on stdout), else fail.
# Under CI (CI=true) a missing prerequisite is a failure, never a skip.
set -u

: "${SM_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SAFEMOUNT:=$SM_SOURCE_DIR/build/safemount}"
: "${SM_TOOLS:=$SM_SOURCE_DIR/build/tests}"

sm_fail() { echo "FAIL: $*" >&2; exit 1; }
sm_skip() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL (would skip, but CI must not skip): $*" >&2
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

# Root, /dev/fuse and loop devices are what integration cases need.
sm_require_root() {
	[ "$(id -u)" = 0 ] || sm_skip "needs root (real FUSE mounts and loop devices)"
	[ -c /dev/fuse ] || sm_skip "no /dev/fuse on this machine"
	[ -x "$SAFEMOUNT" ] || sm_fail "safemount binary not found at $SAFEMOUNT"
}

# A private scratch directory, removed (after unmounting anything in it) at exit.
SM_TMP=""
SM_CLEANUPS=()
sm_cleanup() {
	local i
	for ((i=${#SM_CLEANUPS[@]}-1; i>=0; i--)); do eval "${SM_CLEANUPS[$i]}" >/dev/null 2>&1 || true; done
	if [ -n "$SM_TMP" ]; then
		# Anything still mounted below the scratch dir goes first.
		grep -o " $SM_TMP[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
		rm -rf "$SM_TMP"
	fi
}
sm_on_exit() { SM_CLEANUPS+=("$*"); }
sm_setup() {
	SM_TMP=$(mktemp -d /tmp/sm-test.XXXXXX)
	chmod 755 "$SM_TMP"
	trap sm_cleanup EXIT
}

# mkimg FILE SIZE [mkfs args...]: a fresh image (default mkfs.ext4, quiet).
mkimg() {
	local img=$1 size=$2; shift 2
	rm -f "$img"
	truncate -s "$size" "$img"
	if [ $# -eq 0 ]; then set -- -t ext4; fi
	mkfs.ext2 -q -F "$@" "$img" >/dev/null || sm_fail "mkfs $* $img failed"
}

# sm_mount IMAGE DIR [-o OPTS]: mount with safemount, fail the case if it fails.
sm_mount() {
	local img=$1 dir=$2; shift 2
	mkdir -p "$dir"
	"$SAFEMOUNT" "$@" "$img" "$dir" || sm_fail "safemount $* $img $dir failed"
	sm_on_exit "'$SAFEMOUNT' -u '$dir'"
}
sm_umount() { "$SAFEMOUNT" -u "$1" || sm_fail "safemount -u $1 failed"; }

# kmount IMAGE DIR [-o OPTS]: the kernel's ext4 over a loop device, for comparison.
kmount() {
	local img=$1 dir=$2; shift 2
	mkdir -p "$dir"
	mount -t ext4 -o loop "$@" "$img" "$dir" || sm_fail "kernel mount of $img failed"
	sm_on_exit "umount '$dir'"
}
kumount() { umount "$1" || sm_fail "umount $1 failed"; }

# fsck_clean IMAGE: e2fsck -fn must find nothing.
fsck_clean() {
	local out
	out=$(e2fsck -fn "$1" 2>&1) || { echo "$out" >&2; sm_fail "e2fsck -fn $1 is not clean"; }
}

# An unprivileged user for permission tests (created once, reused).
sm_test_user() {
	local u=${1:-smtest}
	id "$u" >/dev/null 2>&1 || useradd -M -s /bin/sh "$u" >/dev/null 2>&1 || sm_fail "useradd $u failed"
	echo "$u"
}
