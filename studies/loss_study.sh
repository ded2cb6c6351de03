#!/bin/bash
# The loss study of docs/LOSS_STUDY.md: train recipes with one budget and
# score their last epoch on all of the validation photos.
#
#   studies/loss_study.sh RECIPE [RECIPE ...]
#
# Budget (the same for every recipe): width 0.25, 128-px crops, batch 16,
# 4 epochs x 250 steps = 1,000 steps, Adam 3e-4 with the 40/60 schedule,
# seed 1. Runs go to $RUNS (default runs/loss_study), scores to
# $RUNS/NAME/val.md. A killed run started again resumes where it stopped.
# To use both cores, run two queues, e.g.:
#   taskset -c 0 studies/loss_study.sh l1 l2 neighbor binned_ce &
#   taskset -c 1 studies/loss_study.sh huber composite classification &
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs/loss_study}
for name in "$@"; do
  out="$RUNS/$name"
  if [ ! -f "$out/val.md" ]; then
    python -m recipes."$name" --data_dir="$DATA/train" --val_dir="$DATA/val" \
      --output_dir="$out" --epochs=4 --steps_per_epoch=250 --batch_size=16 \
      --crop_size=128 --width=0.25 --learning_rate=3e-4 --val_limit=200 --seed=1
    kcolor evaluate --model="$out/last.keras" --size=128 \
      --markdown="$out/val.md.tmp" "$DATA/val"
    mv "$out/val.md.tmp" "$out/val.md"
  fi
done
