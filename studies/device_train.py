"""Trains a `lite` candidate on a machine with Keras and JAX but no
TensorFlow: the GPU machine the `device` tool sometimes lends (issue #20's
long run). `docs/DEVICE_TRAINING.md` gives the whole procedure; in short:

    # here, once: wheels the device lacks, and the photos packed into shards
    studies/device_prepare.sh
    # there (the device tool's run, carrying .whl and .devdata):
    KERAS_BACKEND=jax python3 studies/device_train.py \\
        --data_dir=.devdata/train --val_dir=.devdata/val --init_from=lite128 \\
        --output_dir=.devruns/gpu --epochs=10 --steps_per_epoch=1000 --batch_size=64 \\
        --learning_rate=2e-4 --max_scale=2 --max_minutes=8 --export_dir=$OUT

The recipe (`--recipe`, default `lite_perceptual`) is the one `kcolor
train` runs, with its input read by `kcolor.packed` (NumPy and Pillow)
instead of `tf.data`. Checkpoints, `log.csv` and `curves.png` go to
`--output_dir`, which resumes when run again (keep it in a git-ignored
folder: the device keeps such folders between calls while it stays warm).
At the end the last checkpoint becomes a preset (`--preset_name`, float16,
working size 256 down to a small photo's own 128, as `lite`), copied with
the log and curves to `--export_dir` (the device's `$OUT`; a `.keras` file
with its optimiser state is too big to come back).

`--max_minutes` stops training at a wall-clock budget, so that a call ends
inside the device's 10-minute limit with its preset written; a run stopped
that way has not finished its learning-rate schedule, and says so in the
preset's `stopped_early`.
"""

import dataclasses
import importlib
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
from absl import app, flags  # noqa: E402

from kcolor import callbacks, packed, presets, training  # noqa: E402

flags.DEFINE_string("recipe", "lite_perceptual", "Recipe module in recipes/.")
flags.DEFINE_integer("workers", 12, "Threads preparing batches (at least 2).")
flags.DEFINE_float("max_minutes", 0.0, "Stop training after this many minutes (0: no limit).")
flags.DEFINE_string("preset_name", "lite_device", "Name of the preset made at the end.")
flags.DEFINE_integer("working_size", 256, "The preset's working size.")
flags.DEFINE_integer("min_working_size", 128, "The preset works at a smaller photo's own size "
                     "down to this.")
flags.DEFINE_string("export_dir", None, "Copy the preset, log and curves here (the device's $OUT).")
FLAGS = flags.FLAGS


class WallClockStop(keras.callbacks.Callback):
    """Stops ``fit`` once ``minutes`` have passed since training began."""

    def __init__(self, minutes):
        super().__init__()
        self.minutes, self.start, self.stopped = minutes, None, False

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if self.minutes and time.monotonic() - self.start > 60.0 * self.minutes:
            self.model.stop_training = self.stopped = True


def packed_recipe(recipe, workers):
    """``recipe`` reading its photos from ``kcolor.packed`` shards."""

    def datasets(recipe, config):
        # A resumed run goes on with the batches after those its finished epochs took.
        start = training.finished_epochs(config.output_dir) * config.steps_per_epoch
        train = packed.PackedPhotos(config.data_dir, config.batch_size, config.crop_size,
                                    max_scale=config.max_scale, seed=config.seed or 0,
                                    workers=workers, start=start)
        val = packed.validation_batches(config.val_dir or config.data_dir, config.val_size,
                                        limit=config.val_limit)
        return train, callbacks.ValidationMetrics(val, recipe.temperature)

    return dataclasses.replace(recipe, datasets=datasets)


def main(argv):
    recipe = importlib.import_module(f"recipes.{FLAGS.recipe}").RECIPE
    stop = WallClockStop(FLAGS.max_minutes)
    config = training.config_from_flags()
    t0 = time.monotonic()
    training.train(packed_recipe(recipe, FLAGS.workers), config, extra_callbacks=[stop])
    minutes = (time.monotonic() - t0) / 60.0
    cfg = presets.from_run(config.output_dir, FLAGS.preset_name, "last.keras",
                           directory=config.output_dir,
                           mean_saturation=1.0, size=FLAGS.working_size, saturation=1.0,
                           min_size=FLAGS.min_working_size, trained_on_device=True,
                           train_minutes=round(minutes, 1), stopped_early=stop.stopped)
    print(f"preset {FLAGS.preset_name!r} written to {config.output_dir} "
          f"({minutes:.1f} min{', stopped early' if stop.stopped else ''}): {json.dumps(cfg)}")
    if FLAGS.export_dir:
        os.makedirs(FLAGS.export_dir, exist_ok=True)
        for name in (f"{FLAGS.preset_name}.json", f"{FLAGS.preset_name}.npz", "log.csv",
                     "curves.png", "config.json"):
            src = os.path.join(config.output_dir, name)
            if os.path.exists(src):
                shutil.copy(src, os.path.join(FLAGS.export_dir, name))


if __name__ == "__main__":
    training.define_flags(importlib.import_module("recipes.lite_perceptual").RECIPE)
    app.run(main)
