#!/usr/bin/env bash
# Installs what is needed, builds the examples and trains a notebook network.
#   scripts/train.sh [--example cnn_adam] [example flags, e.g. --data fer2013.csv --epochs 15]
# Without --data (and without ../shared/data/fer2013-dev.csv.gz) it trains on the built-in
# synthetic faces.
set -euo pipefail
cd "$(dirname "$0")/.."
example=cnn_adam
if [ "${1:-}" = "--example" ]; then example="$2"; shift 2; fi
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFERNET_BUILD_TESTS=OFF -DFERNET_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target "$example"
exec "build/examples/$example" "$@"
