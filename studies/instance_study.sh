#!/bin/bash
# The instance study of docs/INSTANCE_STUDY.md: the full-image composite
# colorizer against the instance-aware one (3 stages), trained for the same
# total number of steps, scored on the whole image and inside the boxes.
#
#   studies/instance_study.sh [boxes|baseline|instance|evaluate|all]   (default all)
#
# Budget: EPOCHS x 250 steps of batch 16 (default EPOCHS=8: 2,000 steps,
# 32,000 images), width 0.25, Adam 3e-4 with the 40/60 schedule per run,
# seed 1, composite loss everywhere.
#   baseline:  recipes.composite,        EPOCHS epochs, 128-px crops
#   instance:  stage 1 recipes.instance_full   EPOCHS/2 epochs, 128-px crops
#              stage 2 recipes.instance_crops  EPOCHS/4 epochs, 64-px box crops
#              stage 3 recipes.instance_fusion EPOCHS/4 epochs, 128-px crops,
#                      up to 4 boxes, branches frozen
# (EPOCHS must be divisible by 4.) Each run's wall time goes to
# $RUNS/times.txt. A killed run started again resumes where it stopped;
# finished steps are skipped. To use both cores, run the two arms at once:
#   studies/instance_study.sh boxes
#   taskset -c 0 studies/instance_study.sh baseline &
#   taskset -c 1 studies/instance_study.sh instance & wait
#   studies/instance_study.sh evaluate
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs/instance_study}
EPOCHS=${EPOCHS:-8}
STEPS=${STEPS:-250}
what=${1:-all}
if (( EPOCHS % 4 )); then echo "EPOCHS=$EPOCHS must be divisible by 4" >&2; exit 2; fi
mkdir -p "$RUNS"
COMMON=(--data_dir="$DATA/train" --val_dir="$DATA/val" --steps_per_epoch="$STEPS"
        --batch_size=16 --width=0.25 --learning_rate=3e-4 --val_limit=200 --seed=1)

timed() {  # timed NAME COMMAND...: runs it unless NAME is done, logs its wall time
  local name=$1; shift
  if [ -f "$RUNS/$name.done" ]; then return; fi
  local t0; t0=$(date +%s)
  "$@"
  echo "$name $(( $(date +%s) - t0 )) s" >> "$RUNS/times.txt"
  touch "$RUNS/$name.done"
}

boxes() {
  # Detector boxes (OpenCV frontal faces, kcolor[instances]) of every photo,
  # in two processes; then the validation photos.
  if [ ! -f "$RUNS/train_boxes.json" ]; then
    for i in 0 1; do
      python -m kcolor.instance.detect_folder --data_dir="$DATA/train" --shard="$i/2" \
        --output="$RUNS/train_boxes.$i.json" > "$RUNS/detect_train.$i.log" 2>&1 &
    done
    wait
    python -m kcolor.instance.detect_folder --merge="$RUNS/train_boxes.0.json,$RUNS/train_boxes.1.json" \
      --output="$RUNS/train_boxes.json"
  fi
  if [ ! -f "$RUNS/val_boxes.json" ]; then
    python -m kcolor.instance.detect_folder --data_dir="$DATA/val" --output="$RUNS/val_boxes.json"
  fi
}

baseline() {
  timed baseline python -m recipes.composite "${COMMON[@]}" --output_dir="$RUNS/baseline" \
    --epochs="$EPOCHS" --crop_size=128
}

instance() {
  timed stage1 python -m recipes.instance_full "${COMMON[@]}" --output_dir="$RUNS/stage1_full" \
    --epochs=$(( EPOCHS / 2 )) --crop_size=128
  timed stage2 python -m recipes.instance_crops "${COMMON[@]}" --output_dir="$RUNS/stage2_crops" \
    --epochs=$(( EPOCHS / 4 )) --crop_size=64 --boxes="$RUNS/train_boxes.json" \
    --init_from="$RUNS/stage1_full/last.keras"
  timed stage3 python -m recipes.instance_fusion "${COMMON[@]}" --output_dir="$RUNS/stage3_fusion" \
    --epochs=$(( EPOCHS / 4 )) --crop_size=128 --max_boxes=4 --instance_crop=64 \
    --boxes="$RUNS/train_boxes.json" --val_boxes="$RUNS/val_boxes.json" \
    --full_model="$RUNS/stage1_full/last.keras" --instance_model="$RUNS/stage2_crops/last.keras"
}

evaluate() {
  # Last epochs (same budget), all 1,093 validation photos squashed to 256.
  # "stage 1 alone" is the instance model's full-image branch without fusion.
  python -m kcolor.instance.evaluate --val_dir="$DATA/val" --boxes="$RUNS/val_boxes.json" \
    --model="full-image (baseline)=$RUNS/baseline/last.keras" \
    --model="stage 1 alone=$RUNS/stage1_full/last.keras" \
    --model="instance-aware=$RUNS/stage3_fusion/last.keras" \
    --size=256 --markdown="$RUNS/results.md" --pictures="$RUNS/pictures"
}

case "$what" in
  boxes) boxes ;;
  baseline) baseline ;;
  instance) instance ;;
  evaluate) evaluate ;;
  all) boxes; baseline; instance; evaluate ;;
  *) echo "usage: $0 [boxes|baseline|instance|evaluate|all]" >&2; exit 2 ;;
esac
