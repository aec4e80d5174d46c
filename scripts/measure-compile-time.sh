#!/usr/bin/env bash
# Compile time and peak memory of one translation unit per network (-O2, this build's flags).
#   scripts/measure-compile-time.sh [extra compiler flags]
set -euo pipefail
cd "$(dirname "$0")/.."
CXX="${CXX:-g++}"
flags=(-std=c++20 -O2 -march=native -fopenmp -DXTENSOR_USE_XSIMD -Iinclude "$@")
out="$(mktemp -d)"
printf '%-16s %10s %10s %12s\n' "unit" "wall s" "cpu s" "peak MiB"
for tu in benchmarks/compile_time/*.cpp; do
  /usr/bin/time -f '%e %U %M' -o "$out/time" "$CXX" "${flags[@]}" -c "$tu" -o "$out/a.o"
  read -r secs user kib < "$out/time"
  printf '%-16s %10s %10s %12d\n' "$(basename "$tu" .cpp)" "$secs" "$user" $((kib / 1024))
done
rm -rf "$out"
