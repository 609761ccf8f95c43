#!/usr/bin/env bash
# Installs what the tests need, once, on a fresh Debian machine (idempotent; quick when done):
#   Debian packages: chromium (browser tests), python3-venv (MXNet reference), mesa-vulkan-drivers
#   (a software Vulkan GPU for the native WebGPU tests); the wasm32 Rust target; nightly Rust with
#   rust-src and wasm32 (the threaded wasm build, -Z build-std; issue 9); wasm-bindgen-cli at
#   Cargo.lock's version (built from source: a few minutes the first time); npm packages; MXNet 1.9.1.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
python3 -c "import venv, ensurepip" 2>/dev/null || need_apt+=(python3-venv python3-pip)
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "missing Debian packages: ${need_apt[*]} (sudo apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
fi

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
rustup component add rustfmt >/dev/null 2>&1 || true
# The threaded wasm variant (scripts/build-wasm.sh) rebuilds std with atomics: nightly + rust-src.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "== rustup toolchain install nightly (the threaded wasm build)"
  rustup toolchain install nightly --profile minimal >/dev/null
fi
rustup component add rust-src --toolchain nightly >/dev/null 2>&1 || true
rustup target add wasm32-unknown-unknown --toolchain nightly >/dev/null 2>&1 || true
version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$version" ]; then
  echo "== cargo install wasm-bindgen-cli $version (a few minutes, once)"
  cargo install --quiet wasm-bindgen-cli --version "$version"
fi
# npm ci when any devDependency of package.json is missing from node_modules
if ! node -e 'const fs = require("fs"); const d = require("./package.json").devDependencies;
    for (const n of Object.keys(d)) if (!fs.existsSync(`node_modules/${n}/package.json`)) process.exit(1);'; then
  echo "== npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/mxnet-venv.sh
