#!/usr/bin/env bash
# The test suite's C++ cases under ThreadSanitizer, for the OpenMP-threaded kernels.
#
#   scripts/tsan.sh [doctest arguments...]     # e.g. scripts/tsan.sh -tc='gemm*'
#
# Why LLVM's OpenMP runtime: TSan sees only synchronisation it can intercept. Debian's libgomp
# is not instrumented, so every barrier of a parallel loop looks like a race to TSan (109 false
# reports on two gemm/convolution cases). LLVM's libomp announces its barriers, locks and tasks
# through the OMPT interface, and Archer (libarcher.so, shipped with libomp-14-dev) turns them into
# TSan annotations; with it those cases report nothing, so a report is a race in our code.
# The objects are compiled by g++ (clang 14 lacks float template arguments such as Dropout<0.5f>)
# and linked against libomp instead of libgomp: libomp implements g++'s GOMP_* entry points.
# A canary (tests/tsan/race_canary.cpp, a deliberately racy OpenMP loop) must be reported first,
# so a run that reports nothing is known to be able to report something.
# Needs: libomp-14-dev (apt-get install); not part of scripts/install-deps.sh because CI does not
# run it (the build and run take about 25 minutes on 2 cores).
#
# Every tests/test_*.cpp is built into one doctest binary (build-tsan/fernet_tests_tsan) and run
# with 2 OpenMP threads, so every parallel loop runs with two threads. A report fails the run
# (halt_on_error). Without arguments it runs the cases that drive the threaded code (gemm, every
# layer's kernels forward and backward, augmentation batches, evaluation with views, the loaders,
# short training runs); the whole-network training cases run at a few images per second under
# TSan and would take hours, adding no kernel the chosen cases do not already run threaded.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${FERNET_TSAN_DIR:-$root/build-tsan}
cxx=${CXX_TSAN:-g++}
libomp_dir=${LIBOMP_DIR:-/usr/lib/llvm-14/lib}
archer=$libomp_dir/libarcher.so
[ -f "$archer" ] || { echo "tsan.sh: $archer not found (apt-get install libomp-14-dev)" >&2; exit 2; }
obj_dir="$out/obj-$(basename "$cxx")"  # objects of another compiler are not reused
mkdir -p "$obj_dir"

flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=thread -fopenmp -march=native
       -DXTENSOR_USE_XSIMD -I"$root/include"
       -DFERNET_SOURCE_DIR=\""$root"\" -DFERNET_SHARED_DATA_DIR=\""$root/../shared/data"\")
# Linked without -fopenmp, so libgomp stays out and libomp serves the GOMP_* calls.
link=(-fsanitize=thread -L"$libomp_dir" -Wl,-rpath,"$libomp_dir" -lomp)
check_runtime() {
  if ldd "$1" | grep -q libgomp; then echo "tsan.sh: $1 links libgomp; TSan would report false races" >&2; exit 2; fi
}

# Archer is loaded by libomp through OMPT; ignore_noninstrumented_modules skips libomp itself,
# libz and the C++ runtime, which TSan did not instrument.
export OMP_TOOL_LIBRARIES="$archer"
export OMP_NUM_THREADS=2
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1"

"$cxx" "${flags[@]}" -c "$root/tests/tsan/race_canary.cpp" -o "$obj_dir/race_canary.o"
"$cxx" "$obj_dir/race_canary.o" "${link[@]}" -o "$out/race_canary"
check_runtime "$out/race_canary"
if "$out/race_canary" >"$out/race_canary.log" 2>&1 || ! grep -q "WARNING: ThreadSanitizer: data race" "$out/race_canary.log"; then
  echo "tsan.sh: the canary's race was not reported; this set-up cannot find races" >&2
  cat "$out/race_canary.log" >&2
  exit 2
fi
echo "canary: its race was reported, as it must be"

objects=()
for src in "$root"/tests/main.cpp "$root"/tests/test_*.cpp; do
  obj="$obj_dir/$(basename "${src%.cpp}").o"
  objects+=("$obj")
  # Rebuild an object when its source or a header it included (g++'s dependency file) is newer.
  if [ -f "$obj" ] && [ -f "${obj%.o}.d" ]; then
    newest=$(sed -e 's/^[^:]*://' -e 's/\\$//' "${obj%.o}.d" | tr ' ' '\n' | grep -v '^$' |
             xargs -r stat -c %Y 2>/dev/null | sort -n | tail -1)
    [ "${newest:-0}" -le "$(stat -c %Y "$obj")" ] && continue
  fi
  echo "compiling $(basename "$src")"
  "$cxx" "${flags[@]}" -MMD -MP -c "$src" -o "$obj"
done
"$cxx" "${objects[@]}" "${link[@]}" -lz -o "$out/fernet_tests_tsan"
check_runtime "$out/fernet_tests_tsan"
threaded_cases='gemm*,kernels*,threads*,simd*,gradcheck*,augment*,tta*,batches*,synthetic*,dropout*,'
threaded_cases+='equalisation*,notebook networks*,device (emulated): every layer*,device (emulated): losses*,'
threaded_cases+='training: a short run*,training: resuming*,recipes: augmentation and ten-crop*'
if [ $# -eq 0 ]; then set -- --test-case="$threaded_cases"; fi
"$out/fernet_tests_tsan" --no-version "$@"
