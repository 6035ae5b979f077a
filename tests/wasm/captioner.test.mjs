// The JavaScript API (wasm/dist/capt.js) under node: same captions and detections as the
// native CLI, streaming, a flat heap over 1,000 captions, clean rejections of bad input.
// Run: node --test tests/wasm/  (after scripts/build_wasm.sh and scripts/setup.sh)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Captioner } from '../../wasm/dist/capt.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ASSETS = process.env.CAPT_ASSETS ?? path.resolve(ROOT, '../shared');
const MODEL = path.join(ROOT, 'weights/capt-default.capt');
const NATIVE = path.join(ROOT, 'build/capt');

const photos = (await readdir(path.join(ASSETS, 'data/photos'))).sort().map((f) => path.join(ASSETS, 'data/photos', f));
const flickr = (await readFile(path.join(ASSETS, 'data/flickr8k/Flickr_8k.testImages.txt'), 'utf8'))
  .split(/\s+/).filter(Boolean).slice(0, 20).map((f) => path.join(ASSETS, 'data/flickr8k/images', f));

function nativeCaptions(images) {
  const out = execFileSync(NATIVE, ['caption', '--model', MODEL, '--first-logits', ...images],
    { maxBuffer: 1 << 28, encoding: 'utf8' });
  return out.trim().split('\n').map((line) => JSON.parse(line));
}

const captioner = await Captioner.load(MODEL);

test('the SIMD build is chosen in node; the defaults are the engine\'s (capt_caption_default_params)', () => {
  assert.equal(captioner.variant, 'simd');
  assert.equal(captioner.threads, 1);
  assert.deepEqual(captioner.defaults, { beam: 3, maxTokens: 20, alpha: 1, maxBeam: 16 });
});

test('same captions as the native CLI, first-step logits within 1e-3', async () => {
  const native = nativeCaptions([...photos, ...flickr]);
  let sameFlickr = 0;
  let worst = 0;
  for (const [i, image] of [...photos, ...flickr].entries()) {
    const r = await captioner.caption(await readFile(image), { firstLogits: true });
    const n = native[i];
    const diff = r.firstLogits.reduce((m, v, k) => Math.max(m, Math.abs(v - n.first_logits[k])), 0);
    worst = Math.max(worst, diff);
    assert.ok(diff <= 1e-3, `${image}: first-step logits differ by ${diff}`);
    const sameTokens = r.tokens.map((t) => t.id).join(',') === n.tokens.map((t) => t.id).join(',');
    if (i < photos.length) {
      assert.ok(sameTokens, `${image}: wasm "${r.caption}" vs native "${n.caption}"`);
    } else if (sameTokens) {
      sameFlickr++;
    } else {
      console.log(`  differs: ${image}: wasm "${r.caption}" vs native "${n.caption}"`);
    }
  }
  console.log(`  photos 4/4, Flickr8k ${sameFlickr}/20 token for token; largest first-step logit difference ${worst.toExponential(2)}`);
  assert.ok(sameFlickr >= 19, `only ${sameFlickr} of 20 Flickr8k captions match`);
});

test('the detections the decoder read match the native CLI', async () => {
  const native = nativeCaptions(photos);
  for (const [i, image] of photos.entries()) {
    const r = await captioner.caption(await readFile(image));
    const n = native[i];
    assert.equal(r.detections.length, n.detections.length, `${image}: detections`);
    for (const [k, d] of r.detections.entries()) {
      assert.equal(d.label, n.detections[k].label);
      assert.ok(Math.abs(d.score - n.detections[k].score) <= 1e-4, `${image}: ${d.label} ${d.score}`);
      d.box.forEach((v, j) => assert.ok(Math.abs(v - n.detections[k].box[j]) <= 1e-4));
    }
  }
  const astronaut = await captioner.caption(await readFile(photos.find((p) => p.endsWith('astronaut.png'))));
  assert.equal(astronaut.detections[0]?.label, 'person');
  // a token's attention over the grid and the detection slots sums to at most 1 (empty slots take the rest)
  const { mean, detections } = astronaut.attention;
  assert.equal(detections[1][0].length, astronaut.detections.length);
  const total = mean[1][0].reduce((a, b) => a + b, 0) + detections[1][0].reduce((a, b) => a + b, 0);
  assert.ok(total <= 1 + 1e-4 && total > 0.5, `attention of a token sums to ${total}`);
  assert.ok(astronaut.timingsMs.detect > 0);
});

test('onToken streams every token', async () => {
  const events = [];
  const r = await captioner.caption(await readFile(photos[1]), { beam: 1, onToken: (e) => events.push(e) });
  assert.equal(events.length, r.tokens.length);
  assert.deepEqual(events.map((e) => e.token), r.tokens.map((t) => t.text));
  assert.equal(events.at(-1).nTokens, r.tokens.length);
  // a caption still being written has no closing period; the finished one has
  assert.ok(events.every((e) => !e.partial.endsWith('.')), events.map((e) => e.partial).join(' | '));
  assert.equal(`${events.at(-1).partial}.`, r.caption);
});

test('results carry tokens, attention maps and timings', async () => {
  const r = await captioner.caption(await readFile(photos[0]), { beam: 3 });
  assert.match(r.caption, /^[A-Z].*\.$/);
  assert.equal(r.attention.grid.join('x'), '7x7');
  assert.equal(r.attention.maps.length, r.attention.layers);
  assert.equal(r.attention.maps[0].length, r.attention.heads);
  assert.equal(r.attention.maps[1][0].length, r.tokens.length);
  const sum = r.attention.mean[1][0].reduce((a, b) => a + b, 0) + r.attention.detections[1][0].reduce((a, b) => a + b, 0);
  assert.ok(sum <= 1 + 1e-4 && sum > 0.5, `attention of a token sums to ${sum}`);
  for (const t of r.tokens) assert.ok(t.p > 0 && t.p <= 1);
  for (const k of ['decode', 'encode', 'detect', 'caption', 'total']) assert.ok(r.timingsMs[k] >= 0);
});

test('ImageData-like RGBA input', async () => {
  const width = 64;
  const height = 48;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([(i * 7) % 256, (i * 3) % 256, 90, 255], i * 4);
  const r = await captioner.caption({ data, width, height }, { beam: 1 });
  assert.ok(r.caption.length > 3);
});

test('bad input rejects with the engine message; the captioner stays usable', async () => {
  const jpeg = await readFile(photos.find((p) => p.endsWith('.jpg')));
  const cases = [new Uint8Array(0), new Uint8Array(1000).fill(7), jpeg.subarray(0, jpeg.length / 2),
    new TextEncoder().encode('not an image at all')];
  for (const bytes of cases) {
    await assert.rejects(captioner.caption(bytes), (e) => e instanceof Error && e.message.length > 5);
  }
  await assert.rejects(captioner.caption('a string'), TypeError);
  await assert.rejects(captioner.caption({ data: new Uint8Array(4), width: 0, height: 1 }), /image/);
  const r = await captioner.caption(await readFile(photos[1]), { beam: 1 });
  assert.ok(r.caption.length > 3);
  await assert.rejects(Captioner.load(new Uint8Array([67, 65, 80, 84, 1, 2, 3])), /capt file|header/);
  await assert.rejects(Captioner.load(path.join(ROOT, 'weights/mobilenet_v2.capt')), /decoder/);
});

test('1,000 captions leave the heap flat', async () => {
  const image = await readFile(flickr[0]);
  for (let i = 0; i < 20; i++) await captioner.caption(image, { beam: 1, maxTokens: 8 });
  const before = captioner.heapBytes;
  const t0 = performance.now();
  // the wasm heap sampled every 100 captions, and the process's RSS (which also holds
  // node's own garbage between collections: reported, not held to the heap's standard)
  const heaps = [], rss = [];
  for (let i = 0; i < 1000; i++) {
    await captioner.caption(image, { beam: 1, maxTokens: 8 });
    if ((i + 1) % 100 === 0) heaps.push(captioner.heapBytes), rss.push(process.memoryUsage().rss);
  }
  const spread = (Math.max(...rss) - Math.min(...rss)) / rss[0];
  console.log(`  1000 captions in ${((performance.now() - t0) / 1000).toFixed(1)} s, heap ${before} -> ${captioner.heapBytes} bytes `
    + `(10 samples, ${new Set(heaps).size} distinct), node RSS ${(Math.min(...rss) / 2 ** 20).toFixed(1)}..`
    + `${(Math.max(...rss) / 2 ** 20).toFixed(1)} MiB (${(100 * spread).toFixed(2)}%)`);
  assert.deepEqual(heaps, Array(10).fill(before));
});

test('the plain (no SIMD) build agrees', async () => {
  const plain = await Captioner.load(MODEL, { variant: 'plain' });
  assert.equal(plain.variant, 'plain');
  const a = await plain.caption(await readFile(photos[1]), { firstLogits: true });
  const b = await captioner.caption(await readFile(photos[1]), { firstLogits: true });
  const diff = a.firstLogits.reduce((m, v, k) => Math.max(m, Math.abs(v - b.firstLogits[k])), 0);
  assert.ok(diff <= 1e-3, `plain vs SIMD logits differ by ${diff}`);
  plain.dispose();
});

// CLIP (docs/clip.md) through the same API: the tiny golden model, converted here.
function readSafetensors(bytes) {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__' || t.dtype !== 'F32') continue;
    const [begin, end] = t.data_offsets;
    const copy = Uint8Array.prototype.slice.call(bytes, 8 + n + begin, 8 + n + end); // (Buffer.slice would be a view)
    out[name] = { shape: t.shape, data: new Float32Array(copy.buffer) };
  }
  return out;
}

test('CLIP: text and image embeddings match OpenAI\'s golden outputs and the native CLI', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const tiny = path.join(ASSETS, 'reference/clip-tiny-b32');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'capt-clip-'));
  try {
    const model = path.join(dir, 'clip-f32.capt');
    execFileSync('/usr/bin/python3', [path.join(ROOT, 'tools/convert_clip.py'), tiny, model, '--dtype', 'f32']);
    const clip = await Captioner.load(model);
    assert.equal(clip.embedDim, 64);
    assert.equal(clip.canCaption, false);
    const golden = readSafetensors(await readFile(path.join(tiny, 'golden.safetensors')));
    const { texts } = JSON.parse(await readFile(path.join(tiny, 'golden.json'), 'utf8'));
    let worst = 0;
    for (const [i, text] of texts.entries()) {
      const e = await clip.embedText(text);
      const want = golden.text_embeds.data.subarray(i * 64, (i + 1) * 64);
      worst = Math.max(worst, e.reduce((m, v, k) => Math.max(m, Math.abs(v - want[k])), 0));
    }
    assert.ok(worst <= 1e-4, `text embeddings differ from golden by ${worst}`);
    const photo = path.join(ASSETS, 'data/photos/chelsea.png');
    const native = JSON.parse(execFileSync(NATIVE, ['embed', '--model', model, '--image', photo], { encoding: 'utf8' }));
    const image = await clip.embedImage(await readFile(photo));
    const diff = image.reduce((m, v, k) => Math.max(m, Math.abs(v - native[k])), 0);
    assert.ok(diff <= 1e-4, `image embedding differs from native by ${diff}`);
    console.log(`  CLIP text vs golden ${worst.toExponential(2)}, image vs native ${diff.toExponential(2)}`);
    const sim = await clip.similarity(await readFile(photo), ['a photo of a cat', 'a photo of a dog']);
    assert.ok(Math.abs(sim[0].probability + sim[1].probability - 1) < 1e-6);
    await assert.rejects(clip.caption(await readFile(photo)), /no caption decoder/);
    await assert.rejects(clip.embedImage(new Uint8Array([1, 2, 3])), /image/);
    assert.equal((await clip.embedText('still usable')).length, 64);
    await assert.rejects(captioner.embedText('a cat'), /no text tower/);
    clip.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
