"""Training throughput on 1 and 2 devices, and input-pipeline throughput
from a photo folder and from TFRecord shards.

    python benchmarks/distribute.py [--data_dir=../shared/data/train]

Rows (each in its own subprocess, since devices are fixed when the backend
starts; the model rows are run in alternation, ``--rounds`` times):

* TensorFlow: one device; ``MirroredStrategy`` over 1 and over 2 logical CPU
  devices (``--cpu_devices``);
* JAX: one device; ``keras.distribution.DataParallel`` over 2 XLA host
  devices (``XLA_FLAGS=--xla_force_host_platform_device_count=2``);
* the ``kcolor.data.training_dataset`` pipeline alone (``--pipeline_batches``
  batches after 5 of warm-up), reading
  ``--limit`` photos of ``--data_dir`` from the folder and from shards that
  ``kcolor prepare-data`` writes to a temporary folder first.

Model rows time ``fit`` of the classification colorizer (width ``--width``,
``--crop`` px, global batch ``--batch_size``) on an in-memory batch, after
warm-up, for ``--steps`` steps; the table gives each round and the median.
Logical CPU devices share the machine's
cores: on a CPU they measure the overhead of the replication, not a speed-up.
"""

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

flags.DEFINE_string("data_dir", "../shared/data/train", "Photos for the pipeline rows.")
flags.DEFINE_integer("limit", 3000, "Photos for the pipeline rows.")
flags.DEFINE_float("width", 0.25, "Width multiplier.")
flags.DEFINE_integer("crop", 128, "Crop side.")
flags.DEFINE_integer("batch_size", 16, "Global batch size.")
flags.DEFINE_integer("steps", 30, "Timed steps a row (after 3 warm-up steps).")
flags.DEFINE_integer("pipeline_batches", 60, "Timed batches of a pipeline row.")
flags.DEFINE_integer("rounds", 2, "Times each model row runs (alternating).")
flags.DEFINE_string("worker", None, "Internal: run one row and print its JSON.")
flags.DEFINE_integer("devices", 1, "Internal: devices of the row.")
flags.DEFINE_string("source", None, "Internal: the pipeline row's data.")
FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_ROWS = [  # (label, backend, strategy, devices)
    ("TensorFlow, 1 device", "tensorflow", "default", 1),
    ("TensorFlow MirroredStrategy, 1 device", "tensorflow", "mirrored", 1),
    ("TensorFlow MirroredStrategy, 2 logical CPU devices", "tensorflow", "mirrored", 2),
    ("JAX, 1 device", "jax", "default", 1),
    ("JAX DataParallel, 2 XLA host devices", "jax", "data_parallel", 2),
]


def _fit_rate(strategy, devices):
    from kcolor import training

    training.configure_devices(devices)
    import keras
    import numpy as np
    import tensorflow as tf

    from kcolor import losses, models

    batch = FLAGS.batch_size
    size = FLAGS.crop
    L = np.random.default_rng(0).uniform(0, 100, (batch, size, size, 1)).astype("float32")
    y = np.random.default_rng(1).uniform(-40, 40, (batch, size // 4, size // 4, 3))
    ds = tf.data.Dataset.from_tensors((L, y.astype("float32"))).repeat()
    tf_strategy = training._strategy(strategy)
    if strategy == "data_parallel":
        training.data_parallel()
    scope = tf_strategy.scope() if tf_strategy else contextlib.nullcontext()
    with scope:
        model = models.build_colorizer("classification", FLAGS.width)
        model.compile(keras.optimizers.Adam(1e-4), losses.BinnedCrossEntropy())
    model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)  # trace, warm up
    t0 = time.perf_counter()
    model.fit(ds, steps_per_epoch=FLAGS.steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - t0
    replicas = tf_strategy.num_replicas_in_sync if tf_strategy else (
        keras.distribution.distribution().num_model_replicas
        if strategy == "data_parallel" else 1)
    return {"images_per_s": FLAGS.steps * batch / seconds, "replicas": replicas}


def _pipeline_rate(source):
    from kcolor import data

    it = iter(data.training_dataset(source, FLAGS.batch_size, FLAGS.crop))
    for _ in range(5):
        next(it)
    t0 = time.perf_counter()
    for _ in range(FLAGS.pipeline_batches):
        next(it)
    return {"images_per_s": FLAGS.pipeline_batches * FLAGS.batch_size
            / (time.perf_counter() - t0)}


def _run(args, env):
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    r = subprocess.run([sys.executable, os.path.abspath(__file__), *args], cwd=ROOT,
                       env=full_env, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _common():
    return [f"--width={FLAGS.width}", f"--crop={FLAGS.crop}", f"--batch_size={FLAGS.batch_size}",
            f"--steps={FLAGS.steps}", f"--pipeline_batches={FLAGS.pipeline_batches}"]


def main(argv):
    if FLAGS.worker == "fit":
        print(json.dumps(_fit_rate(os.environ["KCOLOR_BENCH_STRATEGY"], FLAGS.devices)))
        return
    if FLAGS.worker == "pipeline":
        print(json.dumps(_pipeline_rate(FLAGS.source)))
        return

    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}  "
          f"width {FLAGS.width}  crop {FLAGS.crop}  global batch {FLAGS.batch_size}  "
          f"{FLAGS.steps} timed steps a row", flush=True)
    results = {label: [] for label, *_ in MODEL_ROWS}
    for _ in range(FLAGS.rounds):
        for label, backend, strategy, devices in MODEL_ROWS:
            env = {"KERAS_BACKEND": backend, "KCOLOR_BENCH_STRATEGY": strategy}
            if backend == "jax":
                env["JAX_PLATFORMS"] = "cpu"
                if devices > 1:
                    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
            row = _run(["--worker=fit", f"--devices={devices}", *_common()], env)
            results[label].append(row)
            print(f"  {label}: {row['images_per_s']:.1f} img/s ({row['replicas']} replicas)",
                  flush=True)

    print("\n| training | replicas | img/s (each round) | median | vs 1 device |"
          "\n|---|---|---|---|---|")
    base = {}
    for label, backend, strategy, devices in MODEL_ROWS:
        rates = [r["images_per_s"] for r in results[label]]
        median = statistics.median(rates)
        base.setdefault(backend, median)
        print(f"| {label} | {results[label][0]['replicas']} | "
              f"{' / '.join(f'{r:.1f}' for r in rates)} | {median:.1f} | "
              f"{median / base[backend]:.2f} |")

    if not os.path.isdir(FLAGS.data_dir):
        print(f"\n{FLAGS.data_dir}: no such folder; pipeline rows skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        from kcolor import data, shards

        photos = data.spread(data.list_images(FLAGS.data_dir), FLAGS.limit)
        folder = os.path.join(tmp, "photos")
        os.makedirs(folder)
        for p in photos:  # the same photos in both rows
            os.symlink(os.path.abspath(p), os.path.join(folder, os.path.basename(p)))
        t0 = time.perf_counter()
        manifest = shards.write_shards(folder, os.path.join(tmp, "shards", "train"),
                                       num_shards=8, progress=False)
        prep = time.perf_counter() - t0
        print(f"\nprepare-data: {manifest['photos']} photos -> 8 shards "
              f"({manifest['bytes'] / 1e6:.1f} MB) in {prep:.1f} s "
              f"({manifest['photos'] / prep:.0f} photos/s)")
        print(f"\n| input pipeline alone ({len(photos)} photos, crop {FLAGS.crop}) | img/s "
              "(each round) | median |\n|---|---|---|")
        for label, source in (("photo folder (Pillow decode)", folder),
                              ("TFRecord shards (tf.io.decode_image)",
                               os.path.join(tmp, "shards", "train-*.tfrecord"))):
            rates = [_run(["--worker=pipeline", f"--source={source}", *_common()],
                          {"KERAS_BACKEND": "tensorflow"})["images_per_s"]
                     for _ in range(FLAGS.rounds)]
            print(f"| {label} | {' / '.join(f'{r:.0f}' for r in rates)} | "
                  f"{statistics.median(rates):.0f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
