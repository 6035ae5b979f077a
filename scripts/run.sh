#!/usr/bin/env bash
# The main job: installs what is missing, builds capt and the default model, and captions
# photos: the ones given as arguments, or the sample photos in ../shared/data/photos.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
build build -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { tail -50 build.log; exit 1; }
if (($#)); then
  images=("$@")
else
  images=("$CAPT_ASSETS"/data/photos/*)
fi
./build/capt caption --threads 2 "${images[@]}"
