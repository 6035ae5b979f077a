#!/usr/bin/env bash
# The main job: installs what is missing, builds capt, the default model and the web page,
# then captions photos and serves the page.
#   bash scripts/run.sh             caption the sample photos, then serve the page locally
#   bash scripts/run.sh IMAGE...    caption these images (files, folders, or - for stdin)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
build build -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { tail -50 build.log; exit 1; }
if (($#)); then
  exec ./build/capt caption --threads 2 "$@"
fi
./build/capt caption --threads 2 "$CAPT_ASSETS"/data/photos/*
bash scripts/build_web.sh
exec node scripts/serve.mjs web/dist "${PORT:-8080}"
