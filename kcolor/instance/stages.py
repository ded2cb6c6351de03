"""The three training stages of the instance-aware colorizer, as fit recipes
(``recipes/instance_full.py``, ``instance_crops.py``, ``instance_fusion.py``),
in the seed's order, each with the composite loss and the study's schedule:

1. ``full``: the full-image branch, an ordinary colorizer on whole photos
   (the ``composite`` recipe under another name);
2. ``crops``: the instance branch, an ordinary colorizer trained on crops of
   detected and random boxes resized to ``crop_size`` (64 for the study),
   starting from stage 1's weights (``--init_from``);
3. ``fusion``: the instance-aware model with both branches loaded from
   stages 1 and 2 (``--full_model``, ``--instance_model``) and frozen, only
   the fusion modules trained, on photos with detected and random boxes.

Each stage's options are flags (``--boxes`` etc.) when run from the command
line, or keyword arguments of ``make_recipe`` in Python.
"""

import json
import os

import keras

from kcolor import callbacks, losses, models, schedules, training
from kcolor.instance import data as idata
from kcolor.instance import model as imodel

STAGES = ("full", "crops", "fusion")
OPTIONS = {  # name: (default, help, stages)
    "boxes": (None, "Boxes file of the training photos (detect_folder; keys relative to "
                    "--data_dir); without it only random boxes.", ("crops", "fusion")),
    "val_boxes": (None, "Boxes file of the validation photos (detected boxes only).",
                  ("fusion",)),
    "init_from": (None, "A .keras colorizer to start from (stage 1's best.keras).", ("crops",)),
    "detected_prob": (0.8, "Chance to crop a detected box when the photo has one "
                           "(else a random box).", ("crops",)),
    "full_model": (None, "Stage 1's .keras: the full-image branch.", ("fusion",)),
    "instance_model": (None, "Stage 2's .keras: the instance branch.", ("fusion",)),
    "max_boxes": (imodel.DEFAULT_MAX_BOXES, "Boxes an image (static).", ("fusion",)),
    "instance_crop": (imodel.DEFAULT_CROP_SIZE, "Side of the instance branch's crops "
                      "(stage 2's --crop_size).", ("fusion",)),
    "random_prob": (0.5, "Chance that a free box slot gets a random box.", ("fusion",)),
    "train_branches": (False, "Also train both branches (the seed freezes them).", ("fusion",)),
}


class InstanceValidationMetrics(callbacks.ValidationMetrics):
    """``ValidationMetrics`` for the instance-aware model: the validation
    batches are ((L, boxes, valid), RGB); the same logs and printout."""

    def on_epoch_end(self, epoch, logs=None):
        from keras import ops

        from kcolor import metrics

        logs = logs if logs is not None else {}
        inference = imodel.build_inference_model(self.model, self.temperature)
        batches = _Boxed(self.dataset)
        scores, gray = callbacks.evaluate_colorizer(
            lambda L: inference.predict_on_batch([L, *batches.current]), batches)
        if self._gray is None:
            self._gray = {("gray_" + k if k in metrics.NAMES else k): v for k, v in gray.items()}
        logs.update({f"val_{k}": v for k, v in scores.items()})
        logs["learning_rate"] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logs.update(self._gray)
        print("\n  val: " + "  ".join(f"{k} {v:.4g}" for k, v in scores.items()))


class _Boxed:
    """Iterates ((L, boxes, valid), rgb) as (L, rgb), keeping the boxes."""

    def __init__(self, dataset):
        self.dataset, self.current = dataset, None

    def __iter__(self):
        for (L, b, v), rgb in self.dataset:
            self.current = (b, v)
            yield L, rgb


def _compile(model, recipe, config):
    total = config.epochs * config.steps_per_epoch
    lr = schedules.ConstantThenLinearDecay.scaled_to(config.learning_rate, total)
    model.compile(optimizer=keras.optimizers.Adam(lr, beta_1=0.9, beta_2=0.999),
                  loss=recipe.loss())
    return model


def recipe_options(values, specs):
    """(current, define_flags) of a recipe's own options. ``values``: {name:
    value} (defaults with the caller's overrides); ``specs``: {name:
    (default, help)}, the default's type choosing the flag's. ``current()``
    returns ``values`` with the flags given on the command line applied;
    ``define_flags()`` defines them (defaults from ``values``)."""

    def current():
        from absl import flags

        F = flags.FLAGS
        out = dict(values)
        if F.is_parsed():
            out.update({k: F[k].value for k in specs if k in F and F[k].present})
        return out

    def define_flags():
        from absl import flags

        for k, (default, text) in specs.items():
            d = values[k]
            if isinstance(default, bool):
                flags.DEFINE_bool(k, d, text)
            elif isinstance(default, int):
                flags.DEFINE_integer(k, d, text)
            elif isinstance(default, float):
                flags.DEFINE_float(k, d, text)
            else:
                flags.DEFINE_string(k, d, text)

    return current, define_flags


def make_recipe(stage, **options):
    """The ``training.Recipe`` of ``stage`` (``STAGES``); ``options`` override
    the ``OPTIONS`` defaults (and flags override both when parsed)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: use one of {STAGES}")
    mine = {k: v for k, v in OPTIONS.items() if stage in v[2]}
    unknown = sorted(set(options) - set(mine))
    if unknown:
        raise ValueError(f"stage {stage}: unknown options {unknown}; it takes {sorted(mine)}")
    opts = {k: v[0] for k, v in mine.items()} | options
    current, define_flags = recipe_options(opts, {k: (v[0], v[1]) for k, v in mine.items()})

    def record(config, o):
        os.makedirs(config.output_dir, exist_ok=True)
        with open(os.path.join(config.output_dir, "stage.json"), "w") as f:
            json.dump({"stage": stage, **o}, f, indent=1)

    def build(recipe, config):
        o = current()
        record(config, o)
        if stage != "fusion":
            model = models.build_colorizer(recipe.head, config.width, recipe.grid, name=recipe.name)
            if o.get("init_from"):
                src = keras.models.load_model(o["init_from"], compile=False)
                model.set_weights(src.get_weights())
            return _compile(model, recipe, config)
        for k in ("full_model", "instance_model"):
            if not o.get(k):
                raise ValueError(f"stage fusion needs --{k} (a .keras from stage "
                                 f"{1 if k == 'full_model' else 2})")
        model = imodel.build_instance_colorizer(
            recipe.head, config.width, recipe.grid, o["max_boxes"], o["instance_crop"],
            name=recipe.name)
        imodel.load_branch(model, "full", o["full_model"])
        imodel.load_branch(model, "instance", o["instance_model"])
        imodel.set_branches_trainable(model, bool(o["train_branches"]))
        return _compile(model, recipe, config)

    def datasets(recipe, config):
        from kcolor import data

        o = current()
        val_dir = config.val_dir or config.data_dir
        if stage == "full":
            train_ds = data.training_dataset(config.data_dir, config.batch_size,
                                             config.crop_size, seed=config.seed)
        elif stage == "crops":
            train_ds = idata.crops_dataset(config.data_dir, o["boxes"], config.batch_size,
                                           config.crop_size, o["detected_prob"], seed=config.seed)
        if stage != "fusion":
            val = data.validation_dataset(val_dir, config.val_size, limit=config.val_limit)
            return train_ds, callbacks.ValidationMetrics(val.cache(), recipe.temperature)
        train_ds = idata.fusion_dataset(config.data_dir, o["boxes"], config.batch_size,
                                        config.crop_size, o["max_boxes"], o["random_prob"],
                                        seed=config.seed)
        val = idata.validation_dataset(val_dir, o["val_boxes"], config.val_size, o["max_boxes"],
                                       limit=config.val_limit)
        return train_ds, InstanceValidationMetrics(val.cache(), recipe.temperature)

    descriptions = {
        "full": "stage 1: the full-image branch (composite loss)",
        "crops": "stage 2: the instance branch on box crops (composite loss)",
        "fusion": "stage 3: fusion modules, branches frozen (composite loss)",
    }
    return training.Recipe(
        name=f"instance_{stage}", head="classification", grid="seed23",
        loss=lambda: losses.CompositeLoss(grid="seed23"),
        description=descriptions[stage], build=build, datasets=datasets,
        define_flags=define_flags,
    )
