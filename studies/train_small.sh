#!/bin/bash
# Retrains the shipped `small` preset (docs/MODEL_CARD.md) and scores it.
# About 65 min on one free CPU core. A killed run resumes when started again.
#   studies/train_small.sh [RUN_DIR]
set -euo pipefail
DATA=${DATA:-../shared/data}
RUN=${1:-runs/small}
kcolor train huber --data_dir="$DATA/train" --val_dir="$DATA/val" --output_dir="$RUN" \
  --epochs=14 --steps_per_epoch=250 --batch_size=16 --crop_size=128 --width=0.25 \
  --learning_rate=3e-4 --val_limit=400 --seed=1
kcolor preset --run_dir="$RUN" --name=small --saturation=1.5
kcolor evaluate "$DATA/val" --size=128 --markdown="$RUN/val.md"
