#!/usr/bin/env bash
# CTest's safetensors.torch_exchange: fernet's weights into PyTorch and PyTorch's into fernet.
#   run_check.sh EXCHANGE PYTHON CHECK_SCRIPT OUTDIR
# Exit 77 (skipped) when PYTHON lacks torch or torchvision, saying what to install.
set -uo pipefail
exchange="$1" python="$2" check="$3" out="$4"
if ! missing="$("$python" -c 'import numpy, torch, torchvision' 2>&1)"; then
  echo "SKIPPED: $python cannot import PyTorch: ${missing##*$'\n'} (apt-get install python3-torch python3-torchvision)"
  exit 77
fi
rm -rf "$out"
"$exchange" export "$out" || exit 1
"$python" "$check" "$out" || exit 1
"$exchange" import "$out"
status=$?
# The ResNet files are a few hundred megabytes: keep them only to look at a failure.
if [ "$status" -eq 0 ]; then rm -rf "$out"; fi
exit "$status"
