#!/usr/bin/env bash
# Builds the static site in web/dist: the WebAssembly engine (scripts/build_wasm.sh), the
# default model (named by its hash), the React page (Vite), and the deploy's version and
# service worker file list.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/build_wasm.sh > /dev/null
[ -f weights/capt-default.capt ] || bash scripts/build_weights.sh
# The model under a name that says its content (a new model is a new URL).
rm -f web/public/capt-default*.capt
cp weights/capt-default.capt "web/public/capt-default.$(sha256sum weights/capt-default.capt | cut -c1-16).capt"
npx vite build --config web/vite.config.mjs --logLevel warn
# The deploy's version and the service worker's file list (scripts/stamp_deploy.mjs).
node scripts/stamp_deploy.mjs web/dist
du -sh web/dist | awk '{print "web/dist: " $1}'
