#!/usr/bin/env bash
# Sets up and runs every test: the Criterion suites on the release build, the
# same suites under ASan+UBSan (reduced sizes), and a short run of every
# fuzz target. Ends with one line "N passed, N failed".
# The release build's suites include 'neon' (tests/meson.build): the aarch64
# kernel test, cross-built and run under qemu-aarch64 by tests/neon/run.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --all || exit 1

logs=() failed=0
run() {  # folder, then meson test options
  local dir=$1; shift
  echo "== $dir: meson test $*"
  meson compile -C "$dir" >/dev/null || { echo "build failed in $dir"; meson compile -C "$dir" 2>&1 | tail -30; failed=$((failed + 1)); return; }
  meson test -C "$dir" --print-errorlogs "$@"
  cp "$dir/meson-logs/testlog.json" "$dir/meson-logs/testlog-last.json" 2>/dev/null
  logs+=("$dir/meson-logs/testlog-last.json")
}
run build
run build-san
run build-fuzz --suite fuzz
[ "$failed" -eq 0 ] || echo "a build failed"
python3 tools/count_tests.py "${logs[@]}" && [ "$failed" -eq 0 ]
