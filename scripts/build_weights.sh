#!/usr/bin/env bash
# Builds the model files that are made from third-party weights (not committed):
#   weights/mobilenet_v2.capt   from MobileNetV2 1.0/224 quant (TFLite, Apache-2.0)
# The TFLite file comes from $CAPT_ASSETS/models (../shared), or, when there is no local
# copy, from its public source (Google's Coral test data), checked against its sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

TFLITE_NAME=mobilenet_v2_1.0_224_quant.tflite
TFLITE_SHA256=7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776
TFLITE_URL=https://github.com/google-coral/test_data/raw/master/$TFLITE_NAME

fetch_tflite() { # prints the path of a verified copy
  local local_copy="$CAPT_ASSETS/models/$TFLITE_NAME" cache="out/downloads/$TFLITE_NAME"
  if [ -f "$local_copy" ]; then echo "$local_copy"; return; fi
  if [ ! -f "$cache" ]; then
    mkdir -p out/downloads
    echo "weights: no local $TFLITE_NAME; downloading $TFLITE_URL" >&2
    curl -fsSL --retry 3 -o "$cache.part" "$TFLITE_URL" && mv "$cache.part" "$cache"
  fi
  echo "$cache"
}

tflite=$(fetch_tflite)
echo "$TFLITE_SHA256  $tflite" | sha256sum --check --status \
  || { echo "weights: $tflite does not have the expected sha256 $TFLITE_SHA256" >&2; exit 1; }
labels="$CAPT_ASSETS/models/imagenet_labels.txt"
[ -f "$labels" ] || { echo "weights: $labels is missing" >&2; exit 1; }
[ "$(wc -l < "$labels")" -ge 1000 ] || { echo "weights: $labels does not hold 1001 labels" >&2; exit 1; }

out=weights/mobilenet_v2.capt
if [ ! -f "$out" ] || [ "$out" -ot tools/convert_tflite.py ] || [ "$out" -ot tools/captfile.py ] || [ "$out" -ot "$tflite" ]; then
  /usr/bin/python3 tools/convert_tflite.py "$tflite" "$labels" "$out.tmp"
  mv "$out.tmp" "$out"
fi

# The default captioner: that encoder + the committed decoder, in one file.
decoder=weights/decoder-flickr8k.capt
default=weights/capt-default.capt
if [ -f "$decoder" ] && { [ ! -f "$default" ] || [ "$default" -ot "$out" ] || [ "$default" -ot "$decoder" ] \
     || [ "$default" -ot tools/combine_capt.py ]; }; then
  /usr/bin/python3 tools/combine_capt.py "$default.tmp" "$out" "$decoder" \
    --set general.architecture=captioner --set general.name="capt default: MobileNetV2 + Flickr8k decoder" \
    --set general.license="encoder Apache-2.0 (Google); decoder research use only (Flickr8k)" > /dev/null
  mv "$default.tmp" "$default"
fi
