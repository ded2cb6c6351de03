"""The fit recipe of the shipped instance-aware model (``recipes/lite_instances.py``).

One stage on top of a trained U-Net colorizer (``--branches_from``, default
the ``lite`` preset): both branches of
``kcolor.instance.lite_model.build_lite_instance_colorizer`` start from its
weights; the full-image branch stays frozen (so a photo without boxes is
colorized exactly as by that preset), the instance branch and the fusion
modules train. Loss: the ``lite`` preset's own (``lite_perceptual``: Huber
on ab + 0.02 x frozen EfficientNet-Lite0 feature distance). Data: photos
with their detected boxes (``--boxes``, from ``python -m
kcolor.instance.detect_folder``), each free box slot filled with a random
box with probability ``--random_prob``, as stage 3 of the Zhang-style
instance model (``kcolor.instance.data.fusion_dataset``); validation on
photos with their detected boxes (``--val_boxes``).

Its options are flags when run from the command line, or keyword
arguments of ``make_recipe``.
"""

import json
import os

from kcolor import perceptual, training
from kcolor.instance import lite_model
from kcolor.instance import stages

OPTIONS = {  # name: (default, help)
    "boxes": (None, "Boxes file of the training photos (detect_folder; keys relative to "
                    "--data_dir)."),
    "val_boxes": (None, "Boxes file of the validation photos."),
    "branches_from": ("lite", "Preset or .keras U-Net colorizer both branches start from "
                              "(the full-image branch keeps its weights)."),
    "max_boxes": (2, "Boxes an image while training (static; the preset may take more)."),
    "instance_crop": (lite_model.DEFAULT_CROP_SIZE, "Side of the instance branch's crops."),
    "random_prob": (0.5, "Chance that a free box slot gets a random box."),
    "train_full": (False, "Also train the full-image branch (then photos without boxes "
                          "change too)."),
}
PERCEPTUAL_WEIGHT = 0.02  # recipes/lite_perceptual.py's


def make_recipe(**options):
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown options {unknown}; it takes {sorted(OPTIONS)}")
    opts = {k: v[0] for k, v in OPTIONS.items()} | options
    current, define_flags = stages.recipe_options(opts, OPTIONS)

    def build(recipe, config):
        o = current()
        os.makedirs(config.output_dir, exist_ok=True)
        with open(os.path.join(config.output_dir, "stage.json"), "w") as f:
            json.dump({"stage": "lite_instances", **o}, f, indent=1)
        model = lite_model.build_lite_instance_colorizer(
            max_boxes=o["max_boxes"], crop_size=o["instance_crop"], name=recipe.name)
        lite_model.load_branch(model, "full", o["branches_from"])
        lite_model.load_branch(model, "instance", o["branches_from"])
        lite_model.set_trainable(model, full=bool(o["train_full"]), instance=True)
        model.compile(optimizer=training.unet_optimizer(recipe, config), loss=recipe.loss())
        return model

    def datasets(recipe, config):
        from kcolor.instance import data as idata

        o = current()
        train_ds = idata.fusion_dataset(config.data_dir, o["boxes"], config.batch_size,
                                        config.crop_size, o["max_boxes"], o["random_prob"],
                                        seed=config.seed)
        val = idata.validation_dataset(config.val_dir or config.data_dir, o["val_boxes"],
                                       config.val_size, o["max_boxes"], limit=config.val_limit)
        return train_ds, stages.InstanceValidationMetrics(val.cache(), recipe.temperature)

    return training.Recipe(
        name="lite_instances", head="regression", grid="zhang",
        arch=lite_model.ARCH_PREFIX + "unet_lite0",
        loss=lambda: perceptual.PerceptualLoss(weight=PERCEPTUAL_WEIGHT, variant=0,
                                               taps=(8, 16, 32)),
        description="instance-aware U-Net: the lite preset's full-image branch (frozen), "
                    "an instance branch from the same weights on each box, decoder fusion; "
                    "Huber + 0.02 x Lite0 feature distance",
        build=build, datasets=datasets, define_flags=define_flags,
    )
