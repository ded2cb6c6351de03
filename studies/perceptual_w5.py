"""Issue #20's first measurement as written: kcolor's Huber + 5 x the frozen
Lite0 feature distance (strides 8, 16, 32), that is recipes/lite_perceptual.py
at weight 5 instead of 0.02. The ninth session's run (docs/MODEL_CARD.md,
"Ninth session"; 12 x 200 steps, about 30 min on 2 cores):

    python studies/perceptual_w5.py --init_from=lite128 --crop_size=128 \\
        --data_dir=../shared/data/train,../shared/data/people_places/train,../shared/data/diverse/train \\
        --val_dir=../shared/data/val --val_size=128 --val_limit=256 --epochs=12 \\
        --steps_per_epoch=200 --batch_size=16 --learning_rate=5e-5 --seed=13 --output_dir=runs/w5
"""

import dataclasses

from kcolor import perceptual, training
from recipes import lite_perceptual

RECIPE = dataclasses.replace(
    lite_perceptual.RECIPE,
    name="lite_perceptual_w5",
    loss=lambda: perceptual.PerceptualLoss(weight=5.0, variant=0, taps=(8, 16, 32)),
    description="lite_perceptual at feature weight 5 (issue #20's first measurement)",
)

if __name__ == "__main__":
    training.main(RECIPE)
