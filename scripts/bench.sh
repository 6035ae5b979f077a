#!/usr/bin/env bash
# Benchmarks (not part of the tests): the kernels (capt-bench-kernels) natively, under node with the
# wasm SIMD128 build, and with the plain wasm build, then the ratios the targets name:
# wasm SIMD f32 vs the plain wasm build at 512x512x512, and q8_0 vs f32.
# Usage: scripts/bench.sh [--threads N] [--min-time S]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
build build -DCMAKE_BUILD_TYPE=Release > /dev/null
build_wasm build-wasm -DCMAKE_BUILD_TYPE=Release > /dev/null
build_wasm build-wasm-scalar -DCMAKE_BUILD_TYPE=Release -DCAPT_WASM_SIMD=OFF > /dev/null
mkdir -p out
echo "## native"; ./build/capt-bench-kernels "$@" | tee out/bench-native.txt
echo "## wasm simd128 (node)"; node build-wasm/capt-bench-kernels.js "$@" | tee out/bench-wasm.txt
echo "## wasm plain (node)"; node build-wasm-scalar/capt-bench-kernels.js "$@" | tee out/bench-wasm-plain.txt
gflops() { awk -v s="$2" -v d="$3" -v k="$4" '$1==s && $2==d && $3==k {print $4}' "$1"; }
simd=$(gflops out/bench-wasm.txt 512x512x512 f32 wasm128)
plain=$(gflops out/bench-wasm-plain.txt 512x512x512 f32 ref)
echo
awk -v a="$simd" -v b="$plain" 'BEGIN {printf "wasm simd128 f32 / plain wasm f32 at 512x512x512: %.1fx (target >= 4x)\n", a/b}'
for pair in "out/bench-native.txt avx2" "out/bench-wasm.txt wasm128"; do
  set -- $pair
  awk -v q="$(gflops "$1" 512x512x512 q8_0 "$2")" -v f="$(gflops "$1" 512x512x512 f32 "$2")" -v k="$2" \
    'BEGIN {printf "%s q8_0 / f32 at 512x512x512: %.2fx (target >= 1)\n", k, q/f}'
done

# The whole caption (decode + encode + detect + beam 3) in wasm SIMD128 on one thread: the
# default model against the default before the object detector (its decoder from commit
# 9df1d24, with the same encoder), both measured here, alternately.
echo
git show 9df1d24:weights/decoder-flickr8k.capt > out/decoder-before-detector.capt
/usr/bin/python3 tools/combine_capt.py out/capt-before-detector.capt weights/mobilenet_v2.capt \
  out/decoder-before-detector.capt > /dev/null
mean_beam3() { awk '$1 == "mean" {print $3}' "$1"; }
for round in 1 2; do
  node build-wasm/capt.js bench caption --model out/capt-before-detector.capt --repeat 1 > out/bench-caption-before.txt
  node build-wasm/capt.js bench caption --model weights/capt-default.capt --repeat 1 > out/bench-caption-now.txt
  awk -v now="$(mean_beam3 out/bench-caption-now.txt)" -v before="$(mean_beam3 out/bench-caption-before.txt)" \
    'BEGIN {printf "wasm simd128 caption, beam 3, 1 thread (mean of the 4 photos): %.1f ms with the detector, %.1f ms before it: %.2fx (target <= 2x)\n", now, before, now/before}'
done
