// What the engine reads of a chosen photo. JPEG, PNG, GIF and BMP files of up to
// DIRECT_PIXELS go to the engine as they are (it decodes them as the CLI does, EXIF
// rotation included); anything else the browser can show (WebP, AVIF, SVG, a truncated
// JPEG) and any larger photo is drawn by the browser, downscaled to about TARGET_PIXELS,
// and handed over as pixels: the model sees 224x224 and 320x320 anyway, and decoding a
// 12 MP JPEG in WebAssembly costs far more than the browser's own decoder.
export const DIRECT_PIXELS = 2 ** 21; // 2 Mpixel
export const TARGET_PIXELS = 2 ** 20; // 1 Mpixel
// The most this page asks the browser to decode (Chromium's canvas stops at 256 Mpixel);
// a larger JPEG, PNG, GIF or BMP goes to the engine, which names its own limit.
export const BROWSER_MAX_PIXELS = 2 ** 27; // 128 Mpixel
const SVG_SIDE = 1024; // an SVG without a size of its own is drawn this large

/** The format a file's first bytes say, or null: jpeg, png, gif, bmp (the engine's), heic, webp, avif, svg. */
export function sniffImage(head, file) {
  const ascii = (from, to) => String.fromCharCode(...head.slice(from, to));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 2) === 'BM') return 'bmp';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (/^(heic|heix|hevc|hevx|heim|heis|mif1|msf1)$/.test(brand)) return 'heic';
    if (/^avi[fs]$/.test(brand)) return 'avif';
  }
  if (/\.(heic|heif)$/i.test(file?.name ?? '') || /image\/hei[cf]/.test(file?.type ?? '')) return 'heic';
  if (file?.type === 'image/svg+xml' || /\.svg$/i.test(file?.name ?? '')) return 'svg';
  return null;
}

const ENGINE_FORMATS = new Set(['jpeg', 'png', 'gif', 'bmp']);

/** Loads an image URL into an <img>; resolves to it, or null when the browser cannot show it. */
export function loadImage(url) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => resolve(null);
    img.src = url;
  });
}

/** The image's size as shown: an SVG without one gets SVG_SIDE on its longer side. */
export function shownSize(img, kind) {
  const w = img.naturalWidth, h = img.naturalHeight;
  if (kind === 'svg' && (!w || !h)) return { width: SVG_SIDE, height: SVG_SIDE };
  if (kind === 'svg') {
    const s = SVG_SIDE / Math.max(w, h);
    return { width: Math.round(w * s), height: Math.round(h * s) };
  }
  return { width: w, height: h };
}

/** The image drawn by the browser at about maxPixels at most (aspect kept): ImageData. */
export function rasterize(img, size, maxPixels = TARGET_PIXELS) {
  const scale = Math.min(1, Math.sqrt(maxPixels / (size.width * size.height)));
  const width = Math.max(1, Math.round(size.width * scale));
  const height = Math.max(1, Math.round(size.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.imageSmoothingQuality = 'high';
  g.fillStyle = '#fff'; // transparent areas read as white, as the engine composites them
  g.fillRect(0, 0, width, height);
  g.drawImage(img, 0, 0, width, height);
  return g.getImageData(0, 0, width, height);
}

/**
 * What to hand the engine for a file the browser showed as img: {input, width, height, how}
 * (how: 'file' the bytes, the engine decodes; 'browser' pixels the browser decoded).
 */
export async function engineInput(file, img, kind) {
  const size = shownSize(img, kind);
  const pixels = size.width * size.height;
  if (ENGINE_FORMATS.has(kind) && pixels > BROWSER_MAX_PIXELS) return { input: file, ...size, how: 'file' };
  if (pixels > BROWSER_MAX_PIXELS) {
    throw new Error(`image size ${size.width}x${size.height}: ${(pixels / 2 ** 20).toFixed(1)} Mpixel is above the `
      + `${BROWSER_MAX_PIXELS / 2 ** 20} Mpixel this page decodes`);
  }
  const whole = ENGINE_FORMATS.has(kind) && (kind !== 'jpeg' || (await jpegComplete(file)));
  if (whole && pixels <= DIRECT_PIXELS) return { input: file, ...size, how: 'file' };
  const drawn = rasterize(img, size);
  return { input: drawn, width: drawn.width, height: drawn.height, how: 'browser' };
}

// A JPEG that ends with its end-of-image marker (FF D9, perhaps followed by padding); a
// cut one is left to the browser, which shows what arrived.
async function jpegComplete(file) {
  const tail = new Uint8Array(await file.slice(Math.max(0, file.size - 64)).arrayBuffer());
  for (let i = tail.length - 2; i >= 0; i--) if (tail[i] === 0xff && tail[i + 1] === 0xd9) return true;
  return false;
}

/**
 * A chosen file, ready to show and caption: {url (an object URL: revoke it), shown: {width,
 * height}, input, read: {width, height, how}}; throws an Error whose message says why not
 * (not an image, HEIC, unreadable, too large for the page).
 */
export async function prepareFile(file) {
  const kind = sniffImage(new Uint8Array(await file.slice(0, 32).arrayBuffer()), file);
  if (!kind && file.type && !file.type.startsWith('image/')) {
    throw new Error(`“${file.name}” is not an image (${file.type}). Choose a photo (JPEG, PNG, WebP, AVIF, GIF, BMP or SVG).`);
  }
  const url = URL.createObjectURL(file);
  const img = await loadImage(url);
  try {
    if (!img) {
      throw new Error(kind === 'heic'
        ? `“${file.name}” is a HEIC photo, which this browser cannot decode. Save it as JPEG (on an iPhone: Settings › Camera › Formats › Most Compatible) and try again.`
        : `“${file.name}” cannot be read as an image.`);
    }
    const what = await engineInput(file, img, kind);
    return { url, shown: shownSize(img, kind), input: what.input, read: { width: what.width, height: what.height, how: what.how } };
  } catch (err) {
    URL.revokeObjectURL(url);
    throw err;
  }
}

/** Chosen files (a FileList or an array) as [{file, path}]: a folder's files keep their path in it. */
export const fileEntries = (files) => [...files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));

/**
 * The files among dropped items, folders walked (DataTransferItemList): {files: [{file,
 * path}], folder: whether a folder was dropped}. The items are read before the first await,
 * while the drop event lasts.
 */
export async function droppedFiles(items) {
  const entries = [...items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return { files: fileEntries([...items].map((i) => i.getAsFile?.()).filter(Boolean)), folder: false };
  const files = [];
  const walk = async (entry) => {
    if (entry.isFile) {
      files.push({ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), path: entry.fullPath.replace(/^\//, '') });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) { // readEntries returns a directory in pieces
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  const folder = entries.some((e) => e.isDirectory);
  for (const e of entries) await walk(e);
  return { files, folder };
}

/** Files worth captioning in a folder: images by type or name (not .DS_Store, notes...). */
export const looksLikeImage = (file) => file.type.startsWith('image/') || /\.(jpe?g|png|gif|bmp|webp|avif|svg|heic|heif)$/i.test(file.name);
