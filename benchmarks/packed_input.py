"""Training input without TensorFlow (``kcolor.packed``) against ``tf.data``:
photos/s of (L, Lab target) batches, side by side in one run, by thread count.
On the lent GPU (docs/DEVICE_TRAINING.md) it tells whether the input can
keep up with the model; there, without TensorFlow, only the packed rows run.

    python benchmarks/packed_input.py [--shards=.devdata/train/photos-00000.npz] \\
        [--threads=1,2] [--tf_data_dir=../shared/data/train]

``--shards`` defaults to packing a sample of ``--tf_data_dir`` into a
temporary folder, so both rows read the same photos.
"""

import concurrent.futures
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import app, flags  # noqa: E402

from kcolor import imageio, packed  # noqa: E402

flags.DEFINE_string("shards", None, "Packed shards (default: a sample of --tf_data_dir, packed).")
flags.DEFINE_string("tf_data_dir", "../shared/data/train", "Photos for the tf.data row; "
                    "'' to skip it (a machine without TensorFlow).")
flags.DEFINE_integer("sample", 2000, "Photos packed when --shards is not given.")
flags.DEFINE_list("threads", ["1", "2"], "Thread counts for the packed rows.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("crop_size", 128, "Crop size.")
flags.DEFINE_float("max_scale", 2.0, "Scale augmentation, as training uses it.")
flags.DEFINE_integer("batches", 24, "Batches timed per row (after one of warm-up).")
FLAGS = flags.FLAGS


def _sample_shards(folder, n):
    import shutil

    tmp = tempfile.mkdtemp(prefix="kcolor_packed_bench_")
    photos = os.path.join(tmp, "photos")
    os.makedirs(photos)
    for p in imageio.spread(imageio.list_images(folder), n):
        shutil.copy(p, photos)
    packed.pack([photos], os.path.join(tmp, "shards"))
    return os.path.join(tmp, "shards"), photos


def packed_rate(source, threads):
    ds = packed.PackedPhotos(source, FLAGS.batch_size, FLAGS.crop_size, max_scale=FLAGS.max_scale,
                             seed=0, workers=max(2, threads))
    ds[0]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        t0 = time.perf_counter()
        list(pool.map(ds.__getitem__, range(1, FLAGS.batches + 1)))
        return FLAGS.batches * FLAGS.batch_size / (time.perf_counter() - t0)


def tf_data_rate(folder):
    from kcolor import data

    it = iter(data.training_dataset(folder, FLAGS.batch_size, FLAGS.crop_size,
                                    max_scale=FLAGS.max_scale))
    next(it)
    t0 = time.perf_counter()
    for _ in range(FLAGS.batches):
        next(it)
    return FLAGS.batches * FLAGS.batch_size / (time.perf_counter() - t0)


def main(argv):
    source, folder = FLAGS.shards, FLAGS.tf_data_dir
    if source is None:
        source, folder = _sample_shards(FLAGS.tf_data_dir, FLAGS.sample)
    print(f"cores: {os.cpu_count()}  batch {FLAGS.batch_size}  crop {FLAGS.crop_size}  "
          f"max_scale {FLAGS.max_scale}  photos: {len(packed.Photos(source))} packed")
    print("| input | threads | photos/s |\n|---|---|---|")
    for n in map(int, FLAGS.threads):
        print(f"| kcolor.packed (NumPy, Pillow) | {n} | {packed_rate(source, n):.0f} |", flush=True)
    if folder:
        print(f"| tf.data (kcolor.data) | TensorFlow's | {tf_data_rate(folder):.0f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
