#!/bin/bash
# bench/run.sh — the safemount benchmark (see bench/README.md).
#
# One command, as root:  bench/run.sh   (or `make bench`)
#
# For each target (kernel ext4 on a loop device, fuse2fs, safemount, the
# in-memory ceiling backend) it makes a fresh 4 GiB image (mkfs.ext4
# defaults), mounts it and runs the same workloads in the same order:
#   seqwrite  fio, 1 MiB writes, fsync at the end          MB/s
#   seqread   fio, 1 MiB reads, cold                       MB/s
#   randread  fio, 4 KiB random reads, cold                IOPS
#   randwrite fio, 4 KiB random buffered writes, fsync     IOPS
#   create    bench/meta: N small files in one dir + sync  files/s
#   stat      bench/meta: readdir + lstat of them, cold    entries/s
#   unlink    bench/meta: unlink them                      files/s
#   untar     tar -x of /usr/include                       files/s
#   treeread  tar -c of that tree into a pipe, cold        files/s
#   rmrf      rm -rf of it                                 files/s
# "cold" = sync, unmount, drop the kernel's caches, mount again.  For the
# FUSE targets it counts the requests the kernel sends (tracepoint
# fuse:fuse_request_send) per opcode in each phase.  At the end: one table
# with ratios and goals, the requests per item, mount time, server memory,
# the raw disk's speed, and `e2fsck -fn` of each ext4 target's image.
#
# Environment (all optional):
#   SAFEMOUNT=PATH        safemount binary (default: build/safemount)
#   SAFEMOUNT_MEM=PATH    ceiling binary (default: safemount-mem beside SAFEMOUNT)
#   SAFEMOUNT_MEM_NOIMAGE=1  the ceiling takes only a mount point, no image
#   BENCH_CEILING_OPTS="-o memlimit=4G"  options for the ceiling's mount
#   META=PATH             the meta program (default: bench/meta in SAFEMOUNT's
#                         build dir; compiled with cc into the work dir if absent)
#   FUSE2FS=PATH          (default /usr/bin/fuse2fs)
#   BENCH_TARGETS="kernel fuse2fs safemount ceiling"   which targets, in order
#   BENCH_QUICK=1         small sizes, a few minutes
#   BENCH_DIR=DIR         where the work dir goes (default /var/tmp)
#   BENCH_RESULTS=DIR     where LAST.tsv goes (default bench/results)
#   BENCH_TREE=DIR        the tree to untar (default /usr/include)
#   BENCH_TRACE=0         do not count FUSE requests
#   BENCH_CPUS=LIST       run the workload commands under taskset -c LIST
#                         (default: no pinning)
#   BENCH_NO_INSTALL=1    never apt-get install missing tools
#   size overrides: BENCH_SEQ_MB BENCH_RAND_IOS BENCH_NFILES BENCH_FILE_SIZE
#                   BENCH_TREE_MAX BENCH_MOUNT_RUNS
set -u -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SELF_DIR="$REPO/bench"
PROG=bench

say() { printf '%s\n' "$*"; }
warn() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { warn "$*"; exit 1; }

if [ "$(id -u)" != 0 ]; then
	die "must run as root: it makes loop devices, mounts ext4 and FUSE filesystems, drops the kernel's caches and reads tracepoints (try: sudo $0)"
fi

# ---------------------------------------------------------------- settings
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] || QUICK=1
if [ "$QUICK" = 1 ]; then
	SEQ_MB=${BENCH_SEQ_MB:-256}
	RAND_IOS=${BENCH_RAND_IOS:-8192}
	NFILES=${BENCH_NFILES:-3000}
	TREE_MAX=${BENCH_TREE_MAX:-3000}
	DISK_MB=256
	DISK_RAND_SECS=3
	MOUNT_RUNS=${BENCH_MOUNT_RUNS:-5}
else
	SEQ_MB=${BENCH_SEQ_MB:-1024}
	RAND_IOS=${BENCH_RAND_IOS:-65536}
	NFILES=${BENCH_NFILES:-10000}
	TREE_MAX=${BENCH_TREE_MAX:-0}          # 0 = the whole tree
	DISK_MB=1024
	DISK_RAND_SECS=10
	MOUNT_RUNS=${BENCH_MOUNT_RUNS:-5}
fi
FILE_SIZE=${BENCH_FILE_SIZE:-4096}
IMG_SIZE=4G
TREE_SRC=${BENCH_TREE:-/usr/include}
TRACE=${BENCH_TRACE:-1}
TARGETS=${BENCH_TARGETS:-kernel fuse2fs safemount ceiling}
SAFEMOUNT=${SAFEMOUNT:-$REPO/build/safemount}
case "$SAFEMOUNT" in /*) ;; *) SAFEMOUNT="$PWD/$SAFEMOUNT" ;; esac
SM_BUILD=$(dirname "$SAFEMOUNT")
SAFEMOUNT_MEM=${SAFEMOUNT_MEM:-$SM_BUILD/safemount-mem}
FUSE2FS=${FUSE2FS:-/usr/bin/fuse2fs}
META=${META:-$SM_BUILD/bench/meta}
RESULTS=${BENCH_RESULTS:-$REPO/bench/results}
BASE=${BENCH_DIR:-/var/tmp}
PIN=()
[ -n "${BENCH_CPUS:-}" ] && PIN=(taskset -c "$BENCH_CPUS")

for t in $TARGETS; do
	case "$t" in kernel|fuse2fs|safemount|ceiling) ;;
	*) die "unknown target '$t' in BENCH_TARGETS (kernel fuse2fs safemount ceiling)" ;;
	esac
done
for v in SEQ_MB RAND_IOS NFILES TREE_MAX FILE_SIZE MOUNT_RUNS; do
	case "${!v}" in ''|*[!0-9]*) die "$v must be a number, not '${!v}'" ;; esac
done
if [ "$SEQ_MB" -lt 1 ] || [ "$RAND_IOS" -lt 1 ] || [ "$NFILES" -lt 1 ] || [ "$MOUNT_RUNS" -lt 1 ]; then
	die "sizes must be at least 1"
fi

# ---------------------------------------------------------------- tools
# command -> Debian package
need_pkgs() {
	local missing="" c p
	for c in fio:fio tar:tar fuser:psmisc losetup:mount mkfs.ext4:e2fsprogs \
		e2fsck:e2fsprogs python3:python3 taskset:util-linux fuse2fs:fuse2fs; do
		p=${c#*:}; c=${c%%:*}
		[ "$c" = fuse2fs ] && [ -x "$FUSE2FS" ] && continue
		[ "$c" = fuse2fs ] && ! want_target fuse2fs && continue
		command -v "$c" >/dev/null 2>&1 || missing="$missing $p"
	done
	printf '%s' "$missing"
}
want_target() { case " $TARGETS " in *" $1 "*) return 0 ;; esac; return 1; }

missing=$(need_pkgs)
if [ -n "$missing" ]; then
	if [ "${BENCH_NO_INSTALL:-0}" = 1 ]; then
		warn "missing Debian packages:$missing (BENCH_NO_INSTALL=1: not installing)"
	else
		say "installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		# shellcheck disable=SC2086
		if ! apt-get update -qq || ! apt-get install -y -qq $missing >/dev/null; then
			warn "apt-get install$missing failed"
		fi
	fi
	missing=$(need_pkgs)
fi
for c in fio tar fuser losetup mkfs.ext4 e2fsck python3; do
	command -v "$c" >/dev/null 2>&1 || die "$c is needed and missing (apt-get install$missing)"
done
[ -n "${BENCH_CPUS:-}" ] && { command -v taskset >/dev/null || die "BENCH_CPUS needs taskset"; }

# ---------------------------------------------------------------- state, cleanup
WORK=""
TRACE_INST=""
declare -A LOOP=() MNT=() IMG=() SRVPID=()
MOUNTED=""             # targets currently mounted

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$TRACE_INST" ] && [ -d "$TRACE_INST" ]; then
		echo 0 > "$TRACE_INST/events/fuse/fuse_request_send/enable" 2>/dev/null
		rmdir "$TRACE_INST" 2>/dev/null
	fi
	local t
	for t in $MOUNTED; do
		force_umount "$t"
	done
	for t in "${!LOOP[@]}"; do
		[ -n "${LOOP[$t]}" ] && losetup -d "${LOOP[$t]}" 2>/dev/null
	done
	[ -n "$WORK" ] && [ -d "$WORK" ] && rm -rf --one-file-system "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'warn interrupted; exit 130' INT
trap 'warn terminated; exit 143' TERM

# Unmount whatever state the target is in, then make sure its server (a
# process we started or that holds our image) is gone: by pid, never by name.
force_umount() {
	local t=$1 m=${MNT[$1]} p pids
	pids="${SRVPID[$t]:-} $(server_pids "$t")"
	if is_mounted "$m"; then
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	fi
	for p in $pids; do
		wait_pid_gone "$p" 20 || kill -KILL "$p" 2>/dev/null
	done
	MOUNTED=${MOUNTED// $t/}
}

mkdir -p "$BASE" || die "cannot create $BASE"
WORK=$(mktemp -d "$BASE/safemount-bench.XXXXXX") || die "cannot create a work dir in $BASE"
chmod 755 "$WORK"

# ---------------------------------------------------------------- helpers
now_ns() { date +%s%N; }
is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
# The FUSE connection id the tracepoint reports: the mount's kernel dev_t
# (major << 20 | minor) of /proc/self/mountinfo's "major:minor".
mount_conn() {
	awk -v m="$1" '$5 == m { split($3, d, ":"); print d[1] * 1048576 + d[2]; exit }' /proc/self/mountinfo
}
wait_pid_gone() { # pid seconds
	local i=0 n=$(( $2 * 20 ))
	while kill -0 "$1" 2>/dev/null; do
		# a zombie child of ours: reap it
		if [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; then
			wait "$1" 2>/dev/null; return 0
		fi
		i=$((i + 1)); [ "$i" -ge "$n" ] && return 1
		sleep 0.05
	done
	return 0
}
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
fio_json() { # file python-expression-on-j (jobs[0])
	python3 - "$1" "$2" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    txt = f.read()
txt = txt[txt.index('{'):]          # fio may print notes before the JSON
j = json.loads(txt)['jobs'][0]
print(eval(sys.argv[2]))
EOF
}

TSV="$WORK/results.tsv"
# kind target name value unit note
rec() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" "${6:-}" >> "$TSV"; }

# Server process(es) of a FUSE target: the holders of its image (the
# safemount helper exits once the mount is live, so only the server is left).
server_pids() {
	local t=$1
	case "$t" in
	kernel) return 0 ;;
	fuse2fs) [ -n "${SRVPID[$t]:-}" ] && echo "${SRVPID[$t]}" ;;
	*) [ -e "${IMG[$t]}" ] && fuser "${IMG[$t]}" 2>/dev/null | tr -s ' ' '\n' | grep -E '^[0-9]+$' ;;
	esac
	# a ceiling without an image: its own process, found by executable
	if [ "$t" = ceiling ] && [ "${CEIL_NOIMAGE:-0}" = 1 ]; then
		local exe p
		exe=$(readlink -f "$SAFEMOUNT_MEM")
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/exe" 2>/dev/null)" = "$exe" ] && echo "${p#/proc/}"
		done
	fi
	return 0
}

# VmHWM and VmRSS (kB) of a target's server now; the peak HWM is kept.
declare -A MEM_HWM=() MEM_RSS=() MEM_PEAK=() MEM_SERVERS=()
sample_mem() {
	local t=$1 p hwm rss
	[ "$t" = kernel ] && return 0
	p=$(server_pids "$t" | head -n 1)
	[ -n "$p" ] || return 0
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	[ -n "$hwm" ] || return 0
	MEM_HWM[$t]=$hwm; MEM_RSS[$t]=$rss
	MEM_SERVERS[$t]=$(( ${MEM_SERVERS[$t]:-0} + 1 ))
	[ "$hwm" -gt "${MEM_PEAK[$t]:-0}" ] && MEM_PEAK[$t]=$hwm
	return 0
}

# ---------------------------------------------------------------- targets
CEIL_NOIMAGE=${SAFEMOUNT_MEM_NOIMAGE:-0}
# The ceiling keeps every byte in the server, whose capacity is half its
# address-space cap (memlimit, default 1G): 4G leaves room for the 1 GiB file.
CEIL_OPTS=${BENCH_CEILING_OPTS--o memlimit=4G}
CEIL_PERSIST=1

mount_target() {
	local t=$1 m=${MNT[$1]} i log="$WORK/$1.log"
	case "$t" in
	kernel)
		mount -t ext4 "${LOOP[$t]}" "$m" || return 1 ;;
	fuse2fs)
		"$FUSE2FS" "${IMG[$t]}" "$m" -f >> "$log" 2>&1 &
		SRVPID[$t]=$!
		for ((i = 0; i < 3000; i++)); do
			is_mounted "$m" && break
			kill -0 "${SRVPID[$t]}" 2>/dev/null || { warn "fuse2fs exited: $(tail -n 3 "$log")"; return 1; }
			sleep 0.002
		done
		is_mounted "$m" || { warn "fuse2fs did not mount in 6 s"; return 1; } ;;
	safemount)
		"$SAFEMOUNT" "${IMG[$t]}" "$m" >> "$log" 2>&1 || { warn "safemount: $(tail -n 3 "$log")"; return 1; } ;;
	ceiling)
		# shellcheck disable=SC2086
		if [ "$CEIL_NOIMAGE" = 1 ]; then
			"$SAFEMOUNT_MEM" $CEIL_OPTS "$m" >> "$log" 2>&1
		else
			"$SAFEMOUNT_MEM" $CEIL_OPTS "${IMG[$t]}" "$m" >> "$log" 2>&1
		fi || { warn "safemount-mem: $(tail -n 3 "$log")"; return 1; }
		is_mounted "$m" || { warn "safemount-mem returned but $m is not mounted"; return 1; } ;;
	esac
	MOUNTED="$MOUNTED $t"
}

umount_target() {
	local t=$1 m=${MNT[$1]} pids p log="$WORK/$1.log"
	sample_mem "$t"
	pids=$(server_pids "$t")
	case "$t" in
	safemount)
		"$SAFEMOUNT" -u "$m" >> "$log" 2>&1 || { warn "safemount -u: $(tail -n 3 "$log")"; return 1; } ;;
	*)
		umount "$m" || return 1 ;;
	esac
	# The image is written back when the server is gone.
	for p in $pids; do
		wait_pid_gone "$p" 600 || { warn "$t server $p still running 600 s after unmount"; return 1; }
	done
	MOUNTED=${MOUNTED// $t/}
	return 0
}

# sync, unmount, drop the kernel's caches, mount again.
cold() {
	local t=$1
	sync -f "${MNT[$t]}" 2>/dev/null
	if [ "$t" = ceiling ] && [ "$CEIL_PERSIST" = 0 ]; then
		drop_caches          # its data lives only in the server: no remount
		return 0
	fi
	umount_target "$t" || return 1
	drop_caches
	mount_target "$t"
}

prepare_target() {
	local t=$1
	IMG[$t]="$WORK/$t.img"
	MNT[$t]="$WORK/mnt-$t"
	mkdir -p "${MNT[$t]}"
	rm -f "${IMG[$t]}"
	truncate -s "$IMG_SIZE" "${IMG[$t]}" || return 1
	mkfs.ext4 -q -F "${IMG[$t]}" >> "$WORK/$t.log" 2>&1 || { warn "mkfs.ext4 failed"; return 1; }
	if [ "$t" = kernel ]; then
		LOOP[$t]=$(losetup -f --show "${IMG[$t]}") || return 1
	fi
	mount_target "$t" || return 1
	if [ "$t" = ceiling ]; then
		# Does the ceiling keep its data across a remount?  If not, cold
		# phases only drop the kernel's caches.
		echo x > "${MNT[$t]}/.bench-persist" && umount_target "$t" && mount_target "$t" || return 1
		if [ -e "${MNT[$t]}/.bench-persist" ]; then
			CEIL_PERSIST=1
			rm -f "${MNT[$t]}/.bench-persist"
		else
			CEIL_PERSIST=0
			rec note ceiling cold "its data does not survive a remount: cold phases drop the kernel's caches without remounting"
		fi
	fi
	return 0
}

finish_target() {
	local t=$1 rc
	if [ "$t" != kernel ]; then
		sample_mem "$t"
		rec mem "$t" end_hwm_kb "${MEM_HWM[$t]:-}" kB
		rec mem "$t" end_rss_kb "${MEM_RSS[$t]:-}" kB
	fi
	umount_target "$t" || return 1
	[ "$t" = kernel ] || rec mem "$t" peak_hwm_kb "${MEM_PEAK[$t]:-}" kB "over ${MEM_SERVERS[$t]:-0} server samples"
	mount_time "$t"
	if [ -n "${LOOP[$t]:-}" ]; then
		losetup -d "${LOOP[$t]}"; LOOP[$t]=""
	fi
	if [ "$t" != ceiling ]; then
		e2fsck -fn "${IMG[$t]}" > "$WORK/$t.fsck" 2>&1; rc=$?
		if [ "$rc" = 0 ]; then
			rec fsck "$t" e2fsck clean
		else
			mkdir -p "$RESULTS"
			cp "$WORK/$t.fsck" "$RESULTS/fsck-$t.log"
			rec fsck "$t" e2fsck "NOT clean" "" "exit $rc, output in $RESULTS/fsck-$t.log"
		fi
	fi
	rm -f "${IMG[$t]}"
}

# Median of MOUNT_RUNS mounts of the finished image, each after dropping
# the caches (what a first mount costs); the mount command's wall time
# (fuse2fs: until the mount appears).
mount_time() {
	local t=$1 i t0 t1 ms=()
	[ "$t" = ceiling ] && [ "$CEIL_PERSIST" = 0 ] && return 0
	for ((i = 0; i < MOUNT_RUNS; i++)); do
		drop_caches
		[ "$t" = kernel ] && [ -z "${LOOP[$t]:-}" ] && return 0
		t0=$(now_ns)
		mount_target "$t" || return 0
		t1=$(now_ns)
		ms+=("$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f", d / 1e6 }')")
		umount_target "$t" || return 0
	done
	rec mount "$t" median_ms "$(printf '%s\n' "${ms[@]}" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')" ms "runs: ${ms[*]}"
}

# ---------------------------------------------------------------- request counting
TRACE_OK=0
setup_trace() {
	[ "$TRACE" = 1 ] || return 0
	local T=/sys/kernel/tracing
	if [ ! -d "$T/events" ]; then
		mount -t tracefs nodev "$T" 2>/dev/null
	fi
	if [ ! -d "$T/events/fuse/fuse_request_send" ]; then
		rec note all trace "no tracepoint fuse:fuse_request_send in this kernel: no request counts"
		return 0
	fi
	TRACE_INST="$T/instances/safemount-bench.$$"
	mkdir "$TRACE_INST" 2>/dev/null || { rec note all trace "cannot create a trace instance"; TRACE_INST=""; return 0; }
	# Our own ring buffer (64 MiB per CPU): other users of tracing are left
	# alone and a phase fits; overruns are checked and reported.
	echo 65536 > "$TRACE_INST/buffer_size_kb" || { rec note all trace "cannot size the trace buffer"; return 0; }
	echo 1 > "$TRACE_INST/tracing_on"
	TRACE_OK=1
}

trace_begin() {
	local t=$1 conn ev
	[ "$TRACE_OK" = 1 ] && [ "$t" != kernel ] || return 0
	ev="$TRACE_INST/events/fuse/fuse_request_send"
	# only FUSE mounts send FUSE requests
	awk -v m="${MNT[$t]}" '$5 == m { for (i = 7; $i != "-"; i++); if ($(i + 1) ~ /^fuse/) f = 1 } END { exit !f }' \
		/proc/self/mountinfo || return 0
	conn=$(mount_conn "${MNT[$t]}")
	[ -n "$conn" ] || return 0
	TRACING=1
	echo "connection == $conn" > "$ev/filter"
	echo > "$TRACE_INST/trace"
	echo 1 > "$ev/enable"
}

# Count this phase's requests per opcode: rows "req TARGET PHASE OPCODE N".
trace_end() {
	local t=$1 phase=$2 items=$3 ev over
	[ "${TRACING:-0}" = 1 ] || return 0
	TRACING=0
	ev="$TRACE_INST/events/fuse/fuse_request_send"
	echo 0 > "$ev/enable"
	over=$(cat "$TRACE_INST"/per_cpu/cpu*/stats 2>/dev/null | awk '/^overrun:/ { s += $2 } END { print s + 0 }')
	awk -v t="$t" -v p="$phase" '
		/fuse_request_send:/ {
			if (match($0, /\((FUSE_[A-Z0-9_]+|CUSE_INIT)\)/)) {
				n[substr($0, RSTART + 6, RLENGTH - 7)]++; tot++
			}
		}
		END {
			for (o in n) printf "req\t%s\t%s\t%s\t%d\t\n", t, p, o, n[o]
			printf "req\t%s\t%s\tTOTAL\t%d\t\n", t, p, tot
		}' "$TRACE_INST/trace" >> "$TSV"
	rec reqitems "$t" "$phase" "$items"
	[ "$over" = 0 ] || rec note "$t" "$phase" "trace buffer overran: $over events lost, the counts are too low"
	echo > "$TRACE_INST/trace"
	echo 0 > "$ev/filter"
}

# ---------------------------------------------------------------- workloads
FIO=(fio --ioengine=psync --output-format=json)
run() { "${PIN[@]}" "$@"; }

# phase TARGET NAME: runs one workload, records "result" (and requests)
phase() {
	local t=$1 p=$2 m=${MNT[$1]} out="$WORK/$1-$2.out" err="$WORK/$1-$2.err" v items secs t0 t1 unit
	local f="$m/seq.dat"
	case "$p" in seqread|randread|stat|treeread) cold "$t" || return 1 ;; esac
	trace_begin "$t"
	case "$p" in
	seqwrite)
		# The fsync is issued after the SEQ_MB-th write, so fio times it
		# (end_fsync would not be in fio's runtime); one more MiB follows.
		run "${FIO[@]}" --name=seqwrite --filename="$f" --rw=write --bs=1M \
			--size=$((SEQ_MB + 1))M --fsync="$SEQ_MB" > "$out" 2> "$err" || return 1
		v=$(fio_json "$out" "'%.1f' % (j['write']['bw_bytes'] / 1e6)")
		items=$(fio_json "$out" "j['write']['io_bytes'] // 1048576")
		secs=$(fio_json "$out" "j['write']['runtime'] / 1000")
		[ "$(fio_json "$out" "j['sync']['total_ios']")" = 1 ] || rec note "$t" "$p" "fio issued no fsync"
		unit=MB/s ;;
	seqread)
		run "${FIO[@]}" --name=seqread --filename="$f" --rw=read --bs=1M --size="${SEQ_MB}M" > "$out" 2> "$err" || return 1
		v=$(fio_json "$out" "'%.1f' % (j['read']['bw_bytes'] / 1e6)")
		items=$(fio_json "$out" "j['read']['io_bytes'] // 1048576")
		secs=$(fio_json "$out" "j['read']['runtime'] / 1000")
		unit=MB/s ;;
	randread)
		run "${FIO[@]}" --name=randread --filename="$f" --rw=randread --bs=4k --size="${SEQ_MB}M" \
			--io_size=$((RAND_IOS * 4))k > "$out" 2> "$err" || return 1
		v=$(fio_json "$out" "'%.0f' % j['read']['iops']")
		items=$(fio_json "$out" "j['read']['total_ios']")
		secs=$(fio_json "$out" "j['read']['runtime'] / 1000")
		unit=IOPS ;;
	randwrite)
		run "${FIO[@]}" --name=randwrite --filename="$f" --rw=randwrite --bs=4k --size="${SEQ_MB}M" \
			--io_size=$(((RAND_IOS + 1) * 4))k --fsync="$RAND_IOS" > "$out" 2> "$err" || return 1
		v=$(fio_json "$out" "'%.0f' % j['write']['iops']")
		items=$(fio_json "$out" "j['write']['total_ios']")
		secs=$(fio_json "$out" "j['write']['runtime'] / 1000")
		[ "$(fio_json "$out" "j['sync']['total_ios']")" = 1 ] || rec note "$t" "$p" "fio issued no fsync"
		unit=IOPS ;;
	create|stat|unlink)
		if [ "$p" = create ]; then
			mkdir "$m/small" 2> "$err" || return 1
			run "$META" create "$m/small" "$NFILES" "$FILE_SIZE" > "$out" 2> "$err" || return 1
		else
			run "$META" "$p" "$m/small" > "$out" 2> "$err" || return 1
		fi
		v=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' "$out")
		items=$(sed -n 's/.* items=\([0-9]*\).*/\1/p' "$out")
		secs=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' "$out")
		[ "$p" = unlink ] && { rmdir "$m/small" 2> "$err" || return 1; }
		unit=files/s ;;
	untar|treeread|rmrf)
		t0=$(now_ns)
		case "$p" in
		untar) run tar -xf "$WORK/tree.tar" -C "$m" > "$err" 2>&1 || return 1 ;;
		treeread) run tar -cf - -C "$m" include 2> "$err" | cat > /dev/null || return 1 ;;
		rmrf) run rm -rf "$m/include" > "$err" 2>&1 || return 1 ;;
		esac
		t1=$(now_ns)
		items=$TREE_ENTRIES
		secs=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.6f", d / 1e9 }')
		v=$(awk -v n="$items" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
		unit=files/s ;;
	esac
	trace_end "$t" "$p" "$items"
	[ -n "$v" ] || { warn "no result for $p"; return 1; }
	rec result "$t" "$p" "$v" "$unit" "items=$items seconds=$secs"
	printf '  %-10s %12s %-8s (%s items in %s s)\n' "$p" "$v" "$unit" "$items" "$secs"
}

ALL_PHASES="seqwrite seqread randread randwrite create stat unlink untar treeread rmrf"
# A subset runs in the usual order; each phase needs the one that makes its
# files (the data phases seqwrite's file, stat and unlink create's, treeread
# and rmrf untar's tree).
PHASES=${BENCH_PHASES:-$ALL_PHASES}
for p in $PHASES; do
	case " $ALL_PHASES " in *" $p "*) ;; *) die "unknown phase '$p' in BENCH_PHASES ($ALL_PHASES)" ;; esac
	case "$p" in
	seqread|randread|randwrite) need=seqwrite ;;
	stat|unlink) need=create ;;
	treeread|rmrf) need=untar ;;
	*) need= ;;
	esac
	[ -z "$need" ] || case " $PHASES " in *" $need "*) ;; *) die "phase $p needs $need in BENCH_PHASES" ;; esac
done
PHASES=$(for p in $ALL_PHASES; do case " $PHASES " in *" $p "*) printf '%s ' "$p" ;; esac; done)

run_target() {
	local t=$1 p
	say ""
	say "== $t"
	case "$t" in
	fuse2fs)
		[ -x "$FUSE2FS" ] || { rec note fuse2fs missing "$FUSE2FS is not installed"; say "  skipped: $FUSE2FS is not installed"; return 0; } ;;
	ceiling)
		if [ ! -x "$SAFEMOUNT_MEM" ]; then
			rec note ceiling missing "$SAFEMOUNT_MEM does not exist (the in-memory backend is not built): no ceiling line"
			say "  skipped: $SAFEMOUNT_MEM does not exist (the in-memory backend is not built), so the ceiling line is missing"
			return 0
		fi ;;
	esac
	if ! prepare_target "$t"; then
		rec note "$t" failed "could not make or mount the image"
		say "  FAILED: could not make or mount the image (log: $WORK/$t.log)"
		force_umount "$t"
		return 0
	fi
	for p in $PHASES; do
		if ! phase "$t" "$p"; then
			if [ "${TRACING:-0}" = 1 ]; then
				echo 0 > "$TRACE_INST/events/fuse/fuse_request_send/enable"
				TRACING=0
			fi
			rec result "$t" "$p" FAIL
			rec note "$t" "$p" "workload failed: $(tail -n 2 "$WORK/$t-$p.err" 2>/dev/null | tr '\t\n' '  ')"
			say "  $p FAILED; skipping the rest of $t"
			sed 's/^/    | /' "$WORK/$t-$p.err" 2>/dev/null | tail -n 5
			[ -s "$WORK/$t.log" ] && sed 's/^/    | /' "$WORK/$t.log" | tail -n 5
			force_umount "$t"
			return 0
		fi
	done
	finish_target "$t" || { rec note "$t" finish "unmount failed"; force_umount "$t"; }
}

# ---------------------------------------------------------------- main
mkdir -p "$RESULTS" || die "cannot create $RESULTS"
: > "$TSV"
[ -x "$SAFEMOUNT" ] || ! want_target safemount || die "$SAFEMOUNT not found: build it first (make, or set SAFEMOUNT=)"
if [ ! -x "$META" ]; then
	cc -O2 -std=c17 -D_GNU_SOURCE -o "$WORK/meta" "$SELF_DIR/meta.c" ||
		die "$META not found and cannot compile bench/meta.c"
	META="$WORK/meta"
fi

rec meta run quick "$QUICK"
rec meta run date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
rec meta run kernel "$(uname -r)"
rec meta run cpus "$(nproc)"
rec meta run commit "$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
rec meta run safemount "$SAFEMOUNT"
rec meta run sizes "seq ${SEQ_MB} MiB, random ${RAND_IOS} x 4 KiB, ${NFILES} files of ${FILE_SIZE} B, tree $TREE_SRC"
rec meta run targets "$TARGETS"
[ -n "${BENCH_CPUS:-}" ] && rec meta run pinned "taskset -c $BENCH_CPUS"

say "safemount benchmark — $([ "$QUICK" = 1 ] && echo QUICK || echo FULL) — $(date -u +%F' '%T) UTC, kernel $(uname -r), $(nproc) CPUs"
say "work dir $WORK; targets: $TARGETS"

# The tree: an uncompressed tar of BENCH_TREE (or its first TREE_MAX
# entries), read from the work dir's filesystem.
[ -d "$TREE_SRC" ] || die "$TREE_SRC (BENCH_TREE) is not a directory"
(
	cd "$(dirname "$TREE_SRC")" || exit 1
	b=$(basename "$TREE_SRC")
	if [ "$TREE_MAX" -gt 0 ]; then
		find "$b" | head -n "$TREE_MAX" > "$WORK/tree.list"
	else
		find "$b" > "$WORK/tree.list"
	fi
	# the top directory is always called "include" in the mount
	tar -cf "$WORK/tree.tar" --no-recursion --transform="s,^$b,include," -T "$WORK/tree.list"
) || die "cannot archive $TREE_SRC"
TREE_ENTRIES=$(tar -tf "$WORK/tree.tar" | wc -l)
rec meta run tree_entries "$TREE_ENTRIES"
say "sizes: seq $SEQ_MB MiB (1 MiB requests), random $RAND_IOS x 4 KiB, $NFILES files of $FILE_SIZE B, tree $TREE_SRC: $TREE_ENTRIES entries"

# The disk under the images, with O_DIRECT: context for every number.
say ""
say "== disk (fio --direct=1 beside the images)"
if "${FIO[@]}" --name=disk-seq --filename="$WORK/disk.dat" --direct=1 --rw=read --bs=1M \
	--size="${DISK_MB}M" > "$WORK/disk-seq.out" 2>&1 &&
   "${FIO[@]}" --name=disk-rand --filename="$WORK/disk.dat" --direct=1 --rw=randread --bs=4k \
	--iodepth=1 --size="${DISK_MB}M" --time_based --runtime="$DISK_RAND_SECS" > "$WORK/disk-rand.out" 2>&1; then
	rec disk disk seqread "$(fio_json "$WORK/disk-seq.out" "'%.1f' % (j['read']['bw_bytes'] / 1e6)")" MB/s
	rec disk disk randread "$(fio_json "$WORK/disk-rand.out" "'%.0f' % j['read']['iops']")" IOPS
	say "  done"
else
	rec note disk fio "fio with --direct=1 failed: $(tail -n 1 "$WORK/disk-seq.out" "$WORK/disk-rand.out" | tr '\n' ' ')"
fi
rm -f "$WORK/disk.dat"

setup_trace

for t in $TARGETS; do
	run_target "$t"
done

stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$TSV" "$RESULTS/$stamp.tsv"
cp "$TSV" "$RESULTS/LAST.tsv"
say ""
python3 "$SELF_DIR/report.py" "$TSV"
say ""
say "raw numbers: $RESULTS/LAST.tsv (and $RESULTS/$stamp.tsv)"
