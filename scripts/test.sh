#!/usr/bin/env bash
# Runs every test: installs what is missing, then builds and tests the engine with gcc,
# with clang, with clang + AddressSanitizer + UndefinedBehaviorSanitizer, and as
# WebAssembly (SIMD128, and plain) under node. Prints "N passed, N failed" at the end
# and exits non-zero when any test fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
. scripts/env.sh
[ -d "$CAPT_ASSETS" ] || { echo "test: shared assets not found at $CAPT_ASSETS (set CAPT_ASSETS)"; exit 1; }

mkdir -p out
passed=0
failed=0
failed_suites=()
suite() { # suite NAME BUILD-COMMAND...: build, then run that tree's ctest
  local name="$1" dir="$2"; shift 2
  echo "=== $name ($dir)"
  if ! "$@" > "$dir.build.log" 2>&1; then
    tail -40 "$dir.build.log"
    echo "=== $name: build FAILED"
    failed=$((failed + 1)); failed_suites+=("$name (build)"); return
  fi
  local log="$dir/ctest.log"
  (cd "$dir" && ctest --output-on-failure -j "$JOBS" 2>&1) | tee "$log" | grep -vE "^ *Start |Test +#.*Passed"
  local p f
  p=$(grep -cE "Test +#[0-9]+: .* Passed" "$log")
  f=$(grep -cE "Test +#[0-9]+: .* (\*\*\*|Failed|Not Run|Timeout)" "$log")
  passed=$((passed + p)); failed=$((failed + f))
  ((f == 0)) || failed_suites+=("$name")
}

suite "gcc" build build build -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc
suite "clang" build-clang build build-clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang
suite "asan+ubsan" build-asan build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCAPT_SANITIZE=ON
suite "wasm simd128" build-wasm build_wasm build-wasm -DCMAKE_BUILD_TYPE=Release
suite "wasm plain" build-wasm-scalar build_wasm build-wasm-scalar -DCMAKE_BUILD_TYPE=Release -DCAPT_WASM_SIMD=OFF

# The JavaScript API under node (node's test runner), on the wasm builds above.
echo "=== javascript api (node --test tests/wasm)"
if bash scripts/build_wasm.sh > wasm-dist.build.log 2>&1; then
  node --test tests/wasm/ 2>&1 | tee out/node-tests.log | grep -E "^# (Subtest|tests|pass|fail)|^not ok|^#   " || true
  p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' out/node-tests.log | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' out/node-tests.log | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
  [ "${f:-1}" = 0 ] || failed_suites+=("javascript api")
else
  tail -30 wasm-dist.build.log
  failed=$((failed + 1)); failed_suites+=("javascript api (build)")
fi

# The web page end to end in headless Chromium (node's test runner + playwright-core).
echo "=== web page (node --test tests/e2e)"
if bash scripts/build_web.sh > web.build.log 2>&1; then
  node --test tests/e2e/ 2>&1 | tee out/e2e-tests.log | grep -E "^# (Subtest|tests|pass|fail)|^not ok|^#   " || true
  p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' out/e2e-tests.log | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' out/e2e-tests.log | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
  [ "${f:-1}" = 0 ] || failed_suites+=("web page")
else
  tail -30 web.build.log
  failed=$((failed + 1)); failed_suites+=("web page (build)")
fi

echo
((${#failed_suites[@]} == 0)) || echo "failing: ${failed_suites[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
