// capt.js — image captions in the browser or Node (>= 20), from capt's WebAssembly build.
//
//   import { Captioner } from './capt.js';
//   const c = await Captioner.load(urlOrBytes, { onProgress });
//   const r = await c.caption(input, { beam: 3, maxTokens: 20, onToken });
//   c.dispose();
//
// Three builds: 'threads' (SIMD128 and a pool of Web Workers sharing memory) where the page
// is cross-origin isolated (COOP + COEP headers give it SharedArrayBuffer), else 'simd'
// where WebAssembly SIMD is supported, else 'plain'.
// Errors (bad model, corrupt image, out of memory) reject with the engine's message and
// leave the captioner usable.

const IS_NODE = typeof process === 'object' && !!process.versions?.node && typeof window === 'undefined';

// The smallest module that uses a SIMD128 instruction (i8x16.splat), for feature detection.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0,
  65, 0, 253, 15, 253, 98, 11]);

export function simdSupported() {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** true where the threads build can run: SIMD and SharedArrayBuffer (cross-origin isolation). */
export function threadsSupported() {
  return !IS_NODE && typeof SharedArrayBuffer === 'function' && globalThis.crossOriginIsolated === true &&
    simdSupported();
}

async function loadEngine(variant) {
  const factory = variant === 'threads' ? (await import('./capt-threads.js')).default
    : variant === 'simd' ? (await import('./capt-simd.js')).default : (await import('./capt-plain.js')).default;
  const options = {};
  if (IS_NODE) {
    // Emscripten's web build fetches its .wasm; in node we hand it the bytes.
    const { readFile } = await import(/* @vite-ignore */ 'node:fs/promises');
    options.wasmBinary = await readFile(new URL(`./capt-${variant}.wasm`, import.meta.url));
  }
  // In browsers the glue finds its .wasm itself (new URL('capt-*.wasm', import.meta.url)),
  // a pattern bundlers such as Vite follow.
  return factory(options);
}

/** Fetches a URL (or file path in Node) with byte progress; passes bytes through. */
export async function fetchModel(source, onProgress) {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (IS_NODE && !/^https?:/.test(String(source))) {
    const { readFile } = await import(/* @vite-ignore */ 'node:fs/promises');
    const bytes = new Uint8Array(await readFile(source));
    onProgress?.({ loaded: bytes.length, total: bytes.length });
    return bytes;
  }
  const response = await fetch(source);
  if (!response.ok) throw new Error(`cannot download the model: HTTP ${response.status} for ${source}`);
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ loaded: bytes.length, total: bytes.length });
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.({ loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  return bytes;
}

async function toPixels(input) {
  // -> { bytes } for encoded images or { rgba, width, height } for pixels
  if (input instanceof ArrayBuffer) return { bytes: new Uint8Array(input) };
  if (ArrayBuffer.isView(input)) return { bytes: new Uint8Array(input.buffer, input.byteOffset, input.byteLength) };
  if (typeof Blob !== 'undefined' && input instanceof Blob) return { bytes: new Uint8Array(await input.arrayBuffer()) };
  if (input && input.data && input.width && input.height) {
    return { rgba: input.data, width: input.width, height: input.height }; // ImageData (or alike)
  }
  if (typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap) {
    const canvas = new OffscreenCanvas(input.width, input.height);
    const g = canvas.getContext('2d');
    g.drawImage(input, 0, 0);
    const d = g.getImageData(0, 0, input.width, input.height);
    return { rgba: d.data, width: d.width, height: d.height };
  }
  throw new TypeError('caption() takes encoded image bytes (Uint8Array, ArrayBuffer, Blob), ImageData or ImageBitmap');
}

/** {beam, maxTokens, alpha, maxBeam}: the defaults of a caption, read from the engine. */
const engineDefaults = (m) => ({ beam: m._capt_js_default_beam(), maxTokens: m._capt_js_default_max_tokens(),
  alpha: m._capt_js_default_alpha(), maxBeam: m._capt_js_max_beam() });

export class Captioner {
  #m;
  #session;
  #busy = Promise.resolve();

  constructor(module, session, variant, threads) {
    this.#m = module;
    this.#session = session;
    /** 'threads', 'simd' or 'plain': the build in use */
    this.variant = variant;
    /** threads one caption runs on */
    this.threads = threads;
    /** caption()'s defaults and limits, as the engine defines them (capt_caption_default_params) */
    this.defaults = engineDefaults(module);
  }

  /**
   * Loads a model file (URL, path in Node, or its bytes).
   * @param {string|URL|ArrayBuffer|Uint8Array} source
   * @param {{onProgress?: (p: {loaded: number, total: number}) => void, variant?: 'threads'|'simd'|'plain',
   *          threads?: number}} [options]  threads: for the threads build (default: the cores, at most 4)
   */
  static async load(source, options = {}) {
    const variant = options.variant ?? (threadsSupported() ? 'threads' : simdSupported() ? 'simd' : 'plain');
    const cores = typeof navigator === 'object' ? navigator.hardwareConcurrency || 1 : 1;
    const [m, bytes] = await Promise.all([loadEngine(variant), fetchModel(source, options.onProgress)]);
    // the workers the build starts with (CAPT_WASM_MAX_THREADS in CMakeLists.txt; 1 without threads)
    const threads = Math.max(1, Math.min(m._capt_js_max_threads(), options.threads ?? cores));
    const ptr = m._malloc(bytes.length);
    if (!ptr) throw new Error(`out of memory for a ${bytes.length}-byte model`);
    m.HEAPU8.set(bytes, ptr);
    const session = m._capt_js_load(ptr, bytes.length, threads); // the session owns ptr now
    if (!session) throw new Error('out of memory');
    if (m._capt_js_status(session) !== 0) {
      const message = m.UTF8ToString(m._capt_js_error(session));
      m._capt_js_free(session);
      throw new Error(message);
    }
    return new Captioner(m, session, variant, threads);
  }

  /**
   * Captions an image.
   * @param {Uint8Array|ArrayBuffer|Blob|ImageData|ImageBitmap} input
   * @param {{beam?: number, maxTokens?: number, alpha?: number, raw?: boolean,
   *          onToken?: (t: {token: string, partial: string, nTokens: number}) => void}} [options]
   */
  caption(input, options = {}) {
    return this.#queue(() => this.#caption(input, options)); // one call at a time per instance
  }

  /** true when the model has a caption decoder */
  get canCaption() {
    return this.#m._capt_js_has_decoder(this.#session) !== 0;
  }

  /** size of a CLIP model's embedding space (0: the model does not embed) */
  get embedDim() {
    return this.#m._capt_js_embed_dim(this.#session);
  }

  /**
   * A CLIP model's projected (not normalised) image embedding.
   * @param {Uint8Array|ArrayBuffer|Blob|ImageData|ImageBitmap} input
   * @returns {Promise<Float32Array>}
   */
  embedImage(input) {
    return this.#queue(async () => {
      this.#checkLive();
      const pixels = await toPixels(input);
      return this.#withHeapCopy(pixels.bytes ?? pixels.rgba, (ptr, n) => this.#embedding(pixels.bytes
        ? this.#m._capt_js_embed_image(this.#session, ptr, n, 0, 0, 0, 0)
        : this.#m._capt_js_embed_image(this.#session, 0, 0, ptr, pixels.width, pixels.height, pixels.width * 4)));
    });
  }

  /**
   * A CLIP model's projected (not normalised) text embedding.
   * @param {string} text
   * @returns {Promise<Float32Array>}
   */
  embedText(text) {
    const utf8 = new TextEncoder().encode(`${text}\0`); // NUL-terminated for C
    return this.#queue(async () => {
      this.#checkLive();
      return this.#withHeapCopy(utf8, (ptr) => this.#embedding(this.#m._capt_js_embed_text(this.#session, ptr)));
    });
  }

  /**
   * CLIP zero-shot classification: each text's cosine with the image and its probability
   * (softmax of logit_scale * cosine over the texts).
   * @param {Uint8Array|ArrayBuffer|Blob|ImageData|ImageBitmap} input
   * @param {string[]} texts
   * @returns {Promise<{text: string, cosine: number, probability: number}[]>}
   */
  async similarity(input, texts) {
    const unit = (v) => {
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const image = unit(await this.embedImage(input));
    const cosines = [];
    for (const t of texts) cosines.push(unit(await this.embedText(t)).reduce((s, x, i) => s + x * image[i], 0));
    const scale = this.#m._capt_js_logit_scale(this.#session);
    const max = Math.max(...cosines.map((c) => scale * c));
    const e = cosines.map((c) => Math.exp(scale * c - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return texts.map((text, i) => ({ text, cosine: cosines[i], probability: e[i] / sum }));
  }

  // Calls on one instance run one at a time, in order.
  #queue(fn) {
    const run = this.#busy.then(fn);
    this.#busy = run.catch(() => {});
    return run;
  }

  #checkLive() {
    if (!this.#session) throw new Error('this captioner was disposed');
  }

  // Copies data into the wasm heap for fn(ptr, length), and frees it afterwards.
  #withHeapCopy(data, fn) {
    const m = this.#m;
    const ptr = m._malloc(data.length || 1);
    if (!ptr) throw new Error(`out of memory for a ${data.length}-byte input`);
    try {
      m.HEAPU8.set(data, ptr);
      return fn(ptr, data.length);
    } finally {
      m._free(ptr);
    }
  }

  #embedding(ptr) {
    const m = this.#m;
    if (!ptr) throw new Error(m.UTF8ToString(m._capt_js_error(this.#session)));
    return new Float32Array(m.HEAPU8.buffer, ptr, m._capt_js_embed_dim(this.#session)).slice();
  }

  async #caption(input, { beam = this.defaults.beam, maxTokens = this.defaults.maxTokens, alpha = this.defaults.alpha,
    raw = false, concepts = true, onToken, firstLogits = false } = {}) {
    const flags = (raw ? 1 : 0) | (concepts ? 0 : 2); // bit 1: no concept guidance
    const m = this.#m;
    this.#checkLive();
    const pixels = await toPixels(input);
    const t0 = performance.now();
    m.onCaptToken = onToken ? (partial, token, nTokens) => onToken({ token, partial, nTokens }) : null;
    let result = 0;
    try {
      result = this.#withHeapCopy(pixels.bytes ?? pixels.rgba, (ptr, n) => (pixels.bytes
        ? m._capt_js_caption_bytes(this.#session, ptr, n, beam, maxTokens, alpha, flags, onToken ? 1 : 0)
        : m._capt_js_caption_rgba(this.#session, ptr, pixels.width, pixels.height, pixels.width * 4, beam, maxTokens,
          alpha, flags, onToken ? 1 : 0)));
    } finally {
      m.onCaptToken = null;
    }
    if (!result) throw new Error(m.UTF8ToString(m._capt_js_error(this.#session)));
    try {
      const out = this.#read(result, performance.now() - t0);
      if (firstLogits) {
        const n = m._capt_js_result_vocab(result);
        out.firstLogits = new Float32Array(m.HEAPU8.buffer, m._capt_js_result_first_logits(result), n).slice();
      }
      return out;
    } finally {
      m._capt_js_result_free(result);
    }
  }

  #read(r, totalMs) {
    const m = this.#m;
    const n = m._capt_js_result_n_tokens(r);
    const [layers, heads, gh, gw] = [0, 1, 2, 3].map((i) => m._capt_js_result_shape(r, i));
    const cells = gh * gw;
    const att = new Float32Array(m.HEAPU8.buffer, m._capt_js_result_attention(r), layers * heads * n * cells).slice();
    const mean = new Float32Array(m.HEAPU8.buffer, m._capt_js_result_attention_mean(r), layers * n * cells).slice();
    const maps = [];
    const meanMaps = [];
    for (let l = 0; l < layers; l++) {
      const perHead = [];
      for (let h = 0; h < heads; h++) {
        const perToken = [];
        for (let t = 0; t < n; t++) perToken.push(att.subarray(((l * heads + h) * n + t) * cells, ((l * heads + h) * n + t + 1) * cells));
        perHead.push(perToken);
      }
      maps.push(perHead);
      const perToken = [];
      for (let t = 0; t < n; t++) perToken.push(mean.subarray((l * n + t) * cells, (l * n + t + 1) * cells));
      meanMaps.push(perToken);
    }
    const tokens = [];
    for (let i = 0; i < n; i++) {
      tokens.push({ id: m._capt_js_result_token_id(r, i), text: m.UTF8ToString(m._capt_js_result_token_text(r, i)),
        p: m._capt_js_result_token_prob(r, i) });
    }
    const concepts = [];
    for (let i = 0; i < m._capt_js_result_n_concepts(r); i++) {
      concepts.push({ label: m.UTF8ToString(m._capt_js_result_concept_label(r, i), m._capt_js_result_concept_label_len(r, i)),
        p: m._capt_js_result_concept_prob(r, i) });
    }
    const nDet = m._capt_js_result_n_detections(r);
    const detections = [];
    for (let i = 0; i < nDet; i++) {
      const v = [0, 1, 2, 3, 4, 5].map((k) => m._capt_js_result_detection(r, i, k));
      detections.push({ label: m.UTF8ToString(m._capt_js_result_detection_label(r, i),
        m._capt_js_result_detection_label_len(r, i)), classIndex: v[5], score: v[4], box: v.slice(0, 4) });
    }
    const detAtt = new Float32Array(m.HEAPU8.buffer, m._capt_js_result_detection_attention(r), layers * n * nDet).slice();
    const detMaps = [];
    for (let l = 0; l < layers; l++) {
      const perToken = [];
      for (let t = 0; t < n; t++) perToken.push(detAtt.subarray((l * n + t) * nDet, (l * n + t + 1) * nDet));
      detMaps.push(perToken);
    }
    return {
      caption: m.UTF8ToString(m._capt_js_result_caption(r)),
      tokens,
      concepts,
      detections,
      attention: { layers, heads, grid: [gh, gw], maps, mean: meanMaps, detections: detMaps },
      timingsMs: { decode: m._capt_js_result_timing(r, 0), encode: m._capt_js_result_timing(r, 1),
        caption: m._capt_js_result_timing(r, 2), preprocess: m._capt_js_result_timing(r, 3),
        detect: m._capt_js_result_timing(r, 4), total: totalMs },
    };
  }

  /** Bytes of WebAssembly memory in use (its heap only grows; a flat size means no leak). */
  get heapBytes() {
    return this.#m.HEAPU8.length;
  }

  dispose() {
    if (this.#session) this.#m._capt_js_free(this.#session);
    this.#session = 0;
  }
}

/**
 * The same API in a Web Worker, so the page never blocks. Resolves once the model is loaded.
 * @param {string|URL} modelUrl
 * @param {{onProgress?: (p: {loaded: number, total: number}) => void, variant?: 'threads'|'simd'|'plain',
 *          threads?: number}} [options]
 */
export function createWorkerCaptioner(modelUrl, options = {}) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  let nextId = 1;
  const pending = new Map();
  worker.onmessage = (e) => {
    const msg = e.data;
    const p = pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') p.onProgress?.(msg.progress);
    else if (msg.type === 'token') p.onToken?.(msg.token);
    else {
      pending.delete(msg.id);
      if (msg.type === 'error') p.reject(new Error(msg.message));
      else p.resolve(msg.result);
    }
  };
  worker.onerror = (e) => {
    for (const p of pending.values()) p.reject(new Error(e.message || 'the captioning worker failed'));
    pending.clear();
  };
  const call = (type, payload, handlers = {}) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject, ...handlers });
    worker.postMessage({ id, type, ...payload });
  });
  const source = modelUrl instanceof URL ? modelUrl.href : modelUrl;
  return call('load', { source, variant: options.variant, threads: options.threads },
    { onProgress: options.onProgress }).then((info) => ({
    variant: info.variant,
    threads: info.threads,
    defaults: info.defaults,
    caption: (input, opts = {}) => {
      const { onToken, ...rest } = opts;
      return call('caption', { input, options: { ...rest, stream: !!onToken } }, { onToken });
    },
    dispose: () => {
      worker.terminate();
      for (const p of pending.values()) p.reject(new Error('the captioner was disposed'));
      pending.clear();
    },
  }));
}
