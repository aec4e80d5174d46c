#!/usr/bin/env bash
# Installs what is needed, builds the fernet program and trains a notebook network:
#   scripts/train.sh [fernet train flags]       e.g. --data fer2013.csv --model tf-cnn --epochs 5
# Defaults: --model cnn-adam (the notebook's CNN with Adam, 15 epochs) and
# --out runs/<model>-<date>. Without --data (and without ../shared/data/fer2013-dev.csv.gz) it
# trains on the built-in synthetic faces.
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@")
model=cnn-adam
has_out=0
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --model) model="${args[i + 1]:-}" ;;
    --model=*) model="${args[i]#--model=}" ;;
    --out|--out=*|--resume|--resume=*) has_out=1 ;;
  esac
done
case " ${args[*]} " in *" --model"*) ;; *) args+=(--model "$model") ;; esac
if [ "$has_out" = 0 ]; then args+=(--out "runs/$model-$(date +%Y%m%d-%H%M%S)"); fi
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFERNET_BUILD_TESTS=OFF -DFERNET_BUILD_BENCHMARKS=OFF \
      -DFERNET_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build -j"$(nproc)" --target fernet_cli
exec build/bin/fernet train "${args[@]}"
