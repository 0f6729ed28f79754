#!/usr/bin/env bash
# Builds everything and runs the whole test suite: a normal build and an ASan+UBSan build
# (unit, corpus, integration, fuzz-corpus replay), then each libFuzzer target for a bounded
# time. Installs missing Debian packages first. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

contrib/deps.sh || exit 1
fuzz_seconds=${PS_FUZZ_SECONDS:-30}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0 failed=0 skipped=0
count_results() {
  local log=$1/meson-logs/testlog.json
  [ -f "$log" ] || return
  passed=$((passed + $(grep -c '"result": "OK"' "$log")))
  failed=$((failed + $(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log")))
  skipped=$((skipped + $(grep -c '"result": "SKIP"' "$log")))
}

run_suite() { # build-dir "meson test options" meson setup options...
  local dir=$1 test_options=$2; shift 2
  if [ ! -d "$dir" ]; then meson setup "$dir" "$@" >/dev/null || return 1; fi
  ninja -C "$dir" >/dev/null || { echo "portsurge: build in $dir failed" >&2; ninja -C "$dir"; return 1; }
  # shellcheck disable=SC2086
  meson test -C "$dir" --print-errorlogs --num-processes 2 $test_options
}

status=0
run_suite build "" || status=1
count_results build
run_suite build-asan "" -Db_sanitize=address,undefined -Db_lundef=false || status=1
count_results build-asan
# libFuzzer: each target runs PS_FUZZ_SECONDS over its seed corpus
export PS_FUZZ_SECONDS=$fuzz_seconds
CC=clang run_suite build-libfuzzer "--suite fuzz" -Dfuzzing=enabled \
  -Db_sanitize=address,undefined -Db_lundef=false || status=1
count_results build-libfuzzer

echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || status=1
exit $status
