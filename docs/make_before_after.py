"""Writes docs/before_after.jpg: gray input | colorized, one row per photo.

    python docs/make_before_after.py [--models=PRESET_OR_KERAS,...] [--output=X.jpg] [PHOTO ...]

Defaults: the shipped model and three of the bundled sample photos. Several
``--models`` give one column each (e.g. ``--models=small,lite`` for the model
card's showcase sheet).
"""

import os
import sys

from absl import app, flags
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from kcolor import colorize, imageio  # noqa: E402

flags.DEFINE_list("models", [], "Presets or .keras files, one column each "
                  "(default: the shipped model).")
flags.DEFINE_string("output", os.path.join(ROOT, "docs", "before_after.jpg"), "Output image.")
flags.DEFINE_integer("height", 260, "Row height in pixels.")
FLAGS = flags.FLAGS

DEFAULT = ["audrey_hepburn.jpg", "detroit_1915.jpg", "keller_chaplin_1919.jpg"]


def main(argv):
    paths = argv[1:] or [os.path.join(ROOT, "kcolor", "samples", p) for p in DEFAULT]
    names = FLAGS.models or [None]
    grays = [imageio.read_rgb(p) for p in paths]
    columns = [colorize.Colorizer(name).colorize(grays) for name in names]
    h, gap = FLAGS.height, 8
    rows = []
    for i, g in enumerate(grays):
        w = round(g.shape[1] * h / g.shape[0])
        rows.append([Image.fromarray(x).resize((w, h), Image.LANCZOS)
                     for x in [g] + [col[i] for col in columns]])
    width = max(sum(im.width + gap for im in r) for r in rows)
    sheet = Image.new("RGB", (width, len(rows) * (h + gap) + 20), "white")
    labels = [f"kcolor ({n})" if n else "kcolor" for n in names]
    ImageDraw.Draw(sheet).text((4, 4), "  |  ".join(["input (gray)"] + labels), fill="black")
    for i, row in enumerate(rows):
        y, x = 20 + i * (h + gap), 0
        for im in row:
            sheet.paste(im, (x, y))
            x += im.width + gap
    sheet.save(FLAGS.output, quality=85)
    print(f"wrote {FLAGS.output}")


if __name__ == "__main__":
    app.run(main)
