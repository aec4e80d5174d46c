#!/usr/bin/env bash
# Installs what is needed, builds everything and runs the whole test suite.
#   scripts/test.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
scripts/install-deps.sh
scripts/onnx-venv.sh   # onnx + onnxruntime from PyPI for the ONNX reader test (tests/onnx)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" -j"$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)"
