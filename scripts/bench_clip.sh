#!/usr/bin/env bash
# CLIP image tower at full size without the real weights (docs/clip.md): generates a
# random checkpoint with the real configuration (tools/random_clip.py; in out/, never
# committed), converts it to every dtype and reports, per dtype, the file size, the image
# tower's ms per image and GFLOP/s natively and in wasm SIMD128 under node (one thread),
# and the peak memory of each process. Not part of the tests.
# Usage: scripts/bench_clip.sh [vit-b-32|vit-b-16|vit-l-14]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
preset=${1:-vit-b-32}
build build -DCMAKE_BUILD_TYPE=Release > /dev/null
build_wasm build-wasm -DCMAKE_BUILD_TYPE=Release > /dev/null
dir=out/clip/$preset
mkdir -p "$dir"
[ -f "$dir/model.safetensors" ] || /usr/bin/python3 tools/random_clip.py "$dir" --preset "$preset"
# FLOPs of one image through the tower: 2 x the multiply-adds of the patch embedding,
# every block's projections, MLP and attention, and the final projection.
gflop=$(/usr/bin/python3 - "$dir/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); v = c["vision_config"]
d, m, L, p = v["hidden_size"], v["intermediate_size"], v["num_hidden_layers"], v["patch_size"]
g = (v["image_size"] // p) ** 2; n = g + 1
macs = g * 3 * p * p * d + L * (4 * n * d * d + 2 * n * d * m + 2 * n * n * d) + d * c["projection_dim"]
print("%.2f" % (2 * macs / 1e9))
PY
)
image=${CAPT_ASSETS:-../shared}/data/photos/chelsea.png
echo "$preset image tower: $gflop GFLOP per image; 1 thread; best of runs on $(basename "$image")"
printf "%-6s %12s | %10s %9s %10s | %10s %9s %10s\n" dtype "file bytes" "native ms" "GFLOP/s" "peak MiB" \
  "wasm ms" "GFLOP/s" "peak MiB"
for dtype in f32 f16 q8_0 q4_0; do
  model=$dir/$preset-$dtype.capt
  [ -f "$model" ] || /usr/bin/python3 tools/convert_clip.py "$dir" "$model" --dtype "$dtype" > /dev/null
  row="$(printf "%-6s %12d" "$dtype" "$(stat -c %s "$model")")"
  for runner in "./build/capt" "node build-wasm/capt.js"; do
    out=$( { /usr/bin/time -f "peak %M" $runner bench encoder --model "$model" "$image"; } 2>&1 )
    ms=$(awk '/^mean/ {print $(NF-1)}' <<< "$out")
    peak=$(awk '/^peak/ {print $2}' <<< "$out")
    row+=" | $(awk -v ms="$ms" -v g="$gflop" -v kib="$peak" 'BEGIN {printf "%10.1f %9.1f %10.0f", ms, g / ms * 1e3, kib / 1024}')"
  done
  echo "$row"
done
echo "(peak memory is the whole process: the model file read into memory, both towers, node itself for wasm)"
