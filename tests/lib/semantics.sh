# Differential semantics harness: run one scenario (a shell function that
# takes no arguments and works below "$M") on the kernel's ext4 and on
# safemount, each on its own copy of the same fresh image, and require
# identical transcripts plus the hard expectations each check names.
#
#   . "$SM_SOURCE_DIR/tests/lib/common.sh"
#   . "$SM_SOURCE_DIR/tests/lib/semantics.sh"
#   sem_init
#   scen_foo() { sem_t "open missing" ENOENT open "$M/nope" O_RDONLY; }
#   sem_compare foo scen_foo
#   sem_finish
#
# Knobs (environment, read by sem_compare):
#   SEM_SIZE   image size (default 256M)
#   SEM_MKFS   mkfs arguments (default "-t ext4 -b 4096")
#   SEM_KOPTS  kernel mount options (comma list, may be empty)
#   SEM_SOPTS  safemount -o options (comma list, may be empty)
#   SEM_SIDES  which sides run (default "kernel safemount"; "kernel kernel"
#              checks that a scenario is deterministic before safemount works)
#
# A scenario prints only what must be equal on both sides: errno names,
# modes, sizes, contents, and relations ("changed: yes") instead of times or
# inode numbers.

SEM_FAILS=0
SEM_FAIL_LOG=""
SEM=""
SEM_SIDE=""
M=""
SEM_IMG=""
SEM_MNT=""

sem_init() {
	local s
	sm_setup
	[ "$(id -u)" = 0 ] || sm_skip "needs root (real FUSE mounts and loop devices)"
	for s in ${SEM_SIDES:-kernel safemount}; do
		if [ "$s" = safemount ]; then
			[ -c /dev/fuse ] || sm_skip "no /dev/fuse on this machine"
			[ -x "$SAFEMOUNT" ] || sm_fail "safemount binary not found at $SAFEMOUNT"
		fi
	done
	command -v e2fsck >/dev/null || sm_skip "e2fsck not installed"
	SEM_FAIL_LOG=$SM_TMP/failures
	: >"$SEM_FAIL_LOG"
	SEM=$SM_TOOLS/sem_errno
	if [ ! -x "$SEM" ]; then
		[ "${CI:-}" = true ] && sm_fail "$SEM was not built"
		# Running a case by hand against a build without the tools.
		SEM=$SM_TMP/sem_errno
		cc -std=c17 -D_GNU_SOURCE -O2 -Wall -o "$SEM" "$SM_SOURCE_DIR/tests/tools/sem_errno.c" ||
			sm_fail "cannot build sem_errno"
	fi
	# Non-root users run the tool too: it must be reachable by them.
	SEM=$(sm_user_exec nobody "$SEM") || exit 1
}

# sem_bad MESSAGE: record a failure and keep going (so one run reports all).
sem_bad() {
	SEM_FAILS=$((SEM_FAILS + 1))
	echo "$*" >>"$SEM_FAIL_LOG"
}

# Run with a hard timeout: a hung server must fail the case, not stall it.
sem_run() { timeout -k 5 "${SEM_TIMEOUT:-60}" "$@"; }

# Collapse a command's output (stdout+stderr) to one line.
sem_line() { "$@" 2>&1 | tr '\n' ' ' | sed 's/ *$//'; }

# _sem_check LABEL EXPECT OUTPUT: print the transcript line, check EXPECT
# (a bash glob; empty means "only compare with the other side").
_sem_check() {
	local label=$1 exp=$2 out=$3
	echo "$label: $out"
	# EXPECT matches literally or as a glob (outputs contain backslashes).
	if [ -n "$exp" ] && [[ $out != "$exp" ]] && [[ $out != $exp ]]; then
		sem_bad "[$SEM_CASE/$SEM_SIDE] $label: got '$out', expected '$exp'"
	fi
}

# sem_t LABEL EXPECT OP ARGS...: one sem_errno call as root.
sem_t() {
	local label=$1 exp=$2; shift 2
	_sem_check "$label" "$exp" "$(sem_line sem_run "$SEM" "$@")"
}

# sem_tu USER LABEL EXPECT OP ARGS...: one sem_errno call as USER.
sem_tu() {
	local u=$1 label=$2 exp=$3; shift 3
	_sem_check "$label" "$exp" "$(sem_line sem_as "$u" "$SEM" "$@")"
}

# sem_tx LABEL EXPECT CMD...: any command; output plus " rc=N".
sem_tx() {
	local label=$1 exp=$2 out rc; shift 2
	if declare -F "$1" >/dev/null; then
		out=$("$@" 2>&1)
	else
		out=$(sem_run "$@" 2>&1)
	fi
	rc=$?
	out=$(printf '%s' "$out" | tr '\n' ' ' | sed 's/ *$//')
	_sem_check "$label" "$exp" "${out:+$out }rc=$rc"
}

# sem_as USER CMD...: run CMD as USER with the user's groups.
sem_as() {
	local u=$1; shift
	sem_run setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --init-groups -- "$@"
}

# sem_field PATH FIELD: one stat field's value (root's view), or the errno.
sem_field() {
	local out
	out=$("$SEM" stat "$1" "$2")
	case $out in
	OK\ *) echo "${out#OK *=}" ;;
	*) echo "$out" ;;
	esac
}

# sem_same A B: "yes" when A and B are the same inode.
sem_same() {
	local a b
	a=$(stat -c %d:%i "$1" 2>&1) b=$(stat -c %d:%i "$2" 2>&1)
	[ "$a" = "$b" ] && echo yes || echo no
}

# sem_changed LABEL PATH FIELD CMD...: run CMD and report whether PATH's
# FIELD (atime/mtime/ctime/...) changed.  Sleeps first so that a coarse
# clock tick separates the old value from the new one.
sem_changed() {
	local label=$1 path=$2 field=$3 before after; shift 3
	before=$(sem_field "$path" "$field")
	sleep 0.03
	"$@" >/dev/null 2>&1
	after=$(sem_field "$path" "$field")
	if [ "$before" = "$after" ]; then echo "$label: no"; else echo "$label: yes"; fi
}
# sem_changed_t LABEL EXPECT PATH FIELD CMD...: the same with an expectation.
sem_changed_t() {
	local label=$1 exp=$2 path=$3 field=$4 out; shift 4
	out=$(sem_changed x "$path" "$field" "$@")
	_sem_check "$label" "$exp" "${out#x: }"
}

sem_drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# _sem_mount / _sem_umount: the current side's mount of SEM_IMG at SEM_MNT.
_sem_mount() {
	mkdir -p "$SEM_MNT"
	case $SEM_SIDE in
	kernel*)
		mount -t ext4 -o "loop${SEM_KOPTS:+,$SEM_KOPTS}" "$SEM_IMG" "$SEM_MNT" ||
			{ sem_bad "[$SEM_CASE/$SEM_SIDE] kernel mount failed"; return 1; }
		sm_on_exit "umount '$SEM_MNT'"
		;;
	safemount)
		sem_run "$SAFEMOUNT" ${SEM_SOPTS:+-o "$SEM_SOPTS"} "$SEM_IMG" "$SEM_MNT" ||
			{ sem_bad "[$SEM_CASE/$SEM_SIDE] safemount ${SEM_SOPTS:+-o $SEM_SOPTS} failed"; return 1; }
		sm_on_exit "'$SAFEMOUNT' -u '$SEM_MNT'; umount -l '$SEM_MNT'"
		;;
	esac
}
_sem_umount() {
	local out
	case $SEM_SIDE in
	kernel*) umount "$SEM_MNT" || { sem_bad "[$SEM_CASE/$SEM_SIDE] umount failed"; umount -l "$SEM_MNT"; return 1; } ;;
	safemount)
		if ! out=$(sem_run "$SAFEMOUNT" -u "$SEM_MNT" 2>&1); then
			sem_bad "[$SEM_CASE/$SEM_SIDE] safemount -u failed: $out"
			mountpoint -q "$SEM_MNT" && umount -l "$SEM_MNT"
			# The image is checked anyway (at once, as a user would).
		fi
		;;
	esac
	return 0
}

# sem_fsck LABEL IMAGE: e2fsck -fn must be clean; record (not exit) if not.
sem_fsck() {
	local out
	out=$(e2fsck -fn "$2" 2>&1) ||
		sem_bad "[$SEM_CASE/$SEM_SIDE] $1: e2fsck -fn not clean: $(echo "$out" | grep -v '^Pass\|^e2fsck\|^$' | head -20 | tr '\n' '|')"
}

# sem_remount: unmount, check the image, mount again (same options).
sem_remount() {
	_sem_umount && sem_fsck "remount" "$SEM_IMG"
	_sem_mount
}

# sem_compare NAME SCENARIO: run SCENARIO on each side, compare transcripts.
sem_compare() {
	local name=$1 fn=$2 base side n=0 first="" out
	SEM_CASE=$name
	base=$SM_TMP/$name.base.img
	mkimg "$base" "${SEM_SIZE:-256M}" ${SEM_MKFS:--t ext4 -b 4096}
	for side in ${SEM_SIDES:-kernel safemount}; do
		n=$((n + 1))
		SEM_SIDE=$side
		SEM_IMG=$SM_TMP/$name.$n.$side.img
		SEM_MNT=$SM_TMP/$name.$n.$side.mnt
		M=$SEM_MNT
		cp --sparse=always "$base" "$SEM_IMG"
		out=$SM_TMP/$name.$n.$side.out
		if _sem_mount; then
			"$fn" >"$out" 2>&1
			if mountpoint -q "$SEM_MNT"; then
				_sem_umount && sem_fsck "after $name" "$SEM_IMG"
			fi
		else
			echo "MOUNT FAILED" >"$out"
		fi
		if [ -z "$first" ]; then
			first=$out
		elif ! cmp -s "$first" "$out"; then
			sem_bad "[$name] transcripts differ (- ${first##*/}, + ${out##*/}):
$(diff -u "$first" "$out" | tail -n +3 | grep '^[-+]')"
		fi
		[ -n "${SEM_VERBOSE:-}" ] && { echo "== $name on $side"; cat "$out"; }
	done
	rm -f "$base"
	return 0
}

sem_finish() {
	if [ "$SEM_FAILS" -gt 0 ]; then
		echo "=== $SEM_FAILS failure(s):" >&2
		cat "$SEM_FAIL_LOG" >&2
		exit 1
	fi
	echo "PASS"
	exit 0
}

# sem_users: two unprivileged users (A, B) and a group only A is in.
sem_users() {
	SEM_UA=$(sm_test_user smtest)
	SEM_UB=$(sm_test_user smtest2)
	getent group smsemgrp >/dev/null || groupadd smsemgrp || sm_fail "groupadd failed"
	id -nG "$SEM_UA" | grep -qw smsemgrp || usermod -aG smsemgrp "$SEM_UA" || sm_fail "usermod failed"
	getent group smsemother >/dev/null || groupadd smsemother || sm_fail "groupadd failed"
}

# sem_name N [CHAR]: a name of N bytes.
sem_name() { printf "%${1}s" "" | tr ' ' "${2:-n}"; }
