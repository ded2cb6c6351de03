#!/usr/bin/env bash
# Retrains the hint-aware preset lite_hints (kcolor.hints; docs/MODEL_CARD.md).
#   sh studies/train_lite_hints.sh        # about 50 min on 2 cores
# lite stays frozen: its ab is cached once for 8,000 training photos at 128 px and 4,000
# at 256 px (photos enlarged); the refiner (48 channels, dilations 1-2-4-8-16-1) learns on
# SIGGRAPH 2017's simulated hints, batches taking turns at 128 and 256 px, over the
# propagation with sigma 3 and a decay of 0.8 / cells (kcolor.hints.model.ReachGate).
# A killed run picks up at its last finished epoch when run again. Then the preset (the
# refiner only, base lite).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m kcolor.hints.train --output_dir=runs/hints_reach --crops=128,256 --photos=8000,4000 \
    --channels=48 --dilations=1,2,4,8,16,1 --sigma=3 --lam_area=0.8 \
    --epochs=14 --steps_per_epoch=300 --batch_size=32 --learning_rate=1e-3 --preset=lite_hints
