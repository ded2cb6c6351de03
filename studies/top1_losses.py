"""Which photos the colour costs the ImageNet judge (issue #20): per photo of
``imagenet_samples``, is the judge (EfficientNet-Lite2) right on gray and wrong
on the model's colour, or the other way round, and what does it take the
colorized photo for? Also writes a picture of some losses (truth | gray |
model, each 256 px).

    python studies/top1_losses.py [--model=lite] \\
        [--figure=docs/top1_losses.jpg] [--show=Weimaraner,timber_wolf,...]

It runs ``kcolor.evaluate.run`` once (the same figures as ``kcolor evaluate
--size=256 --labels=...``), keeping the judge's logits per photo.
"""

import csv
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", None, "Model (default: the shipped one).")
flags.DEFINE_string("folder", "../shared/data/imagenet_samples", "Photos to score.")
flags.DEFINE_string("labels", "../shared/data/imagenet_samples/labels.csv", "Labels CSV.")
flags.DEFINE_string("figure", None, "Write truth | gray | model of --show here.")
flags.DEFINE_list("show", ["Weimaraner", "timber_wolf", "American_black_bear", "ice_bear",
                           "koala", "water_buffalo", "seashore", "park_bench"],
                  "Class names whose photos the figure shows.")
FLAGS = flags.FLAGS


def judged(model, folder, labels):
    """(table, {version: logits [N, 1000]}, labels [N]) from one evaluate run."""
    from kcolor import evaluate, natural_colour

    kept = {}
    orig = natural_colour.Judge._compute_figures

    def keep(self):
        kept.update({v: np.concatenate(self._logits[v]) for v in self.VERSIONS})
        kept["labels"] = np.asarray(self._labels)
        return orig(self)

    natural_colour.Judge._compute_figures = keep
    try:
        table = evaluate.run(folder, model=model, size=256, natural_colour=True, labels=labels)
    finally:
        natural_colour.Judge._compute_figures = orig
    return table, {v: kept[v] for v in natural_colour.Judge.VERSIONS}, kept["labels"]


def main(argv):
    rows = list(csv.DictReader(open(FLAGS.labels, newline="")))
    names = {int(r["imagenet_index"]): r["name"] for r in rows}
    table, logits, labels = judged(FLAGS.model, FLAGS.folder, FLAGS.labels)
    print(table)
    right = {v: logits[v].argmax(1) == labels for v in logits}
    guess = logits["model"].argmax(1)
    lost = right["gray"] & ~right["model"]
    print(f"\nphotos: {len(labels)}; gray right, model wrong: {lost.sum()}; model right, gray "
          f"wrong: {(~right['gray'] & right['model']).sum()}; the truth right and gray wrong: "
          f"{(right['truth'] & ~right['gray']).sum()}, of which the model gets "
          f"{(right['truth'] & ~right['gray'] & right['model']).sum()}")
    print("lost (true → the model's photo taken for): " + "; ".join(
        f"{names[int(t)]} → {names.get(int(g), str(int(g)))}"
        for t, g in zip(labels[lost], guess[lost])))
    if FLAGS.figure:
        from PIL import Image

        from kcolor import atomic, colorize

        c = colorize.Colorizer(FLAGS.model)
        files = {r["name"]: r["file"] for r in rows}
        tiles = []
        for name in FLAGS.show:
            rgb = np.asarray(Image.open(os.path.join(FLAGS.folder, files[name]))
                             .convert("RGB").resize((256, 256)))
            tiles.append(np.concatenate([rgb, colorize.gray_rgb(rgb), c.colorize([rgb])[0]], 1))
        half = (len(tiles) + 1) // 2
        cols = [np.concatenate(tiles[:half], 0), np.concatenate(tiles[half:], 0)]
        if cols[1].shape != cols[0].shape:
            cols[1] = np.pad(cols[1], ((0, cols[0].shape[0] - cols[1].shape[0]), (0, 0), (0, 0)))
        with atomic.open_atomic(FLAGS.figure, "wb", ".jpg") as f:
            Image.fromarray(np.concatenate(cols, 1)).save(f, "JPEG", quality=85)
        print(f"wrote {FLAGS.figure}")


if __name__ == "__main__":
    app.run(main)
