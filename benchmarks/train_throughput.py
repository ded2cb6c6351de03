"""Training throughput on this machine: ``model.fit`` images/s by width and
crop size, and the tf.data pipeline alone (which must not be the bottleneck).

    python benchmarks/train_throughput.py [--data_dir=../shared/data/train]

All rows are measured in one run. ``fit`` rows use a cached in-memory batch
(so they time the model alone); the pipeline rows read and decode real files.
Run it on an idle machine: it prints what it measured, nothing is assumed.
"""

import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from PIL import Image  # noqa: E402

from kcolor import data, losses, models  # noqa: E402

flags.DEFINE_string("data_dir", "../shared/data/train", "Photos for the pipeline rows "
                    "(generated ones if the folder is missing).")
flags.DEFINE_list("widths", ["0.25", "0.5", "1.0"], "Width multipliers.")
flags.DEFINE_list("sizes", ["128", "256"], "Crop sizes.")
flags.DEFINE_integer("batch_size", 16, "Batch size.")
flags.DEFINE_float("seconds", 20.0, "Time each fit row at least this long (after warm-up).")
FLAGS = flags.FLAGS


def fit_rate(width, size, batch):
    model = models.build_colorizer("classification", width)
    model.compile("adam", losses.BinnedCrossEntropy())
    L = np.random.uniform(0, 100, (batch, size, size, 1)).astype("float32")
    y = np.random.uniform(-40, 40, (batch, size // 4, size // 4, 3)).astype("float32")
    ds = tf.data.Dataset.from_tensors((L, y)).repeat()
    model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)  # trace + warm-up
    t0 = time.perf_counter()
    model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)
    per_step = (time.perf_counter() - t0) / 2
    # One fit call of enough steps to last about --seconds: per-call set-up is
    # then a negligible part of the time.
    steps = max(3, int(FLAGS.seconds / per_step))
    t0 = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch / (time.perf_counter() - t0), model.count_params()


def pipeline_rate(folder, size, batch, batches=40):
    it = iter(data.training_dataset(folder, batch, size))
    next(it)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch / (time.perf_counter() - t0)


def _generated_photos():
    folder = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    for i in range(64):
        Image.fromarray(rng.integers(0, 255, (160, 160, 3), np.uint8)).save(f"{folder}/{i}.jpg")
    return folder


def main(argv):
    folder = FLAGS.data_dir if os.path.isdir(FLAGS.data_dir) else _generated_photos()
    print(f"cores: {os.cpu_count()}  tensorflow {tf.__version__}  batch {FLAGS.batch_size}")
    print("| what | width | crop | params | images/s |\n|---|---|---|---|---|")
    for size in map(int, FLAGS.sizes):
        rate = pipeline_rate(folder, size, FLAGS.batch_size)
        print(f"| tf.data pipeline alone | | {size} | | {rate:.1f} |", flush=True)
        for width in map(float, FLAGS.widths):
            r, params = fit_rate(width, size, FLAGS.batch_size)
            print(f"| fit | {width} | {size} | {params / 1e6:.1f} M | {r:.1f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
