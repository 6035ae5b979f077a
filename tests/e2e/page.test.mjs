// End-to-end tests of the web page in Debian's Chromium (headless, driven by
// playwright-core; no browser download): a dropped photo of a cat gets a caption that
// says so and its detected objects are drawn on request, the fake webcam
// (a y4m made from a photo) gets one and keeps it on screen in live mode, hovering a word
// draws a heatmap, a photo dropped while the model loads is captioned once it is ready,
// an older request's caption never lands on a newer photo, partial captions stream
// without a closing period and settings changes caption again, an image over the pixel
// limit says so, a returning visitor gets a new deploy, the page works offline after the
// first load, a dropped text file gives an error and the page keeps working, and no
// request leaves the page's own origin. The page is served cross-origin isolated (the
// threads build) and, once, without isolation (the single-thread build). Screenshots go
// to out/e2e/.
// Run: node --test tests/e2e/  (after npm run build)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../../scripts/serve.mjs';
import { stampDeploy } from '../../scripts/stamp_deploy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ASSETS = process.env.CAPT_ASSETS ?? path.resolve(ROOT, '../shared');
const SHOTS = path.join(ROOT, 'out/e2e');
const PHOTO = path.join(ASSETS, 'data/photos/chelsea.png');
const COFFEE = path.join(ASSETS, 'data/photos/coffee.png');
mkdirSync(SHOTS, { recursive: true });
const profile = path.join(os.tmpdir(), `capt-e2e-${process.pid}`);
const y4m = path.join(os.tmpdir(), `capt-e2e-${process.pid}.y4m`);
execFileSync('/usr/bin/python3', [path.join(ROOT, 'tests/e2e/make_y4m.py'), path.join(ASSETS, 'data/photos/coffee.png'), y4m]);

let server;
let browser;
let base;
const foreign = [];
let transferred = 0;
let threadedCaption = null;

before(async () => {
  server = await serve(path.join(ROOT, 'web/dist'), 0);
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`],
  });
  browser.on('request', (r) => {
    const u = new URL(r.url());
    if (!['127.0.0.1', 'localhost'].includes(u.hostname) && !['data:', 'blob:'].includes(u.protocol)) foreign.push(r.url());
  });
  browser.on('requestfinished', async (r) => {
    if (!r.url().startsWith(base)) return; // (the test without isolation uses another origin)
    const size = (await r.sizes().catch(() => null))?.responseBodySize ?? 0;
    transferred += size;
  });
});

after(async () => {
  await browser?.close();
  server?.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(y4m, { force: true });
});

async function openPage() {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log('  page error:', e.message));
  await page.goto(base);
  await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 120000 });
  return page;
}

// A valid grey PNG of width x height pixels (deflated zeros: 20000 x 20000 is 0.4 MB).
function greyPng(width, height) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // 8 bits, greyscale (colour type 0), deflate, no filter, no interlace
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc((width + 1) * height), { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

// Polls an async condition every 100 ms until it holds; fails with what() after ms.
async function waitFor(condition, ms, what) {
  for (const t0 = Date.now(); !(await condition());) {
    if (Date.now() - t0 > ms) assert.fail(`timed out: ${await what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Records every text the caption box shows (each change), from now on.
async function recordCaptions(page) {
  await page.evaluate(() => {
    const box = document.querySelector('[data-testid="caption"]');
    window.__captions = [];
    const note = () => window.__captions.push({ text: box.innerText.trim(), done: !!box.querySelector('button'),
      photoWidth: document.querySelector('[data-testid="dropzone"] img')?.naturalWidth ?? 0 });
    new MutationObserver(note).observe(box, { childList: true, subtree: true, characterData: true });
  });
}

// A DataTransfer in the page holding one file, ready to drop.
function fileTransfer(page, file, name, type) {
  const bytes = Buffer.isBuffer(file) ? file : readFileSync(file);
  return page.evaluateHandle(({ data, name, type }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], name, { type }));
    return dt;
  }, { data: [...bytes], name, type });
}

async function dropFile(page, file, name, type) {
  const dataTransfer = await fileTransfer(page, file, name, type);
  await page.dispatchEvent('[data-testid="dropzone"]', 'drop', { dataTransfer });
}

const captionText = (page) => page.locator('[data-testid="caption"]').innerText();

test('a dropped photo gets a caption; hovering a word shows its heatmap', async () => {
  const page = await openPage();
  const t0 = Date.now();
  await dropFile(page, PHOTO, 'chelsea.png', 'image/png');
  await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
  const ms = Date.now() - t0;
  const caption = await captionText(page);
  const engine = await page.locator('[data-testid="engine"]').innerText();
  console.log(`  caption: "${caption.replace(/\s+/g, ' ')}" in ${ms} ms from drop (${engine.trim()})`);
  assert.ok(caption.trim().split(/\s+/).length >= 3);
  assert.match(caption, /\bcat\b/i, 'the caption of chelsea.png mentions a cat');
  // The encoder's ImageNet classes are shown beside the caption: the photo is a cat.
  const concepts = await page.locator('[data-testid="concepts"]').innerText();
  console.log(`  concepts: ${concepts.replace(/\s+/g, ' ')}`);
  assert.match(concepts, /cat/i);
  // The server sends COOP + COEP, so the page is cross-origin isolated: the threads build.
  assert.match(engine, /SIMD, \d+ threads/);
  threadedCaption = caption;
  // the clickable tokens group into the caption's words (BPE pieces such as "compu"+"ter" stay one word)
  const words = await page.$$eval('[data-testid="caption"] > span', (spans) => spans.map((w) => [...w.querySelectorAll('button')]
    .map((b) => b.firstChild.textContent).join('')));
  const full = await page.locator('q').innerText();
  assert.deepEqual(words, full.toLowerCase().replace(/[.]$/, '').split(' '), `words ${JSON.stringify(words)} of "${full}"`);
  await page.locator('[data-testid="caption"] button').nth(1).hover();
  await page.waitForTimeout(200);
  const painted = await page.$eval('[data-testid="attention-overlay"]', (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
    return n;
  });
  assert.ok(painted > 1000, `the heatmap painted ${painted} pixels`);
  await page.screenshot({ path: path.join(SHOTS, 'photo.png'), fullPage: true });
  // The detected objects are drawn on request, the cat among them.
  assert.equal(await page.locator('[data-testid="boxes"]').count(), 0, 'no boxes until asked for');
  await page.check('[data-testid="boxes-toggle"]');
  const boxes = page.locator('[data-testid="boxes"]');
  await boxes.waitFor();
  const label = await boxes.getAttribute('aria-label');
  console.log(`  ${label}`);
  assert.match(label, /\bcat \d+%/);
  assert.ok(await boxes.locator('rect').count() >= 1);
  await page.screenshot({ path: path.join(SHOTS, 'boxes.png'), fullPage: true });
  await page.close();
});

test('without cross-origin isolation the single-thread SIMD build gives the same caption', async () => {
  assert.ok(threadedCaption, 'runs after the threads test');
  const plainServer = await serve(path.join(ROOT, 'web/dist'), 0, '127.0.0.1', { isolate: false });
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${plainServer.address().port}/`);
    await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 120000 });
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
    await dropFile(page, PHOTO, 'chelsea.png', 'image/png');
    await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
    assert.match(await page.locator('[data-testid="engine"]').innerText(), /SIMD, 1 thread/);
    assert.equal(await captionText(page), threadedCaption);
  } finally {
    await page.close();
    plainServer.close();
  }
});

test('a photo dropped while the model is loading is captioned once it is ready', async () => {
  // A new origin (its own service worker and cache) whose model file waits for the drop.
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  const slow = await serve(path.join(ROOT, 'web/dist'), 0, '127.0.0.1',
    { hold: (rel) => (rel.endsWith('.capt') ? released : null) });
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${slow.address().port}/`);
    await page.waitForSelector('[data-testid="progress"]');
    await dropFile(page, PHOTO, 'chelsea.png', 'image/png');
    await page.waitForSelector('[data-testid="dropzone"] img');
    assert.match(await captionText(page), /still loading/);
    assert.deepEqual(await axeViolations(page), [], 'accessible while loading');
    release();
    await page.waitForSelector('[data-testid="caption"] button', { timeout: 120000 });
    assert.match(await captionText(page), /\bcat\b/i);
  } finally {
    release();
    await page.close();
    slow.close();
  }
});

test('an older request\'s caption never lands on a newer photo', async () => {
  const page = await openPage();
  const [cat, coffee] = [await fileTransfer(page, PHOTO, 'chelsea.png', 'image/png'),
    await fileTransfer(page, COFFEE, 'coffee.png', 'image/png')];
  await recordCaptions(page);
  await page.dispatchEvent('[data-testid="dropzone"]', 'drop', { dataTransfer: cat });
  await page.waitForFunction(() => document.querySelector('[data-testid="dropzone"] img')?.naturalWidth === 451);
  await page.dispatchEvent('[data-testid="dropzone"]', 'drop', { dataTransfer: coffee }); // chelsea.png is still in work
  await page.waitForFunction(() => document.querySelector('[data-testid="dropzone"] img')?.naturalWidth === 600);
  await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
  await page.waitForTimeout(3000); // time for a late result to arrive
  const shown = (await page.evaluate(() => window.__captions)).filter((c) => c.photoWidth === 600);
  const last = await captionText(page);
  console.log(`  coffee.png dropped while chelsea.png was captioned: "${last.replace(/\s+/g, ' ')}"`);
  assert.ok(!/\bcat\b/i.test(last), 'the final caption is the coffee photo\'s');
  assert.ok(shown.every((c) => !/\bcat\b/i.test(c.text)), 'chelsea.png\'s caption never showed on coffee.png: '
    + shown.map((c) => c.text.replace(/\s+/g, ' ')).join(' | '));
  assert.equal(shown.filter((c) => c.done).map((c) => c.text).filter((t, i, a) => a.indexOf(t) === i).length, 1,
    'one finished caption shown');
  await page.close();
});

test('streaming has no closing period; beam and length changes caption again; max length takes typing', async () => {
  const page = await openPage();
  await recordCaptions(page);
  await dropFile(page, PHOTO, 'chelsea.png', 'image/png');
  await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
  const partials = (await page.evaluate(() => window.__captions)).filter((c) => !c.done && c.text && !/Looking|Drop a photo|still loading/.test(c.text));
  assert.ok(partials.length >= 2, `streamed ${partials.length} partial captions`);
  assert.ok(partials.every((c) => !c.text.endsWith('.')), partials.map((c) => c.text).join(' | '));
  const before = await page.locator('[data-testid="caption"] button').count();
  // typed digit by digit, "5" stays 5 (it used to jump to the limits while typing)
  const field = page.locator('[data-testid="max-length"]');
  await field.fill('');
  await field.pressSequentially('12');
  assert.equal(await field.inputValue(), '12');
  await field.fill('');
  await field.pressSequentially('5');
  assert.equal(await field.inputValue(), '5');
  await page.waitForFunction((n) => {
    const b = document.querySelectorAll('[data-testid="caption"] button');
    return b.length > 0 && b.length <= 5;
  }, before, { timeout: 60000 });
  console.log(`  max length 5: "${(await captionText(page)).replace(/\s+/g, ' ')}" (was ${before} tokens)`);
  assert.ok(before > 5);
  await page.close();
});

test('an image over the pixel limit names the pixel count, and the error can be dismissed', async () => {
  const page = await openPage();
  await dropFile(page, greyPng(20000, 20000), 'huge.png', 'image/png');
  const error = page.locator('[data-testid="error"]');
  await error.waitFor({ timeout: 60000 });
  const text = await error.innerText();
  console.log(`  ${text.split('\n')[0]}`);
  assert.match(text, /Mpixel is above the limit of 64 Mpixel/);
  assert.doesNotMatch(text, /side/);
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'error', 'the error takes focus');
  await page.click('[data-testid="dismiss"]');
  assert.equal(await error.count(), 0);
  await page.close();
});

test('formats the browser decodes are captioned from its pixels; large photos are downscaled; HEIC is refused', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'capt-formats-'));
  execFileSync('/usr/bin/python3', [path.join(ROOT, 'tests/e2e/make_formats.py'), PHOTO, dir]);
  const page = await openPage();
  const read = () => page.locator('[data-testid="timings"]').innerText();
  try {
    for (const [file, type] of [['photo.webp', 'image/webp'], ['large.jpg', 'image/jpeg'], ['cut.jpg', 'image/jpeg'],
      ['drawing.svg', 'image/svg+xml']]) {
      await dropFile(page, path.join(dir, file), file, type);
      // the old caption goes at once; an error, if any, says why
      const shown = async () => ({ words: await page.locator('[data-testid="caption"] button').count(),
        error: await page.locator('[data-testid="error"]').count() ? await page.locator('[data-testid="error"]').innerText() : null });
      await waitFor(async () => (await shown()).words === 0 || (await shown()).error, 10000,
        async () => `${file}: the old caption is still shown: ${JSON.stringify(await shown())}`);
      assert.equal((await shown()).error, null, `${file}: an error`);
      await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
      const caption = (await captionText(page)).replace(/\s+/g, ' ').replace(/ \d+%/g, '');
      const timings = await read();
      console.log(`  ${file}: "${caption}" (${timings})`);
      assert.equal(await page.locator('[data-testid="error"]').count(), 0);
      assert.match(timings, /decoded by the browser/);
      const [w, h] = timings.match(/read (\d+)×(\d+) px/).slice(1).map(Number);
      assert.ok(w * h <= 2 ** 20 + 4000, `${file}: the engine read ${w}x${h}`);
      if (file !== 'drawing.svg') assert.match(caption, /\bcat\b/i, `${file} is the cat photo`);
    }
    await dropFile(page, path.join(dir, 'photo.heic'), 'photo.heic', 'image/heic');
    await page.waitForSelector('[data-testid="error"]');
    assert.match(await page.locator('[data-testid="error"]').innerText(), /HEIC.*cannot decode/);
  } finally {
    await page.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The rows of a CSV file (RFC 4180 quoting).
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += c, i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), field = '';
    else if (c === '\n') row.push(field.replace(/\r$/, '')), rows.push(row), row = [], field = '';
    else field += c;
  }
  return rows;
}

test('batch: several photos and a folder, each with status and caption; progress, cancel, CSV and JSON export', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'capt-batch-'));
  const photos = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg'].map((f) => path.join(ASSETS, 'data/photos', f));
  const page = await openPage();
  const count = () => page.locator('[data-testid="batch-count"]').innerText();
  const statuses = () => page.$$eval('[data-testid="batch-list"] li', (li) => li.map((x) => x.dataset.status));
  try {
    // four photos and a text file chosen at once: the batch view takes them
    const notes = path.join(dir, 'notes.txt');
    writeFileSync(notes, 'not a photo');
    await page.setInputFiles('[data-testid="file-input"]', [...photos, notes]);
    await page.waitForSelector('[data-testid="batch"]');
    assert.equal(await page.getAttribute('[data-testid="mode-batch"]', 'aria-selected'), 'true');
    await page.waitForFunction(() => /^5 of 5 finished/.test(document.querySelector('[data-testid="batch-count"]')?.innerText),
      null, { timeout: 120000 });
    assert.deepEqual(await statuses(), ['done', 'done', 'done', 'done', 'error']);
    const thumbs = await page.$$eval('[data-testid="batch-list"] li img', (im) => im.map((x) => x.naturalWidth));
    assert.ok(thumbs.slice(0, 4).every((w) => w > 0), `thumbnails ${thumbs}`);
    const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-csv"]')]);
    const csv = parseCsv(readFileSync(await csvDownload.path(), 'utf8'));
    const [jsonDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-json"]')]);
    const json = JSON.parse(readFileSync(await jsonDownload.path(), 'utf8'));
    console.log(`  CSV ${csvDownload.suggestedFilename()}: ${JSON.stringify(csv.slice(0, 2))}`);
    assert.deepEqual(csv[0], ['file', 'caption', 'alt', 'status', 'error']);
    assert.equal(csv.length, 6);
    assert.equal(json.length, 5);
    assert.match(json[0].caption, /\bcat\b/i);
    assert.equal(json[0].alt, `<img src="chelsea.png" alt="${json[0].caption}">`);
    assert.deepEqual(csv[1], [json[0].file, json[0].caption, json[0].alt, 'done', '']);
    assert.equal(json[4].status, 'error');
    assert.match(json[4].error, /not an image/);
    // a folder: its images (a subfolder's too), not its notes
    const folder = path.join(dir, 'trip');
    mkdirSync(path.join(folder, 'day2'), { recursive: true });
    copyFileSync(photos[0], path.join(folder, 'a.png'));
    copyFileSync(photos[1], path.join(folder, 'b.png'));
    copyFileSync(photos[3], path.join(folder, 'day2', 'c.jpg'));
    writeFileSync(path.join(folder, 'notes.txt'), 'not a photo');
    await page.setInputFiles('[data-testid="batch-folder"]', folder);
    await page.waitForFunction(() => /^8 of 8 finished/.test(document.querySelector('[data-testid="batch-count"]')?.innerText),
      null, { timeout: 120000 });
    const names = await page.$$eval('[data-testid="batch-list"] li p[title]', (p) => p.map((x) => x.title));
    assert.deepEqual(names.slice(5).sort(), ['trip/a.png', 'trip/b.png', 'trip/day2/c.jpg']);
    // the same folder dragged from the desktop and dropped (a real drag: Chromium's input domain)
    const cdp = await browser.newCDPSession(page);
    const drag = { items: [], files: [folder], dragOperationsMask: 1 };
    for (const type of ['dragEnter', 'dragOver', 'drop']) await cdp.send('Input.dispatchDragEvent', { type, x: 200, y: 200, data: drag });
    await page.waitForFunction(() => /^11 of 11 finished/.test(document.querySelector('[data-testid="batch-count"]')?.innerText),
      null, { timeout: 120000 });
    const dropped = await page.$$eval('[data-testid="batch-list"] li p[title]', (p) => p.map((x) => x.title));
    assert.deepEqual(dropped.slice(8).sort(), ['trip/a.png', 'trip/b.png', 'trip/day2/c.jpg']);
    // cancel: the photos still waiting are not captioned
    await page.click('[data-testid="batch-clear"]');
    const many = Array.from({ length: 8 }, (_, i) => {
      const f = path.join(dir, `copy${i}.png`);
      copyFileSync(photos[i % 2], f);
      return f;
    });
    await page.setInputFiles('[data-testid="batch-files"]', many);
    await page.waitForFunction(() => document.querySelector('[data-testid="batch-list"] li[data-status="done"]'), null,
      { timeout: 60000 });
    await page.click('[data-testid="batch-cancel"]');
    await page.waitForFunction(() => /^8 of 8 finished/.test(document.querySelector('[data-testid="batch-count"]')?.innerText),
      null, { timeout: 60000 });
    const after = await statuses();
    console.log(`  cancelled after the first caption: ${after.join(' ')}`);
    assert.ok(after.filter((x) => x === 'cancelled').length >= 4, after.join(' '));
    assert.deepEqual(await axeViolations(page), []);
    console.log(`  ${await count()}`);
  } finally {
    await page.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a dropped text file shows an error and the page keeps working', async () => {
  const page = await openPage();
  await dropFile(page, path.join(ROOT, 'README.md'), 'notes.txt', 'text/plain');
  await page.waitForSelector('[data-testid="error"]');
  assert.match(await page.locator('[data-testid="error"]').innerText(), /not an image/);
  await page.screenshot({ path: path.join(SHOTS, 'error.png'), fullPage: true });
  await page.setInputFiles('[data-testid="file-input"]', PHOTO);
  await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
  assert.equal(await page.locator('[data-testid="error"]').count(), 0);
  await page.close();
});

test('the webcam view captions a frame of the fake camera', async () => {
  const page = await openPage();
  await page.click('[data-testid="mode-webcam"]');
  await page.waitForSelector('[data-testid="capture"]:not([disabled])', { timeout: 30000 });
  await page.waitForTimeout(500);
  await page.click('[data-testid="capture"]');
  await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
  console.log(`  webcam caption: "${(await captionText(page)).replace(/\s+/g, ' ')}"`);
  // Live mode: the last finished caption stays until the next one is finished, and the
  // caption card keeps its height.
  await page.check('[data-testid="live-toggle"]');
  const samples = [];
  for (let t0 = Date.now(); Date.now() - t0 < 6000;) {
    samples.push(await page.evaluate(() => {
      const box = document.querySelector('[data-testid="caption"]');
      return { done: !!box.querySelector('button'), height: box.closest('section').getBoundingClientRect().height };
    }));
    await page.waitForTimeout(50);
  }
  await page.uncheck('[data-testid="live-toggle"]');
  const shown = samples.filter((x) => x.done).length / samples.length;
  const heights = samples.map((x) => x.height);
  console.log(`  live: a finished caption on screen in ${(100 * shown).toFixed(0)}% of ${samples.length} samples, `
    + `card height ${Math.min(...heights)}-${Math.max(...heights)} px`);
  assert.equal(shown, 1);
  assert.equal(Math.max(...heights) - Math.min(...heights), 0);
  await page.screenshot({ path: path.join(SHOTS, 'webcam.png'), fullPage: true });
  await page.close();
});

test('after the first load the page captions offline', async () => {
  const page = await openPage();
  await browser.setOffline(true);
  try {
    await page.reload();
    await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 60000 });
    await dropFile(page, PHOTO, 'chelsea.png', 'image/png');
    await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
    assert.equal(await page.locator('[data-testid="error"]').count(), 0);
    await page.screenshot({ path: path.join(SHOTS, 'offline.png'), fullPage: true });
  } finally {
    await browser.setOffline(false);
    await page.close();
  }
});

test('a returning visitor gets a new deploy; unchanged files are not downloaded again; offline still works', async () => {
  const site = mkdtempSync(path.join(os.tmpdir(), 'capt-deploy-'));
  cpSync(path.join(ROOT, 'web/dist'), site, { recursive: true });
  let modelRequests = 0;
  const host = await serve(site, 0, '127.0.0.1', { hold: (rel) => { modelRequests += rel.endsWith('.capt'); } });
  const url = `http://127.0.0.1:${host.address().port}/`;
  let page = await browser.newPage();
  const marker = () => page.evaluate(() => document.querySelector('meta[name="capt-deploy"]')?.content ?? null);
  const cacheNames = () => page.evaluate(() => caches.keys());
  const workers = () => page.evaluate(async () => {
    const r = await navigator.serviceWorker.getRegistration();
    return JSON.stringify(['installing', 'waiting', 'active'].map((k) => r?.[k]?.state ?? null));
  });
  try {
    const first = JSON.parse(readFileSync(path.join(site, 'sw-manifest.json'), 'utf8')).version;
    await page.goto(url);
    await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 120000 });
    await waitFor(async () => (await cacheNames()).includes(`capt-${first}`), 60000,
      async () => `caches ${JSON.stringify(await cacheNames())}`);
    // the second deploy: a changed page, stamped as the build stamps it
    const index = path.join(site, 'index.html');
    writeFileSync(index, readFileSync(index, 'utf8').replace('<head>', '<head><meta name="capt-deploy" content="2">'));
    const second = stampDeploy(site).version;
    assert.notEqual(second, first);
    // an open tab that reloads gets the new page at once (the page is fetched network first)
    await page.reload();
    assert.equal(await marker(), '2', 'the reload shows the new deploy');
    await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 120000 });
    // a visitor who comes back later: the new service worker and its cache, the old cache gone
    await page.close();
    page = await browser.newPage();
    await page.goto(url);
    assert.equal(await marker(), '2');
    await waitFor(async () => JSON.stringify(await cacheNames()) === JSON.stringify([`capt-${second}`]), 60000,
      async () => `caches ${JSON.stringify(await cacheNames())}, service workers ${await workers()}`);
    console.log(`  deploy ${first} -> ${second}: caches ${JSON.stringify(await cacheNames())}, model downloaded ${modelRequests}x`);
    assert.equal(modelRequests, 1, 'the unchanged model came from the old cache');
    await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 120000 });
    // what the caches hold, to say why an offline step failed
    const cached = () => page.evaluate(async () => {
      const out = {};
      for (const k of await caches.keys()) out[k] = (await (await caches.open(k)).keys()).map((r) => new URL(r.url).pathname);
      return JSON.stringify(out);
    }).catch((e) => `(unreadable: ${e.message})`);
    const before = await cached();
    await browser.setOffline(true);
    try {
      await page.reload();
      assert.equal(await marker(), '2', 'offline: the new deploy from the cache');
      await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 60000 });
      await dropFile(page, PHOTO, 'chelsea.png', 'image/png');
      await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
    } catch (e) {
      const error = await page.locator('[data-testid="error"]').innerText({ timeout: 1000 }).catch(() => null);
      throw new Error(`offline after the second deploy: ${e.message}\n  caches before going offline: ${before}`
        + `\n  caches now: ${await cached()}\n  service workers: ${await workers().catch(() => '?')}\n  error shown: ${error}`);
    } finally {
      await browser.setOffline(false);
    }
  } finally {
    await page.close();
    host.close();
    rmSync(site, { recursive: true, force: true });
  }
});

// axe-core's violations on the page as it is now: [{id, impact, nodes}], each node's target and summary.
async function axeViolations(page) {
  if (!(await page.evaluate(() => !!window.axe))) {
    await page.addScriptTag({ path: path.join(ROOT, 'node_modules/axe-core/axe.min.js') });
  }
  return page.evaluate(async () => (await window.axe.run(document)).violations.map((v) => ({
    id: v.id, nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.split('\n').slice(1).join(' ')}`) })));
}

test('accessibility: axe-core finds no violations in any state; tabs work with arrow keys', async () => {
  const page = await openPage();
  const states = {};
  const audit = async (state) => {
    const found = await axeViolations(page);
    console.log(`  ${state}: ${found.length} violations${found.length ? `: ${JSON.stringify(found)}` : ''}`);
    states[state] = found;
  };
  await audit('loaded');
  await dropFile(page, PHOTO, 'chelsea.png', 'image/png');
  await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
  await page.check('[data-testid="boxes-toggle"]');
  await page.locator('[data-testid="caption"] button').first().focus();
  await audit('caption, boxes, a word focused');
  await dropFile(page, path.join(ROOT, 'README.md'), 'notes.txt', 'text/plain');
  await page.waitForSelector('[data-testid="error"]');
  await audit('error');
  await page.click('[data-testid="dismiss"]');
  // the tabs: arrow keys move between them, each controls its panel
  await page.focus('[data-testid="mode-image"]');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'mode-batch');
  await page.waitForSelector('[data-testid="batch"]');
  await audit('batch');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'mode-webcam');
  assert.equal(await page.getAttribute('[data-testid="mode-webcam"]', 'aria-selected'), 'true');
  const panel = await page.getAttribute('[data-testid="mode-webcam"]', 'aria-controls');
  assert.equal(await page.getAttribute(`#${panel}`, 'role'), 'tabpanel');
  await page.waitForSelector('[data-testid="capture"]:not([disabled])', { timeout: 30000 });
  await audit('webcam');
  // front / back camera (the fake camera answers either way)
  await page.click('[data-testid="switch-camera"]');
  assert.equal(await page.getAttribute('[data-testid="switch-camera"]', 'aria-pressed'), 'true');
  await page.waitForSelector('[data-testid="capture"]:not([disabled])', { timeout: 30000 });
  await page.waitForTimeout(500);
  await page.click('[data-testid="capture"]');
  await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
  await page.focus('[data-testid="mode-webcam"]');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.getAttribute('[data-testid="mode-batch"]', 'aria-selected'), 'true');
  await page.keyboard.press('Home');
  assert.equal(await page.getAttribute('[data-testid="mode-image"]', 'aria-selected'), 'true');
  await page.setViewportSize({ width: 375, height: 800 });
  await audit('phone');
  assert.deepEqual(Object.values(states).flat(), []);
  await page.close();
});

test('on a touch screen the page says tap, not hover or drop', async () => {
  const page = await browser.newPage();
  const cdp = await browser.newCDPSession(page);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 5 });
  await page.goto(base);
  await page.waitForSelector('[data-testid="progress"]', { state: 'detached', timeout: 120000 });
  assert.ok(await page.evaluate(() => matchMedia('(pointer: coarse)').matches), 'touch emulation');
  const before = await page.locator('main').innerText();
  assert.match(before, /Tap/);
  assert.doesNotMatch(before, /\b(drop|hover)\b/i);
  await page.setInputFiles('[data-testid="file-input"]', PHOTO);
  await page.waitForSelector('[data-testid="caption"] button', { timeout: 60000 });
  const after = await page.locator('main').innerText();
  assert.match(after, /Tap a word/);
  assert.doesNotMatch(after, /\b(drop|hover)\b/i);
  await page.close();
});

test('phone width: nothing overflows sideways', async () => {
  const page = await openPage();
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: path.join(SHOTS, 'phone.png'), fullPage: true });
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
  await page.close();
});

test('no request left the page\'s origin; first-load transfer', () => {
  console.log(`  bytes transferred over all tests: ${(transferred / 1e6).toFixed(1)} MB`);
  assert.deepEqual(foreign, []);
});
