#!/usr/bin/env bash
# Scores a model file with the C engine, as it ships: beam 3 (the default search) on a
# Flickr8k split and on the 80 coco-ood-dev photos, then the four shared photos' captions.
# Select models on dev; report test once the choice is made.
#   bash train/score_engine.sh [MODEL.capt] [dev|test] [extra capt caption options...]
# Captions and scores go to out/score/<model name>-<split>.*
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
MODEL=${1:-weights/capt-default.capt}
SPLIT=${2:-dev}
shift $(($# < 2 ? $# : 2))
PY=/usr/bin/python3
OUT=out/score/$(basename "$MODEL" .capt)-$SPLIT
mkdir -p out/score
sed "s|^|$CAPT_ASSETS/data/flickr8k/images/|" "$CAPT_ASSETS/data/flickr8k/Flickr_8k.${SPLIT}Images.txt" \
  | ./build/capt caption --model "$MODEL" --raw --beam 3 --threads 2 "$@" - > "$OUT.flickr8k.tsv"
./build/capt caption --model "$MODEL" --raw --beam 3 --threads 2 "$@" "$CAPT_ASSETS"/data/coco-ood-dev/images/*.jpg \
  > "$OUT.coco.tsv"
echo "== $MODEL: Flickr8k $SPLIT, then coco-ood-dev (C engine, beam 3)"
$PY train/evaluate.py --jsonl "$OUT.flickr8k.tsv" --split "$SPLIT" | sed -n 1p
$PY train/evaluate.py --jsonl "$OUT.coco.tsv" --refs coco-ood-dev | sed -n 1p
./build/capt caption --model "$MODEL" --beam 3 "$@" "$CAPT_ASSETS"/data/photos/*
