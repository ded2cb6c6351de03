"""``kcolor colorize`` speed and memory at full resolution: images/s end to end
(read, colorize, write) and the peak resident memory of the process, for
generated grayscale photos of 256x256, 1 MP (1152x864) and 12 MP (4000x3000).

    python benchmarks/colorize.py [--sizes=256,1mp,12mp]

Each size runs in a fresh subprocess (this script with ``--one_size``), so the
peak memory (``ru_maxrss``) of one size does not leak into another. A baseline
subprocess only imports kcolor and builds the default Colorizer: its peak is
the fixed cost, and ``delta`` is what the photos themselves add. Photos are
written before the subprocesses start, so generating them is not measured.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from PIL import Image  # noqa: E402

# name: (width, height, number of files)
SIZES = {
    "256": (256, 256, 8),
    "1mp": (1152, 864, 4),
    "12mp": (4000, 3000, 2),
}

flags.DEFINE_list("sizes", list(SIZES), f"Sizes to measure, of {', '.join(SIZES)}.")
flags.DEFINE_integer("batch_size", 8, "colorize_files.run batch size (the CLI's default).")
flags.DEFINE_string("one_size", None, "Internal: measure one size (or 'baseline') in this "
                    "process and print JSON on the last line.")
flags.DEFINE_string("photo_dir", None, "Internal: the photos for --one_size.")
FLAGS = flags.FLAGS


def _peak_mb():
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


def _photo(w, h, rng):
    """A grayscale 'photo': smooth gradients plus a few blobs and noise, uint8."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x /= w
    y /= h
    img = 80 * x + 60 * y + 40 * np.sin(6.0 * x + 2.0 * rng.random()) * np.cos(4.0 * y)
    for _ in range(3):
        cx, cy, r = rng.random(), rng.random(), 0.05 + 0.2 * rng.random()
        img += 60 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    img += rng.normal(0, 6, (h, w)).astype(np.float32)
    return np.clip(img + 40, 0, 255).astype(np.uint8)


def make_photos(root, name):
    w, h, n = SIZES[name]
    folder = os.path.join(root, name)
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(_photo(w, h, rng), "L").save(f"{folder}/{i}.jpg", quality=90)
    return folder


def measure_one(name, photo_dir):
    """Runs in the subprocess: returns the dict printed as JSON."""
    from kcolor import colorize, colorize_files

    if name == "baseline":
        t0 = time.perf_counter()
        colorize.Colorizer(None)
        return {"size": name, "load_s": time.perf_counter() - t0, "peak_mb": _peak_mb()}
    # Time the Colorizer's construction (model load) inside run() as well, so
    # the table can show the rate without that one-off cost.
    init = colorize.Colorizer.__init__
    load = []

    def timed_init(self, *a, **k):
        t = time.perf_counter()
        init(self, *a, **k)
        load.append(time.perf_counter() - t)

    colorize.Colorizer.__init__ = timed_init
    out = tempfile.mkdtemp(prefix="kcolor-bench-out-")
    t0 = time.perf_counter()
    done, failed = colorize_files.run([photo_dir], out, model=None, batch_size=FLAGS.batch_size,
                                      progress=False)
    seconds = time.perf_counter() - t0
    if failed or not done:
        raise RuntimeError(f"{name}: {done} colorized, {failed} failed")
    return {"size": name, "n": done, "seconds": seconds, "load_s": sum(load),
            "peak_mb": _peak_mb()}


def run_one(name, photo_dir=""):
    cmd = [sys.executable, os.path.abspath(__file__), f"--one_size={name}",
           f"--photo_dir={photo_dir}", f"--batch_size={FLAGS.batch_size}"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"{name}: subprocess failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv):
    if FLAGS.one_size:
        print(json.dumps(measure_one(FLAGS.one_size, FLAGS.photo_dir)), flush=True)
        return
    unknown = set(FLAGS.sizes) - set(SIZES)
    if unknown:
        sys.exit(f"unknown --sizes {sorted(unknown)}: use {', '.join(SIZES)}")
    root = tempfile.mkdtemp(prefix="kcolor-bench-")
    folders = {name: make_photos(root, name) for name in FLAGS.sizes}
    base = run_one("baseline")
    print(f"cores: {os.cpu_count()}  batch {FLAGS.batch_size}  default model  "
          f"baseline (import kcolor + build Colorizer): {base['peak_mb']:.0f} MB peak, "
          f"{base['load_s']:.1f} s", flush=True)
    print("| size | photos | images/s (end to end) | images/s (excl. model load) "
          "| peak RSS (MB) | delta over baseline (MB) | delta per photo (MB) |\n"
          "|---|---|---|---|---|---|---|", flush=True)
    print(f"| baseline (import + Colorizer) | 0 | | | {base['peak_mb']:.0f} | 0 | |", flush=True)
    for name in FLAGS.sizes:
        w, h, _ = SIZES[name]
        r = run_one(name, folders[name])
        delta = r["peak_mb"] - base["peak_mb"]
        # Photos in one batch are held together, so the peak grows with the batch.
        per_photo = delta / min(r["n"], FLAGS.batch_size)
        print(f"| {w}x{h} ({w * h / 1e6:.1f} MP) | {r['n']} | {r['n'] / r['seconds']:.2f} "
              f"| {r['n'] / (r['seconds'] - r['load_s']):.2f} | {r['peak_mb']:.0f} "
              f"| {delta:.0f} | {per_photo:.0f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
