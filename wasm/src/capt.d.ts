// Type declarations of capt.js (wasm/src/captioner.js).

export interface Progress {
  loaded: number;
  /** 0 when the server did not say */
  total: number;
}

export interface LoadOptions {
  onProgress?: (progress: Progress) => void;
  /** Which build to run; by default 'threads' on cross-origin isolated pages, else SIMD128
   * where supported, else 'plain'. */
  variant?: 'threads' | 'simd' | 'plain';
  /** threads build: threads per caption (default: the cores, at most 4) */
  threads?: number;
}

export interface TokenEvent {
  /** the newest token's text */
  token: string;
  /** the best caption so far (with beam search, earlier words can still change) */
  partial: string;
  nTokens: number;
}

export interface CaptionOptions {
  /** 1 = greedy; default 3 */
  beam?: number;
  /** default 20 */
  maxTokens?: number;
  /** beam length exponent, default 1.0 */
  alpha?: number;
  /** keep the model's text (no capital, no period) */
  raw?: boolean;
  /** concept guidance from the encoder's ImageNet classes (docs/model.md); default true */
  concepts?: boolean;
  onToken?: (event: TokenEvent) => void;
  /** also return the decoder's logits at the first step (for checks) */
  firstLogits?: boolean;
}

export interface Token {
  id: number;
  text: string;
  /** probability of the token when it was chosen */
  p: number;
}

export interface Attention {
  layers: number;
  heads: number;
  /** [rows, columns] of visual tokens */
  grid: [number, number];
  /** maps[layer][head][token]: rows * columns weights */
  maps: Float32Array[][][];
  /** mean[layer][token]: the average over heads */
  mean: Float32Array[][];
  /** detections[layer][token]: each detection's share of the attention (head average) */
  detections: Float32Array[][];
}

export interface Detection {
  /** COCO category ("person", "dog", ...) */
  label: string;
  classIndex: number;
  /** the detector's confidence, 0..1 */
  score: number;
  /** [x0, y0, x1, y1]: left, top, right, bottom in 0..1 of the image's width and height */
  box: [number, number, number, number];
}

export interface Concept {
  /** class name of the encoder's classifier (ImageNet) */
  label: string;
  p: number;
}

export interface CaptionResult {
  caption: string;
  tokens: Token[];
  /** the encoder's top classes, most probable first (empty without a classifier) */
  concepts: Concept[];
  /** the detected objects the decoder read, most confident first (empty when it reads none) */
  detections: Detection[];
  attention: Attention;
  /** encode includes preprocess (resizing and normalizing for the encoder); detect: the detector */
  timingsMs: { decode: number; encode: number; caption: number; preprocess: number; detect: number; total: number };
  firstLogits?: Float32Array;
}

export type ImageInput = Uint8Array | ArrayBuffer | Blob | ImageData | ImageBitmap;

export declare function simdSupported(): boolean;
/** SIMD and SharedArrayBuffer (the page is cross-origin isolated) */
export declare function threadsSupported(): boolean;
export declare function fetchModel(source: string | URL | ArrayBuffer | Uint8Array,
  onProgress?: (p: Progress) => void): Promise<Uint8Array>;

/** caption()'s defaults and limits, as the engine defines them (capt_caption_default_params in C) */
export interface CaptionDefaults {
  beam: number;
  maxTokens: number;
  alpha: number;
  maxBeam: number;
}

export declare class Captioner {
  static load(source: string | URL | ArrayBuffer | Uint8Array, options?: LoadOptions): Promise<Captioner>;
  readonly variant: 'threads' | 'simd' | 'plain';
  readonly threads: number;
  readonly defaults: CaptionDefaults;
  /** bytes of WebAssembly memory (flat across captions when nothing leaks) */
  readonly heapBytes: number;
  caption(input: ImageInput, options?: CaptionOptions): Promise<CaptionResult>;
  /** true when the model has a caption decoder */
  readonly canCaption: boolean;
  /** CLIP models: size of the embedding space (0 otherwise) */
  readonly embedDim: number;
  /** CLIP: the projected (not normalised) image embedding */
  embedImage(input: ImageInput): Promise<Float32Array>;
  /** CLIP: the projected (not normalised) text embedding */
  embedText(text: string): Promise<Float32Array>;
  /** CLIP zero-shot: softmax of logit_scale * cosine over the texts */
  similarity(input: ImageInput, texts: string[]): Promise<{ text: string; cosine: number; probability: number }[]>;
  dispose(): void;
}

export interface WorkerCaptioner {
  readonly variant: 'threads' | 'simd' | 'plain';
  readonly threads: number;
  readonly defaults: CaptionDefaults;
  caption(input: ImageInput, options?: CaptionOptions): Promise<CaptionResult>;
  dispose(): void;
}

export declare function createWorkerCaptioner(modelUrl: string | URL, options?: LoadOptions): Promise<WorkerCaptioner>;
