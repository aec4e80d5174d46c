#!/usr/bin/env bash
# CTest driver of the FERNET_DISPATCH checks (tests/dispatch/CMakeLists.txt):
#   run_check.sh build SOURCE_DIR WORK_DIR CXX  configure and build the dispatch project
#   run_check.sh level NAME WORK_DIR            the kernel suites with kernel set NAME (skipped when
#                                               the processor lacks it)
#   run_check.sh best WORK_DIR                  the best set is chosen; an unknown name is refused
#   run_check.sh leaks SOURCE_DIR WORK_DIR      no AVX instruction outside the AVX kernels
#   run_check.sh native SOURCE_DIR WORK_DIR CXX the kernel suites built with -march=native instead
#                                               (FERNET_DISPATCH=OFF), built and run
set -uo pipefail
mode=$1
shift
case $mode in
build)
  src=$1 work=$2 cxx=$3
  cmake -S "$src/tests/dispatch" -B "$work" -DFERNET_SOURCE_DIR="$src" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=Release >"$work.configure.log" 2>&1 ||
    { cat "$work.configure.log"; exit 1; }
  cmake --build "$work" --target fernet_dispatch_tests
  ;;
level)
  name=$1 prog=$2/fernet_dispatch_tests
  probe=$(FERNET_KERNELS=$name "$prog" --test-case="dispatch: the best*" 2>&1)
  if [ $? -eq 2 ] && grep -q "that this processor runs" <<<"$probe"; then
    echo "[fernet: skipped] this processor has no $name: $probe"
    exit 0
  fi
  # A case that skips itself inside a level's run (a form this level lacks) is reported, but
  # renamed so that CTest does not take the whole level for skipped.
  FERNET_KERNELS=$name "$prog" 2>&1 | sed 's/\[fernet: skipped\]/[fernet: case skipped]/'
  exit "${PIPESTATUS[0]}"
  ;;
native)
  src=$1 work=$2 cxx=$3
  cmake -S "$src/tests/dispatch" -B "$work" -DFERNET_SOURCE_DIR="$src" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=Release -DFERNET_CHECK_NATIVE=ON >"$work.configure.log" 2>&1 ||
    { cat "$work.configure.log"; exit 1; }
  cmake --build "$work" --target fernet_dispatch_tests || exit 1
  "$work/fernet_dispatch_tests" 2>&1 | sed 's/\[fernet: skipped\]/[fernet: case skipped]/'
  exit "${PIPESTATUS[0]}"
  ;;
best)
  prog=$1/fernet_dispatch_tests
  "$prog" || exit 1
  out=$(FERNET_KERNELS=avx1024 "$prog" --test-case="dispatch: the best*" 2>&1)
  rc=$?
  if [ $rc -ne 2 ] || ! grep -q "FERNET_KERNELS=avx1024: not one of" <<<"$out"; then
    echo "FERNET_KERNELS=avx1024 gave exit status $rc, expected 2 with a message; output:"$'\n'"$out"
    exit 1
  fi
  echo "ok: an unknown kernel set is refused: $out"
  ;;
leaks)
  src=$1 work=$2
  exec python3 "$src/tests/dispatch/check_isa_leaks.py" "$work/fernet_dispatch_tests"
  ;;
*)
  echo "usage: run_check.sh build|level|best|leaks|native ..." >&2
  exit 2
  ;;
esac
