#!/usr/bin/env bash
# The GPU check, on a machine with an NVIDIA GPU and the CUDA toolkit: builds fernet with CUDA,
# runs the backend self-check and the CPU-versus-CUDA parity tests, the GPU benchmarks, PyTorch
# (cuDNN) side by side on the same GPU, trains cnn_adam for 15 epochs on the real data, and runs
# the data-parallel tests with two processes on the GPU when mpirun is there; the table comes
# last. About 5 minutes on an H200, build included (the issue's budget is 8).
#   scripts/gpu-check.sh [--data FILE] [--deps DIR] [--out DIR] [--build DIR] [--rounds N]
# --deps DIR: headers and libraries packed by scripts/pack-deps.sh, for a machine without
# Debian's packages or a package registry (default: .deps when it exists, else the system's,
# installed by scripts/install-deps.sh when apt-get is there).
set -uo pipefail
cd "$(dirname "$0")/.."
DATA="../shared/data/fer2013-dev.csv.gz"
DEPS=""
[ -d .deps ] && DEPS=.deps
BUILD=build-cuda
OUTDIR=""
ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=$2; shift 2 ;;
    --deps) DEPS=$2; shift 2 ;;
    --out) OUTDIR=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
OUTDIR=${OUTDIR:-$BUILD/gpu-check}
mkdir -p "$OUTDIR"
JOBS=$(nproc)
t_start=$(date +%s)
status=0
note() { echo "== $*"; }
fail() { echo "FAIL: $*"; status=1; }

note "GPU"
nvidia-smi -L 2>&1 || echo "(nvidia-smi not available)"
command -v nvcc >/dev/null || { echo "gpu-check: nvcc is not on PATH: install the CUDA toolkit" >&2; exit 1; }

cmake_args=(-DCMAKE_BUILD_TYPE=Release -DFERNET_CUDA=ON -DFERNET_BUILD_TESTS=ON -DFERNET_BUILD_EXAMPLES=ON
            -DFERNET_BUILD_BENCHMARKS=ON -DFERNET_BUILD_APPS=OFF)
if [ -n "$DEPS" ]; then
  DEPS=$(cd "$DEPS" && pwd)
  cmake_args+=("-DCMAKE_PREFIX_PATH=$DEPS/usr" "-DCMAKE_CXX_FLAGS=-isystem $DEPS/usr/include"
               "-DZLIB_ROOT=$DEPS/usr")
  export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  note "dependencies from $DEPS"
elif command -v apt-get >/dev/null; then
  scripts/install-deps.sh || { echo "gpu-check: installing the dependencies failed" >&2; exit 1; }
fi

note "build (CUDA, $JOBS jobs)"
t0=$(date +%s)
cmake -S . -B "$BUILD" "${cmake_args[@]}" >"$OUTDIR/configure.log" 2>&1 ||
  { tail -30 "$OUTDIR/configure.log"; echo "gpu-check: configure failed" >&2; exit 1; }
cmake --build "$BUILD" -j"$JOBS" --target fernet_cuda_info fernet_cuda_tests bench_device cnn_adam \
  >"$OUTDIR/build.log" 2>&1 || { tail -40 "$OUTDIR/build.log"; echo "gpu-check: build failed" >&2; exit 1; }
build_s=$(( $(date +%s) - t0 ))

note "backend self-check"
"$BUILD/cuda/fernet_cuda_info" 2>&1 | tee "$OUTDIR/self_check.log"
rc=${PIPESTATUS[0]}
if [ "$rc" = 77 ]; then
  echo "gpu-check: no usable CUDA device here; nothing more to check" >&2
  exit 77
fi
[ "$rc" = 0 ] && self_check=passed || { self_check="FAILED ($rc)"; fail "backend self-check"; }

note "CPU-versus-CUDA parity tests"
"$BUILD/tests/fernet_cuda_tests" 2>&1 | tee "$OUTDIR/parity.log"
rc=${PIPESTATUS[0]}
parity_line=$(grep -E "test cases:" "$OUTDIR/parity.log" | tail -1 | sed 's/\[doctest\] //')
[ "$rc" = 0 ] && parity="passed: $parity_line" || { parity="FAILED ($rc): $parity_line"; fail "parity tests"; }

note "GPU benchmarks (bench_device)"
"$BUILD/benchmarks/bench_device" --device=cuda --benchmark_min_time=1 --benchmark_format=json \
  --benchmark_out="$OUTDIR/bench_device.json" --benchmark_out_format=json >/dev/null 2>"$OUTDIR/bench_device.err" ||
  fail "bench_device: $(cat "$OUTDIR/bench_device.err")"

note "PyTorch with cuDNN, side by side ($ROUNDS rounds)"
PYTHONUNBUFFERED=1 python3 benchmarks/compare_pytorch_gpu.py --bench "$BUILD/benchmarks/bench_device" \
  --rounds "$ROUNDS" --seconds 1 --json "$OUTDIR/compare_pytorch_gpu.json" 2>&1 | tee "$OUTDIR/compare.log" ||
  fail "PyTorch comparison"

note "cnn_adam, 15 epochs on the GPU"
data_args=(--data "$DATA")
if [ ! -f "$DATA" ]; then
  echo "(no FER2013 file at $DATA: training on the built-in synthetic faces; pass --data FILE)"
  data_args=(--synthetic)
fi
t0=$(date +%s%N)
"$BUILD/examples/cnn_adam" --device cuda --epochs 15 --normalize "${data_args[@]}" 2>&1 | tee "$OUTDIR/cnn_adam.log"
[ "${PIPESTATUS[0]}" = 0 ] || fail "cnn_adam"
train_wall=$(( ($(date +%s%N) - t0) / 1000000 ))  # ms

note "data-parallel training on the GPU (mpirun, 2 processes sharing it)"
if command -v mpirun >/dev/null &&
   cmake --build "$BUILD" -j"$JOBS" --target fernet_mpi_tests >"$OUTDIR/build-mpi.log" 2>&1; then
  mpi=(mpirun -np 2 --oversubscribe -x FERNET_TEST_DEVICE -x OMP_NUM_THREADS=1)
  [ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
  FERNET_TEST_DEVICE=cuda "${mpi[@]}" "$BUILD/tests/mpi/fernet_mpi_tests" "$OUTDIR/mpi-work" 2>&1 | tee "$OUTDIR/mpi.log"
  [ "${PIPESTATUS[0]}" = 0 ] && mpi_check=passed || { mpi_check=FAILED; fail "data-parallel training on the GPU"; }
else
  mpi_check="skipped (no mpirun here, or fernet_mpi_tests not built: see $OUTDIR/build-mpi.log)"
  echo "$mpi_check"
fi

note "summary"
python3 - "$OUTDIR" "$build_s" "$train_wall" "$self_check" "$parity" "$mpi_check" <<'PY' | tee "$OUTDIR/summary.txt"
import json, re, sys, os
out, build_s, wall, self_check, parity, mpi_check = sys.argv[1:7]
rows = []
try:
    for b in json.load(open(os.path.join(out, "bench_device.json")))["benchmarks"]:
        rows.append((b["name"].replace("/real_time", ""), b.get("images/s", 0.0)))
except Exception as e:
    rows.append((f"bench_device.json unreadable: {e}", 0.0))
cmp = {}
try:
    for r in json.load(open(os.path.join(out, "compare_pytorch_gpu.json")))["results"]:
        cmp[r["workload"]] = r
except Exception:
    pass
log = open(os.path.join(out, "cnn_adam.log")).read() if os.path.exists(os.path.join(out, "cnn_adam.log")) else ""
epochs = [float(t) for t in re.findall(r"Time: ([0-9.]+)s", log)]
ips = [float(t) for t in re.findall(r"\(([0-9.]+) img/s\)", log)]
acc = re.findall(r"accuracy: ([0-9.]+) \(", log)
print(f"fernet GPU check   build {build_s} s | self-check {self_check} | parity {parity}")
print(f"data-parallel on the GPU (2 processes): {mpi_check}")
print(f"{'workload':24} {'fernet img/s':>13} {'PyTorch img/s':>14} {'ratio':>7}")
names = {"MLP_train_b100": "MLP train b100", "NetAdam_train_b100": "NetAdam train b100", "TfCNN_train_b50": "TfCNN train b50",
         "ResNet18_train_b100": "ResNet18 train b100", "NetAdam_infer_b100": "NetAdam infer b100", "NetAdam_infer_b1": "NetAdam infer b1"}
for name, v in rows:
    c = cmp.get(names.get(name, ""), {})
    print(f"{name:24} {v:>13.0f} {c.get('pytorch', float('nan')):>14.0f} {c.get('ratio', float('nan')):>6.2f}x")
if epochs:
    print(f"cnn_adam 15 epochs: {sum(epochs):.1f} s of epochs ({float(wall) / 1000:.1f} s wall with loading and evaluation), "
          f"median {sorted(ips)[len(ips)//2]:.0f} img/s, final accuracy {acc[-1] if acc else '?'}")
get = dict(rows)
print("goals: NetAdam >= 50000 img/s: %s; 15 epochs < 10 s: %s; ResNet-18 >= 20000 img/s: %s" % (
    "met" if get.get("NetAdam_train_b100", 0) >= 50000 else "missed",
    "met" if epochs and sum(epochs) < 10 else "missed",
    "met" if get.get("ResNet18_train_b100", 0) >= 20000 else "missed"))
PY
echo "total $(( $(date +%s) - t_start )) s; logs in $OUTDIR"
exit $status
