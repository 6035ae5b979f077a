// worker.js — runs a Captioner in a Web Worker for createWorkerCaptioner (capt.js).
// Messages in: {id, type: 'load', source, variant} and {id, type: 'caption', input, options}.
// Messages out: progress, token (streaming), result, error — every request ends in a
// result or an error.
import { Captioner } from './capt.js';

let captioner = null;

self.onmessage = async (e) => {
  const { id, type } = e.data;
  try {
    if (type === 'load') {
      captioner?.dispose();
      captioner = await Captioner.load(e.data.source, {
        variant: e.data.variant,
        threads: e.data.threads,
        onProgress: (progress) => self.postMessage({ id, type: 'progress', progress }),
      });
      self.postMessage({ id, type: 'result',
        result: { variant: captioner.variant, threads: captioner.threads, defaults: captioner.defaults } });
    } else if (type === 'caption') {
      if (!captioner) throw new Error('no model is loaded');
      const { stream, ...options } = e.data.options || {};
      if (stream) options.onToken = (token) => self.postMessage({ id, type: 'token', token });
      const result = await captioner.caption(e.data.input, options);
      self.postMessage({ id, type: 'result', result });
    } else {
      throw new Error(`unknown request ${type}`);
    }
  } catch (err) {
    self.postMessage({ id, type: 'error', message: err?.message || String(err) });
  }
};
