#!/usr/bin/env bash
# Copies the Debian packages that fernet's CUDA check builds against (headers, CMake configs,
# Google Benchmark's library) from this machine into DIR/usr, for a GPU machine that has CUDA
# but neither these packages nor a package registry. scripts/gpu-check.sh --deps DIR uses it.
#   scripts/pack-deps.sh [DIR]       (default: .deps, which git ignores)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-.deps}"
packages=(libxtensor-dev xtl-dev libxsimd-dev doctest-dev libbenchmark-dev libbenchmark1debian libcli11-dev zlib1g-dev)
scripts/install-deps.sh
rm -rf "$DIR" && mkdir -p "$DIR"
for p in "${packages[@]}"; do
  dpkg -L "$p" | while read -r f; do
    case "$f" in /usr/share/doc/*|/usr/share/man/*) continue ;; esac
    if [ -f "$f" ] || [ -L "$f" ]; then
      mkdir -p "$DIR$(dirname "$f")"
      cp -a "$f" "$DIR$f"
    fi
  done
done
echo "packed ${packages[*]} into $DIR ($(du -sh "$DIR" | cut -f1))"
