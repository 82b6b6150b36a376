#!/bin/bash
# Inode flags through FS_IOC_GETFLAGS/SETFLAGS (lsattr/chattr) and what they
# mean: immutable (+i) and append-only (+a) refuse changes even to root;
# +A, +S, +d are stored and shown.  Then atime under relatime (the
# default), noatime and strictatime.  Everything compared with the
# kernel's ext4 mounted with the same options.
#
# atime through FUSE: the kernel marks FUSE inodes S_NOATIME and leaves
# atime to the server, which only sees reads that miss the page cache.  So
# the checks read cold (after drop_caches); a cached read under strictatime
# cannot reach the server and is reported as a NOTE, not a failure.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/semantics.sh"
sem_init
sem_users
command -v chattr >/dev/null || sm_skip "chattr (e2fsprogs) not installed"
umask 022
A=$SEM_UA
SEM_SOPTS=allow_other

# lsattr's flag column only (the path differs between the sides).
attrs() { lsattr -d "$1" 2>&1 | awk '{print $1}'; }

scen_flags() {
	mkdir "$M/d" "$M/id"
	echo data >"$M/f"
	echo data >"$M/g"
	sem_tx "lsattr plain" "" attrs "$M/f"
	sem_t "getflags plain" "" getflags "$M/f"
	sem_t "getflags dir" "" getflags "$M/d"

	sem_tx "chattr +i" "rc=0" chattr +i "$M/f"
	sem_tx "lsattr +i" "----i*" attrs "$M/f"
	sem_t "immutable: read" "OK 5 data\\x0a" read "$M/f" 0 10
	sem_t "immutable: open for write" EPERM open "$M/f" O_WRONLY
	sem_t "immutable: write" EPERM write "$M/f" 0 x
	sem_t "immutable: append" EPERM write "$M/f" 0 x append
	sem_t "immutable: truncate" EPERM truncate "$M/f" 0
	sem_t "immutable: unlink" EPERM unlink "$M/f"
	sem_t "immutable: rename" EPERM rename "$M/f" "$M/f2"
	sem_t "immutable: rename over it" EPERM rename "$M/g" "$M/f"
	sem_t "immutable: chmod" EPERM chmod "$M/f" 0600
	sem_t "immutable: chown" EPERM chown "$M/f" 1 1
	sem_t "immutable: utimens" EPERM utimens "$M/f" 1 0 1 0
	sem_t "immutable: link" EPERM link "$M/f" "$M/f3"
	sem_t "immutable: setxattr" EPERM setxattr "$M/f" user.x y
	sem_t "immutable: fallocate" EPERM fallocate "$M/f" 0 0 4096
	sem_t "immutable: still intact" "OK 5 data\\x0a" read "$M/f" 0 10
	sem_tu "$A" "non-root chattr -i" EPERM setflags "$M/f" 0
	sem_tx "chattr -i" "rc=0" chattr -i "$M/f"
	sem_tx "lsattr -i" "" attrs "$M/f"
	sem_t "mutable: write" "OK 1" write "$M/f" 0 D
	sem_t "mutable: chmod" OK chmod "$M/f" 0600
	sem_t "mutable: link" OK link "$M/f" "$M/f3"
	sem_t "mutable: rename" OK rename "$M/f3" "$M/f4"
	sem_t "mutable: unlink" OK unlink "$M/f4"

	sem_tx "chattr +i dir" "rc=0" chattr +i "$M/id"
	sem_t "immutable dir: create" EPERM open "$M/id/x" "O_WRONLY|O_CREAT" 0644
	sem_t "immutable dir: mkdir" EPERM mkdir "$M/id/x" 0755
	sem_t "immutable dir: rmdir" EPERM rmdir "$M/id"
	sem_tx "chattr -i dir" "rc=0" chattr -i "$M/id"
	sem_t "dir mutable again" OK mkdir "$M/id/x" 0755

	sem_tx "chattr +a" "rc=0" chattr +a "$M/g"
	sem_tx "lsattr +a" "-----a*" attrs "$M/g"
	sem_t "append-only: open O_WRONLY" EPERM open "$M/g" O_WRONLY
	sem_t "append-only: open O_RDWR" EPERM open "$M/g" O_RDWR
	sem_t "append-only: O_TRUNC" EPERM open "$M/g" "O_WRONLY|O_APPEND|O_TRUNC"
	sem_t "append-only: append" "OK 4" write "$M/g" 0 more append
	sem_tx "append-only: >>" "rc=0" sh -c "echo shell >>'$M/g'"
	sem_t "appended" "OK 15 data\\x0amoreshell\\x0a" read "$M/g" 0 100
	sem_t "append-only: truncate" EPERM truncate "$M/g" 0
	sem_t "append-only: unlink" EPERM unlink "$M/g"
	sem_t "append-only: rename" EPERM rename "$M/g" "$M/g2"
	sem_t "append-only: chmod" EPERM chmod "$M/g" 0600
	sem_t "append-only: link" EPERM link "$M/g" "$M/g3"
	sem_t "append-only: fallocate" "" fallocate "$M/g" keep_size 0 4096
	sem_t "append-only: punch" EPERM fallocate "$M/g" keep_size,punch_hole 0 4096
	sem_tx "chattr -a" "rc=0" chattr -a "$M/g"
	sem_t "not append-only: truncate" OK truncate "$M/g" 0

	sem_tx "chattr +A +S +d" "rc=0" chattr +ASd "$M/g"
	sem_tx "lsattr +ASd" "" attrs "$M/g"
	sem_t "getflags +ASd" "" getflags "$M/g"
	sem_t "sync file still writes" "OK 3" write "$M/g" 0 abc
	sem_tx "chattr +S dir" "rc=0" chattr +S "$M/d"
	sem_tx "lsattr dir" "" attrs "$M/d"
	sem_tu "$A" "non-owner setflags" EPERM setflags "$M/g" 80000
	sem_t "getflags symlink" "" getflags "$M/sl_missing"
	mkfifo "$M/fifo"
	sem_tx "lsattr fifo" "" attrs "$M/fifo"
	sem_remount
	sem_tx "lsattr after remount" "" attrs "$M/g"
	sem_tx "lsattr dir after remount" "" attrs "$M/d"
	sem_tx "lsattr f after remount" "" attrs "$M/f"
}

# scen_atime, with ATIME_MODE = relatime / noatime / strictatime.
atime_of() { sem_field "$1" atime; }
# updated LABEL EXPECT CMD...: did CMD change $M/f's atime?
updated() {
	local label=$1 exp=$2 path=$3 before after; shift 3
	before=$(atime_of "$path")
	sleep 0.05
	"$@" >/dev/null 2>&1
	after=$(atime_of "$path")
	_sem_check "$label" "$exp" "$([ "$before" = "$after" ] && echo no || echo yes)"
}
cold_cat() { sem_drop_caches; cat "$1"; }

scen_atime() {
	local first second dir
	case $ATIME_MODE in
	relatime) first=yes second=no dir=yes ;;
	noatime) first=no second=no dir=no ;;
	strictatime) first=yes second=yes dir=yes ;;
	esac
	mkdir "$M/d"
	echo data >"$M/f"
	echo data >"$M/d/x"
	sem_t "atime older than mtime" OK utimens "$M/f" 1000 0 OMIT 0
	sem_t "dir atime older than mtime" OK utimens "$M/d" 1000 0 OMIT 0
	updated "cold read 1 updates atime" $first "$M/f" cold_cat "$M/f"
	updated "cold read 2 updates atime" $second "$M/f" cold_cat "$M/f"
	updated "readdir updates dir atime" $dir "$M/d" ls "$M/d"
	updated "stat does not" no "$M/f" stat "$M/f"
	updated "write does not" no "$M/f" "$SEM" write "$M/f" 0 x
	sem_t "atime a day old, newer than mtime" OK utimens "$M/f" $(($(date +%s) - 90000)) 0 $(($(date +%s) - 100000)) 0
	updated "cold read of day-old atime" $first "$M/f" cold_cat "$M/f"
	sem_t "atime older than mtime again" OK utimens "$M/f" 1000 0 OMIT 0
	updated "cold O_NOATIME read" no "$M/f" sh -c "sync; echo 3 >/proc/sys/vm/drop_caches; '$SEM' read '$M/f' 0 1 noatime"
	# Cached reads: the kernel's ext4 updates atime itself; through FUSE
	# such a read never reaches the server (see the header).
	cat "$M/f" >/dev/null
	local before after
	before=$(atime_of "$M/f")
	sleep 0.05
	cat "$M/f" >/dev/null
	after=$(atime_of "$M/f")
	echo "NOTE $SEM_SIDE: cached read changed atime: $([ "$before" = "$after" ] && echo no || echo yes)" >>"$SM_TMP/notes"
	before=$(atime_of "$M/f")
	sem_remount
	after=$(atime_of "$M/f")
	_sem_check "atime survives remount" yes "$([ "$before" = "$after" ] && echo yes || echo "no ($before -> $after)")"
}

sem_compare chattr_flags scen_flags
ATIME_MODE=relatime SEM_KOPTS=relatime SEM_SOPTS=allow_other sem_compare atime_relatime scen_atime
ATIME_MODE=noatime SEM_KOPTS=noatime SEM_SOPTS=allow_other,noatime sem_compare atime_noatime scen_atime
ATIME_MODE=strictatime SEM_KOPTS=strictatime SEM_SOPTS=allow_other,strictatime sem_compare atime_strictatime scen_atime
[ -f "$SM_TMP/notes" ] && cat "$SM_TMP/notes"
sem_finish
