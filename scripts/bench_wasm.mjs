// Benchmark against the peer runtime, in one node process, one thread each:
// onnxruntime-web (wasm, SIMD) running the same MobileNetV2 encoder exported to ONNX
// (tools/export_onnx.py) next to capt's wasm SIMD build: ms per image for the encoder,
// and capt's full caption (decode JPEG, encode, beam 3). Prints the ratio.
// Usage: node scripts/bench_wasm.mjs MODEL.capt ENCODER.onnx [runs]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { Captioner } from '../wasm/dist/capt.js';

const [modelPath, onnxPath, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 30);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const assets = process.env.CAPT_ASSETS ?? path.resolve(root, '../shared');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

ort.env.wasm.numThreads = 1;
ort.env.wasm.simd = true;
const session = await ort.InferenceSession.create(await readFile(onnxPath), { executionProviders: ['wasm'] });
const input = new ort.Tensor('float32', new Float32Array(224 * 224 * 3).fill(0.1), [1, 224, 224, 3]);
for (let i = 0; i < 3; i++) await session.run({ pixels: input });
const ortMs = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  await session.run({ pixels: input });
  ortMs.push(performance.now() - t0);
}

const captioner = await Captioner.load(modelPath);
const jpeg = await readFile(path.join(assets, 'data/photos/rocket.jpg'));
for (let i = 0; i < 3; i++) await captioner.caption(jpeg, { beam: 3 });
const encodeMs = [];
const captionMs = [];
const greedyMs = [];
for (let i = 0; i < runs; i++) {
  const r = await captioner.caption(jpeg, { beam: 3 });
  encodeMs.push(r.timingsMs.encode);
  captionMs.push(r.timingsMs.total);
  greedyMs.push((await captioner.caption(jpeg, { beam: 1 })).timingsMs.total);
}
const o = median(ortMs);
const e = median(encodeMs);
console.log(`onnxruntime-web ${ort.env.versions?.web ?? ''} wasm SIMD, 1 thread, MobileNetV2 to 7x7x1280: ${o.toFixed(1)} ms median`);
console.log(`capt wasm SIMD (${captioner.variant}), 1 thread, encoder incl. resize+normalize:  ${e.toFixed(1)} ms median`);
console.log(`  capt / onnxruntime-web time: ${(e / o).toFixed(2)} (below 1 = capt faster; target <= 1)`);
console.log(`capt full caption of rocket.jpg (decode JPEG, encode, beam 3): ${median(captionMs).toFixed(1)} ms median` +
  ` (greedy ${median(greedyMs).toFixed(1)} ms; target < 100 ms)`);
captioner.dispose();
