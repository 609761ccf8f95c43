#!/usr/bin/env bash
# Builds the npm package's WebAssembly part into pkg/wasm/:
#   cargo build --target wasm32-unknown-unknown --release (simd128, see .cargo/config.toml)
#   wasm-bindgen --target web (the CLI at the exact version Cargo.lock pins; installed if missing)
#   wasm-opt -Oz when available (Debian's binaryen package)
# Usage: scripts/build-wasm.sh [--features webgpu]
set -euo pipefail
cd "$(dirname "$0")/.."

features=()
if [ "${1:-}" = "--features" ]; then features=(--features "$2"); fi

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
if [ -z "$version" ]; then echo "wasm-bindgen not found in Cargo.lock" >&2; exit 1; fi
if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$version" ]; then
  echo "== installing wasm-bindgen-cli $version (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$version"
fi

echo "== cargo build --target wasm32-unknown-unknown --release ${features[*]:-}"
cargo build --quiet --lib --target wasm32-unknown-unknown --release --no-default-features "${features[@]}"
rm -rf pkg/wasm
wasm-bindgen --target web --out-dir pkg/wasm --out-name mxnet_web \
  target/wasm32-unknown-unknown/release/mxnet_web.wasm
if command -v wasm-opt >/dev/null; then
  wasm-opt -Oz --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    pkg/wasm/mxnet_web_bg.wasm -o pkg/wasm/mxnet_web_bg.wasm
else
  echo "(wasm-opt not found: skipping size optimisation; apt-get install binaryen)"
fi
for f in pkg/wasm/mxnet_web_bg.wasm pkg/wasm/mxnet_web.js pkg/index.js; do
  [ -f "$f" ] && printf '%-32s %8d bytes raw %8d gzip\n' "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
done
