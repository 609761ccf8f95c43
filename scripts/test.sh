#!/usr/bin/env bash
# The project's whole test suite (the README's test command, also `npm test`):
#  1. setup (system packages, wasm tools, npm packages, MXNet 1.9.1 in .venv) when missing;
#  2. the big model-zoo fixtures (tests/fixtures/big, git-ignored), generated once with MXNet;
#  3. formatting, then every Rust test (unit, per-op and whole-model fixtures vs MXNet, CLI,
#     malformed inputs) in release mode, big models required so they can never be skipped silently;
#  4. the npm package: wasm build, then Node and headless-Chromium tests (tests/js);
#  5. the in-browser demo (www/) end to end in headless Chromium (tests/demo).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
if [ ! -f tests/fixtures/big/.complete ]; then
  echo "== generating big model-zoo fixtures (tests/fixtures/big)"
  .venv/bin/python tests/fixtures/generate.py --big
  touch tests/fixtures/big/.complete
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo test --release"
MXNET_WEB_REQUIRE_BIG=1 cargo test --release --all-targets

echo "== npm package: build"
bash scripts/build-wasm.sh --features webgpu
echo "== npm package: Node and browser tests, and the demo end to end"
node --test tests/js/ tests/demo/
