#!/usr/bin/env bash
# Builds fernet's libFuzzer harnesses (tests/fuzz/fuzz_*.cpp) with clang and runs each for a fixed
# time on its seed corpus (tests/fuzz/corpus/<name>/, made by tests/fuzz/make_seeds.py).
#
#   scripts/fuzz.sh build                 # build only, into build-fuzz/
#   scripts/fuzz.sh run SECONDS [NAME...] # build, then run each named harness (default: all) for SECONDS,
#                                         # one after another; logs in build-fuzz/logs/NAME.log
#   scripts/fuzz.sh start SECONDS         # build, then run all at once in the background (nice 10)
#   scripts/fuzz.sh regress               # build, then run every harness once over its corpus and
#                                         # tests/fuzz/regressions/<name>/ (what CTest's fuzz label does)
# Needs: clang libclang-rt-14-dev (apt-get install); not part of scripts/install-deps.sh because
# CI does not fuzz. New inputs the fuzzer finds go to build-fuzz/corpus/NAME (not committed);
# crashes to build-fuzz/findings/NAME/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${FERNET_FUZZ_DIR:-$root/build-fuzz}
cxx=${CXX_FUZZ:-clang++-14}
names=(fer2013_file checkpoint image run_json)
mkdir -p "$out/logs"

flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root/include" -ffunction-sections -fdata-sections -Wl,--gc-sections)
build_one() {
  local n=$1 extra=()
  case $n in
    fer2013_file) extra=(-lz) ;;
    image) extra=("$root/apps/fernet/images.cpp" $(pkg-config --cflags --libs stb) -lz) ;;
    run_json) extra=("$root/apps/fernet/run_settings.cpp") ;;
  esac
  local target="$out/fuzz_$n" src="$root/tests/fuzz/fuzz_$n.cpp"
  if [ -x "$target" ] && [ -z "$(find "$src" "$root/include" "$root/apps/fernet" -newer "$target" -name '*.?pp' | head -1)" ]; then
    return 0
  fi
  echo "building fuzz_$n"
  "$cxx" "${flags[@]}" "$src" "${extra[@]}" -o "$target"
}
# The seed corpora are made here, not committed: the CSV seeds hold rows shaped like FER2013's
# (random pixels), and no such rows are kept in the project.
seeds() { python3 "$root/tests/fuzz/make_seeds.py" >/dev/null; }
build() { seeds; for n in "${names[@]}"; do build_one "$n"; done; }

run_one() {  # NAME SECONDS
  local n=$1 secs=$2
  mkdir -p "$out/corpus/$n" "$out/findings/$n"
  # -malloc_limit_mb: one allocation larger than 512 MB is a finding (inputs here are at most 64 KiB).
  "$out/fuzz_$n" "$out/corpus/$n" "$root/tests/fuzz/corpus/$n" -max_total_time="$secs" -max_len=65536 \
    -malloc_limit_mb=512 -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="$out/findings/$n/" >"$out/logs/$n.log" 2>&1
}

cmd=${1:-build}
case $cmd in
  build) build ;;
  run)
    secs=${2:?seconds}; shift 2; build
    for n in "${@:-${names[@]}}"; do run_one "$n" "$secs" || echo "fuzz_$n: FINDING, see $out/logs/$n.log"; done ;;
  start)
    secs=${2:?seconds}; build
    for n in "${names[@]}"; do (nice -n 10 bash -c "$(declare -f run_one); out=$out root=$root run_one $n $secs" \
      || echo "fuzz_$n: FINDING" >>"$out/logs/$n.log") & done
    echo "started ${names[*]} for $secs s each; logs in $out/logs/" ;;
  regress)
    build; status=0
    for n in "${names[@]}"; do
      dirs=("$root/tests/fuzz/corpus/$n"); [ -d "$root/tests/fuzz/regressions/$n" ] && dirs+=("$root/tests/fuzz/regressions/$n")
      "$out/fuzz_$n" -runs=0 "${dirs[@]}" >"$out/logs/$n.regress.log" 2>&1 || { echo "fuzz_$n: FAILED, see $out/logs/$n.regress.log"; status=1; }
    done
    exit $status ;;
  *) echo "usage: scripts/fuzz.sh build | run SECONDS [NAME...] | start SECONDS | regress" >&2; exit 2 ;;
esac
