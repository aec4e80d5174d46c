#!/usr/bin/env bash
# CTest's cli.safetensors: fernet export --format safetensors and fernet import, through the program.
#   cli_safetensors.sh FERNET WORKDIR
# A one-epoch tf-cnn run on 300 synthetic rows; its weights exported and imported back give the
# same predictions; wrong network, non-safetensors file and unknown format are refused.
set -u
fernet=$1 work=$2
failures=0
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
# expect RC PATTERN -- ARGS...: exit code RC and output matching the extended regex PATTERN.
expect() {
  local rc=$1 pattern=$2
  shift 3
  local out got
  out=$("$fernet" "$@" 2>&1)
  got=$?
  if [ "$got" != "$rc" ]; then fail "fernet $* exited $got, expected $rc; output:"$'\n'"$out"
  elif ! grep -Eq -- "$pattern" <<<"$out"; then fail "fernet $* printed no /$pattern/; output:"$'\n'"$out"
  else echo "ok: fernet $* -> $got, /$pattern/"; fi
}

"$fernet" synth --rows 300 --out data.csv >/dev/null || exit 1
"$fernet" train --model tf-cnn --data data.csv --epochs 1 --batch 50 --threads 2 --out run >train.log 2>&1 ||
  { cat train.log; exit 1; }

expect 0 "wrote w.safetensors: tf-cnn's weights with PyTorch's parameter names" -- \
  export --load run/model.fernet --out w.safetensors
expect 0 "wrote x.bin: tf-cnn's weights" -- export --load run/model.fernet --out x.bin --format safetensors
cmp -s w.safetensors x.bin || fail "--format safetensors and the .safetensors extension wrote different files"
grep -aq '"fc3.bias"' w.safetensors || fail "w.safetensors has no tensor fc3.bias"
expect 0 "wrote back.fernet: tf-cnn with the weights of w.safetensors" -- \
  import --model tf-cnn --out back.fernet w.safetensors
"$fernet" predict --load run/model.fernet --csv data.csv --out original.csv >/dev/null 2>&1 || fail "predict (original)"
"$fernet" predict --load back.fernet --csv data.csv --out imported.csv >/dev/null 2>&1 || fail "predict (imported)"
if [ -s original.csv ] && cmp -s original.csv imported.csv; then echo "ok: imported weights predict as the original"
else fail "predictions of the imported checkpoint differ from the original's"; fi

expect 1 "'conv1.weight' has shape \[8x3x4x4\], the network needs \[32x1x3x3\]" -- \
  import --model cnn-adam --out wrong.fernet w.safetensors
[ -e wrong.fernet ] && fail "a refused import left wrong.fernet"
expect 1 "data.csv: not a safetensors file" -- import --model tf-cnn --out bad.fernet data.csv
expect 1 "cannot open 'missing.safetensors'" -- import --model tf-cnn --out bad.fernet missing.safetensors
expect 2 "--model resnet19: no such model" -- import --model resnet19 --out bad.fernet w.safetensors
expect 2 "--format: pickle not in \{onnx,safetensors\}" -- export --load run/model.fernet --out w.pt --format pickle

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all passed"
