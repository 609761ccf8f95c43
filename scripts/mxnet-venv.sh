#!/usr/bin/env bash
# Creates .venv with the reference MXNet 1.9.1 (numpy 2 breaks it: numpy is pinned) unless it
# already works. Used by the tests and the fixture generator; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if .venv/bin/python -c "import mxnet, numpy; assert mxnet.__version__ == '1.9.1' and numpy.__version__ == '1.23.5'" 2>/dev/null; then
  exit 0
fi
echo "== creating .venv with MXNet 1.9.1 (numpy 1.23.5)"
rm -rf .venv
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check numpy==1.23.5 mxnet==1.9.1
.venv/bin/python -c "import mxnet; print('mxnet', mxnet.__version__)"
