#!/usr/bin/env bash
# Builds the npm package's WebAssembly part into pkg/wasm/:
#   cargo +nightly build --target wasm32-unknown-unknown --profile wasm -Z build-std (simd128, see
#   .cargo/config.toml; the size/speed trade-off of the `wasm` profile is measured in Cargo.toml;
#   std rebuilt for size, see below)
#   wasm-bindgen --target web (the CLI at the exact version Cargo.lock pins; installed if missing)
#   scripts/patch-glue.mjs (trap containment in the generated glue)
#   wasm-opt -Oz (binaryen >= 110: the system's, else the npm devDependency; Debian 12's 108
#   breaks the module)
# and the same again for the threaded variant (issue 9) into pkg/wasm-mt/: nightly Rust with
#   -Z build-std=panic_abort,std and +atomics,+bulk-memory,+mutable-globals (a shared, imported
#   memory, up to 4 GiB); pkg/index.js loads it only when threads() > 1 (cross-origin isolated
#   pages; Node.js when asked). MXNET_WEB_NO_THREADS=1 skips it (then threads() stays 1).
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

# build_variant OUT_DIR WASM: wasm-bindgen, the glue patch and wasm-opt for one module.
build_variant() {
  local out=$1 wasm=$2 extra_opt=${3:-}
  rm -rf "$out"
  wasm-bindgen --target web --out-dir "$out" --out-name mxnet_web "$wasm"
  # Lets pkg/index.js contain a trap of the module inside async work (see the script).
  node scripts/patch-glue.mjs "$out/mxnet_web.js"
  # Binaryen <= 108 (Debian 12 ships 108) rebinds wasm-bindgen's exported externref table onto the
  # funcref table, so the module fails at start ("WebAssembly.Table.set(): ... function-typed
  # object"); fixed in 110 (WebAssembly/binaryen#4711). So a system wasm-opt is used only from 110
  # on; otherwise the npm devDependency `binaryen` (the same tool compiled to JS/wasm, pinned in
  # package.json). The output of any version is kept only if it still compiles (and, for the
  # single-threaded module, instantiates).
  local wasm_opt=""
  if command -v wasm-opt >/dev/null && [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" -ge 110 ] 2>/dev/null; then
    wasm_opt=wasm-opt
  elif [ -x node_modules/.bin/wasm-opt ]; then
    wasm_opt=node_modules/.bin/wasm-opt
  fi
  if [ -z "$wasm_opt" ]; then
    echo "(no wasm-opt >= 110 found, nor node_modules/.bin/wasm-opt (npm ci): skipping size optimisation)"
    return
  fi
  # -Oz, then GUFA (whole-program type/value flow: drops what can never run), then -Oz again on
  # what that exposed: 0.4-0.7 KB less gzipped per module than -Oz alone (binaryen 132).
  echo "== $wasm_opt -Oz --gufa -Oz $extra_opt ($("$wasm_opt" --version))"
  # shellcheck disable=SC2086
  "$wasm_opt" -Oz --gufa -Oz --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue $extra_opt \
    "$out/mxnet_web_bg.wasm" -o "$out/mxnet_web_bg.opt.wasm"
  if node --input-type=module -e "
      import init from './$out/mxnet_web.js';
      import { readFile } from 'node:fs/promises';
      const bytes = await readFile('$out/mxnet_web_bg.opt.wasm');
      if ('$extra_opt') new WebAssembly.Module(bytes); else await init({ module_or_path: bytes });" >/dev/null 2>&1; then
    mv "$out/mxnet_web_bg.opt.wasm" "$out/mxnet_web_bg.wasm"
  else
    echo "(the wasm-opt output does not instantiate: keeping the unoptimised module)" >&2
    rm -f "$out/mxnet_web_bg.opt.wasm"
  fi
}

# Both variants rebuild the standard library from nightly's rust-src with the `wasm` profile and
# std's `optimize_for_size` feature (smaller sorting, formatting and collection code): 18.6 KB
# less gzipped than the prebuilt std (the threaded module: 453.1 -> 434.5 KB), which is what lets
# the Winograd path (src/ops/winograd.rs) into the package. The kernels do not call into std on
# their hot paths: measured in Node (1 thread, same source, prebuilt vs rebuilt std, noisy
# machine) resnet18_v1 min 174 vs 170 ms, mobilenetv2_1.0 42 vs 42 ms.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "== rustup toolchain install nightly (the wasm builds rebuild std: -Z build-std)"
  rustup toolchain install nightly --profile minimal >/dev/null
fi
rustup component add rust-src --toolchain nightly >/dev/null 2>&1 || true
rustup target add wasm32-unknown-unknown --toolchain nightly >/dev/null 2>&1 || true
build_std=(-Z build-std=panic_abort,std -Z build-std-features=optimize_for_size)

echo "== cargo +nightly build --lib --target wasm32-unknown-unknown --profile wasm ${build_std[*]} ${features[*]:-}"
cargo +nightly build --quiet --lib --target wasm32-unknown-unknown --profile wasm --no-default-features "${features[@]}" \
  "${build_std[@]}" --target-dir target/wasm-st
build_variant pkg/wasm target/wasm-st/wasm32-unknown-unknown/wasm/mxnet_web.wasm

# The threaded variant: the standard library rebuilt with atomics (nightly's rust-src), shared
# imported memory, TLS exported for wasm-bindgen's per-thread start. Its own target dir keeps
# the two builds' caches apart.
rm -rf pkg/wasm-mt
if [ "${MXNET_WEB_NO_THREADS:-}" = 1 ]; then
  echo "== MXNET_WEB_NO_THREADS=1: skipping the threaded variant"
else
  mt_flags="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128"
  for arg in --shared-memory --import-memory --max-memory=4294967296 \
    --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base; do
    mt_flags="$mt_flags -C link-arg=$arg"
  done
  echo "== cargo +nightly build (threaded: +atomics, ${build_std[*]})"
  RUSTFLAGS="$mt_flags" cargo +nightly build --quiet --lib --target wasm32-unknown-unknown --profile wasm \
    --no-default-features "${features[@]}" "${build_std[@]}" --target-dir target/wasm-mt 2>&1 \
    | { grep -v -e "unstable feature specified for .-Ctarget-feature.: .atomics." -e "not stably supported" \
        -e '^  |$' -e '^  = note' -e '^$' || true; }
  build_variant pkg/wasm-mt target/wasm-mt/wasm32-unknown-unknown/wasm/mxnet_web.wasm --enable-threads
fi

# The crates compiled into the .wasm and their licences (shipped in the npm tarball).
bash scripts/third-party-notices.sh || echo "(could not regenerate pkg/THIRD-PARTY-NOTICES.md)" >&2
for f in pkg/wasm/mxnet_web_bg.wasm pkg/wasm/mxnet_web.js pkg/wasm-mt/mxnet_web_bg.wasm pkg/wasm-mt/mxnet_web.js pkg/index.js pkg/threads.js; do
  if [ -f "$f" ]; then
    printf '%-32s %8d bytes raw %8d gzip\n' "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
  fi
done
