#!/usr/bin/env bash
# Makes .venv-onnx, the Python environment of the ONNX export test (tests/onnx/check_onnx.py):
# onnx (checker) and onnxruntime from PyPI. OpenCV's DNN module and numpy come from Debian
# (python3-opencv, python3-numpy; scripts/install-deps.sh), which the venv sees through
# --system-site-packages. numpy stays Debian's: Debian's cv2 is built against numpy 1.x, and a
# numpy 2 from PyPI inside the venv would break it, so pip is held to the installed version.
#
#   scripts/onnx-venv.sh [VENV_DIR]      # default: .venv-onnx in the repository root
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$root/.venv-onnx}"
python=/usr/bin/python3
numpy_version="$($python -c 'import numpy; print(numpy.__version__)')" || {
  echo "onnx-venv.sh: Debian's python3-numpy is missing (run scripts/install-deps.sh)" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  $python -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check onnx onnxruntime "numpy==$numpy_version"
"$venv/bin/python" - <<'PY'
import cv2, numpy, onnx, onnxruntime
print(f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}, cv2 {cv2.__version__}, numpy {numpy.__version__}")
PY
