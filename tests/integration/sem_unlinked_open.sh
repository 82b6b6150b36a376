#!/bin/bash
# An open file outlives its last name: after unlink (or a rename over it)
# the descriptor still reads and writes, fstat shows nlink 0, and the blocks
# come back only at close.  Compared with the kernel's ext4.  Then safemount
# alone: the server is killed (SIGKILL) while an unlinked file is open, and
# e2fsck must find nothing worse than the orphan / unclean state, and data
# that was fsync'ed before the kill must survive.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/semantics.sh"
sem_init
umask 022

# fd_open PATH FLAGS: start a sem_errno fdshell coprocess on PATH; its
# first answer (OK or the errno of open) lands in FD_LINE.  Not to be run in
# a subshell: the coprocess must belong to this shell.
FD_LINE=""
fd_open() {
	coproc FDSH { exec "$SEM" fdshell "$1" "$2" 2>&1; }
	FD_IN=${FDSH[1]} FD_OUT=${FDSH[0]} FD_PID=$FDSH_PID
	FD_LINE="(no answer)"
	read -r -t 30 FD_LINE <&"$FD_OUT"
}
# fd_cmd CMD...: one command to the open descriptor, one line back.
fd_cmd() {
	local line="(no answer)"
	echo "$*" >&"$FD_IN" 2>/dev/null
	read -r -t 30 line <&"$FD_OUT"
	echo "$line"
}
fd_close() {
	FD_LINE=$(fd_cmd close)
	wait "$FD_PID" 2>/dev/null
}
fd_t() {
	local label=$1 exp=$2; shift 2
	_sem_check "$label" "$exp" "$(fd_cmd "$@")"
}

bfree() { "$SEM" statfs "$1" | sed -n 's/.*bfree=\([0-9]*\).*/\1/p'; }
ffree() { "$SEM" statfs "$1" | sed -n 's/.*ffree=\([0-9]*\).*/\1/p'; }

# wait_free LABEL BFREE FFREE: the free counts return to these (the FUSE
# release after close is asynchronous, so poll for a few seconds).
wait_free() {
	local label=$1 b=$2 f=$3 i nb nf
	for i in $(seq 1 50); do
		sync
		nb=$(bfree "$M") nf=$(ffree "$M")
		[ "$nb" = "$b" ] && [ "$nf" = "$f" ] && break
		sleep 0.1
	done
	if [ "$nb" = "$b" ] && [ "$nf" = "$f" ]; then
		echo "$label: yes"
	else
		echo "$label: no (free blocks $nb, want $b; free inodes $nf, want $f)"
	fi
}

scen_unlinked() {
	local b0 f0 b1 f1
	mkdir "$M/d"
	sync
	b0=$(bfree "$M") f0=$(ffree "$M")
	"$SEM" fill "$M/d/f" 0 $((1 << 20)) a >/dev/null
	sync
	b1=$(bfree "$M")
	_sem_check "1 MiB allocated" yes "$([ $((b0 - b1)) -ge 256 ] && echo yes || echo "no ($b0 -> $b1)")"
	fd_open "$M/d/f" O_RDWR
	_sem_check "open" OK "$FD_LINE"
	sem_t "unlink while open" OK unlink "$M/d/f"
	sem_t "name gone" ENOENT stat "$M/d/f"
	sem_t "listing" "[.] [..] OK" readdir "$M/d"
	fd_t "fstat" "OK mode=100644 size=1048576 nlink=0" fstat mode,size,nlink
	fd_t "read old data" "OK 4 aaaa" read 1000 4
	fd_t "write through fd" "OK 5" write 100 hello
	fd_t "read back" "OK 7 ahelloa" read 99 7
	fd_t "grow via fd" "OK 3" write $((3 << 20)) end
	fd_t "fstat after grow" "OK size=3145731 nlink=0" fstat size,nlink
	fd_t "fsync" OK fsync
	fd_t "read far" "OK 3 end" read $((3 << 20)) 10
	sync
	_sem_check "blocks held while open" yes "$([ "$(bfree "$M")" -lt "$b1" ] && echo yes || echo no)"
	sem_t "a new file gets the name" OK open "$M/d/f" "O_WRONLY|O_CREAT|O_EXCL" 0644
	sem_t "new file is empty" "OK size=0 nlink=1" stat "$M/d/f" size,nlink
	fd_t "old inode unaffected" "OK 5 hello" read 100 5
	sem_t "unlink new" OK unlink "$M/d/f"
	fd_t "ftruncate unlinked" OK ftruncate 4096
	fd_t "fstat after ftruncate" "OK size=4096 nlink=0" fstat size,nlink
	fd_close
	_sem_check "close" OK "$FD_LINE"
	wait_free "blocks and inode freed after close" "$b0" "$f0"

	# Rename another file over an open one.
	echo victim >"$M/d/v"
	echo winner >"$M/d/w"
	sync
	b1=$(bfree "$M") f1=$(ffree "$M")
	fd_open "$M/d/v" O_RDWR
	_sem_check "open victim" OK "$FD_LINE"
	sem_t "rename over open file" OK rename "$M/d/w" "$M/d/v"
	sem_t "name shows the winner" "OK 7 winner\\x0a" read "$M/d/v" 0 100
	fd_t "victim via fd" "OK 7 victim\\x0a" read 0 100
	fd_t "victim nlink 0" "OK nlink=0" fstat nlink
	fd_t "write victim" "OK 4" write 0 VICT
	fd_t "victim changed" "OK 7 VICTim\\x0a" read 0 100
	sem_t "winner unchanged" "OK 7 winner\\x0a" read "$M/d/v" 0 100
	fd_close
	_sem_check "close victim" OK "$FD_LINE"
	wait_free "victim's block and inode freed" $((b1 + 1)) $((f1 + 1))

	# Unlinked with several opens, a hard link keeps it alive.
	echo keep >"$M/d/k"
	ln "$M/d/k" "$M/d/k2"
	fd_open "$M/d/k" O_RDWR
	_sem_check "open k" OK "$FD_LINE"
	sem_t "unlink one name" OK unlink "$M/d/k"
	fd_t "nlink 1" "OK nlink=1" fstat nlink
	fd_t "write via fd" "OK 4" write 0 KEEP
	sem_t "visible via other name" "OK 5 KEEP\\x0a" read "$M/d/k2" 0 100
	fd_close
	_sem_check "close k" OK "$FD_LINE"
	sem_t "still there" "OK size=5 nlink=1" stat "$M/d/k2" nlink,size
	sem_remount
	sem_t "after remount" "OK 5 KEEP\\x0a" read "$M/d/k2" 0 100
	sem_t "listing after remount" "[.] [..] [k2] [v] OK" readdir "$M/d"
}

sem_compare unlinked_open scen_unlinked

# ---- safemount only: SIGKILL of the server with an unlinked file open ----
server_pid() {
	local p
	p=$(fuser "$1" 2>/dev/null | tr -s ' ' '\n' | grep -E '^[0-9]+$' | head -1)
	[ -n "$p" ] || p=$(pgrep -f "safemount.*$1" | head -1)
	echo "$p"
}

crash_test() {
	local img=$SM_TMP/crash.img mnt=$SM_TMP/crash.mnt pid out rest i
	SEM_CASE=crash SEM_SIDE=safemount
	mkimg "$img" 256M -t ext4 -b 4096
	mkdir -p "$mnt"
	"$SAFEMOUNT" "$img" "$mnt" || { sem_bad "[crash] safemount failed"; return; }
	sm_on_exit "'$SAFEMOUNT' -u '$mnt'; umount -l '$mnt'"
	M=$mnt
	"$SEM" fill "$mnt/keep" 0 $((1 << 20)) k >/dev/null
	# fsync'ed data must survive the crash.
	"$SEM" write "$mnt/keep" 0 synced sync >/dev/null
	"$SEM" fill "$mnt/gone" 0 $((2 << 20)) g >/dev/null
	fd_open "$mnt/gone" O_RDWR
	[ "$FD_LINE" = OK ] || { sem_bad "[crash] open failed: $FD_LINE"; return; }
	rm "$mnt/gone"
	fd_cmd write 0 unlinked >/dev/null
	[ "$(fd_cmd fsync)" = OK ] || sem_bad "[crash] fsync on the unlinked file failed"
	sync
	pid=$(server_pid "$img")
	[ -n "$pid" ] || { sem_bad "[crash] cannot find the server (fuser/pgrep on $img)"; return; }
	kill -9 "$pid"
	for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	out=$(fd_cmd read 0 4)
	echo "NOTE: read on the open fd after the kill: $out"
	kill "$FD_PID" 2>/dev/null
	wait "$FD_PID" 2>/dev/null
	"$SAFEMOUNT" -u "$mnt" >/dev/null 2>&1
	mountpoint -q "$mnt" && umount -l "$mnt"
	for i in $(seq 1 50); do [ -z "$(fuser "$img" 2>/dev/null)" ] && break; sleep 0.1; done
	if [ -n "${SEM_VERBOSE:-}" ]; then
		out=$(e2fsck -fn "$img" 2>&1)
		echo "NOTE: e2fsck -fn after SIGKILL (rc=$?):"
		echo "$out" | sed 's/^/    /'
	fi
	# e2fsck -n does not process the orphan list, so even the kernel's ext4
	# shows "Deleted inode N has zero dtime" and bitmap differences for an
	# open unlinked file after a crash (checked with fsfreeze + copy).  The
	# real criterion: the repair is only the orphan's release, exactly as
	# after a kernel crash ("Clearing orphaned inode N ..."), nothing else.
	out=$(e2fsck -fy "$img" 2>&1)
	i=$?
	echo "NOTE: e2fsck -fy after SIGKILL (rc=$i):"
	echo "$out" | sed 's/^/    /'
	rest=$(echo "$out" | grep -vE '^(Pass [0-9]|e2fsck [0-9]|Clearing orphaned inode [0-9]+ |$)' |
		grep -vE 'FILE SYSTEM WAS MODIFIED|[0-9]+/[0-9]+ files .*blocks$')
	[ -z "$rest" ] || sem_bad "[crash] repair after SIGKILL needed more than releasing the orphan: $(echo "$rest" | head -10 | tr '\n' '|')"
	echo "$out" | grep -q "Clearing orphaned inode" ||
		sem_bad "[crash] the unlinked open file was not on the orphan list"
	[ $i -le 1 ] || sem_bad "[crash] e2fsck -fy could not repair (rc=$i)"
	e2fsck -fn "$img" >/dev/null 2>&1 || sem_bad "[crash] still not clean after e2fsck -fy"
	mkdir -p "$SM_TMP/crash.k"
	if mount -o loop,ro "$img" "$SM_TMP/crash.k"; then
		out=$("$SEM" read "$SM_TMP/crash.k/keep" 0 8)
		[ "$out" = "OK 8 syncedkk" ] || sem_bad "[crash] fsync'ed data lost: keep reads '$out'"
		[ -e "$SM_TMP/crash.k/gone" ] && sem_bad "[crash] the unlinked file has a name again"
		umount "$SM_TMP/crash.k"
	else
		sem_bad "[crash] the kernel cannot mount the repaired image"
	fi
}

case " ${SEM_SIDES:-kernel safemount} " in *" safemount "*) crash_test ;; esac
sem_finish
