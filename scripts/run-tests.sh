#!/bin/bash
# Run every test: the normal build (unit + integration), then the integration
# suite again on an ASan+UBSan build.  Prints one summary line last:
#   N passed, N failed, N skipped
# Set SM_NO_ASAN=1 to skip the sanitizer pass (it is never skipped in CI).
set -u
build=${1:-build}
asan=${2:-build-asan}
here=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0 skipped=0

count() {   # count TESTLOG.JSON LABEL
	local p f s
	read -r p f s < <(python3 - "$1" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
PY
)
	echo "$2: $p passed, $f failed, $s skipped"
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

meson test -C "$build" --no-rebuild --print-errorlogs
if [ -f "$build/meson-logs/testlog.json" ]; then
	count "$build/meson-logs/testlog.json" "default build"
else
	failed=$((failed + 1))
fi

# The code must build warning-free with clang too (format checks differ).
if command -v clang >/dev/null; then
	clangdir="$here/build-clang"
	if { [ -f "$clangdir/build.ninja" ] || CC=clang meson setup "$clangdir" "$here" -Dwerror=true >/dev/null; } &&
	   ninja -C "$clangdir" >"$clangdir.log" 2>&1; then
		echo "clang -Werror build: ok"
		passed=$((passed + 1))
	else
		echo "clang -Werror build: FAILED"; tail -n 30 "$clangdir.log"
		failed=$((failed + 1))
	fi
elif [ "${CI:-}" = true ]; then
	echo "clang -Werror build: FAILED (clang is not installed)"
	failed=$((failed + 1))
else
	echo "clang -Werror build: SKIP (clang is not installed)"
	skipped=$((skipped + 1))
fi

if [ "${SM_NO_ASAN:-0}" != 1 ] || [ "${CI:-}" = true ]; then
	if [ ! -f "$asan/build.ninja" ]; then
		meson setup "$asan" "$here" -Db_sanitize=address,undefined -Db_lundef=false \
			-Dwerror=true -Dbuildtype=debug >/dev/null
	fi
	if ninja -C "$asan" >/dev/null; then
		logdir="$here/$asan/sanitizer-logs"
		rm -rf "$logdir"; mkdir -p "$logdir"
		# The server runs detached with stderr on /dev/null: reports go to files.
		export ASAN_OPTIONS="log_path=$logdir/asan:detect_leaks=1:abort_on_error=0"
		export UBSAN_OPTIONS="log_path=$logdir/ubsan:print_stacktrace=1:halt_on_error=1"
		# The sandboxed server cannot open a report file when it needs one:
		# it opens $SM_SANITIZER_LOG_DIR/server.PID before entering the
		# sandbox (empty unless something was reported).
		export SM_SANITIZER_LOG_DIR="$logdir"
		meson test -C "$asan" --no-rebuild --print-errorlogs --suite integration
		count "$asan/meson-logs/testlog.json" "asan+ubsan build"
		reports=$(find "$logdir" -type f -size +0 | sort)
		if [ -n "$reports" ]; then
			echo "sanitizer reports:"
			# shellcheck disable=SC2086
			head -n 60 $reports
			failed=$((failed + 1))
		else
			passed=$((passed + 1))
			echo "sanitizer reports: none"
		fi
	else
		echo "the ASan+UBSan build failed"
		failed=$((failed + 1))
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
