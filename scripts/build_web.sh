#!/usr/bin/env bash
# Builds the static site in web/dist: the WebAssembly engine (scripts/build_wasm.sh), the
# default model, the React page (Vite), and the service worker's file list.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/build_wasm.sh > /dev/null
[ -f weights/capt-default.capt ] || bash scripts/build_weights.sh
cp weights/capt-default.capt web/public/capt-default.capt
npx vite build --config web/vite.config.mjs --logLevel warn
# Everything but the model is precached by the service worker on install; the model is
# cached when the page downloads it (so it is transferred once).
(cd web/dist && find . -type f ! -name sw.js ! -name sw-manifest.json ! -name capt-default.capt -printf '"%P",' \
  | sed 's/^/[/; s/,$/]/' > sw-manifest.json)
du -sh web/dist | awk '{print "web/dist: " $1}'
