#!/usr/bin/env bash
# Runs on the device's GPU machine (docs/DEVICE_TRAINING.md), from the
# repository root, one stage per `run` call:
#   setup              install .whl into .devsite (kept between calls while the
#                      machine stays warm), show the GPU, train 2 x 20 steps
#                      on the val shards (a smoke test and the step time;
#                      SMOKE_STEPS=N sets the 20), and
#                      time the input alone (benchmarks/packed_input.py)
#   data               nothing: a call that only carries a training shard over
#   train STEPS EPOCHS MINUTES [LR] [BATCH]
#                      the run: lite_perceptual from lite128 on every shard in
#                      .devdata/train, EPOCHS x STEPS steps, stopped after
#                      MINUTES at the latest; the preset, log and curves go to
#                      $OUT. Run again after a cut-off call: it resumes.
set -euo pipefail
stage=${1:?setup, data or train}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/.devsite:$PWD
OUT=${OUT:-/tmp/out}
case "$stage" in
  setup)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target .devsite .whl/*.whl
    nvidia-smi -L || true
    python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"
    python3 studies/device_train.py --data_dir=.devdata/val --val_dir=.devdata/diverse_val \
      --val_limit=64 --init_from=lite128 --output_dir=.devruns/smoke --epochs=2 \
      --steps_per_epoch="${SMOKE_STEPS:-20}" --batch_size=64 --max_scale=2 --learning_rate=1e-5 \
      --preset_name=smoke --export_dir="$OUT" 2>&1 | grep -v "^I0000\|^W0000"
    rm -rf .devruns/smoke
    # can the input keep up? photos/s by thread count (a step of 64 needs 64 photos)
    python3 benchmarks/packed_input.py --shards=.devdata/val --tf_data_dir= --threads=1,4,8,16
    ;;
  data)
    ls -l .devdata/train
    ;;
  train)
    steps=${2:?steps per epoch}; epochs=${3:?epochs}; minutes=${4:?minutes}
    lr=${5:-2e-4}; batch=${6:-64}
    ls -l .devdata/train
    python3 studies/device_train.py --data_dir=.devdata/train --val_dir=.devdata/val \
      --val_limit=256 --init_from=lite128 --output_dir=.devruns/gpu --epochs="$epochs" \
      --steps_per_epoch="$steps" --batch_size="$batch" --max_scale=2 --learning_rate="$lr" \
      --seed=7 --max_minutes="$minutes" --preset_name=lite_gpu --export_dir="$OUT" \
      2>&1 | grep -v "^I0000\|^W0000"
    ;;
  *)
    echo "unknown stage $stage: setup, data or train" >&2
    exit 2
    ;;
esac
