#!/usr/bin/env bash
# The main job on a bundled default: sets up, builds, then shows the built-in
# multipliers and the error metrics and hardware figures of a few of them,
# and writes one as an .axm file. Later stages grow this into the whole flow.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
meson compile -C build >/dev/null
ax=build/tools/autoapprox
out=${AX_DEMO_OUT:-build/demo}
mkdir -p "$out"

"$ax" mult list
for spec in exact-s8 trunc-s8:k=6 bam-s8:hbl=2,vbl=8 drum-u8:k=4 mitchell-u8s8; do
  echo
  "$ax" mult info "$spec"
done
echo
"$ax" mult gen trunc-s8:k=6 -o "$out/trunc-s8-k6.axm"
"$ax" mult info "$out/trunc-s8-k6.axm" --json > "$out/trunc-s8-k6.json"
echo "metrics as JSON: $out/trunc-s8-k6.json"
