#!/usr/bin/env bash
# Installs everything capt needs on Debian/Ubuntu, from this repository's own lists:
# the apt packages below and the npm packages pinned in package-lock.json (npm ci), then
# builds the model files that come from third-party weights (scripts/build_weights.sh).
# Safe to run again: it installs and rebuilds only what is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake clang lld curl # native builds (gcc and clang); curl for downloads
  emscripten                           # WebAssembly build (node and npm: below)
  libstb-dev                           # stb_image (image decoding), not vendored
  python3 python3-numpy python3-flatbuffers  # tools/ (converters, .capt writer)
  python3-torch python3-pil python3-nltk python3-matplotlib libopenblas0-pthread  # train/, references
  chromium                             # end-to-end tests of the web page (headless)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node.js may come from Debian or from another source (whose nodejs bundles npm and
# conflicts with Debian's npm): ask for the Debian packages only when the commands lack.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm packages, exactly as locked; skipped when node_modules already matches the lock.
if [ -f package-lock.json ]; then
  if [ ! -f node_modules/.package-lock.json ] || ! cmp -s <(sed -n '/"packages"/,$p' package-lock.json) \
       <(sed -n '/"packages"/,$p' node_modules/.package-lock.json 2>/dev/null); then
    npm ci --no-audit --no-fund
  fi
fi

# Model files made from the shared third-party weights (not committed).
bash scripts/build_weights.sh
