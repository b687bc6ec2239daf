#!/usr/bin/env bash
# run.sh - the aarch64 kernel test: cross-compiles tests/neon/kernel_check.c
# with the kernels/ sources an aarch64 build has (as kernels/meson.build lists
# them: generic, scalar/, neon/) into one static binary and runs it under qemu-aarch64. Needs only the
# cross compiler and qemu-user (no arm64 libraries); compiler and emulator
# come from cross/aarch64-linux-gnu.ini. Usage: tests/neon/run.sh [BUILD_DIR]
# (default: a temporary folder). Exit 0 all passed, 1 a failure, 77 (skip)
# when the cross tools are missing. The last line is "neon: N passed, N failed".
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cross=$src/cross/aarch64-linux-gnu.ini

# `c` and `exe_wrapper` of the cross file (meson's ini: Python literals).
mapfile -t tool < <(python3 - "$cross" <<'PY'
import ast, configparser, sys
ini = configparser.ConfigParser()
ini.read(sys.argv[1])
print(ast.literal_eval(ini["binaries"]["c"]))
for word in ast.literal_eval(ini["binaries"]["exe_wrapper"]):
    print(word)
PY
)
cc=${tool[0]}
wrapper=("${tool[@]:1}")
for prog in "$cc" "${wrapper[0]}"; do
  if ! command -v "$prog" >/dev/null; then
    echo "neon: $prog not found (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user); skipped"
    exit 77
  fi
done

if [ $# -ge 1 ]; then
  out=$1
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
out=$(cd "$out" && pwd)

# The generated config header the kernels read (the main build's ax_config.h).
cat > "$out/ax_config.h.tmp" <<'H'
/* ax_config.h for the aarch64 kernel test (written by tests/neon/run.sh) */
#define AX_VERSION "neon-check"
#define AX_HAVE_HWLOC 0
#define AX_HAVE_OPENMP 1
#define AX_HAVE_ONEDNN 0
#define AX_HAVE_NEON 1
H
cmp -s "$out/ax_config.h.tmp" "$out/ax_config.h" || mv "$out/ax_config.h.tmp" "$out/ax_config.h"
rm -f "$out/ax_config.h.tmp"

cflags=(-O2 -std=c17 -ffp-contract=off -D_GNU_SOURCE -fopenmp -Wall -Wextra -I "$src/include" -I "$src" -I "$out")
# The sources an aarch64 build compiles: those kernels/meson.build names,
# less other ISAs' folders (avx2/, avx512/, ...).
mapfile -t sources < <(python3 - "$src/kernels/meson.build" <<'PY'
import re, sys
for path in dict.fromkeys(re.findall(r"'([\w./-]+\.c)'", open(sys.argv[1]).read())):
    if "/" not in path or path.split("/")[0] in ("scalar", "neon"):
        print(path)
PY
)
generic=() dotprod=()
for f in "${sources[@]}"; do
  case $f in
    *__neondot.c) dotprod+=("$src/kernels/$f") ;;
    *) generic+=("$src/kernels/$f") ;;
  esac
done
objs=()
compile() {  # source, then extra flags
  local f=$1; shift
  local o=$out/obj/${f#"$src"/}
  o=${o%.c}.o
  mkdir -p "$(dirname "$o")"
  "$cc" "${cflags[@]}" "$@" -c "$f" -o "$o" || build_failed "${f#"$src"/}"
  objs+=("$o")
}
build_failed() {
  echo "neon: cannot build $1"
  echo "neon: 0 passed, 1 failed"
  exit 1
}
echo "neon: building with $cc in $out"
for f in "${generic[@]}"; do compile "$f"; done
for f in "${dotprod[@]}"; do compile "$f" -march=armv8.2-a+dotprod; done
compile "$src/lut/mult.c"   # ax_fail, ax_mult_is_exact: libc only
compile "$src/tests/neon/kernel_check.c"
# (static libgomp warns that it may dlopen; only a failed link shows it)
"$cc" -static -fopenmp -o "$out/kernel_check" "${objs[@]}" -lm 2> "$out/link.log" ||
  { cat "$out/link.log"; build_failed kernel_check; }

# Twice: everything on the cross file's CPU (-cpu max: dot product on), and
# the exact tables on a core without the dot-product extension (cortex-a53,
# Armv8.0), so both sides of the run-time dispatch run. The totals make the
# last line.
a53=("${wrapper[@]}")
for i in "${!a53[@]}"; do [ "${a53[$i]}" = "-cpu" ] && a53[$((i + 1))]=cortex-a53; done
pass=0 fail=0 n=0
for cpu in cross a53; do
  if [ $cpu = cross ]; then cmd=("${wrapper[@]}") args=(); else cmd=("${a53[@]}") args=(--exact-tables); fi
  n=$((n + 1))
  echo "neon: running under ${cmd[*]}"
  OMP_WAIT_POLICY=passive "${cmd[@]}" "$out/kernel_check" "${args[@]}" | tee "$out/run$n.log" || true
  last=$(tail -n 1 "$out/run$n.log")
  if [[ $last =~ ^neon:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    pass=$((pass + BASH_REMATCH[1])) fail=$((fail + BASH_REMATCH[2]))
  else
    echo "neon: the driver under ${cmd[*]} ended without its result line"
    fail=$((fail + 1))
  fi
done
echo "neon: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
