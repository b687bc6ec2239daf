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
  libturbojpeg0-dev                     # JPEG photographs (data/): the libjpeg-turbo Pillow links
  dataset-fashion-mnist                 # the shipped model's data set (nn tests)
  gnuplot-nox                           # the router's Pareto plot (optional at run time)
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user  # NEON kernel test (tests/neon/run.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Real photographs for the preprocessing tests (tests/test_source.c): the two
# JPEGs of Debian's python3-sklearn, taken from its .deb without installing
# it (its dependencies weigh ~300 MB). Tests skip, saying so, without them.
photos=${AX_PHOTO_DIR:-$HOME/.cache/autoapprox/photos}
if [ ! -f "$photos/china.jpg" ] || [ ! -f "$photos/flower.jpg" ]; then
  tmp=$(mktemp -d)
  fetch() { (cd "$tmp" && apt-get download -qq python3-sklearn && dpkg-deb -x python3-sklearn_*.deb x) >/dev/null 2>&1; }
  if fetch || { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 && fetch; }; then
    mkdir -p "$photos" && cp "$tmp"/x/usr/lib/python3/dist-packages/sklearn/datasets/images/*.jpg "$photos"/
    echo "setup: photographs for the tests in $photos"
  else
    echo "setup: could not fetch python3-sklearn's photographs; the photograph tests will skip"
  fi
  rm -rf "$tmp"
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
if [ "${1:-}" = "--all" ]; then
  # ONNX Runtime's CPU build, the independent int8 reference of tests/test_ort.c
  # (npm registry; --ignore-scripts skips its GPU binary download). Best
  # effort: without it that test skips and says why.
  ort_dir=${AX_ORT_DIR:-$HOME/.cache/autoapprox/ort}
  if [ ! -f "$ort_dir/node_modules/onnxruntime-node/package.json" ] && command -v npm >/dev/null; then
    mkdir -p "$ort_dir"
    echo "setup: installing onnxruntime-node into $ort_dir"
    npm install --prefix "$ort_dir" --ignore-scripts --no-audit --no-fund --loglevel=error \
      onnxruntime-node@1.30.0 >/dev/null || echo "setup: onnxruntime-node not installed: tests/test_ort.c will skip"
  fi
fi
echo "setup: done (build folders configured)"
