#!/bin/bash
# FUSE_HANDLE_KILLPRIV_V2 is negotiated (fuse_transport.c), so the kernel
# stops asking for security.capability before every WRITE: counted with the
# kernel's fuse_request_send tracepoint (in a private tracing instance,
# filtered to this mount's connection), 100 writes by root to one file cost
# at most a few GETXATTRs, not one each.  And SUID/SGID, now dropped by the
# server from the WRITE's mark, still go when a non-root user writes.
# Request counts, not timings.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
sm_require_root
sm_setup
T=$SM_TMP

# The kernel offers KILLPRIV_V2 since 5.11 (FUSE 7.33).
IFS=. read -r kmaj kmin _ <<<"$(uname -r)"
[ "$kmaj" -gt 5 ] || { [ "$kmaj" = 5 ] && [ "${kmin%%[!0-9]*}" -ge 11 ]; } ||
	sm_skip "kernel $(uname -r) predates FUSE_HANDLE_KILLPRIV_V2 (5.11)"
TR=""
for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
	[ -d "$d/instances" ] && { TR=$d; break; }
done
[ -n "$TR" ] || sm_skip "tracefs is not mounted (no /sys/kernel/tracing/instances)"
[ -d "$TR/events/fuse/fuse_request_send" ] ||
	sm_skip "this kernel has no fuse:fuse_request_send tracepoint"
INST=$TR/instances/safemount-kp2-$$
mkdir "$INST" 2>/dev/null || sm_skip "cannot create a tracing instance in $TR/instances"
sm_on_exit "echo 0 > '$INST/events/fuse/fuse_request_send/enable'; rmdir '$INST'"

mkimg "$T/a.img" 64M -t ext4
sm_mount "$T/a.img" "$T/m" -o allow_other   # the test user writes too
dev=$(mountpoint -d "$T/m") || sm_fail "no device number for $T/m"
# The tracepoint's connection is the superblock's dev_t; FUSE's major is 0.
echo "connection == ${dev#*:}" >"$INST/events/fuse/fuse_request_send/filter" ||
	sm_fail "cannot set the tracepoint filter"

dd if=/dev/zero of="$T/m/f" bs=4k count=1 status=none || sm_fail "creating f failed"
echo >"$INST/trace"
echo 1 >"$INST/events/fuse/fuse_request_send/enable"
dd if=/dev/zero of="$T/m/f" bs=4k count=100 conv=notrunc status=none || sm_fail "writing f failed"
echo 0 >"$INST/events/fuse/fuse_request_send/enable"
n_write=$(grep -c '(FUSE_WRITE)' "$INST/trace")
n_getxattr=$(grep -c '(FUSE_GETXATTR)' "$INST/trace")
# Without the tracing working, "0 GETXATTR" would prove nothing.
[ "$n_write" -ge 100 ] || sm_fail "the tracepoint saw $n_write WRITEs of 100: cannot count"
[ "$n_getxattr" -le 5 ] ||
	sm_fail "$n_getxattr GETXATTRs for $n_write WRITEs: KILLPRIV_V2 is not negotiated"

# A non-root writer still drops SUID and SGID (sem_perms compares the
# corners with ext4; this is the one the WRITE's mark carries).
user=$(sm_test_user smtest) || sm_fail "no test user"
install -m 06777 /dev/null "$T/m/s"
setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups -- \
	dd if=/dev/zero of="$T/m/s" bs=1 count=1 conv=notrunc status=none ||
	sm_fail "$user could not write s"
mode=$(stat -c %a "$T/m/s")
[ "$mode" = 777 ] || sm_fail "after a write by $user, s has mode $mode, not 777"

sm_umount "$T/m"
fsck_clean "$T/a.img"
echo "PASS (100 writes by root: $n_write WRITE, $n_getxattr GETXATTR)"
