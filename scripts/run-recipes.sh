#!/usr/bin/env bash
# The README's measured runs, one after another, each resumable: a run whose directory already
# holds run.json is continued with --resume (an interrupted one picks up at its last epoch, a
# finished one only rewrites its report), any other is started. Meant for the background:
#
#   nohup scripts/run-recipes.sh RUNS_DIR [RECIPE...] > RUNS_DIR/recipes.log 2>&1 &
#
# RECIPE is one of the fernet program's models (default: vgg-fast vgg-best cnn-adam cnn-sgd);
# cnn-sgd runs its notebook's 150 epochs. FERNET (default build/bin/fernet), DATA (default
# ../shared/data/fer2013-dev.csv.gz) and THREADS (default 2) may be set in the environment.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:?usage: run-recipes.sh RUNS_DIR [RECIPE...]}"
shift
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(vgg-fast vgg-best cnn-adam cnn-sgd)
fernet="${FERNET:-$root/build/bin/fernet}"
data="${DATA:-$root/../shared/data/fer2013-dev.csv.gz}"
threads="${THREADS:-2}"
mkdir -p "$runs"
for recipe in "${recipes[@]}"; do
  dir="$runs/$recipe"
  echo "== $(date -u '+%F %T') $recipe in $dir ($(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-))"
  if [ -f "$dir/run.json" ]; then
    "$fernet" train --resume "$dir" --threads "$threads"
  else
    "$fernet" train --model "$recipe" --data "$data" --threads "$threads" --out "$dir"
  fi
  status=$?
  echo "== $(date -u '+%F %T') $recipe ended with exit status $status"
  # 130/143: interrupted (resumable); stop here so the next start resumes this run first.
  if [ $status -eq 130 ] || [ $status -eq 143 ]; then exit $status; fi
done
