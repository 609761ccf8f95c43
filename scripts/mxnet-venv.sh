#!/usr/bin/env bash
# Creates .venv with the reference MXNet 1.9.1 (numpy 2 breaks it: numpy is pinned) unless it
# already works, plus GluonCV 0.10 and GluonNLP 0.10 (the model families of tests/fixtures; they
# pull newer numpy/scipy/opencv, so those are pinned back in the same command). Used by the tests
# and the fixture generator; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
pins=(numpy==1.23.5 scipy==1.10.1 opencv-python==4.8.1.78)
if ! .venv/bin/python -c "import mxnet, numpy; assert mxnet.__version__ == '1.9.1' and numpy.__version__ == '1.23.5'" 2>/dev/null; then
  echo "== creating .venv with MXNet 1.9.1 (numpy 1.23.5)"
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check numpy==1.23.5 mxnet==1.9.1
fi
if ! .venv/bin/python -c "import gluoncv, gluonnlp, numpy; assert numpy.__version__ == '1.23.5'" 2>/dev/null; then
  echo "== installing GluonCV 0.10 and GluonNLP 0.10 into .venv (numpy/scipy/opencv pinned)"
  .venv/bin/pip install --quiet --disable-pip-version-check gluoncv==0.10.5.post0 gluonnlp==0.10.0 "${pins[@]}"
fi
.venv/bin/python -c "import mxnet, numpy, gluoncv, gluonnlp; assert numpy.__version__ == '1.23.5'; print('mxnet', mxnet.__version__, 'gluoncv', gluoncv.__version__, 'gluonnlp', gluonnlp.__version__)"
