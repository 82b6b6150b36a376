#!/bin/bash
# Every common ext2/3/4 layout is served correctly: ext2, ext3, ext4 default,
# inline_data, no journal, 64bit, metadata_csum on and off, 1 KiB blocks.
# For each: mount rw with safemount, copy in a tree (empty and tiny files
# that fit inline, a 200-entry directory, a 10 MiB file, nested dirs,
# symlinks, xattrs, modes, ns mtimes), compare it with the source live, -u,
# e2fsck -fn, compare the kernel's read-only view of the image with the
# source, then mount ro with safemount, compare again, and require the ro
# mount to leave the image byte-identical.
# SM_DRIVER=kernel runs the rw/ro steps with the kernel (validates the test).
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/differential.sh"
export TZ=UTC
umask 022
sm_require_root
sm_setup
diff_require_tools
T=$SM_TMP

# The source tree, on the host filesystem.
S=$T/src
mkdir -p "$S/dir200" "$S/a/b/c" "$S/tiny"
: >"$S/tiny/empty"
for n in 1 10 59 60 61 100 150; do head -c "$n" /dev/urandom >"$S/tiny/t$n"; done
for i in $(seq 1 200); do echo "entry $i" >"$S/dir200/name-$i"; done
head -c 10M /dev/urandom >"$S/a/b/c/ten_mib"
head -c 70000 /dev/urandom >"$S/a/seventy_k"
ln -s ../tiny/t10 "$S/a/link_fast"
ln -s "$(printf 'seg/%.0s' $(seq 1 30))end" "$S/a/link_slow"
setfattr -n user.color -v blue "$S/tiny/t10" || sm_skip "host /tmp has no user xattrs"
setfattr -n user.big -v "$(printf 'q%.0s' $(seq 1 600))" "$S/a/seventy_k"
chmod 0600 "$S/tiny/t1"; chmod 4755 "$S/tiny/t100"; chmod 1777 "$S/a/b"
find "$S" -print0 | xargs -0 touch -h -d "2020-02-02 02:02:02.123456789"
touch -d "1999-01-01 00:00:00.5" "$S/a/seventy_k"
diff_manifest "$S" "$T/src.man.raw" -C -D
grep -v '^\. ' "$T/src.man.raw" >"$T/src.man"

# view DIR OUT: manifest of a mount without the root line and lost+found.
view() {
	diff_manifest "$1" "$2.raw" -C -D
	grep -v '^\. \|^lost+found' "$2.raw" >"$2"
}
check_variant() {
	local name=$1 img=$T/$1.img before after; shift
	echo "== $name: mkfs $*"
	rm -f "$img"; truncate -s 256M "$img"
	mkfs.ext2 -q -F "$@" "$img" >/dev/null 2>"$T/mkfs.err" || { cat "$T/mkfs.err"; sm_fail "$name: mkfs $* failed"; }

	diff_mount "$img" "$T/m" rw
	cp -a "$S/." "$T/m/" || sm_fail "$name: cp -a into the rw mount failed"
	view "$T/m" "$T/$name.live"
	diff_compare "$T/src.man" "$T/$name.live" "$name: live rw view vs source"
	diff_umount "$T/m"
	fsck_clean "$img"

	kmount "$img" "$T/k" -o ro,noload
	view "$T/k" "$T/$name.kernel"
	kumount "$T/k"
	diff_compare "$T/src.man" "$T/$name.kernel" "$name: kernel view of the written image vs source"

	before=$(sha256sum <"$img")
	diff_mount "$img" "$T/m" ro
	view "$T/m" "$T/$name.ro"
	# Read everything once more the plain way, too.
	(cd "$T/m" && find . -type f -print0 | sort -z | xargs -0 cat) | sha256sum >"$T/$name.cat"
	diff_umount "$T/m"
	after=$(sha256sum <"$img")
	diff_compare "$T/src.man" "$T/$name.ro" "$name: ro view vs source"
	(cd "$S" && find . -type f -print0 | sort -z | xargs -0 cat) | sha256sum | cmp -s - "$T/$name.cat" ||
		diff_compare "$T/src.man" /dev/null "$name: concatenated file contents differ"
	[ "$before" = "$after" ] || { DIFF_FAILS+=("$name: ro mount changed the image"); echo "DIFFERENCE: $name: ro mount changed the image" >&2; }
	if [ "$name" = ext4_inline ]; then
		echo "info: $name: tiny/t10 on disk: $(debugfs -R 'stat /tiny/t10' "$img" 2>/dev/null | grep -o 'Size of inline data: [0-9]*' || echo 'not inline')"
	fi
	rm -f "$img"
}

check_variant ext2           -t ext2 -T default
check_variant ext3           -t ext3 -T default
check_variant ext4           -t ext4 -T default
check_variant ext4_inline    -t ext4 -T default -O inline_data
check_variant ext4_nojournal -t ext4 -T default -O ^has_journal
check_variant ext4_64bit     -t ext4 -T default -O 64bit
check_variant ext4_csum      -t ext4 -T default -O metadata_csum
check_variant ext4_nocsum    -t ext4 -T default -O ^metadata_csum
check_variant ext4_1k        -t ext4 -b 1024
diff_done
echo "PASS: images"
