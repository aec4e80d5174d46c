#!/usr/bin/env bash
# Installs everything fernet needs on Debian 12, from Debian's packages only.
# Safe to run again: apt-get skips what is already there.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
packages=(
  g++ cmake make pkg-config            # compiler and build
  binutils                             # objdump: the dispatch build's instruction check (tests/dispatch)
  python3                              # test scripts (include layering, reference checks)
  libxtensor-dev libxsimd-dev          # the core: tensors and SIMD
  doctest-dev libbenchmark-dev         # tests and benchmarks
  zlib1g-dev                           # FER2013 .csv.gz loading
  libcli11-dev                         # command-line flags (examples, fernet program)
  nlohmann-json3-dev                   # fernet program: run.json, report.json, eval --json
  libstb-dev                           # fernet program: PNG/JPEG decoding and resizing (predict)
  libcairo2-dev fonts-dejavu-core      # fernet program: curves.png, confusion.png
  python3-opencv python3-numpy python3-venv  # ONNX export test: cv2.dnn reader; venv for onnxruntime (scripts/onnx-venv.sh)
  python3-torch python3-torchvision    # safetensors test: the notebook networks as PyTorch modules
  libopencv-dev opencv-data            # fernet::vision: face detection (the Haar cascades) for predict on photos/video
  opencv-doc                           # vision tests and README demo: OpenCV's sample photo messi5.jpg
  libopenmpi-dev openmpi-bin           # data-parallel training (fernet::mpi, FERNET_MPI) and its mpirun tests
)
if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
