#!/bin/sh
# Install the Debian packages safemount needs to build and test, when run as
# root; otherwise say which ones are missing.
set -e
PKGS="gcc clang pkg-config meson ninja-build libfuse3-dev fuse3 libext2fs-dev comerr-dev
e2fsprogs libseccomp-dev attr acl util-linux python3 psmisc procps passwd strace"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	exec "$(dirname "$0")/create-sandbox-user.sh"
fi
if [ "$(id -u)" != 0 ]; then
	echo "safemount: missing Debian packages:$missing" >&2
	echo "install them with: sudo apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
exec "$(dirname "$0")/create-sandbox-user.sh"
