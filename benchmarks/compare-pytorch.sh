#!/usr/bin/env bash
# Builds fernet's benchmarks and compares them with PyTorch, side by side, in one run.
#   benchmarks/compare-pytorch.sh [--debian] [compare_pytorch.py flags, e.g. --rounds 5 --threads 1]
# Default: the newest PyTorch from PyPI, installed into .venv-torch (a few GB: PyPI's Linux
# wheels bring CUDA libraries). --debian: Debian's python3-torch (1.13) with /usr/bin/python3.
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv-torch/bin/python
if [ "${1:-}" = "--debian" ]; then
  shift
  python=/usr/bin/python3
  dpkg -s python3-torch >/dev/null 2>&1 || { echo "installing python3-torch"; ${SUDO:-$( [ "$(id -u)" -ne 0 ] && echo sudo )} apt-get install -y -qq python3-torch; }
elif [ ! -x "$python" ]; then
  python3 -m venv .venv-torch
  .venv-torch/bin/pip install -q --upgrade pip torch
fi
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target bench_networks
exec "$python" benchmarks/compare_pytorch.py --bench build/benchmarks/bench_networks "$@"
