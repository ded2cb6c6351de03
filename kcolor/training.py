"""The shared machinery of the fit recipes in ``recipes/``.

A recipe is a ``Recipe``: a head, a grid and a loss. ``train`` builds the
model, the data, Adam(0.9, 0.999) with the loss study's schedule (constant for
40 % of the steps, then linear to 0) and the callbacks, and runs
``model.fit``. Everything a run writes goes to ``output_dir``:

* ``best.keras``: best epoch by ``monitor`` on the validation folder;
* ``last.keras``: the latest epoch;
* ``log.csv``: one row an epoch (loss, lr, val_* and gray_* metrics);
* ``curves.png``: learning curves;
* ``backup/``: ``BackupAndRestore`` state, so a killed run started again
  with the same flags resumes from its last finished epoch.
"""

import csv
import dataclasses
import json
import os
from typing import Callable

import keras

from kcolor import callbacks, data, models, schedules


@dataclasses.dataclass
class Recipe:
    """One experiment: what the network predicts and what it is trained on."""

    name: str
    head: str  # "classification" or "regression"
    loss: Callable[[], keras.losses.Loss]
    grid: str = "zhang"
    monitor: str = "val_psnr"  # validation figure that picks best.keras
    temperature: float = 0.38  # annealed mean at validation (classification)
    description: str = ""


@dataclasses.dataclass
class TrainConfig:
    data_dir: str
    output_dir: str
    val_dir: str = None
    epochs: int = 10
    steps_per_epoch: int = 500
    batch_size: int = 16
    crop_size: int = 128
    width: float = 0.25
    learning_rate: float = 3e-4
    val_size: int = 128
    val_limit: int = None
    strategy: str = "default"  # or "mirrored"
    seed: int = None


def _strategy(name):
    if name == "default":
        return None
    if name == "mirrored":
        if keras.backend.backend() != "tensorflow":
            raise ValueError("--strategy=mirrored needs KERAS_BACKEND=tensorflow; "
                             "with jax use keras.distribution")
        import tensorflow as tf

        return tf.distribute.MirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}: use 'default' or 'mirrored'")


def build_model(recipe, config):
    model = models.build_colorizer(recipe.head, config.width, recipe.grid, name=recipe.name)
    total = config.epochs * config.steps_per_epoch
    lr = schedules.ConstantThenLinearDecay.scaled_to(config.learning_rate, total)
    model.compile(
        optimizer=keras.optimizers.Adam(lr, beta_1=0.9, beta_2=0.999),
        loss=recipe.loss(),
    )
    return model


def _best_logged(csv_path, monitor):
    if not os.path.exists(csv_path):
        return None
    with open(csv_path) as f:
        values = [float(r[monitor]) for r in csv.DictReader(f) if r.get(monitor)]
    return max(values) if values else None


def train(recipe, config):
    """Trains ``recipe`` as ``config`` says; returns the Keras History."""
    os.makedirs(config.output_dir, exist_ok=True)
    out = lambda name: os.path.join(config.output_dir, name)  # noqa: E731
    with open(out("config.json"), "w") as f:
        json.dump({"recipe": recipe.name, **dataclasses.asdict(config)}, f, indent=1)

    train_ds = data.training_dataset(
        config.data_dir, config.batch_size, config.crop_size, seed=config.seed
    )
    val_ds = data.validation_dataset(
        config.val_dir or config.data_dir, config.val_size, limit=config.val_limit
    ).cache()

    best_so_far = None
    if not os.path.isdir(out("backup")):
        if os.path.exists(out("log.csv")):  # a finished or fresh run: start the log anew
            os.remove(out("log.csv"))
    else:  # resuming: keep best.keras unless a later epoch beats it
        best_so_far = _best_logged(out("log.csv"), recipe.monitor)

    strategy = _strategy(config.strategy)
    if strategy is None:
        model = build_model(recipe, config)
    else:
        with strategy.scope():
            model = build_model(recipe, config)

    cbs = [
        callbacks.ValidationMetrics(val_ds, recipe.temperature),  # first: fills val_*
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ModelCheckpoint(out("best.keras"), monitor=recipe.monitor, mode="max",
                                        save_best_only=True, initial_value_threshold=best_so_far),
        keras.callbacks.ModelCheckpoint(out("last.keras")),
        keras.callbacks.CSVLogger(out("log.csv"), append=True),
        callbacks.LearningCurvePlot(out("log.csv"), out("curves.png"), recipe.name),
        keras.callbacks.BackupAndRestore(out("backup")),
    ]
    return model.fit(
        train_ds,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        callbacks=cbs,
        verbose=1 if os.isatty(1) else 2,
    )


def define_flags(recipe):
    """absl flags of every recipe (defaults from ``TrainConfig``)."""
    from absl import flags

    d = TrainConfig(data_dir="", output_dir="")
    flags.DEFINE_string("data_dir", None, "Folder of colour photos to train on.", required=True)
    flags.DEFINE_string("val_dir", None, "Folder of validation photos (default: data_dir).")
    flags.DEFINE_string("output_dir", f"runs/{recipe.name}", "Where checkpoints, log and plot go.")
    flags.DEFINE_integer("epochs", d.epochs, "Epochs; the lr schedule is scaled to them.")
    flags.DEFINE_integer("steps_per_epoch", d.steps_per_epoch, "Batches per epoch.")
    flags.DEFINE_integer("batch_size", d.batch_size, "Global batch size.")
    flags.DEFINE_integer("crop_size", d.crop_size, "Training crop side (multiple of 8).")
    flags.DEFINE_float("width", d.width, "Channel multiplier (0.25 ≈ 2 M parameters).")
    flags.DEFINE_float("learning_rate", d.learning_rate, "Initial Adam learning rate.")
    flags.DEFINE_integer("val_size", d.val_size, "Side of the validation centre crops.")
    flags.DEFINE_integer("val_limit", None, "Use only N validation photos, spread evenly.")
    flags.DEFINE_enum("strategy", d.strategy, ["default", "mirrored"],
                      "mirrored: tf.distribute.MirroredStrategy over local GPUs.")
    flags.DEFINE_integer("seed", None, "Shuffle seed.")


def config_from_flags():
    from absl import flags

    F = flags.FLAGS
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    return TrainConfig(**{n: F[n].value for n in names})


def main(recipe):
    """Entry point of a recipe file: ``python recipes/NAME.py --data_dir=...``."""
    from absl import app

    define_flags(recipe)
    app.run(lambda argv: train(recipe, config_from_flags()) and None)
