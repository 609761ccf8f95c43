#!/usr/bin/env bash
# The project's whole test suite (the README's test command).
#  1. the reference MXNet 1.9.1 in .venv (to generate the big model-zoo fixtures);
#  2. the big fixtures (tests/fixtures/big, git-ignored), generated once;
#  3. formatting, then every Rust test (unit, per-op and whole-model fixtures vs MXNet) in release
#     mode, with the big models required so they can never be skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/mxnet-venv.sh
if [ ! -f tests/fixtures/big/.complete ]; then
  echo "== generating big model-zoo fixtures (tests/fixtures/big)"
  .venv/bin/python tests/fixtures/generate.py --big
  touch tests/fixtures/big/.complete
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo test --release"
MXNET_WEB_REQUIRE_BIG=1 cargo test --release --all-targets
