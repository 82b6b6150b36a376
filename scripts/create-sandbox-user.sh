#!/bin/sh
# The server of a mount made by root drops to this dedicated system user
# before it reads the image (not `nobody`, which other daemons share).
# Without it the server uses the fixed id 65533; with it, `ps` and the logs
# name it.  Idempotent; needs root.
set -e
getent passwd safemount >/dev/null && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "safemount: the system user 'safemount' is missing; create it as root with: $0" >&2
	exit 0
fi
useradd --system --user-group --no-create-home --home-dir /nonexistent \
	--shell /usr/sbin/nologin --comment "safemount sandboxed server" safemount
