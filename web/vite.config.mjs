// Vite config of the web page: React + Tailwind v4, relative asset paths (works under
// any sub-path of a static host), the engine's worker bundled as an ES module.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react(), tailwindcss()],
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  // Cross-origin isolation (SharedArrayBuffer): the engine's threads build, as scripts/serve.mjs.
  server: { port: 5173, headers: ISOLATION },
  preview: { headers: ISOLATION },
});
