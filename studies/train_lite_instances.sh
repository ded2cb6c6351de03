#!/bin/bash
# Retrains the instance-aware preset `lite_instances` (issue #22;
# docs/INSTANCE_STUDY.md, docs/MODEL_CARD.md) on top of the shipped `lite`.
#   pip install -e ".[train,instances]"
#   studies/train_lite_instances.sh [RUN_DIR]
# About 35 min on 2 CPU cores:
#   1. a folder of the training photos with people (links, RUN_DIR/photos):
#      people_places/train utkface_* (aligned faces) and diverse/train ccp_*
#      (full-body street fashion); the same for the val folders (RUN_DIR/val);
#   2. their boxes, detected once and cached (boxes.json, val_boxes.json).
#      The shipped preset was trained on the Haar frontal-face boxes (--kinds=face,
#      the default detector when it was trained: 1,306 of 4,032 photos got a
#      box); kcolor colorize --instances=auto now finds faces with MTCNN,
#      whose boxes are mapped to Haar's (kcolor.instance.detector);
#   3. recipes/lite_instances.py: both branches from `lite`, the full-image
#      branch frozen, the instance branch and the fusion trained, 12 x 200
#      steps of 8 photos with up to 2 boxes (free slots get a random box
#      with probability 0.5), lr 1e-4;
#   4. the preset, taking up to 4 boxes a photo and storing only what is
#      not `lite`'s (--full_branch_from=lite).
# A killed training resumes when the script is started again.
# EPOCHS, STEPS and NAME (the preset written) override 12, 200 and
# lite_instances, e.g. for a quick check of the whole script.
set -euo pipefail
DATA=${DATA:-../shared/data}
RUN=${1:-runs/lite_instances}
EPOCHS=${EPOCHS:-12}
STEPS=${STEPS:-200}
NAME=${NAME:-lite_instances}
mkdir -p "$RUN/photos" "$RUN/val"
for f in "$DATA"/people_places/train/utkface_* "$DATA"/diverse/train/ccp_*; do
  ln -sf "$(realpath "$f")" "$RUN/photos/"; done
for f in "$DATA"/people_places/val/utkface_* "$DATA"/diverse/val/ccp_* "$DATA"/val/caltech101_Faces_easy_*; do
  ln -sf "$(realpath "$f")" "$RUN/val/"; done
if [ ! -f "$RUN/boxes.json" ]; then
  for i in 0 1; do
    python -m kcolor.instance.detect_folder --kinds=face --data_dir="$RUN/photos" --shard=$i/2 \
      --output="$RUN/boxes.$i.json" > "$RUN/detect.$i.log" 2>&1 &
  done
  wait
  python -m kcolor.instance.detect_folder --merge="$RUN/boxes.0.json,$RUN/boxes.1.json" \
    --output="$RUN/boxes.json"
fi
[ -f "$RUN/val_boxes.json" ] || python -m kcolor.instance.detect_folder --kinds=face \
  --data_dir="$RUN/val" --output="$RUN/val_boxes.json"
if [ ! -f "$RUN/train/last.keras" ] || [ -d "$RUN/train/backup" ]; then
  kcolor train lite_instances --data_dir="$RUN/photos" --val_dir="$RUN/val" \
    --boxes="$RUN/boxes.json" --val_boxes="$RUN/val_boxes.json" --output_dir="$RUN/train" \
    --epochs="$EPOCHS" --steps_per_epoch="$STEPS" --batch_size=8 --learning_rate=1e-4 --seed=1
fi
kcolor preset --run_dir="$RUN/train" --name="$NAME" --checkpoint=last.keras \
  --working_size=256 --min_working_size=128 --saturation=1.0 --mean_saturation=1.0 \
  --max_boxes=4 --full_branch_from=lite
