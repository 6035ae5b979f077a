#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, clang, ASan + UBSan) and runs each for SECONDS
# (default 30: the smoke run of scripts/test.sh; a long run: bash scripts/fuzz.sh 3600).
# Corpora grow in out/fuzz/<harness> across runs, seeded from fuzz/corpus and ../shared;
# a crash, leak or undefined behaviour stops the harness, leaves its input in out/fuzz/
# and fails the script. Prints executions and coverage per harness (docs/fuzzing.md).
#   bash scripts/fuzz.sh [SECONDS] [HARNESS...]    harnesses: image model tokenizer gzip
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
SECONDS_EACH=${1:-30}
shift $(($# > 0 ? 1 : 0))
HARNESSES=${*:-image model tokenizer gzip}
build build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCAPT_FUZZ=ON -DBUILD_TESTING=OFF \
  > /dev/null
cmake --build build-fuzz -j "$JOBS" --target $(printf 'fuzz_%s ' $HARNESSES) > /dev/null

# Seeds that are not committed: photos (JPEG, PNG) and the tokenizer's gzip file from ../shared.
seeds=out/fuzz/seeds
mkdir -p "$seeds/image" "$seeds/gzip"
cp "$CAPT_ASSETS"/data/photos/* "$seeds/image/"
mapfile -t flickr < <(ls "$CAPT_ASSETS/data/flickr8k/images")
for f in "${flickr[@]:0:8}"; do cp "$CAPT_ASSETS/data/flickr8k/images/$f" "$seeds/image/"; done
cp "$CAPT_ASSETS/vocab/bpe_simple_vocab_16e6.txt.gz" "$seeds/gzip/"
declare -A SEEDS=([image]="$seeds/image" [model]="fuzz/corpus/model tests/data"
                  [tokenizer]="fuzz/corpus/tokenizer" [gzip]="fuzz/corpus/gzip $seeds/gzip")
declare -A MAX_LEN=([image]=300000 [model]=100000 [tokenizer]=4096 [gzip]=2000000)

status=0
for h in $HARNESSES; do
  corpus=out/fuzz/$h
  mkdir -p "$corpus"
  log=out/fuzz/$h.log
  # -timeout: one input may take at most 10 s; -rss_limit_mb bounds memory (the image
  # limits allow a 64 Mpixel decode); leaks are reported (detect_leaks).
  if ! (cd out/fuzz && "../../build-fuzz/fuzz/fuzz_$h" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=3072 \
        -max_len="${MAX_LEN[$h]}" -artifact_prefix="$h-" -print_final_stats=1 \
        "$h" $(for s in ${SEEDS[$h]}; do echo "../../$s"; done)) > "$log" 2>&1; then
    echo "fuzz_$h: FAILED (see $log and out/fuzz/$h-*)"
    grep -E "ERROR|runtime error|SUMMARY" "$log" | head -5
    status=1
    continue
  fi
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  echo "fuzz_$h: $runs executions in ${SECONDS_EACH} s, $cov, corpus $(ls "$corpus" | wc -l) inputs"
done
exit $status
