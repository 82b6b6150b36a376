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

# ---- servers, users and containment (the helper/server split) -------------

# sm_server_pid IMAGE: the pid of the server of IMAGE's mount, found as the
# process holding IMAGE open (its command line is no contract; once the
# helper has exited, the server is the only holder).  Waits up to 3 s for
# exactly one holder.  Prints nothing and returns 1 if there is none, or if
# several stay (their pids go to stderr).
sm_server_pid() {
	local img pids n i
	img=$(readlink -f -- "$1") || return 1
	for i in $(seq 1 30); do
		pids=$(fuser "$img" 2>/dev/null | tr -s ' \t' '\n' | grep -E '^[0-9]+$' | sort -un)
		n=$(printf '%s' "$pids" | grep -c .)
		[ "$n" = 1 ] && { echo "$pids"; return 0; }
		sleep 0.1
	done
	[ "$n" = 0 ] || echo "sm_server_pid: $n processes hold $img: $(echo "$pids" | tr '\n' ' ')" >&2
	return 1
}

# sm_user_exec USER PATH: print a path of PATH's program that USER can
# execute: PATH itself, or a copy in the scratch directory (needs sm_setup).
# A clone in a 0700 directory, as `mktemp -d` makes, is out of other users'
# reach.
sm_user_exec() {
	local u=$1 p=$2 c
	if sm_as_user "$u" test -x "$p"; then
		echo "$p"
		return 0
	fi
	[ -n "$SM_TMP" ] || sm_fail "sm_user_exec $p: call sm_setup first"
	c=$SM_TMP/bin/$(basename "$p")
	{ mkdir -p "$SM_TMP/bin" && chmod 755 "$SM_TMP/bin" && cp "$p" "$c" && chmod 755 "$c"; } ||
		sm_fail "cannot copy $p where $u can execute it"
	sm_as_user "$u" test -x "$c" || sm_fail "$u cannot execute $p, nor its copy $c"
	echo "$c"
}

# sm_as_user USER CMD...: run CMD as USER (its uid, primary gid and
# groups; no capabilities), from the current directory.
sm_as_user() {
	local u=$1; shift
	setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --init-groups -- "$@"
}

# sm_mounts_line DIR: DIR's line in /proc/mounts (empty if not mounted).
sm_mounts_line() { awk -v d="$1" '$2 == d' /proc/mounts; }

# sm_status PID FIELD: one field of /proc/PID/status ("Uid" -> "0 0 0 0").
sm_status() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null | tr -s '\t ' '  ' | sed 's/ *$//'; }

# sm_check_contained PID UID GID IMAGE NS...: the sandbox of a live server,
# seen from outside (all problems are collected, then one sm_fail):
#  - /proc/PID/status: Seccomp 2 (filter), NoNewPrivs 1, every capability
#    set (Eff, Prm, Bnd, Inh, Amb) empty; all four Uid fields = UID and all
#    four Gid fields = GID, where UID/GID "dedicated" means: non-zero and
#    not the id of any account but `safemount` (root mounts); no
#    supplementary group 0;
#  - /proc/PID/ns/NS differs from ours for each NS given;
#  - its root is an empty directory that is not our /;
#  - its descriptors are only /dev/null, IMAGE, /dev/fuse and at most one
#    socket (a syslog connection): no other file, no pipe, no anon inode
#    (in a sanitizer build, also its report file in $SM_SANITIZER_LOG_DIR).
sm_check_contained() {
	local pid=$1 want_uid=$2 want_gid=$3 img=$4 bad=() f v id a b c d name ns fd p t
	local n_img=0 n_fuse=0 n_sock=0 real
	shift 4
	[ -d "/proc/$pid" ] || sm_fail "server $pid is not running"
	real=$(readlink -f -- "$img")
	v=$(sm_status "$pid" Seccomp); [ "$v" = 2 ] || bad+=("Seccomp is '$v', want 2 (a filter)")
	v=$(sm_status "$pid" NoNewPrivs); [ "$v" = 1 ] || bad+=("NoNewPrivs is '$v', want 1")
	for f in CapEff CapPrm CapBnd CapInh CapAmb; do
		v=$(sm_status "$pid" $f)
		[ "$v" = 0000000000000000 ] || bad+=("$f is '$v', want 0000000000000000")
	done
	for f in Uid Gid; do
		v=$(sm_status "$pid" $f)
		read -r a b c d t <<<"$v"
		if [ -z "$d" ] || [ -n "$t" ] || [ "$a" != "$b" ] || [ "$a" != "$c" ] || [ "$a" != "$d" ]; then
			bad+=("$f is '$v', want four equal ids")
			continue
		fi
		id=$a
		if [ "$f" = Uid ]; then t=$want_uid; else t=$want_gid; fi
		if [ "$t" = dedicated ]; then
			[ "$id" != 0 ] || bad+=("$f is 0")
			# The dedicated id belongs to no account but `safemount`: a
			# shared id would let that account's processes signal the
			# server, or the server reach that account's files.
			if [ "$f" = Uid ]; then
				name=$(getent passwd "$id" | cut -d: -f1)
			else
				name=$(getent group "$id" | cut -d: -f1)
			fi
			[ -z "$name" ] || [ "$name" = safemount ] ||
				bad+=("$f $id is the id of '$name', not a dedicated one")
			if [ "$f" = Uid ] && getent passwd safemount >/dev/null; then
				[ "$id" = "$(id -u safemount)" ] || bad+=("Uid $id, but the system user safemount ($(id -u safemount)) exists")
			fi
		else
			[ "$id" = "$t" ] || bad+=("$f is $id, want $t")
		fi
	done
	v=$(sm_status "$pid" Groups)
	case " $v " in *" 0 "*) bad+=("supplementary groups '$v' include 0") ;; esac
	for ns in "$@"; do
		v=$(readlink "/proc/$pid/ns/$ns" 2>&1) || { bad+=("cannot read /proc/$pid/ns/$ns: $v"); continue; }
		[ "$v" != "$(readlink "/proc/self/ns/$ns")" ] || bad+=("shares our $ns namespace ($v)")
	done
	if v=$(ls -A "/proc/$pid/root/" 2>&1); then
		[ -z "$v" ] || bad+=("its root directory is not empty: $(echo "$v" | tr '\n' ' ' | head -c 200)")
	else
		bad+=("cannot list /proc/$pid/root/: $v")
	fi
	if v=$(stat -L -c %d:%i "/proc/$pid/root" 2>&1); then
		[ "$v" != "$(stat -c %d:%i /)" ] || bad+=("its root is our / ($v)")
	else
		bad+=("cannot stat /proc/$pid/root: $v")
	fi
	if v=$(ls "/proc/$pid/fd" 2>&1); then
		for p in "/proc/$pid/fd/"*; do
			[ -L "$p" ] || continue
			fd=${p##*/}
			v=$(readlink "$p") || { bad+=("cannot readlink $p"); continue; }
			case $v in
			/dev/null) [ "$fd" -le 2 ] || echo "NOTE: server fd $fd is /dev/null" ;;
			/dev/fuse) n_fuse=$((n_fuse + 1)) ;;
			"$real") n_img=$((n_img + 1)) ;;
			socket:*) n_sock=$((n_sock + 1)) ;;
			"${SM_SANITIZER_LOG_DIR:-/nonexistent}"/*)
				# The one knob a sanitizer build relaxes: its report
				# file, opened before the sandbox (scripts/run-tests.sh).
				echo "NOTE: server fd $fd is its sanitizer log $v" ;;
			*) bad+=("fd $fd is '$v' (only /dev/null, the image, /dev/fuse and one socket are allowed)") ;;
			esac
		done
		[ $n_img -ge 1 ] || bad+=("no descriptor of the image $real")
		[ $n_fuse -ge 1 ] || bad+=("no descriptor of /dev/fuse")
		[ $n_sock -le 1 ] || bad+=("$n_sock sockets open (at most one: syslog)")
	else
		bad+=("cannot list /proc/$pid/fd: $v")
	fi
	if [ ${#bad[@]} != 0 ]; then
		for v in "${bad[@]}"; do echo "  server $pid: $v" >&2; done
		echo "  /proc/$pid/status:" >&2
		grep -E '^(Name|Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp)' "/proc/$pid/status" 2>/dev/null | sed 's/^/    /' >&2
		echo "  fds: $(for p in "/proc/$pid/fd/"*; do printf '%s->%s ' "${p##*/}" "$(readlink "$p")"; done)" >&2
		sm_fail "the server $pid is not contained as required (${#bad[@]} problem(s), listed above)"
	fi
}

# sm_elapsed_ms T0_NS: milliseconds since T0_NS (from `date +%s%N`).
sm_elapsed_ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# sm_user_has_fuse USER: USER can open /dev/fuse read-write (fusermount3
# 3.14 opens it with the caller's permissions, so without that a normal
# user cannot mount anything).
sm_user_has_fuse() { sm_as_user "$1" sh -c 'exec 3<>/dev/fuse' 2>/dev/null; }

# sm_reexec_with_user_fuse: run this case again (exec, from the start) in a
# private mount namespace where /dev/fuse is a mode 0666 node of the same
# device bind-mounted over the real one, as on a stock Debian machine.  The
# real /dev/fuse is not touched and nothing is visible outside the case.
# Pass the case's arguments; call it before sm_setup (or after sm_cleanup
# and `trap - EXIT`): exec runs no EXIT trap.
sm_reexec_with_user_fuse() {
	[ -z "${SM_USER_FUSE_NS:-}" ] || sm_fail "normal users still cannot open /dev/fuse in the private mount namespace"
	command -v unshare >/dev/null || sm_skip "/dev/fuse is root-only here and unshare(1) is missing to give users a private one"
	local maj min
	maj=$((16#$(stat -c %t /dev/fuse))) min=$((16#$(stat -c %T /dev/fuse)))
	export SM_USER_FUSE_NS=1
	# shellcheck disable=SC2016
	exec unshare -m --propagation private -- bash -c '
		d=$(mktemp -d /tmp/sm-fusedev.XXXXXX) || exit 1
		mount -t tmpfs -o mode=0755,size=16k safemount-test-dev "$d" &&
			mknod -m 0666 "$d/fuse" c "$1" "$2" && mount --bind "$d/fuse" /dev/fuse
		rc=$?
		umount -l "$d"; rmdir "$d"
		[ $rc = 0 ] || { echo "FAIL: cannot set up a private /dev/fuse for normal users" >&2; exit 1; }
		shift 2
		exec "$@"' sm-user-fuse "$maj" "$min" "$(readlink -f "$0")" "$@"
}
