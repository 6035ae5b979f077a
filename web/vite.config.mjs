// Vite config of the web page: React + Tailwind v4, relative asset paths (works under
// any sub-path of a static host), the engine's worker bundled as an ES module.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';

// The model file in web/public, named by its content hash (scripts/build_web.sh), so a new
// model is a new URL and never a stale cache entry.
const models = readdirSync(fileURLToPath(new URL('./public', import.meta.url))).filter((f) => /^capt-default\.[0-9a-f]+\.capt$/.test(f));
if (models.length !== 1) throw new Error(`web/public: expected one capt-default.HASH.capt (run scripts/build_web.sh), found ${models.length}`);

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react(), tailwindcss()],
  worker: { format: 'es' },
  define: { __CAPT_MODEL__: JSON.stringify(models[0]) },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  // Cross-origin isolation (SharedArrayBuffer): the engine's threads build, as scripts/serve.mjs.
  server: { port: 5173, headers: ISOLATION },
  preview: { headers: ISOLATION },
});
