#!/usr/bin/env bash
# The main job on a bundled default: sets up and builds, then
#  1. shows a few multipliers: error metrics and hardware figures;
#  2. quantizes the shipped Fashion-MNIST CNN (models/fashion_cnn.onnx) and
#     evaluates it on the 10,000 test images with the exact multiplier and
#     with approximate ones, every multiply a lookup in the multiplier's table;
#  3. prices a TPU-like chip running ResNet-50 with a mixed assignment.
# Outputs land in build/demo (or $AX_DEMO_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
meson compile -C build >/dev/null
ax=build/tools/autoapprox
out=${AX_DEMO_OUT:-build/demo}
data=/usr/share/datasets/fashion-mnist
mkdir -p "$out"

echo "== 1. multipliers"
for spec in exact-s8 trunc-s8:k=4 drum-s8:k=4 mitchell-s8:w=3; do
  "$ax" mult info "$spec" | sed -n '1p;4,6p'
done

echo
echo "== 2. Fashion-MNIST CNN, int8, every conv/FC layer on one multiplier"
"$ax" quantize --model models/fashion_cnn.onnx --calib "$data" -o "$out/fashion_cnn.q.onnx"
for spec in exact-s8 trunc-s8:k=4 drum-s8:k=4 mitchell-s8:w=3 trunc-s8:k=6; do
  "$ax" eval --model "$out/fashion_cnn.q.onnx" --data "$data" --mult "$spec" --threads 1 \
    --json "$out/eval-${spec//[:=]/_}.json" | grep -E '^(top-1|top-5|speed)' | sed "s/^/$spec  /"
done

echo
echo "== 3. ResNet-50 on a TPUv3-like chip, mixed assignment vs all exact"
"$ax" ppa --topology models/topologies/resnet50.csv --assign tests/fixtures/ppa/resnet50_mixed.json \
  --json "$out/ppa-resnet50.json" | tail -6
echo
echo "JSON reports with provenance: $out/"
