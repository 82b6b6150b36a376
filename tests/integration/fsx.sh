#!/bin/bash
# fsx: seeded random writes, reads, mmap, truncate, punch/zero/fallocate and
# fsync against an in-memory model of the file, with remounts in between, on
# a safemount mount; then e2fsck must find the image clean.
#   ext4:             FSX_OPS ops (default 100000, what CI runs), remount every 10000
#   ext2 (1k blocks, files to 1 MiB): FSX_SHORT_OPS ops (default 20000); block-mapped files,
#                     fallocate modes may be EOPNOTSUPP (fsx then drops them)
#   ext4 inline_data: FSX_SHORT_OPS ops, plus 21 short runs on files small
#                     enough to stay inline
#   parallel:         3 fsx processes at once on one ext4 mount, FSX_SHORT_OPS/2 each
# FSX_SEED overrides the seed; a failure prints the op log and the fsx command
# that reproduces it (on a fresh image made with the mkfs arguments shown).
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
sm_require_root
sm_setup

FSX=$SM_TOOLS/fsx
[ -x "$FSX" ] || sm_fail "fsx tool not found at $FSX"
command -v timeout >/dev/null || sm_skip "no timeout(1)"
SEED=${FSX_SEED:-20240601}
OPS=${FSX_OPS:-100000}
SHORT_OPS=${FSX_SHORT_OPS:-20000}
LIMIT=${FSX_TIMEOUT:-400}	# seconds per fsx run; a hung mount must not hang CI

FAILED=()	# every pass runs; the case fails at the end if any failed

# run_fsx NAME "MKFS ARGS" [fsx args...]: fresh 64M image, mount, fsx, unmount, fsck.
run_fsx() {
	local name=$1 mkfs=$2; shift 2
	local img=$SM_TMP/$name.img mnt=$SM_TMP/$name.mnt start rc
	# shellcheck disable=SC2086 # mkfs args are words on purpose
	mkimg "$img" 64M $mkfs
	sm_mount "$img" "$mnt"
	echo "== $name (mkfs.ext2 $mkfs, 64M): fsx -S $SEED $*"
	start=$(date +%s)
	timeout -k 10 "$LIMIT" "$FSX" -S "$SEED" \
		-R "'$SAFEMOUNT' -u '$mnt' && '$SAFEMOUNT' '$img' '$mnt'" "$@" "$mnt/fsx.$name"
	rc=$?
	echo "== $name: $(($(date +%s) - start))s"
	if [ "$rc" != 0 ]; then
		[ "$rc" = 124 ] && echo "fsx did not finish within ${LIMIT}s" >&2
		FAILED+=("$name: fsx (seed $SEED, image: mkfs.ext2 -F $mkfs, 64M)")
		"$SAFEMOUNT" -u "$mnt" >/dev/null 2>&1
		return
	fi
	sm_umount "$mnt"
	e2fsck -fn "$img" >"$SM_TMP/fsck.out" 2>&1 ||
		{ cat "$SM_TMP/fsck.out" >&2; FAILED+=("$name: e2fsck -fn not clean after fsx"); }
}

# The main run: many blocks, extents, unwritten extents, remounts.
run_fsx ext4 "-t ext4" -N "$OPS" -r 10000

# Block-mapped files with 1k blocks: several blocks per page; 1 MiB files
# reach through the indirect into the double-indirect tree (from 268 KiB).
run_fsx ext2 "-t ext2 -b 1024" -N "$SHORT_OPS" -r 5000 -l 1m

# inline_data: the big run starts inline and converts.  The small runs keep
# files inline: up to 60 bytes in i_block, up to 120 with the tail in the
# system.data xattr (256-byte inodes); the 200-byte runs, with fallocate,
# convert to extents along the way.
run_fsx inline "-t ext4 -I 256 -O inline_data" -N "$SHORT_OPS" -r 5000
img=$SM_TMP/inline-small.img mnt=$SM_TMP/inline-small.mnt
mkimg "$img" 64M -t ext4 -I 256 -O inline_data
sm_mount "$img" "$mnt"
echo "== inline-small: 21 files x 500 ops, maxlen 60, 120 (no fallocate), 200"
for i in $(seq 1 21); do
	case $((i % 3)) in
	0) len=60 extra=-F ;;
	1) len=120 extra=-F ;;
	*) len=200 extra= ;;
	esac
	# shellcheck disable=SC2086
	timeout -k 10 "$LIMIT" "$FSX" -S $((SEED + i)) -N 500 -l $len -o $len $extra -r 200 \
		-R "'$SAFEMOUNT' -u '$mnt' && '$SAFEMOUNT' '$img' '$mnt'" "$mnt/small.$i" >/dev/null ||
		{ FAILED+=("inline-small: fsx -S $((SEED + i)) -N 500 -l $len -o $len $extra -r 200"); break; }
done
sm_umount "$mnt"
e2fsck -fn "$img" >"$SM_TMP/fsck.out" 2>&1 ||
	{ cat "$SM_TMP/fsck.out" >&2; FAILED+=("inline-small: e2fsck -fn not clean"); }

# Concurrency: the server's worker threads share one filesystem lock; three
# fsx processes on one mount (no remounts: they would pull the mount from
# under the others) must each keep their own file exact.
img=$SM_TMP/parallel.img mnt=$SM_TMP/parallel.mnt
mkimg "$img" 256M -t ext4
sm_mount "$img" "$mnt"
echo "== parallel: 3 x fsx -N $((SHORT_OPS / 2)) on one mount"
pids=()
for i in 1 2 3; do
	timeout -k 10 "$LIMIT" "$FSX" -S $((SEED + 100 + i)) -N $((SHORT_OPS / 2)) "$mnt/par.$i" 		>"$SM_TMP/par.$i.log" 2>&1 &
	pids+=($!)
done
for i in 1 2 3; do
	wait "${pids[$((i - 1))]}" ||
		{ tail -n 30 "$SM_TMP/par.$i.log" >&2; FAILED+=("parallel: fsx -S $((SEED + 100 + i)) -N $((SHORT_OPS / 2)) (with 2 others)"); }
done
sm_umount "$mnt"
e2fsck -fn "$img" >"$SM_TMP/fsck.out" 2>&1 ||
	{ cat "$SM_TMP/fsck.out" >&2; FAILED+=("parallel: e2fsck -fn not clean"); }

[ ${#FAILED[@]} = 0 ] || sm_fail "$(printf '\n  %s' "${FAILED[@]}")"
echo "PASS"
