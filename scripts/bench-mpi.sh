#!/usr/bin/env bash
# Images/s of data-parallel training on this machine: 1 process x 1 thread, 2 processes x 1
# thread (mpirun) and 1 process x 2 threads, for each model, on synthetic faces; the all-reduce's
# time per step and share from report.json (waiting for the slower process included), then the
# all-reduce alone (fernet_mpi_allreduce_time, when built). Prints the README's table.
#   scripts/bench-mpi.sh [build-dir] [models...]      (default: build cnn-adam resnet18)
# ROWS (synthetic rows, default 1600: 1280 training images), EPOCHS (default 2; the last epoch's
# images/s is reported) and BATCH (global batch, default 64) may be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(cnn-adam resnet18)
fernet="$BUILD/bin/fernet"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ROWS=${ROWS:-1600}
EPOCHS=${EPOCHS:-2}
BATCH=${BATCH:-64}
mpirun=(mpirun)
[ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)
"$fernet" synth --rows "$ROWS" --out "$work/data.csv" >/dev/null
echo "load: $(uptime)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo
echo "| model | 1 process x 1 thread | 2 processes x 1 thread | 1 process x 2 threads | all-reduce per step (2 processes) | its share of training time | gradient bytes |"
echo "|---|---|---|---|---|---|---|"
for m in "${models[@]}"; do
  args=(train --model "$m" --data "$work/data.csv" --epochs "$EPOCHS" --batch "$BATCH")
  OMP_NUM_THREADS=1 "$fernet" "${args[@]}" --threads 1 --out "$work/$m-1x1" >"$work/$m-1x1.log" 2>&1
  "${mpirun[@]}" -np 2 -x OMP_NUM_THREADS=1 "$fernet" "${args[@]}" --threads 1 --out "$work/$m-2x1" \
    >"$work/$m-2x1.log" 2>&1
  "$fernet" "${args[@]}" --threads 2 --out "$work/$m-1x2" >"$work/$m-1x2.log" 2>&1
  python3 - "$m" "$work/$m-1x1/report.json" "$work/$m-2x1/report.json" "$work/$m-1x2/report.json" <<'EOF'
import json, sys
name, one, two, threads2 = sys.argv[1], *[json.load(open(p)) for p in sys.argv[2:]]
ips = [r["last_epoch"]["images_per_second"] for r in (one, two, threads2)]
ar = two["processes"]["allreduce"]
print(f"| {name} | {ips[0]:.0f} | {ips[1]:.0f} ({ips[1] / ips[0]:.2f}x) | {ips[2]:.0f} ({ips[2] / ips[0]:.2f}x) | "
      f"{ar['seconds_per_step'] * 1e3:.1f} ms | {ar['share_of_training_time']:.1%} | {ar['bytes_per_step'] / 1e6:.1f} MB |")
EOF
done
echo
if [ -x "$BUILD/tests/mpi/fernet_mpi_allreduce_time" ]; then
  echo "the all-reduce alone (after a barrier: no waiting for a slower process):"
  "${mpirun[@]}" -np 2 "$BUILD/tests/mpi/fernet_mpi_allreduce_time"
fi
echo "after: $(uptime)"
