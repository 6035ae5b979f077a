#!/usr/bin/env bash
# Runs every test: installs what is missing, then builds and tests the engine with gcc,
# with clang, with clang + AddressSanitizer + UndefinedBehaviorSanitizer, and as
# WebAssembly (SIMD128, plain, and SIMD128 with threads) under node, runs the fuzzing
# harnesses briefly, then the JavaScript API under node and the web page in Chromium. Prints "N passed, N failed" at the end
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
  local log="$dir/ctest.log" rc total f
  (cd "$dir" && ctest --output-on-failure -j "$JOBS") > "$log" 2>&1
  rc=$?
  grep -vE "^ *Start |Test +#.*Passed" "$log"
  # ctest's summary: "94% tests passed, 1 tests failed out of 17"
  total=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/.*, \([0-9]*\) tests failed out of .*/\1/p' "$log" | tail -1)
  if [ -z "$total" ] || [ -z "$f" ]; then
    failed=$((failed + 1)); failed_suites+=("$name (no test summary)"); return
  fi
  ((rc == 0 || f > 0)) || f=1 # a failure ctest did not count
  passed=$((passed + total - f)); failed=$((failed + f))
  ((f == 0)) || failed_suites+=("$name")
}

suite "gcc" build build build -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc
suite "clang" build-clang build build-clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang
suite "asan+ubsan" build-asan build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCAPT_SANITIZE=ON
suite "wasm simd128" build-wasm build_wasm build-wasm -DCMAKE_BUILD_TYPE=Release
suite "wasm plain" build-wasm-scalar build_wasm build-wasm-scalar -DCMAKE_BUILD_TYPE=Release -DCAPT_WASM_SIMD=OFF
suite "wasm threads" build-wasm-threads build_wasm build-wasm-threads -DCMAKE_BUILD_TYPE=Release -DCAPT_WASM_THREADS=ON

node_suite() { # node_suite NAME BUILD-SCRIPT TEST-DIR: build, then node's test runner
  local name="$1" build_script="$2" dir="$3" log="out/$(basename "$3")-tests.log"
  echo "=== $name (node --test $dir)"
  if ! bash "$build_script" > "out/$(basename "$3").build.log" 2>&1; then
    tail -30 "out/$(basename "$3").build.log"
    failed=$((failed + 1)); failed_suites+=("$name (build)"); return
  fi
  node --test "$dir" 2>&1 | tee "$log" | grep -E "^# (Subtest|tests|pass|fail)|^not ok|^#   " || true
  # what each failing test reported (node's YAML block after "not ok": the error, where)
  awk '/^not ok/ {show = 1} show {print} show && /^  \.\.\.$/ {show = 0}' "$log" | head -80
  local p f
  p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$log" | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
  [ "${f:-1}" = 0 ] || failed_suites+=("$name")
}

# The libFuzzer harnesses, 30 s each (a smoke run; docs/fuzzing.md has the long run).
echo "=== fuzzing smoke run (scripts/fuzz.sh 30)"
fuzz_log=out/fuzz-smoke.log
bash scripts/fuzz.sh 30 > "$fuzz_log" 2>&1
fuzz_rc=$?
cat "$fuzz_log"
fuzz_ok=$(grep -c "^fuzz_.*executions" "$fuzz_log")
passed=$((passed + fuzz_ok))
if ((fuzz_rc != 0 || fuzz_ok != 4)); then
  failed=$((failed + (fuzz_ok < 4 ? 4 - fuzz_ok : 1))); failed_suites+=("fuzzing")
fi

node_suite "javascript api" scripts/build_wasm.sh tests/wasm/
node_suite "web page in chromium" scripts/build_web.sh tests/e2e/

echo
((${#failed_suites[@]} == 0)) || echo "failing: ${failed_suites[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
