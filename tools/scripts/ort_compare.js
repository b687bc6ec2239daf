#!/usr/bin/env node
// ort_compare.js - runs a model with ONNX Runtime's CPU build (npm package
// onnxruntime-node, installed with `npm install --ignore-scripts
// onnxruntime-node` in any folder given as ORT_DIR) on the first N images of an
// IDX test split, preprocessed as the model's metadata says, and compares
// ORT's logits with the float32 .npy that `autoapprox eval --save-logits`
// wrote for the same images: top-1 agreement and the largest difference.
//
// ORT_OPT=disabled|basic|extended|all (default all): ONNX Runtime's graph optimization.
// usage: ORT_DIR=/path/with/node_modules node tools/scripts/ort_compare.js \
//            MODEL.onnx DATA_DIR LOGITS.npy [N]
// The last line printed, `verdict images=N identical=N agree=N beyond_margin=N
// step=S`, is what tests/test_ort.c reads.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const ortDir = process.env.ORT_DIR || '.';
const ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));

function readIdx(file) {
  let b = fs.readFileSync(fs.existsSync(file) ? file : file + '.gz');
  if (b[0] === 0x1f && b[1] === 0x8b) b = zlib.gunzipSync(b);
  const nd = b[3], dims = [];
  for (let i = 0; i < nd; i++) dims.push(b.readUInt32BE(4 + 4 * i));
  return { dims, data: b.subarray(4 + 4 * nd) };
}

function readNpy(file) {
  const b = fs.readFileSync(file);
  const hl = b.readUInt16LE(8), hdr = b.toString('latin1', 10, 10 + hl);
  const shape = /\((\d+), (\d+)\)/.exec(hdr).slice(1).map(Number);
  const f = new Float32Array(b.buffer.slice(b.byteOffset + 10 + hl, b.byteOffset + b.length));
  return { shape, data: f };
}

function meta(model, key, def) {
  // metadata_props as autoapprox writes them: key and value strings in the protobuf
  const s = model.toString('latin1'), i = s.indexOf(key);
  if (i < 0) return def;
  const m = /^[\s\S]{2}([-0-9.eE+]+)/.exec(s.slice(i + key.length));
  return m ? parseFloat(m[1]) : def;
}

function argmax(a, off, n) {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
  return best;
}

async function main() {
  const [modelPath, dataDir, npyPath, nArg] = process.argv.slice(2);
  const ours = readNpy(npyPath);
  const n = Math.min(Number(nArg || ours.shape[0]), ours.shape[0]), classes = ours.shape[1];
  const model = fs.readFileSync(modelPath);
  // autoapprox.input.divisor (pixel / divisor, as eval computes it); older models: 1 / scale
  const divisor = meta(model, 'autoapprox.input.divisor', 1 / meta(model, 'autoapprox.input.scale', 1 / 255)),
        mean = meta(model, 'autoapprox.input.mean', 0), std = meta(model, 'autoapprox.input.std', 1);
  const img = readIdx(path.join(dataDir, 't10k-images-idx3-ubyte'));
  const [, h, w] = img.dims, sz = h * w;
  const session = await ort.InferenceSession.create(modelPath, { graphOptimizationLevel: process.env.ORT_OPT || 'all',
                                                                  intraOpNumThreads: 1 });
  const x = new Float32Array(n * sz);
  // float32 at every step, as autoapprox computes it
  const f = Math.fround, fdv = f(divisor), fm = f(mean), fsd = f(std);
  for (let i = 0; i < n * sz; i++) x[i] = f(f(f(img.data[i] / fdv) - fm) / fsd);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, [n, 1, h, w]) };
  const y = (await session.run(feeds))[session.outputNames[0]].data;
  // At most one output quantization step: the smallest gap between distinct
  // ORT logits. Quantized logits are multiples of their scale, so the gap is
  // that step; float logits (autoapprox's QDQ export dequantizes the last
  // accumulator) give a smaller gap, which only makes the check stricter.
  const sorted = Float32Array.from(y).sort();
  let step = Infinity;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] > sorted[i - 1]) step = Math.min(step, sorted[i] - sorted[i - 1]);
  let agree = 0, maxDiff = 0, identical = 0, beyondMargin = 0, firstBad = -1;
  for (let i = 0; i < n; i++) {
    const a = argmax(y, i * classes, classes), b = argmax(ours.data, i * classes, classes);
    let second = -Infinity;
    for (let k = 0; k < classes; k++) if (k !== a) second = Math.max(second, y[i * classes + k]);
    const margin = y[i * classes + a] - second;
    agree += a === b;
    if (a !== b && margin > step) {
      beyondMargin++;
      if (firstBad < 0) firstBad = i;
    }
    let same = true;
    for (let k = 0; k < classes; k++) {
      const d = Math.abs(y[i * classes + k] - ours.data[i * classes + k]);
      if (d > 0) same = false;
      maxDiff = Math.max(maxDiff, d);
    }
    identical += same;
  }
  console.log(`images ${n}: top-1 agrees on ${agree}, logits identical on ${identical}, max |diff| ${maxDiff}`);
  console.log(`top-1 differs on ${beyondMargin} images whose ORT top-2 margin exceeds ${step} (smallest logit gap, <= one output step)` +
              (firstBad >= 0 ? `; first: image ${firstBad}` : ''));
  // one machine-readable line for tests
  console.log(`verdict images=${n} identical=${identical} agree=${agree} beyond_margin=${beyondMargin} step=${step}`);
}

main().catch((e) => { console.error('ort_compare: ' + e.message); process.exit(1); });
