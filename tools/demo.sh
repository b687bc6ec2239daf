#!/usr/bin/env bash
# The main job on a bundled default, end to end: sets up and builds, then
#  1. shows the bank of multipliers: error metrics and hardware figures;
#  2. quantizes the shipped Fashion-MNIST CNN (models/fashion_cnn.onnx);
#  3. routes it: every conv/FC layer to an array of a TPU-like chip, each array
#     one multiplier of the bank, lowest chip power with no loss of top-1/top-5
#     (search on 2,000 training images, verification on the 10,000 test images,
#     chip report against the all-exact chip; docs/router.md);
#  4. reads the assignment back: eval --assign on the test split, ppa --assign;
#  5. prices a TPU-like chip running ResNet-50 with a mixed assignment.
# Outputs land in build/demo (or $AX_DEMO_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
meson compile -C build >/dev/null
ax=build/tools/autoapprox
out=${AX_DEMO_OUT:-build/demo}
data=/usr/share/datasets/fashion-mnist
bank=drum-s8:k=4,drum-s8:k=3,mitchell-s8:w=3,mitchell-s8:w=0,optrunc-s8:ka=4,kw=4,trunc-s8:k=6
mkdir -p "$out"

echo "== 1. the bank of multipliers"
for spec in drum-s8:k=4 drum-s8:k=3 mitchell-s8:w=3 mitchell-s8:w=0 optrunc-s8:ka=4,kw=4 trunc-s8:k=6; do
  "$ax" mult info "$spec" | sed -n '1p;4,6p'
done

echo
echo "== 2. Fashion-MNIST CNN, int8 (minmax calibration on 1,000 training images)"
"$ax" quantize --model models/fashion_cnn.onnx --calib "$data" -o "$out/fashion_cnn.q.onnx"

echo
echo "== 3. route: each layer on an array of the bank, lowest chip power, no accuracy loss"
# greedy: on this model it is the method whose choice survives verification
# untouched (docs/router.md compares surrogate, greedy and NSGA-II)
"$ax" route --model "$out/fashion_cnn.q.onnx" --data "$data" --bank "$bank" --method greedy \
  -o "$out/fashion.assign.json" --json "$out/route.json"

echo
echo "== 4. the assignment read back: eval on the 10,000 test images, and the chip"
"$ax" eval --model "$out/fashion_cnn.q.onnx" --data "$data" --assign "$out/fashion.assign.json" \
  --json "$out/eval-routed.json" | grep -E '^(top-1|top-5)'
"$ax" ppa --model "$out/fashion_cnn.q.onnx" --assign "$out/fashion.assign.json" --json "$out/ppa-fashion.json" \
  | tail -6

echo
echo "== 5. ResNet-50 on a TPUv3-like chip, mixed assignment vs all exact"
"$ax" ppa --topology models/topologies/resnet50.csv --assign tests/fixtures/ppa/resnet50_mixed.json \
  --json "$out/ppa-resnet50.json" | tail -6
echo
echo "Reports with provenance: $out/ (route.json, fashion.assign.json, fashion.assign.pareto.csv/.png)"
