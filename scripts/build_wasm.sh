#!/usr/bin/env bash
# Builds the WebAssembly module in its variants and assembles wasm/dist:
#   capt.js (the API, ES module), capt.d.ts, worker.js,
#   capt-threads.{js,wasm,worker.js} (SIMD128 + pthreads, for cross-origin isolated pages),
#   capt-simd.{js,wasm} (SIMD128) and capt-plain.{js,wasm} (browsers without SIMD).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
build_wasm build-wasm -DCMAKE_BUILD_TYPE=Release > build-wasm.build.log 2>&1 || { tail -30 build-wasm.build.log; exit 1; }
build_wasm build-wasm-scalar -DCMAKE_BUILD_TYPE=Release -DCAPT_WASM_SIMD=OFF > build-wasm-scalar.build.log 2>&1 \
  || { tail -30 build-wasm-scalar.build.log; exit 1; }
build_wasm build-wasm-threads -DCMAKE_BUILD_TYPE=Release -DCAPT_WASM_THREADS=ON > build-wasm-threads.build.log 2>&1 \
  || { tail -30 build-wasm-threads.build.log; exit 1; }
mkdir -p wasm/dist
cp build-wasm-threads/capt-threads.js build-wasm-threads/capt-threads.wasm wasm/dist/
# Emscripten 3.1.6 starts pthreads from a separate worker script; newer releases start
# them from capt-threads.js itself and write none.
rm -f wasm/dist/capt-threads.worker.js
[ ! -f build-wasm-threads/capt-threads.worker.js ] || cp build-wasm-threads/capt-threads.worker.js wasm/dist/
cp build-wasm/capt-simd.js build-wasm/capt-simd.wasm build-wasm-scalar/capt-plain.js build-wasm-scalar/capt-plain.wasm wasm/dist/
cp wasm/src/captioner.js wasm/dist/capt.js
cp wasm/src/worker.js wasm/dist/worker.js
cp wasm/src/capt.d.ts wasm/src/package.json wasm/dist/
for v in threads simd plain; do
  printf "wasm/dist/capt-%s.wasm: %d bytes, %d gzip\n" "$v" "$(stat -c %s wasm/dist/capt-$v.wasm)" \
    "$(gzip -9 -c wasm/dist/capt-$v.wasm | wc -c)"
done
