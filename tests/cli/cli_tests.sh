#!/usr/bin/env bash
# Drives the fernet program as a user would: commands, exit codes, messages, files.
#   cli_tests.sh CASE FERNET WORKDIR SCRIPTDIR
# CASE: info | synth | usage_errors | file_errors | train | eval | predict | resume | interrupt_synthetic | device
#       | recipe | hostile | mpi | mpi_missing
# mpi runs fernet under $FERNET_MPIEXEC (the launcher and its flags, set by CMake).
# The eval, predict and hostile cases use the run the train case leaves in WORKDIR/../train (a CTest fixture).
set -u
case_name=$1
fernet=$2
work=$3
scripts=$4
failures=0

rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
run_dir=$(cd .. && pwd)/train/run

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# expect RC PATTERN -- ARGS...: fernet ARGS exits with RC and its output (stdout+stderr) matches
# the extended regular expression PATTERN.
expect() {
  local rc=$1 pattern=$2
  shift 3
  local out got
  out=$("$fernet" "$@" 2>&1)
  got=$?
  if [ "$got" != "$rc" ]; then
    fail "fernet $* exited $got, expected $rc; output:"$'\n'"$out"
  elif ! grep -Eq -- "$pattern" <<<"$out"; then
    fail "fernet $* printed no /$pattern/; output:"$'\n'"$out"
  else
    echo "ok: fernet $* -> $got, /$pattern/"
  fi
}

train_ok() {  # fernet train ARGS...: its output in $out (echoed); fails unless it exits 0
  out=$("$fernet" train "$@" 2>&1)
  local rc=$?
  echo "$out"
  [ $rc = 0 ] || fail "fernet train $* exited $rc"
}
is_png() {
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$1 is not a PNG file"
}
png_size() {  # width x height from the IHDR chunk
  local hex
  hex=$(head -c 24 "$1" | od -An -tx1 -j16 | tr -d ' \n')
  echo "$((16#${hex:0:8}))x$((16#${hex:8:8}))"
}
check_json() {  # FILE KEY...
  local file=$1
  shift
  local keys
  keys=$(IFS=';'; echo "$*")
  cmake -DFILE="$file" "-DKEYS=$keys" -P "$scripts/check_json.cmake" >/dev/null 2>json.err ||
    fail "$file: $(cat json.err)"
}
checksum() {  # weights checksum of a checkpoint
  "$fernet" info --checkpoint "$1" | sed -n 's/^weights checksum: //p'
}

case $case_name in
info)
  expect 0 "fernet 0\.[0-9]+\.[0-9]+" -- info
  expect 0 "SIMD: [a-z0-9_]+" -- info
  expect 0 "kernels: (avx512|avx2\+fma|baseline) " -- info
  expect 0 "CUDA: (compiled in|not compiled in)" -- info
  expect 0 "threads: 1 " -- info --threads 1
  expect 0 "resnet152 +ResNet152 +58151872" -- info
  expect 0 "Total parameters: 2,470,151" -- info --model cnn-adam --summary
  expect 0 "Conv<1,32,3,1,0>" -- info --model cnn-adam --summary
  expect 2 "--summary needs --model NAME" -- info --summary
  expect 2 "unknown model 'vgg'" -- info --model vgg --summary
  expect 0 "^0\.[0-9]+\.[0-9]+" -- --version
  expect 0 "Usage: fernet" -- --help
  ;;

synth)
  expect 0 "wrote 50 synthetic images \(40 Training, 5 PublicTest, 5 PrivateTest\)" -- synth --rows 50 --out a.csv
  [ "$(head -1 a.csv)" = "emotion,pixels,Usage" ] || fail "a.csv: wrong header"
  [ "$(wc -l <a.csv)" = 51 ] || fail "a.csv: expected 51 lines"
  "$fernet" synth --rows 50 --out b.csv.gz >/dev/null || fail "synth .gz"
  [ "$(gzip -dc b.csv.gz | cmp - a.csv && echo same)" = same ] || fail "the same seed must give the same rows"
  expect 0 "wrote 2 PNG and 2 JPEG" -- synth --rows 2 --images imgs
  for f in imgs/*.png; do is_png "$f"; done
  [ "$(ls imgs/*.jpg | wc -l)" = 2 ] || fail "expected 2 JPEG files"
  expect 2 "--rows must be at least 1" -- synth --rows 0 --out c.csv
  expect 2 "--out FILE.csv is required" -- synth --rows 5
  ;;

usage_errors)
  expect 2 "unknown model 'resnet19'; choose one of: linear-mlp, cnn-adam, cnn-sgd, tf-cnn, resnet18, resnet50, resnet152" \
    -- train --model resnet19 --out x
  expect 2 "unknown flag: --learning-rate" -- train --model tf-cnn --learning-rate 0.1 --out x
  expect 2 "unknown flags: --colour --size" -- predict --load m.fernet --colour red --size 3 a.png
  expect 2 "unknown command 'frobnicate'; the commands are train, eval, predict, synth, info, export and import" -- frobnicate
  expect 2 "A subcommand is required" --
  expect 2 "--epochs must be at least 1 \(got 0\)" -- train --model tf-cnn --epochs 0 --out x
  expect 2 "--lr must be a positive number \(got -0\.01\)" -- train --model tf-cnn --lr -0.01 --out x
  expect 2 "--lr must be a positive number \(got 0\)" -- train --model tf-cnn --lr 0 --out x
  expect 2 "--batch must be at least 1" -- train --model tf-cnn --batch 0 --out x
  expect 2 "--threads must be at least 1" -- train --model tf-cnn --threads 0 --out x
  expect 2 "Could not convert: --epochs = many" -- train --model tf-cnn --epochs many --out x
  expect 2 "--model NAME is required" -- train --out x
  expect 2 "--out DIR is required" -- train --model tf-cnn
  expect 2 "unknown split 'Validation'" -- train --model tf-cnn --eval-split Validation --out x
  expect 2 "--load is required" -- eval --data x.csv
  expect 2 "give IMAGE files to classify, or --csv FILE" -- predict --load x.fernet
  [ ! -e x ] || fail "a refused command must not create its --out directory"
  ;;

device)
  # --device: a bad name is a usage error; CUDA without a GPU (or without CUDA in the build) is a
  # clear error before any file is written; the emulated device follows the CPU run.
  expect 2 "unknown device 'gpu'; choose one of: cpu, cuda, cuda:N, emulated" -- train --model tf-cnn --device gpu --out x
  [ ! -e x ] || fail "a refused --device must not create the --out directory"
  info=$("$fernet" info)
  grep -qE "^CUDA: (compiled in|not compiled in)" <<<"$info" || fail "fernet info has no CUDA line: $info"
  if grep -qE "^CUDA: (not compiled in|compiled in; no CUDA device)" <<<"$info"; then
    expect 1 "(no CUDA device available|has no CUDA backend)" -- train --model tf-cnn --device cuda --out y
    [ ! -e y ] || fail "an unusable --device cuda must not create the --out directory"
  else
    echo "a CUDA device is present: the no-GPU message is not tested here"
  fi
  "$fernet" synth --rows 300 --out data.csv >/dev/null || fail "synth"
  "$fernet" train --model tf-cnn --data data.csv --epochs 1 --batch 50 --out cpu >/dev/null 2>&1 || fail "cpu run"
  "$fernet" train --model tf-cnn --data data.csv --epochs 1 --batch 50 --device emulated --out emu >cpu_emu.log 2>&1 ||
    fail "emulated run: $(cat cpu_emu.log)"
  grep -q "device host (device code path emulated" cpu_emu.log || fail "the emulated run does not name its device"
  # fernet eval on the emulated device gives the CPU's accuracy for the same checkpoint.
  acc_cpu=$("$fernet" eval --load emu/model.fernet --data data.csv | grep -oE "accuracy: [0-9.]+ \([0-9]+ of [0-9]+\)" | head -1)
  acc_emu=$("$fernet" eval --load emu/model.fernet --data data.csv --device emulated | grep -oE "accuracy: [0-9.]+ \([0-9]+ of [0-9]+\)" | head -1)
  [ -n "$acc_cpu" ] && [ "$acc_cpu" = "$acc_emu" ] || fail "eval --device emulated: '$acc_emu', on the CPU: '$acc_cpu'"
  expect 2 "unknown device 'tpu'" -- eval --load emu/model.fernet --data data.csv --device tpu
  a=$(sed -n 2p cpu/history.csv | cut -d, -f2)
  b=$(sed -n 2p emu/history.csv | cut -d, -f2)
  awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-4 * a) }' ||
    fail "emulated device training loss $b differs from the CPU's $a"
  ;;

file_errors)
  "$fernet" synth --rows 20 --out small.csv >/dev/null
  echo "hello" >notes.txt
  mkdir adir
  expect 1 "data file 'missing.csv' does not exist" -- train --model tf-cnn --data missing.csv --out o1
  expect 1 "data file 'adir' is a directory" -- train --model tf-cnn --data adir --out o2
  expect 1 "notes.txt:1: wrong header \"hello\"" -- train --model tf-cnn --data notes.txt --epochs 1 --out o3
  expect 1 "cannot create output directory '/proc/fernet-cli-test/run'" -- train --model tf-cnn --data small.csv --out /proc/fernet-cli-test/run
  expect 1 "cannot create output directory 'notes.txt/run': Not a directory" -- train --model tf-cnn --data small.csv --out notes.txt/run
  expect 1 "cannot create output directory 'notes.txt'" -- train --model tf-cnn --data small.csv --out notes.txt
  expect 1 "cannot open checkpoint 'missing.fernet'" -- eval --load missing.fernet --data small.csv
  expect 1 "notes.txt: not a valid fernet checkpoint" -- eval --load notes.txt --data small.csv
  expect 1 "'adir' is a directory; pass a checkpoint file, e.g. adir/model.fernet" -- predict --load adir img.png
  expect 1 "cannot resume: 'nowhere' is not a directory" -- train --resume nowhere
  expect 1 "cannot resume: 'adir' holds no run \(no run.json\)" -- train --resume adir
  ;;

train)
  "$fernet" synth --rows 600 --out data.csv >/dev/null || fail "synth"
  train_ok --model tf-cnn --data data.csv --epochs 2 --threads 2 --out run
  grep -q "^Epoch: 1/2.. Training Loss: [0-9.]*.. Test Loss" <<<"$out" || fail "no plain per-epoch line (stdout is not a terminal)"
  grep -q $'\r' <<<"$out" && fail "progress line printed although stdout is not a terminal"
  for f in run.json history.csv model.fernet last.fernet curves.png confusion.png report.json; do
    [ -s "run/$f" ] || fail "run/$f missing or empty"
  done
  [ "$(head -1 run/history.csv)" = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second,elapsed_seconds" ] ||
    fail "history.csv header"
  [ "$(grep -cE '^[12],[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+$' run/history.csv)" = 2 ] || fail "history.csv: expected 2 epoch rows"
  is_png run/curves.png
  is_png run/confusion.png
  [ "$(png_size run/curves.png)" = 1650x500 ] || fail "curves.png is $(png_size run/curves.png)"
  # a blank canvas compresses to almost nothing; drawn axes, curves and text do not
  [ "$(stat -c %s run/curves.png)" -gt 15000 ] || fail "curves.png looks empty"
  [ "$(stat -c %s run/confusion.png)" -gt 15000 ] || fail "confusion.png looks empty"
  check_json run/report.json accuracy epochs wall_seconds images_per_second threads simd_arch kernels machine.os machine.cpu \
    fernet_version command_line evaluation.per_class.6.f1 evaluation.per_class.0.precision evaluation.per_class.3.recall \
    evaluation.confusion_matrix.6.6 history.1.eval_accuracy history.1.elapsed_minutes
  check_json run/run.json settings.model settings.epochs settings.lr settings.seed
  grep -q '"epochs": 2' run/report.json || fail "report.json: epochs"
  grep -q '"model": "tf-cnn"' run/report.json || fail "report.json: model"
  expect 0 "model: tf-cnn" -- info --checkpoint run/model.fernet
  expect 0 "preprocess: unit_rgb" -- info --checkpoint run/last.fernet
  expect 0 "epoch: 2" -- info --checkpoint run/last.fernet
  if command -v script >/dev/null; then  # on a terminal: the live progress line
    script -qec "'$fernet' train --model tf-cnn --data data.csv --epochs 1 --out ttyrun" /dev/null >tty.log 2>&1 ||
      fail "train on a terminal: $(cat tty.log)"
    grep -qE $'\r\e\\[KEpoch 1/1  batch [0-9]+/[0-9]+  loss [0-9.]+  acc [0-9.]+  [0-9]+ img/s  [0-9]+:[0-9]{2} left' tty.log ||
      fail "no live progress line on a terminal: $(cat -v tty.log)"
  fi
  expect 1 "already holds a run; continue it with: fernet train --resume run" -- train --model tf-cnn --data data.csv --out run
  expect 0 "already finished its 2 epochs" -- train --resume run
  ;;

eval)
  [ -s "$run_dir/model.fernet" ] || { echo "FAIL: the train case's run is missing"; exit 1; }
  data=$run_dir/../data.csv
  expect 0 "PrivateTest accuracy: [0-9.]+ \([0-9]+ of 60\)" -- eval --load "$run_dir/model.fernet" --data "$data" --split PrivateTest
  expect 0 "Surprise +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]+" -- eval --load "$run_dir/model.fernet" --data "$data" --split PrivateTest
  expect 0 "confusion matrix" -- eval --load "$run_dir/model.fernet" --data "$data" --split PrivateTest
  "$fernet" eval --load "$run_dir/model.fernet" --data "$data" --split PrivateTest --json >eval.json || fail "eval --json"
  check_json eval.json accuracy loss per_class.6.f1 confusion_matrix.6.6 model split
  grep -q '"split": "PrivateTest"' eval.json || fail "eval.json: split"
  grep -q '"images": 60' eval.json || fail "eval.json: images"
  # --half-weights: linear weights read as halves; the same images classified, recorded in the JSON
  "$fernet" eval --load "$run_dir/model.fernet" --data "$data" --split PrivateTest --json --half-weights >eval16.json ||
    fail "eval --half-weights"
  grep -q '"linear_weights": "half"' eval16.json || fail "eval16.json: linear_weights"
  [ "$(grep '"correct"' eval.json)" = "$(grep '"correct"' eval16.json)" ] ||
    fail "eval --half-weights: $(grep '"correct"' eval16.json), float32: $(grep '"correct"' eval.json)"
  expect 2 "--half-weights is for inference on the CPU" \
    -- eval --load "$run_dir/model.fernet" --data "$data" --half-weights --device emulated
  # without --data: refused, the path stored in the checkpoint is not opened (tests hostile)
  expect 2 "--data FILE is required: .*model.fernet was trained on '.*data.csv'" -- eval --load "$run_dir/model.fernet"
  expect 1 "checkpoint holds network 'tf-cnn'.*but this is network 'cnn-adam'" \
    -- eval --load "$run_dir/model.fernet" --data "$data" --model cnn-adam
  # export: an ONNX file (protobuf: field 1 ir_version, a varint) that onnxruntime and OpenCV
  # read (tests/onnx checks the numbers); another network's name is refused, naming both
  expect 0 "wrote model.onnx: tf-cnn as ONNX" -- export --load "$run_dir/model.fernet" --out model.onnx
  [ "$(head -c 1 model.onnx | od -An -tx1 | tr -d ' ')" = 08 ] || fail "model.onnx does not start with ir_version"
  grep -q "class_names" model.onnx || fail "model.onnx has no class names"
  expect 1 "but this is network 'cnn-adam'" -- export --load "$run_dir/model.fernet" --out other.onnx --model cnn-adam
  [ ! -e other.onnx ] || fail "a refused export left other.onnx behind"
  expect 2 "--out is required" -- export --load "$run_dir/model.fernet"
  # import: the ONNX file's weights back into a checkpoint, the same weights exactly
  expect 0 "wrote back.fernet: tf-cnn with the weights of model.onnx" -- import --model tf-cnn --out back.fernet model.onnx
  [ "$(checksum back.fernet)" = "$(checksum "$run_dir/model.fernet")" ] || fail "ONNX import changed the weights"
  expect 1 "model.onnx: layer 1 .*the network has Conv here|model.onnx: the file has .* layers with weights" \
    -- import --model linear-mlp --out wrong.fernet model.onnx
  [ ! -e wrong.fernet ] || fail "a refused import left wrong.fernet behind"
  expect 1 "checkpoint holds network 'tf-cnn'.*but this is network 'resnet18'" \
    -- predict --load "$run_dir/model.fernet" --model resnet18 --csv "$data"
  expect 1 "checkpoint holds network 'tf-cnn'.*but this is network 'linear-mlp'" \
    -- train --model linear-mlp --data "$data" --epochs 1 --init "$run_dir/model.fernet" --out mismatch
  "$fernet" synth --rows 8 --out noprivate.csv >/dev/null
  head -7 noprivate.csv >training-only.csv
  expect 1 "has no PrivateTest rows \(6 Training, 0 PublicTest, 0 PrivateTest rows\); choose another --split" \
    -- eval --load "$run_dir/model.fernet" --data training-only.csv --split PrivateTest
  expect 2 "unknown split 'privatetest'" -- eval --load "$run_dir/model.fernet" --data "$data" --split privatetest
  # a truncated checkpoint is refused, not loaded
  head -c 5000 "$run_dir/model.fernet" >truncated.fernet
  expect 1 "truncated.fernet: not a valid fernet checkpoint \(checksum mismatch" -- eval --load truncated.fernet --data "$data"
  ;;

predict)
  [ -s "$run_dir/model.fernet" ] || { echo "FAIL: the train case's run is missing"; exit 1; }
  "$fernet" synth --rows 3 --seed 7 --images imgs >/dev/null || fail "synth --images"
  png=$(ls imgs/*.png | head -1)
  jpg=$(ls imgs/*.jpg | head -1)
  # 96x96 and 120x100 images: whole faces with --no-detect (without it, a photo to find faces in: tests/vision)
  out=$("$fernet" predict --load "$run_dir/model.fernet" --no-detect "$png" "$jpg" 2>&1) || fail "predict exited $?: $out"
  echo "$out"
  [ "$(grep -cE '(Angry|Disgust|Fear|Happy|Sad|Surprise|Neutral) +Angry [01]\.[0-9]{3}  Disgust [01]\.[0-9]{3}  Fear [01]\.[0-9]{3}  Happy [01]\.[0-9]{3}  Sad [01]\.[0-9]{3}  Surprise [01]\.[0-9]{3}  Neutral [01]\.[0-9]{3}$' <<<"$out")" = 2 ] ||
    fail "predict: expected one line with the emotion and 7 probabilities per image"
  echo "plain text" >notanimage.png
  expect 1 "'notanimage.png' is not an image fernet can read" -- predict --load "$run_dir/model.fernet" notanimage.png
  expect 1 "'missing.jpg': no such file" -- predict --load "$run_dir/model.fernet" missing.jpg
  expect 1 "'imgs' is a directory, not an image" -- predict --load "$run_dir/model.fernet" imgs
  expect 1 "data file 'missing.csv' does not exist" -- predict --load "$run_dir/model.fernet" --csv missing.csv
  head -c 300 "$png" >cut.png
  expect 1 "'cut.png' is not an image fernet can read" -- predict --load "$run_dir/model.fernet" cut.png
  expect 0 "wrote 600 predictions to preds.csv" -- predict --load "$run_dir/model.fernet" --csv "$run_dir/../data.csv" --out preds.csv
  [ "$(head -1 preds.csv)" = "row,usage,emotion,predicted,predicted_name,p_Angry,p_Disgust,p_Fear,p_Happy,p_Sad,p_Surprise,p_Neutral" ] ||
    fail "preds.csv header"
  [ "$(grep -cE '^[0-9]+,(Training|PublicTest|PrivateTest),[0-6],[0-6],[A-Za-z]+(,[01]\.[0-9]{5}){7}$' preds.csv)" = 600 ] ||
    fail "preds.csv: expected 600 prediction rows"
  ;;

resume)
  # An uninterrupted run and an interrupted-then-resumed one must end with the same weights.
  # 6 short epochs: the signal lands after the first one, well before the last.
  "$fernet" synth --rows 400 --out data.csv >/dev/null || fail "synth"
  args=(train --model tf-cnn --data data.csv --epochs 6 --threads 1)
  "$fernet" "${args[@]}" --out straight >straight.log 2>&1 || fail "uninterrupted run: $(cat straight.log)"
  "$fernet" "${args[@]}" --out broken >broken.log 2>&1 &
  pid=$!
  for _ in $(seq 3000); do  # up to 60 s for the first epoch line
    grep -q "^Epoch: 1/6" broken.log && break
    sleep 0.02
  done
  kill -INT $pid
  wait $pid
  rc=$?
  cat broken.log
  [ $rc = 130 ] || fail "interrupted run exited $rc, expected 130"
  grep -q "Interrupted by SIGINT.*continue with: fernet train --resume broken" broken.log || fail "no resume hint"
  [ ! -e broken/report.json ] || fail "an interrupted run must not write its report"
  ls -a broken | grep -q '\.tmp' && fail "temporary files left behind: $(ls -a broken)"
  done_epochs=$("$fernet" info --checkpoint broken/last.fernet | sed -n 's/^epoch: //p')
  [ -n "$done_epochs" ] && [ "$done_epochs" -ge 1 ] && [ "$done_epochs" -lt 6 ] ||
    fail "last.fernet should hold an epoch from 1 to 5, holds '$done_epochs'"
  expect 2 "--lr cannot be given with --resume" -- train --resume broken --lr 0.1
  "$fernet" train --resume broken >resumed.log 2>&1 || fail "resume: $(cat resumed.log)"
  cat resumed.log
  grep -q "resuming after epoch $done_epochs of 6" resumed.log || fail "resume did not continue from epoch $done_epochs"
  a=$(checksum straight/last.fernet)
  b=$(checksum broken/last.fernet)
  [ -n "$a" ] && [ "$a" = "$b" ] || fail "resumed weights $b differ from the uninterrupted run's $a"
  [ "$(checksum straight/model.fernet)" = "$(checksum broken/model.fernet)" ] || fail "best checkpoints differ"
  cmp -s straight/history.csv broken/history.csv ||
    [ "$(cut -d, -f1-5 straight/history.csv)" = "$(cut -d, -f1-5 broken/history.csv)" ] || fail "histories differ"
  echo "weights: uninterrupted $a, resumed $b"
  ;;

interrupt_synthetic)
  # No --data and no real data (FERNET_DEFAULT_DATA empty hides ../shared/data): the synthetic
  # set, said so. SIGTERM before the first epoch ends
  # leaves nothing to resume, and says so.
  FERNET_DEFAULT_DATA= "$fernet" train --model cnn-sgd --out syn >syn.log 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    grep -q "^output:" syn.log && break
    sleep 0.1
  done
  sleep 0.5
  kill -TERM $pid
  wait $pid
  rc=$?
  cat syn.log
  grep -q "data: built-in synthetic faces (no --data given and no FER2013 file found" syn.log || fail "the synthetic data set was not announced"
  [ $rc = 143 ] || fail "exit $rc after SIGTERM, expected 143"
  grep -q "Interrupted by SIGTERM. no epoch finished" syn.log || fail "no 'no epoch finished' message"
  [ ! -e syn/last.fernet ] || fail "a checkpoint was written without a finished epoch"
  expect 1 "has no last.fernet, so no epoch finished" -- train --resume syn
  ;;

recipe)
  # An accuracy recipe end to end on a few synthetic faces: 44x44 crops, schedule, smoothing,
  # ten-crop evaluation recorded in the checkpoint and applied by eval and predict.
  "$fernet" synth --rows 200 --out data.csv >/dev/null || fail "synth"
  train_ok --model vgg-fast --data data.csv --epochs 2 --batch 16 --threads 2 --out vgg
  grep -q "augment crop=44:2,flip,affine=10:0.05:0.1,erasing=0.25; schedule cosine:1; label smoothing 0.1" <<<"$out" ||
    fail "the banner does not show the recipe's options"
  check_json vgg/run.json settings.augment settings.schedule settings.tta settings.label_smoothing
  grep -q '"tta": "ten-crop:44"' vgg/run.json || fail "run.json: tta"
  grep -qa 'ten-crop:44' vgg/model.fernet || fail "model.fernet does not record the evaluation views"
  expect 0 "test-time views ten-crop:44" -- eval --load vgg/model.fernet --data data.csv --split PrivateTest
  expect 0 "test-time views center:44" -- eval --load vgg/model.fernet --data data.csv --split PrivateTest --tta center:44
  expect 1 "tta 'five:44': unknown views 'five'" -- eval --load vgg/model.fernet --data data.csv --tta five:44
  expect 0 "wrote 200 predictions to preds.csv" -- predict --load vgg/model.fernet --csv data.csv --out preds.csv
  expect 2 "--augment cannot be given with --resume" -- train --resume vgg --augment none
  # The recipe's time budget: a budget shorter than any epoch gives cosine:1's shortest run, 2.
  train_ok --model vgg-fast --data data.csv --time-budget 0.0001 --batch 16 --threads 2 --out budget
  grep -q "epochs as many as fit in 0.0001 min (at most 300, fixed after epoch 1)" <<<"$out" || fail "banner: budget"
  grep -q "so the run trains 2 epochs" <<<"$out" || fail "the fitted epoch count was not announced"
  grep -q '"time_budget_minutes": 0.0001' budget/run.json || fail "run.json: time_budget_minutes"
  grep -q '"planned_epochs": 2' budget/report.json || fail "report.json: planned_epochs"
  grep -q '"time_budget_minutes": 0.0' vgg/run.json || fail "--epochs alone did not turn the recipe's budget off"
  expect 2 "--time-budget cannot be given with --resume" -- train --resume budget --time-budget 5
  expect 0 "had already finished its 2 epochs" -- train --resume budget
  expect 2 "--time-budget: the time budget must be a number of minutes >= 0 \(0: none\), got -1" \
    -- train --model vgg-fast --data data.csv --time-budget -1 --out bad
  expect 2 "--time-budget with --schedule: .* the schedule 'onecycle' steps every batch" -- train --model vgg-fast --data data.csv --schedule onecycle --out bad
  expect 2 "--augment: augmentation 'crop=44,spin': unknown step 'spin'" \
    -- train --model cnn-adam --data data.csv --augment crop=44,spin --out bad
  expect 2 "--schedule: schedule 'cosine:5': the warm-up \(5 epochs\) must be shorter than the run \(2\)" \
    -- train --model cnn-adam --data data.csv --epochs 2 --schedule cosine:5 --out bad
  expect 2 "--clip-grad-norm runs on the CPU only" \
    -- train --model cnn-adam --data data.csv --clip-grad-norm 1 --device emulated --out bad
  expect 1 "evaluate with test-time views of that size" \
    -- train --model vgg-fast --data data.csv --epochs 2 --tta none --out bad2
  # Mixup, weight averaging and histogram equalisation: recorded in run.json and the checkpoint,
  # equalisation repeated by eval and predict, a resumed run keeps them.
  train_ok --model cnn-adam --data data.csv --epochs 1 --batch 32 --threads 2 --mixup 0.2 --ema 0.99 --equalize \
    --out extras
  grep -q "mixup alpha 0.2; weight averaging decay 0.99$" <<<"$out" || fail "the banner does not show mixup and EMA"
  grep -q "preprocessing: histogram equalisation first" <<<"$out" || fail "the banner does not show equalisation"
  grep -q '"equalize": true' extras/run.json || fail "run.json: equalize"
  grep -q '"mixup": 0.2' extras/run.json || fail "run.json: mixup"
  grep -q '"ema": 0.99' extras/run.json || fail "run.json: ema"
  grep -qa 'preprocess.equalize' extras/model.fernet || fail "model.fernet does not record equalisation"
  grep -qa 'ema_updates' extras/last.fernet || fail "last.fernet has no weight-averaging state"
  expect 0 "PublicTest accuracy" -- eval --load extras/model.fernet --data data.csv --split PublicTest
  expect 0 "wrote 200 predictions to extras.csv" -- predict --load extras/model.fernet --csv data.csv --out extras.csv
  expect 0 "Epoch: 2/2" -- train --resume extras --epochs 2
  expect 2 "--mixup runs on the CPU only" -- train --model cnn-adam --data data.csv --mixup 0.2 --device emulated --out bad
  expect 2 "--ema must be 0 \\(off\\) or a decay in \\(0, 1\\)" -- train --model cnn-adam --data data.csv --ema 1 --out bad
  expect 2 "--mixup cannot be given with --resume" -- train --resume extras --mixup 0.3
  # Runs compared in one figure (time to accuracy).
  expect 0 "wrote cmp.png \\(2 runs\\)" -- plot --out cmp.png vgg extras
  is_png cmp.png
  [ "$(png_size cmp.png)" = 1300x520 ] || fail "cmp.png is $(png_size cmp.png)"
  [ "$(stat -c %s cmp.png)" -gt 15000 ] || fail "cmp.png looks empty"
  expect 1 "run history 'nowhere/history.csv' does not exist" -- plot --out cmp2.png nowhere
  mkdir -p notarun && echo "hello" > notarun/history.csv
  expect 1 "is not a fernet history" -- plot --out cmp2.png notarun
  [ ! -e cmp2.png ] || fail "plot wrote a figure from a bad run"
  ;;

hostile)
  # Hostile input and faults (issue 12): crafted checkpoints, images, run files and directories.
  [ -s "$run_dir/model.fernet" ] || { echo "FAIL: the train case's run is missing"; exit 1; }
  data=$run_dir/../data.csv
  craft() { python3 "$scripts/craft_checkpoint.py" "$run_dir/model.fernet" "$@" || fail "craft_checkpoint $*"; }
  # eval never opens a file named inside a checkpoint (before: it read /etc/shadow and quoted it)
  craft shadow.fernet data=/etc/shadow
  expect 2 "--data FILE is required: shadow.fernet was trained on '/etc/shadow' and fernet does not open a file named inside a checkpoint" \
    -- eval --load shadow.fernet
  craft synthetic.fernet data=synthetic
  expect 0 "PublicTest accuracy" -- eval --load synthetic.fernet  # trained on synthetic faces: no file needed
  # preprocessing fields are checked at load (before: 100000 channels, 2 GB for one image)
  craft channels.fernet preprocess.channels=100000
  expect 1 "channels.fernet: checkpoint field 'preprocess.channels' is '100000', not a whole number in 1..3" \
    -- predict --load channels.fernet --csv "$data"
  craft grey.fernet preprocess.channels=1
  expect 1 "checkpoint field 'preprocess.channels' is 1 but network 'tf-cnn' takes 3" -- predict --load grey.fernet --csv "$data"
  craft scale.fernet preprocess.scale=nan
  expect 1 "checkpoint field 'preprocess.scale' is 'nan'" -- eval --load scale.fernet --data "$data"
  craft epoch.fernet epoch=-4
  expect 1 "checkpoint field 'epoch' is '-4', not a whole number in 0..1000000" -- eval --load epoch.fernet --data "$data"
  # escape sequences in checkpoint text never reach the terminal raw
  craft escape.fernet 'model=\x1b]0;pwned\x07\x1b[31m' 'signature=nothing'
  out=$("$fernet" eval --load escape.fernet --data "$data" 2>&1)
  grep -q $'\e' <<<"$out" && fail "an escape byte reached the terminal: $(cat -v <<<"$out")"
  grep -qF 'holds network '"'"'\x1b]0;pwned\x07\x1b[31m'"'" <<<"$out" || fail "escaped model name not shown: $out"
  craft escape_info.fernet 'data=\x1b[2J'
  "$fernet" info --checkpoint escape_info.fernet | grep -q $'\e' && fail "info printed a raw escape byte"
  # a checkpoint is read only when it is a regular file with the header
  expect 1 "checkpoint '/dev/zero' is not a regular file" -- eval --load /dev/zero --data "$data"
  # endless or newline-free data is an error at the line cap (before: memory grew until it failed)
  expect 1 "/dev/zero:1: line is longer than 65536 bytes" -- train --model tf-cnn --data /dev/zero --out zero
  # images: only PNG and JPEG, dimensions and pixel data capped before decoding
  printf 'BM' >bmp.bmp && head -c 52 /dev/zero >>bmp.bmp
  expect 1 "'bmp.bmp' is not an image fernet can read \(PNG or JPEG" -- predict --load "$run_dir/model.fernet" bmp.bmp
  # a PNG header declaring 9000 x 9000 grey pixels, no pixel data
  printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x23\x28\x00\x00\x23\x28\x08\x00\x00\x00\x00\x00\x00\x00\x00' >huge.png
  printf '\x00\x00\x00\x00IEND\xaeB`\x82' >>huge.png
  expect 1 "'huge.png' is 9000x9000 pixels, more than the 64 megapixels" -- predict --load "$run_dir/model.fernet" huge.png
  # predict --csv X --out X would overwrite its own input
  cp "$data" in.csv
  expect 2 "--out 'in.csv' is the --csv input file" -- predict --load "$run_dir/model.fernet" --csv in.csv --out in.csv
  cmp -s in.csv "$data" || fail "predict changed its --csv input"
  # run.json: integers checked (before: a JSON 1e300 read as int)
  cp -r "$run_dir" copy
  sed -i 's/"epochs": 2/"epochs": 1e300/' copy/run.json
  expect 1 "cannot resume: copy/run.json is not a valid run file: .*'epochs' must be a whole number" -- train --resume copy
  head -c 2000000 /dev/zero >copy/run.json
  expect 1 "cannot resume: copy/run.json is 2000000 bytes, more than a run file ever is" -- train --resume copy
  # train --out: a directory with fernet's file names but no run is not emptied without --force
  mkdir mine && echo "my report" >mine/report.json
  expect 1 "'mine' holds a file named report.json but no run \(no run.json\); pass --force" \
    -- train --model tf-cnn --data "$data" --epochs 1 --out mine
  [ "$(cat mine/report.json)" = "my report" ] || fail "train deleted the user's report.json"
  # --force with a mistyped --data leaves the previous run as it was
  cp -r "$run_dir" kept
  sum=$(checksum kept/last.fernet)
  echo "hello" >notes.txt
  expect 1 "notes.txt:1: wrong header" -- train --model tf-cnn --data notes.txt --force --out kept
  [ "$(checksum kept/last.fernet)" = "$sum" ] && [ -s kept/model.fernet ] && [ -s kept/report.json ] ||
    fail "a refused --force run changed the previous run's files"
  # a run stopped before its first epoch ended can be started again (no circle of messages)
  mkdir -p early && cp "$run_dir/run.json" early/
  expect 1 "has no last.fernet, so no epoch finished" -- train --resume early
  expect 0 "wrote early" -- train --model tf-cnn --data "$data" --epochs 1 --batch 100 --out early
  ;;

mpi)
  # Data-parallel training under mpirun: 2 processes, resumed on 3, then on 1 without mpirun;
  # the report names the processes; a settings mismatch and a signal to one process end all.
  read -r -a mpiexec <<<"${FERNET_MPIEXEC:?FERNET_MPIEXEC is not set}"
  "$fernet" synth --rows 400 --out data.csv >/dev/null || fail "synth"
  args=(train --model tf-cnn --data data.csv --threads 1)
  out=$("${mpiexec[@]}" -np 2 "$fernet" "${args[@]}" --epochs 2 --out two 2>&1)
  rc=$?
  echo "$out"
  [ $rc = 0 ] || fail "mpirun -np 2 fernet train exited $rc"
  grep -q "data-parallel: 2 processes x 1 threads" <<<"$out" || fail "no data-parallel banner line"
  # (Open MPI gives the processes a terminal: the epoch line may follow a progress line's \r.)
  [ "$(grep -c "Epoch: 1/2\.\." <<<"$out")" = 1 ] || fail "the epoch line should be printed once (rank 0)"
  check_json two/report.json processes.ranks processes.hosts.1 processes.threads_per_rank.1 \
    processes.allreduce.seconds_per_step processes.allreduce.share_of_training_time
  grep -q '"ranks": 2' two/report.json || fail "report.json: ranks is not 2"
  out=$("${mpiexec[@]}" -np 3 "$fernet" train --resume two --epochs 3 2>&1)
  rc=$?
  echo "$out"
  [ $rc = 0 ] || fail "resume on 3 processes exited $rc"
  grep -q "resuming after epoch 2 of 3" <<<"$out" || fail "the 3-process run did not resume after epoch 2"
  grep -q '"ranks": 3' two/report.json || fail "report.json: ranks is not 3 after the resumed run"
  [ "$(grep -c '^[0-9]' two/history.csv)" = 3 ] || fail "history.csv should hold 3 epochs: $(cat two/history.csv)"
  # The device code path on 2 processes (the gradients pass through host memory).
  out=$("${mpiexec[@]}" -np 2 "$fernet" "${args[@]}" --epochs 1 --device emulated --out device 2>&1)
  rc=$?
  echo "$out"
  [ $rc = 0 ] || fail "mpirun -np 2 fernet train --device emulated exited $rc"
  grep -q '"device": "host' device/report.json || fail "report.json does not name the emulated device"
  grep -q '"ranks": 2' device/report.json || fail "report.json: ranks is not 2 for the device run"
  # Processes that disagree (another seed here) stop at start-up, all with the same message.
  out=$("${mpiexec[@]}" -np 1 "$fernet" "${args[@]}" --epochs 1 --seed 1 --out mismatch : \
    -np 1 "$fernet" "${args[@]}" --epochs 1 --seed 2 --out mismatch 2>&1)
  rc=$?
  echo "$out"
  [ $rc != 0 ] || fail "processes with different seeds trained"
  grep -q "disagree on the settings" <<<"$out" || fail "no 'disagree on the settings' message"
  # A usage error every process finds ends the job with the usage status, 2, and its message.
  out=$("${mpiexec[@]}" -np 2 "$fernet" "${args[@]}" --epochs 0 --out usage 2>&1)
  rc=$?
  echo "$out"
  [ $rc = 2 ] || fail "a usage error under mpirun exited $rc, not 2"
  grep -q -- "--epochs must be at least 1" <<<"$out" || fail "no message naming --epochs"
  # SIGTERM to one process stops both at the next batch; the run resumes alone, without mpirun.
  "${mpiexec[@]}" -np 2 "$fernet" "${args[@]}" --epochs 20 --out stop >stop.log 2>&1 &
  pid=$!
  for _ in $(seq 3000); do  # up to 60 s for the first epoch line
    grep -q "Epoch: 1/20\.\." stop.log && break
    sleep 0.02
  done
  ranks=$(pgrep -P $pid -f "$fernet")
  last_rank=$(tail -n 1 <<<"$ranks")
  [ -n "$last_rank" ] && kill -TERM "$last_rank"
  wait $pid
  rc=$?
  cat stop.log
  [ $rc != 0 ] || fail "an interrupted mpirun job exited 0"
  grep -q "Stopped during epoch" stop.log || fail "rank 0 did not stop with the signalled rank"
  grep -q "Interrupted by a signal to another process of the job" stop.log || fail "no interruption message"
  out=$("$fernet" train --resume stop 2>&1)
  rc=$?
  echo "$out" | tail -n 3
  [ $rc = 0 ] || fail "resume without mpirun exited $rc"
  grep -q "resuming after epoch" <<<"$out" || fail "the run did not resume"
  grep -q '"ranks": 1' stop/report.json || fail "report.json: ranks is not 1 for the resumed single process"
  ;;

mpi_missing)
  # A build without MPI refuses a job in which every process would train alone.
  "$fernet" synth --rows 100 --out data.csv >/dev/null || fail "synth"
  OMPI_COMM_WORLD_SIZE=2 expect 2 "built without MPI support.*2 processes" -- train --model tf-cnn --data data.csv \
    --epochs 1 --out alone
  ;;

*)
  echo "unknown case $case_name"
  exit 1
  ;;
esac

if [ $failures -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
