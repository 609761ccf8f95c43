#!/usr/bin/env bash
# Builds the npm package's WebAssembly part into pkg/wasm/:
#   cargo build --target wasm32-unknown-unknown --profile wasm (simd128, see .cargo/config.toml;
#   the size/speed trade-off of the `wasm` profile is measured in Cargo.toml)
#   wasm-bindgen --target web (the CLI at the exact version Cargo.lock pins; installed if missing)
#   scripts/patch-glue.mjs (trap containment in the generated glue)
#   wasm-opt -Oz (binaryen >= 110: the system's, else the npm devDependency; Debian 12's 108
#   breaks the module)
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

echo "== cargo build --lib --target wasm32-unknown-unknown --profile wasm --no-default-features ${features[*]:-}"
cargo build --quiet --lib --target wasm32-unknown-unknown --profile wasm --no-default-features "${features[@]}"
rm -rf pkg/wasm
wasm-bindgen --target web --out-dir pkg/wasm --out-name mxnet_web \
  target/wasm32-unknown-unknown/wasm/mxnet_web.wasm
# Lets pkg/index.js contain a trap of the module inside async work (see the script).
node scripts/patch-glue.mjs pkg/wasm/mxnet_web.js
# The crates compiled into the .wasm and their licences (shipped in the npm tarball).
bash scripts/third-party-notices.sh || echo "(could not regenerate pkg/THIRD-PARTY-NOTICES.md)" >&2
# Binaryen <= 108 (Debian 12 ships 108) rebinds wasm-bindgen's exported externref table onto the
# funcref table, so the module fails at start ("WebAssembly.Table.set(): ... function-typed
# object"); fixed in 110 (WebAssembly/binaryen#4711). So a system wasm-opt is used only from 110
# on; otherwise the npm devDependency `binaryen` (the same tool compiled to JS/wasm, pinned in
# package.json). The output of any version is kept only if it still instantiates.
wasm_opt=""
if command -v wasm-opt >/dev/null && [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" -ge 110 ] 2>/dev/null; then
  wasm_opt=wasm-opt
elif [ -x node_modules/.bin/wasm-opt ]; then
  wasm_opt=node_modules/.bin/wasm-opt
fi
if [ -z "$wasm_opt" ]; then
  echo "(no wasm-opt >= 110 found, nor node_modules/.bin/wasm-opt (npm ci): skipping size optimisation)"
else
  echo "== $wasm_opt -Oz ($("$wasm_opt" --version))"
  "$wasm_opt" -Oz --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    pkg/wasm/mxnet_web_bg.wasm -o pkg/wasm/mxnet_web_bg.opt.wasm
  if node --input-type=module -e "
      import init from './pkg/wasm/mxnet_web.js';
      import { readFile } from 'node:fs/promises';
      await init({ module_or_path: await readFile('pkg/wasm/mxnet_web_bg.opt.wasm') });" >/dev/null 2>&1; then
    mv pkg/wasm/mxnet_web_bg.opt.wasm pkg/wasm/mxnet_web_bg.wasm
  else
    echo "(the wasm-opt output does not instantiate: keeping the unoptimised module)" >&2
    rm -f pkg/wasm/mxnet_web_bg.opt.wasm
  fi
fi
for f in pkg/wasm/mxnet_web_bg.wasm pkg/wasm/mxnet_web.js pkg/index.js; do
  if [ -f "$f" ]; then
    printf '%-32s %8d bytes raw %8d gzip\n' "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
  fi
done
