// A small static file server for web/dist (or another folder), for `scripts/run.sh` and
// the end-to-end tests, with the cross-origin isolation headers (threads in the page).
// Usage: node scripts/serve.mjs [DIR] [PORT]  (PORT 0: any free one)
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.svg': 'image/svg+xml', '.capt': 'application/octet-stream' };

// Cross-origin isolation: the page gets SharedArrayBuffer, so the engine runs its threads
// build (a static host without these headers gets the single-thread SIMD build).
export const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

// hold (tests): an async function of the request path that the response waits for, e.g. to
// keep the model file loading while a photo is dropped.
export function serve(root, port = 0, host = '127.0.0.1', { isolate = true, hold = null } = {}) {
  const server = createServer(async (req, res) => {
    try {
      let rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      if (rel.endsWith('/')) rel += 'index.html';
      if (hold) await hold(rel);
      const file = path.join(root, path.normalize(rel).replace(/^(\.\.[/\\])+/, ''));
      if (!file.startsWith(path.resolve(root))) throw new Error('outside');
      const info = await stat(file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
        'content-length': info.size, 'cache-control': 'no-cache', ...(isolate ? ISOLATION : {}) });
      res.end(await readFile(file));
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const root = path.resolve(process.argv[2] || 'web/dist');
  const server = await serve(root, Number(process.argv[3] ?? 8080));
  console.log(`capt is served at http://127.0.0.1:${server.address().port}/  (Ctrl-C to stop)`);
}
