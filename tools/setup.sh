#!/usr/bin/env bash
# Installs every Debian package AutoApprox needs and configures its build
# folders: build/ (release), build-san/ (ASan+UBSan), build-fuzz/ (clang,
# libFuzzer). Idempotent and non-interactive: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential meson ninja-build pkg-config git
  clang libclang-rt-dev                 # libFuzzer targets
  libcriterion-dev                      # unit tests
  libbenchmark-dev                      # bench-approx
  zlib1g-dev nettle-dev libjson-c-dev   # checksums and gzip, sha256, JSON
  libhwloc-dev libomp-dev libdnnl-dev   # machine description, threads, exact int8 peer
  protobuf-c-compiler libprotobuf-c-dev libonnx-dev  # ONNX models: protoc-c over onnx.proto (nn/)
  dataset-fashion-mnist                 # the shipped model's data set (nn tests)
  gnuplot-nox                           # the router's Pareto plot (optional at run time)
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user  # NEON kernel test (tests/neon/run.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

configure() {  # folder, then meson options; reconfigures an existing folder
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null
  else meson setup "$dir" "$@" >/dev/null; fi
}
configure build --buildtype=release
if [ "${1:-}" = "--all" ]; then
  configure build-san --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
  CC=clang configure build-fuzz --buildtype=debug -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
fi
echo "setup: done (build folders configured)"
