#!/bin/sh
# The main job on a built-in sample: make an ext4 image with a few files,
# mount it with safemount, show it, unmount, check it.
set -e
SAFEMOUNT=${1:-build/safemount}
if [ "$(id -u)" != 0 ]; then
	echo "safemount demo: run it as root (it makes and mounts a sample image; /dev/fuse here is root-only)" >&2
	exit 1
fi
dir=$(mktemp -d /tmp/safemount-demo.XXXXXX)
trap '"$SAFEMOUNT" -u "$dir/mnt" 2>/dev/null || true; rm -rf "$dir"' EXIT
img=$dir/sample.img
mkdir -p "$dir/seed/docs" "$dir/mnt"
echo "Hello from an untrusted image." > "$dir/seed/hello.txt"
printf 'line %s\n' 1 2 3 > "$dir/seed/docs/notes.txt"
ln -s hello.txt "$dir/seed/link-to-hello"
truncate -s 32M "$img"
mkfs.ext4 -q -F -d "$dir/seed" -L sample "$img"

echo "\$ safemount $img $dir/mnt"
"$SAFEMOUNT" "$img" "$dir/mnt"
echo "\$ grep safemount /proc/mounts"
grep " $dir/mnt " /proc/mounts
pid=$(fuser "$img" 2>/dev/null | tr -d ' ')
echo "\$ grep -E 'Uid|NoNewPrivs|Seccomp:|CapEff' /proc/$pid/status   # the contained server"
grep -E '^(Uid|NoNewPrivs|Seccomp|CapEff):' "/proc/$pid/status"
echo "\$ ls -l /proc/$pid/fd   # all it holds: the image and /dev/fuse"
ls -l "/proc/$pid/fd" | awk 'NR > 1 { print $9, $10, $11 }'
echo "\$ ls -lR $dir/mnt"
ls -lR "$dir/mnt"
echo "\$ cat $dir/mnt/hello.txt"
cat "$dir/mnt/hello.txt"
echo "\$ echo 'written through safemount' > $dir/mnt/new.txt"
echo 'written through safemount' > "$dir/mnt/new.txt"
echo "\$ safemount -u $dir/mnt"
"$SAFEMOUNT" -u "$dir/mnt"
echo "\$ e2fsck -fn $img"
e2fsck -fn "$img"
echo "demo: OK"
