"""The Keras fit recipes: one file per experiment (see README, "Recipes").

Run one with ``python -m recipes.NAME --data_dir=...`` or ``kcolor train NAME``.
"""

NAMES = ("l1", "l2", "huber", "binned_ce", "neighbor", "composite", "classification",
         "lite_huber", "lite_classification", "lite_colorful", "lite_l2",
         "lite_psnr", "lite_perceptual", "lite_instances")
