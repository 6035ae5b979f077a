// The captioning engine for the page: capt's WebAssembly build in a Web Worker, started
// once the service worker (offline cache) controls the page, so the model download is
// cached too.
import { createWorkerCaptioner } from '../../wasm/dist/capt.js';

/* global __CAPT_MODEL__ */
// capt-default.HASH.capt, named by its content (web/vite.config.mjs).
export const MODEL_URL = new URL(`./${__CAPT_MODEL__}`, document.baseURI).href;

/** Registers the service worker and waits (briefly) until it controls the page. */
export async function enableOffline() {
  if (!('serviceWorker' in navigator)) return false;
  try {
    await navigator.serviceWorker.register(new URL('./sw.js', document.baseURI).href);
    await navigator.serviceWorker.ready;
    if (navigator.serviceWorker.controller) return true;
    await new Promise((resolve) => {
      navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true });
      setTimeout(resolve, 3000);
    });
    return !!navigator.serviceWorker.controller;
  } catch {
    return false; // the page still works online
  }
}

export function wasmSupported() {
  return typeof WebAssembly === 'object' && typeof WebAssembly.instantiate === 'function';
}

export async function startEngine(onProgress) {
  if (!wasmSupported()) throw new Error('This browser cannot run WebAssembly, which capt needs.');
  await enableOffline();
  return createWorkerCaptioner(MODEL_URL, { onProgress });
}
