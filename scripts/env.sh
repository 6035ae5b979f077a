# Sourced by the scripts: where the shared assets are and how Debian's emcc runs.
CAPT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAPT_ASSETS="${CAPT_ASSETS:-$(cd "$CAPT_ROOT/.." && pwd)/shared}"
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"   # Debian's emcc needs acorn from here
JOBS="${JOBS:-$(nproc)}"

# build DIR [cmake args...]: configure (once) and build one tree.
build() {
  local dir="$1"; shift
  if [ ! -f "$CAPT_ROOT/$dir/CMakeCache.txt" ]; then
    cmake -S "$CAPT_ROOT" -B "$CAPT_ROOT/$dir" "$@" > "$CAPT_ROOT/$dir.configure.log" 2>&1 \
      || { cat "$CAPT_ROOT/$dir.configure.log"; return 1; }
  fi
  cmake --build "$CAPT_ROOT/$dir" -j "$JOBS"
}

# build_wasm DIR [cmake args...]: the same with Emscripten.
build_wasm() {
  local dir="$1"; shift
  if [ ! -f "$CAPT_ROOT/$dir/CMakeCache.txt" ]; then
    emcmake cmake -S "$CAPT_ROOT" -B "$CAPT_ROOT/$dir" "$@" > "$CAPT_ROOT/$dir.configure.log" 2>&1 \
      || { cat "$CAPT_ROOT/$dir.configure.log"; return 1; }
  fi
  cmake --build "$CAPT_ROOT/$dir" -j "$JOBS"
}
