"""Speed of hint points: one photo with 10 points against the automatic colour.

    nice -n 19 python benchmarks/hints.py [--model=lite_hints] [--base=lite] [--runs=15]

Side by side in one process, on one 256 × 256 photo (an imagenet_samples photo,
or a generated one with --photo=none): the base model's automatic colour
(``Colorizer(base).colorize``), and the hint-aware model with 10 SIGGRAPH
2017 evaluation points (``Colorizer(model).colorize(hints=...)``), each after
two warm-up runs; the median of ``--runs`` runs each, interleaved. The floor
(issue #30): the hinted photo in at most the automatic time + 0.3 s on 2 cores.
"""

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", "lite_hints", "Hint-aware model.")
flags.DEFINE_string("base", "lite", "The automatic model to compare with.")
flags.DEFINE_string("photo", "/work/shared/data/imagenet_samples", "A folder (its first "
                    "photo) or a photo; 'none': a generated photo.")
flags.DEFINE_integer("points", 10, "Hint points.")
flags.DEFINE_integer("runs", 15, "Timed runs of each.")
FLAGS = flags.FLAGS


def _photo():
    from kcolor import imageio

    if FLAGS.photo == "none":
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    path = FLAGS.photo
    if os.path.isdir(path):
        path = imageio.list_images(path)[0]
    from PIL import Image

    return np.asarray(Image.fromarray(imageio.read_rgb(path)).resize((256, 256)))


def main(argv):
    from kcolor import color, colorize
    from kcolor.hints import evaluate

    rgb = _photo()
    lab = color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)
    pts = evaluate.eval_points(lab[..., 1:], FLAGS.points, 0)[0]
    auto = colorize.Colorizer(FLAGS.base)
    hinted = colorize.Colorizer(FLAGS.model)
    runs = {"automatic": lambda: auto.colorize([rgb]),
            f"{FLAGS.points} points": lambda: hinted.colorize([rgb], hints=[pts])}
    times = {k: [] for k in runs}
    for f in runs.values():
        f(), f()
    for _ in range(FLAGS.runs):
        for k, f in runs.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    a, h = med["automatic"], med[f"{FLAGS.points} points"]
    print(f"| 256 × 256 photo, {os.cpu_count()} cores | median s | × automatic |")
    print("|---|---|---|")
    for k, v in med.items():
        print(f"| {k} ({FLAGS.base if k == 'automatic' else FLAGS.model}) | {v:.3f} | {v / a:.2f} |")
    print(f"\nhinted - automatic = {h - a:+.3f} s (floor: +0.3 s): "
          f"{'met' if h - a <= 0.3 else 'NOT met'}")


if __name__ == "__main__":
    app.run(main)
