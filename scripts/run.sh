#!/usr/bin/env bash
# The main job: installs what is missing, builds capt, and shows it working on a caption:
# CLIP BPE token ids and their decoding. Pass your own text as arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
build build -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { tail -50 build.log; exit 1; }
text=("$@")
((${#text[@]})) || text=("A black dog runs across the grass with a ball in its mouth.")
for t in "${text[@]}"; do
  ids=$(./build/capt tokenize -- "$t")
  echo "text:    $t"
  echo "ids:     $ids"
  # shellcheck disable=SC2086
  echo "decoded: $(./build/capt tokenize --decode $ids)"
done
