#!/usr/bin/env bash
# CTest's onnx.export_readers: export, then read back with onnxruntime and cv2.dnn, then the
# weights both ways with PyTorch (torch_onnx.py).
#   run_check.sh EXPORTER PYTHON CHECK_SCRIPT OUTDIR
# Exit 77 (skipped) when PYTHON lacks a reader, saying what to install.
set -uo pipefail
exporter="$1" python="$2" check="$3" out="$4"
if [ ! -x "$python" ]; then
  echo "SKIPPED: no Python with the ONNX readers at $python (run scripts/onnx-venv.sh;" \
       "apt-get install python3-opencv)"
  exit 77
fi
if ! missing="$("$python" -c 'import onnx, onnxruntime, cv2' 2>&1)"; then
  echo "SKIPPED: $python cannot import the ONNX readers: ${missing##*$'\n'}" \
       "(run scripts/onnx-venv.sh; apt-get install python3-opencv)"
  exit 77
fi
rm -rf "$out"
"$exporter" "$out" || exit 1
"$python" "$check" "$out"
status=$?
# Weights both ways with PyTorch (torch_onnx.py, then the exporter's --import-torch), when the
# Python has Debian's python3-torch; otherwise this part is reported as skipped (exit 77).
if [ "$status" -eq 0 ]; then
  if torch_missing="$("$python" -c 'import torch, torchvision' 2>&1)"; then
    "$python" "$(dirname "$check")/torch_onnx.py" "$out" && "$exporter" --import-torch "$out"
    status=$?
  else
    echo "SKIPPED (the PyTorch exchange only): $python cannot import PyTorch: ${torch_missing##*$'\n'}" \
         "(apt-get install python3-torch python3-torchvision)"
    status=77
  fi
fi
# The ResNets' files are a few hundred megabytes: keep them only to look at a failure.
if [ "$status" -eq 0 ]; then rm -rf "$out"; fi
exit "$status"
