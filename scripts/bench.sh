#!/usr/bin/env bash
# Benchmarks (not part of the tests): the kernels (capt-bench-kernels) natively, under node with the
# wasm SIMD128 build, and with the plain wasm build, then the ratios the targets name, each
# against its peer measured in the same run: wasm SIMD f32 vs the plain wasm build at
# 512x512x512, q8_0 vs f32, the native encoder vs PyTorch, 2 threads vs 1, the wasm encoder
# vs onnxruntime-web and the full caption in wasm (issue 21), and the caption with the
# detector vs without (issue 22).
# Usage: scripts/bench.sh [--threads N] [--min-time S]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
build build -DCMAKE_BUILD_TYPE=Release > /dev/null
bash scripts/build_wasm.sh > /dev/null # build-wasm, build-wasm-scalar, build-wasm-threads and wasm/dist
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

# The encoder against its peers, alternately: natively on one thread against PyTorch (the
# same network in float32, bench/bench_torch_encoder.py), from a prepared tensor in both;
# then 2 threads against 1, natively and in the wasm threads build (under node).
echo
encode_ms() { awk '$1 == "mean" {print $7}'; } # capt bench encoder's encode column: best of runs, mean of photos
for round in 1 2; do
  capt=$(./build/capt bench encoder --model weights/mobilenet_v2.capt --threads 1 | encode_ms)
  torch=$(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_torch_encoder.py | sed -E 's/.*best ([0-9.]+)\)$/\1/')
  awk -v c="$capt" -v t="$torch" 'BEGIN {printf "native encoder, 1 thread: capt %.2f ms, PyTorch %.2f ms (best of runs): PyTorch / capt %.2fx (target >= 1)\n", c, t, t/c}'
done
# Threads: 5 alternating rounds, the best of each (on a shared 2-core host one round's
# ratio ranged 1.3-1.8x: a busy neighbour slows the 2-thread run most).
min_of() { tr ' ' '\n' | awk 'NF && (m == "" || $1 < m) {m = $1} END {print m}'; }
for runner in "./build/capt" "node build-wasm-threads/capt.js"; do
  ones="" twos=""
  for round in 1 2 3 4 5; do
    ones="$ones $($runner bench encoder --model weights/mobilenet_v2.capt --threads 1 | encode_ms)"
    twos="$twos $($runner bench encoder --model weights/mobilenet_v2.capt --threads 2 | encode_ms)"
  done
  one=$(echo $ones | min_of) two=$(echo $twos | min_of)
  awk -v a="$one" -v b="$two" -v r="$runner" \
    'BEGIN {printf "encoder 2 threads vs 1 (%s, best of 5 alternating rounds): %.2f ms vs %.2f ms: %.2fx (target >= 1.6x)\n", r, b, a, a/b}'
done

# The default before the object detector: its decoder from commit 9df1d24, with the same
# encoder (the model issue 21's 45 ms caption was measured with), for the captions below.
echo
git show 9df1d24:weights/decoder-flickr8k.capt > out/decoder-before-detector.capt
# That decoder was written as format version 1, whose header field 12 was still zero:
# version 2 (docs/format.md) puts the file's CRC-32 there, the layout otherwise the same.
/usr/bin/python3 -c "
import struct, sys, zlib
data = bytearray(open(sys.argv[1], 'rb').read())
if struct.unpack_from('<I', data, 4)[0] == 1:
    struct.pack_into('<II', data, 4, 2, struct.unpack_from('<I', data, 8)[0])
    struct.pack_into('<I', data, 12, 0)
    struct.pack_into('<I', data, 12, zlib.crc32(data))
    open(sys.argv[1], 'wb').write(data)" out/decoder-before-detector.capt
/usr/bin/python3 tools/combine_capt.py out/capt-before-detector.capt weights/mobilenet_v2.capt \
  out/decoder-before-detector.capt > /dev/null

# The wasm SIMD128 build against onnxruntime-web on one thread (scripts/bench_wasm.mjs), and
# the full caption of a 224x224 JPEG there, with the default model and the one before the
# detector, alternately.
[ -f out/onnx/mbv2_encoder.onnx ] || { mkdir -p out/onnx && /usr/bin/python3 tools/export_onnx.py out/onnx/mbv2_encoder.onnx; }
/usr/bin/python3 -c "from PIL import Image; Image.open('$CAPT_ASSETS/data/photos/rocket.jpg').convert('RGB').resize((224, 224), Image.BILINEAR).save('out/rocket-224.jpg', quality=90)"
node scripts/bench_wasm.mjs weights/capt-default.capt out/onnx/mbv2_encoder.onnx 30 --image out/rocket-224.jpg \
  --without-detector out/capt-before-detector.capt

# The whole caption (decode + encode + detect + beam 3) in wasm SIMD128 on one thread: the
# default model against the default before the object detector, on the four photos.
echo
mean_beam3() { awk '$1 == "mean" {print $3}' "$1"; }
for round in 1 2; do
  node build-wasm/capt.js bench caption --model out/capt-before-detector.capt --repeat 1 > out/bench-caption-before.txt
  node build-wasm/capt.js bench caption --model weights/capt-default.capt --repeat 1 > out/bench-caption-now.txt
  awk -v now="$(mean_beam3 out/bench-caption-now.txt)" -v before="$(mean_beam3 out/bench-caption-before.txt)" \
    'BEGIN {printf "wasm simd128 caption, beam 3, 1 thread (mean of the 4 photos): %.1f ms with the detector, %.1f ms before it: %.2fx (target <= 2x)\n", now, before, now/before}'
done
