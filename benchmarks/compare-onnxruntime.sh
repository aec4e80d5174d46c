#!/usr/bin/env bash
# Builds fernet's benchmarks and the fernet program, and compares NetAdam inference with
# onnxruntime (from PyPI, in .venv-onnx made by scripts/onnx-venv.sh) on the exported model,
# side by side, in one run.
#   benchmarks/compare-onnxruntime.sh [compare_onnxruntime.py flags, e.g. --rounds 5 --threads 1]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/onnx-venv.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target bench_networks fernet_cli
exec .venv-onnx/bin/python benchmarks/compare_onnxruntime.py --bench build/benchmarks/bench_networks \
  --fernet build/bin/fernet "$@"
