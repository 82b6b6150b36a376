#!/bin/bash
# Exclusive access and refusals.  While an image is mounted rw, a second rw
# mount and a ro mount are refused with one sentence (and the first mount
# keeps working); while it is mounted ro, a rw mount is refused (two ro
# mounts are reported as info).  After a plain umount(8) an immediate new
# mount succeeds (it waits for the old server) and sees everything.  An image
# whose journal needs recovery (copied while the kernel had it mounted)
# mounts ro with a warning and unchanged bytes, and is refused rw with a
# message about the journal.  encrypt and casefold are refused naming the
# feature; bigalloc and an unknown ro_compat bit are ro-only (like the
# kernel); an unknown incompat bit is refused (like the kernel).
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/differential.sh"
sm_require_root
sm_setup
T=$SM_TMP
mkdir -p "$T/m" "$T/m2" "$T/k"

mounted() { awk -v d="$1" '$2 == d {f=1} END {exit !f}' /proc/mounts; }

# refused WHAT TEXT -- ARGS...: safemount ARGS must fail with one stderr line
# containing TEXT, and must not leave a mount on $T/m2.
refused() {
	local what=$1 text=$2 rc; shift 3
	"$SAFEMOUNT" "$@" >"$T/out" 2>"$T/err"; rc=$?
	if [ "$rc" = 0 ]; then
		"$SAFEMOUNT" -u "${@: -1}" >/dev/null 2>&1
		sm_fail "$what: 'safemount $*' succeeded, expected a refusal"
	fi
	[ "$(wc -l <"$T/err")" = 1 ] || sm_fail "$what: expected one error sentence, got: $(cat "$T/err")"
	grep -qiF -- "$text" "$T/err" || sm_fail "$what: message does not mention '$text': $(cat "$T/err")"
	! mounted "$T/m2" || sm_fail "$what: refused, but $T/m2 is mounted"
}

# ---------- one writer ----------
mkimg "$T/a.img" 256M -t ext4 -T default
sm_mount "$T/a.img" "$T/m" -o rw
echo first >"$T/m/first"
refused "second rw mount" "$T/a.img" -- "$T/a.img" "$T/m2"
refused "ro mount while mounted rw" "$T/a.img" -- -o ro "$T/a.img" "$T/m2"
echo still >"$T/m/after" && [ "$(cat "$T/m/first")" = first ] || sm_fail "the first mount broke after refused second mounts"
sm_umount "$T/m"
fsck_clean "$T/a.img"

sm_mount "$T/a.img" "$T/m" -o ro
refused "rw mount while mounted ro" "$T/a.img" -- "$T/a.img" "$T/m2"
if "$SAFEMOUNT" -o ro "$T/a.img" "$T/m2" 2>"$T/err"; then
	echo "info: two simultaneous ro mounts are allowed"
	sm_umount "$T/m2"
else
	echo "info: a second ro mount is refused: $(cat "$T/err")"
fi
sm_umount "$T/m"

# ---------- plain umount, then an immediate new mount ----------
sm_mount "$T/a.img" "$T/m" -o rw
head -c 8M /dev/urandom >"$T/chunk"
for i in $(seq 1 12); do cp "$T/chunk" "$T/m/c$i" || sm_fail "writing c$i failed"; done
mkdir "$T/m/dir"; for i in $(seq 1 500); do echo "$i" >"$T/m/dir/f$i"; done
umount "$T/m" || sm_fail "plain umount $T/m failed"
"$SAFEMOUNT" "$T/a.img" "$T/m2" 2>"$T/err" ||
	sm_fail "safemount right after a plain umount failed (should wait for the old server): $(cat "$T/err")"
sm_on_exit "'$SAFEMOUNT' -u '$T/m2'"
for i in $(seq 1 12); do cmp -s "$T/chunk" "$T/m2/c$i" || sm_fail "after plain umount + remount: c$i differs"; done
[ "$(ls "$T/m2/dir" | wc -l)" = 500 ] || sm_fail "after plain umount + remount: dir has $(ls "$T/m2/dir" | wc -l) of 500 files"
sm_umount "$T/m2"
fsck_clean "$T/a.img"

# ---------- a journal that needs recovery ----------
mkimg "$T/j.img" 128M -t ext4 -T default
mount -o loop "$T/j.img" "$T/k" || sm_fail "kernel mount of j.img failed"
sm_on_exit "umount '$T/k'"
for i in $(seq 1 50); do echo "$i" >"$T/k/f$i"; done
mkdir "$T/k/d"
sync
cp --sparse=always "$T/j.img" "$T/dirty.img"     # copied while mounted: needs_recovery
umount "$T/k"
dumpe2fs -h "$T/dirty.img" 2>/dev/null | grep -q '^Filesystem features:.*needs_recovery' ||
	sm_fail "test logic: the copy made while mounted does not need recovery"
before=$(sha256sum <"$T/dirty.img")
"$SAFEMOUNT" -o ro "$T/dirty.img" "$T/m" 2>"$T/err" || sm_fail "ro mount of an image with a dirty journal failed: $(cat "$T/err")"
sm_on_exit "'$SAFEMOUNT' -u '$T/m'"
grep -qi journal "$T/err" || sm_fail "ro mount of an image with a dirty journal printed no warning about the journal (stderr: $(cat "$T/err"))"
ls "$T/m" >/dev/null || sm_fail "cannot list the ro mount of the dirty image"
sm_umount "$T/m"
[ "$(sha256sum <"$T/dirty.img")" = "$before" ] || sm_fail "ro mount of a dirty image changed the image"
refused "rw mount with a dirty journal" "journal" -- "$T/dirty.img" "$T/m2"
[ "$(sha256sum <"$T/dirty.img")" = "$before" ] || sm_fail "the refused rw mount of a dirty image changed the image"
e2fsck -fy "$T/dirty.img" >/dev/null 2>&1
sm_mount "$T/dirty.img" "$T/m" -o rw
[ "$(cat "$T/m/f50")" = 50 ] || sm_fail "after e2fsck replayed the journal, f50 is wrong"
echo new >"$T/m/new"
sm_umount "$T/m"
fsck_clean "$T/dirty.img"

# ---------- features ----------
for f in encrypt casefold; do
	mkimg "$T/f.img" 64M -t ext4 -O "$f"
	refused "$f rw" "$f" -- "$T/f.img" "$T/m2"
	refused "$f ro" "$f" -- -o ro "$T/f.img" "$T/m2"
done

mkimg "$T/f.img" 128M -t ext4 -O bigalloc
refused "bigalloc rw" "bigalloc" -- "$T/f.img" "$T/m2"
sm_mount "$T/f.img" "$T/m" -o ro
sm_umount "$T/m"

# setbits IMG OFFSET BITS: OR a little-endian u32 in the superblock.
setbits() {
	local v
	v=$(od -An -tu4 -j $((1024 + $2)) -N4 "$1" | tr -d ' ')
	v=$((v | $3))
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $((v >> 8 & 255)) $((v >> 16 & 255)) $((v >> 24 & 255)))" |
		dd of="$1" bs=1 seek=$((1024 + $2)) conv=notrunc status=none
}
# Unknown incompat bit (ext2: no superblock checksum to fix): refused.
mkimg "$T/u.img" 32M -t ext2
setbits "$T/u.img" $((0x60)) $((0x40000000))
if mount -o loop,ro "$T/u.img" "$T/k" 2>/dev/null; then umount "$T/k"; sm_fail "test logic: the kernel mounts an unknown incompat bit"; fi
refused "unknown incompat rw" "feature" -- "$T/u.img" "$T/m2"
refused "unknown incompat ro" "feature" -- -o ro "$T/u.img" "$T/m2"
# Unknown ro_compat bit: read-only only, like the kernel.
mkimg "$T/r.img" 32M -t ext2
setbits "$T/r.img" $((0x64)) $((0x40000000))
if mount -o loop "$T/r.img" "$T/k" 2>/dev/null; then umount "$T/k"; sm_fail "test logic: the kernel mounts an unknown ro_compat bit rw"; fi
refused "unknown ro_compat rw" "feature" -- "$T/r.img" "$T/m2"
before=$(sha256sum <"$T/r.img")
sm_mount "$T/r.img" "$T/m" -o ro
ls "$T/m/lost+found" >/dev/null || sm_fail "cannot list a ro mount with an unknown ro_compat bit"
sm_umount "$T/m"
[ "$(sha256sum <"$T/r.img")" = "$before" ] || sm_fail "ro mount changed the image with the unknown ro_compat bit"
echo "PASS: lock_journal"
