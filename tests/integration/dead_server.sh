#!/bin/bash
# A dead server costs its mount and nothing else (design.md §2.2): after
# `kill -9` of the server (found as the one process holding the image),
#  - an access below the mount point fails with ENOTCONN ("Transport
#    endpoint is not connected") within 1 s of the kill, it does not hang
#    (every access runs under `timeout 5`, so a hang fails the case instead
#    of blocking it): nothing else keeps the FUSE connection open;
#  - `safemount -u DIR` succeeds (exit 0) and DIR is unmounted, its own
#    (empty) contents visible again, and nothing holds the image;
#  - the image: -o ro is byte-identical (same sha256) and e2fsck -fn clean;
#    a rw mount that did no writes is e2fsck -fn clean too (see below).
# As root, and as a non-root user (who owns the image and the directory,
# mounts it, kills their own server and unmounts it).
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
sm_require_root
for t in fuser e2fsck dumpe2fs timeout setpriv sha256sum; do command -v "$t" >/dev/null || sm_skip "needs $t"; done
U=$(sm_test_user smtest)
# fusermount3 opens /dev/fuse as the user: where it is root-only, the whole
# case runs in a private mount namespace with a 0666 node (common.sh).
sm_user_has_fuse "$U" || sm_reexec_with_user_fuse "$@"
sm_setup
T=$SM_TMP
cd "$T" || sm_fail "cd $T"
# The user runs the binary under test (a copy of it where the checkout is
# out of the user's reach); root runs the same bytes.
SAFEMOUNT=$(sm_user_exec "$U" "$SAFEMOUNT") || exit 1

alive() { [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# dead_case WHO(root|user) MODE(rw|ro)
dead_case() {
	local who=$1 mode=$2 img=$T/$1-$2.img dir=$T/$1-$2.mnt run=() opts=() pid t0 ms rc sum name out
	name="[$who $mode]"
	[ "$who" = user ] && run=(sm_as_user "$U")
	[ "$mode" = ro ] && opts=(-o ro)
	mkimg "$img" 64M -t ext4
	mkdir -p "$dir"
	[ "$who" = user ] && chown "$U:" "$img" "$dir"
	sum=$(sha256sum <"$img")

	"${run[@]}" "$SAFEMOUNT" "${opts[@]}" "$img" "$dir" || sm_fail "$name safemount ${opts[*]} $img $dir failed"
	sm_on_exit "umount -l '$dir'"
	[ -n "$(sm_mounts_line "$dir")" ] || sm_fail "$name safemount returned 0 but $dir is not mounted"
	pid=$(sm_server_pid "$img") || sm_fail "$name cannot find the server (the one process holding $img)"

	# The user kills their own server: it runs with their uid, so they
	# can always get rid of it (no stuck server only root can remove).
	t0=$(date +%s%N)
	"${run[@]}" kill -9 "$pid" || sm_fail "$name kill -9 of the server $pid failed (as $who)"
	# A request the kernel had already sent when the server died fails
	# with ECONNABORTED ("Software caused connection abort": the
	# connection was aborted under it); every later one with ENOTCONN.
	# A dying sanitizer build takes long enough to exit for the first
	# stat to be such a request, so that one is allowed, once per try,
	# until ENOTCONN arrives.
	for try in 1 2 3 4 5 6 7 8 9 10; do
		rc=0
		"${run[@]}" timeout 5 stat "$dir/anything" >"$T/out" 2>"$T/err" || rc=$?
		case $rc in
		0) sm_fail "$name stat $dir/anything succeeded after the server was killed: $(cat "$T/out")" ;;
		124 | 137) sm_fail "$name stat $dir/anything hung after the server was killed (killed after 5 s)" ;;
		esac
		grep -q "Software caused connection abort" "$T/err" || break
		sleep 0.05
	done
	ms=$(sm_elapsed_ms "$t0")
	grep -q "Transport endpoint is not connected" "$T/err" ||
		sm_fail "$name after kill -9 of the server, stat failed with something else than ENOTCONN: $(cat "$T/err")"
	[ "$ms" -le 1000 ] || sm_fail "$name ENOTCONN came $ms ms after the kill (at most 1000 ms)"
	echo "$name ENOTCONN $ms ms after kill -9"
	# And listing the mount point fails the same way (a second, different request).
	rc=0
	"${run[@]}" timeout 5 ls "$dir/" >/dev/null 2>"$T/err" || rc=$?
	[ "$rc" != 124 ] && [ "$rc" != 137 ] || sm_fail "$name ls $dir hung after the server was killed"
	[ "$rc" != 0 ] || sm_fail "$name ls $dir succeeded after the server was killed"
	# Dead: gone, or a zombie waiting for its new parent to reap it.
	for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
	! alive "$pid" || sm_fail "$name the server $pid still runs 5 s after kill -9"

	rc=0
	"${run[@]}" timeout 20 "$SAFEMOUNT" -u "$dir" >"$T/out" 2>&1 || rc=$?
	[ "$rc" = 0 ] || sm_fail "$name safemount -u on the dead mount exited $rc: $(cat "$T/out")"
	[ -z "$(sm_mounts_line "$dir")" ] || sm_fail "$name safemount -u returned 0 but $dir is still mounted"
	rc=0
	out=$("${run[@]}" timeout 5 ls -A "$dir" 2>&1) || rc=$?
	[ "$rc" = 0 ] && [ -z "$out" ] || sm_fail "$name after -u, $dir is not the empty directory again (exit $rc): $out"
	! fuser -s "$img" 2>/dev/null || sm_fail "$name after -u, process(es) $(fuser "$img" 2>/dev/null) still hold $img"

	if [ "$mode" = ro ]; then
		# A read-only server opens the image O_RDONLY: however it dies,
		# the image is the one we made.
		[ "$(sha256sum <"$img")" = "$sum" ] || sm_fail "$name the image changed under a -o ro mount"
		fsck_clean "$img"
	else
		# A rw mount writes exactly one thing when it starts: the
		# superblock (state "not clean", mount time and count), flushed
		# before the mount is served.  This one did no writes after that,
		# so nothing else differs: e2fsck -fn finds no problem (the "not
		# clean" state alone is not one), and the state shows the crash.
		# (After a kill in the middle of writes the image is in whatever
		# state a crash leaves; sem_unlinked_open.sh covers what must
		# survive that.)
		fsck_clean "$img"
		dumpe2fs -h "$img" 2>/dev/null | grep -q '^Filesystem state: *not clean' ||
			sm_fail "$name after kill -9 of a rw server the superblock does not say 'not clean': $(dumpe2fs -h "$img" 2>/dev/null | grep '^Filesystem state')"
	fi
}

dead_case root rw
dead_case root ro
dead_case user rw
dead_case user ro

echo "PASS: dead_server"
