#!/usr/bin/env bash
# Retrains the hint-aware preset lite_hints (kcolor.hints; docs/MODEL_CARD.md).
#   sh studies/train_lite_hints.sh        # about 70 min on 2 cores
# Stage 1: the refiner at 128 px (lite frozen; 8,000 training photos cached with lite's ab).
# Stage 2: 600 steps taking turns at 128 and 256 px (1,200 photos enlarged to 256), so that
# it works at lite's 256-px working size too; then the preset (the refiner only, base lite).
# Both stages resume where a killed run stopped when run again. The shipped preset's stage 2
# started from stage 1 after 6 of its 8 epochs (the preset's init_from says so).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m kcolor.hints.train --output_dir=runs/hints --epochs=8 --steps_per_epoch=300 \
    --batch_size=32 --learning_rate=1e-3
mkdir -p runs/hints_mix
ln -sf ../hints/cache.npz runs/hints_mix/cache.npz
python -m kcolor.hints.train --output_dir=runs/hints_mix --crops=128,256 --photos=1200 \
    --init_from=runs/hints/last.keras --epochs=4 --steps_per_epoch=150 --batch_size=16 \
    --learning_rate=5e-4 --preset=lite_hints
