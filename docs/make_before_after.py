"""Writes docs/before_after.jpg: gray input | colorized, one row per photo.

    python docs/make_before_after.py [--model=PRESET_OR_KERAS] [PHOTO ...]

Defaults: the shipped model and three of the bundled sample photos.
"""

import os
import sys

from absl import app, flags
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from kcolor import colorize, imageio  # noqa: E402

flags.DEFINE_string("model", None, "Preset or .keras file (default: the shipped model).")
flags.DEFINE_string("output", os.path.join(ROOT, "docs", "before_after.jpg"), "Output image.")
flags.DEFINE_integer("height", 260, "Row height in pixels.")
FLAGS = flags.FLAGS

DEFAULT = ["audrey_hepburn.jpg", "detroit_1915.jpg", "keller_chaplin_1919.jpg"]


def main(argv):
    paths = argv[1:] or [os.path.join(ROOT, "kcolor", "samples", p) for p in DEFAULT]
    c = colorize.Colorizer(FLAGS.model)
    grays = [imageio.read_rgb(p) for p in paths]
    colours = c.colorize(grays)
    h, gap = FLAGS.height, 8
    rows = []
    for g, col in zip(grays, colours):
        w = round(g.shape[1] * h / g.shape[0])
        pair = [Image.fromarray(x).resize((w, h), Image.LANCZOS) for x in (g, col)]
        rows.append(pair)
    width = max(2 * r[0].width + gap for r in rows)
    sheet = Image.new("RGB", (width, len(rows) * (h + gap) + 20), "white")
    ImageDraw.Draw(sheet).text((4, 4), "input (gray)  |  kcolor", fill="black")
    for i, (a, b) in enumerate(rows):
        y = 20 + i * (h + gap)
        sheet.paste(a, (0, y))
        sheet.paste(b, (a.width + gap, y))
    sheet.save(FLAGS.output, quality=85)
    print(f"wrote {FLAGS.output}")


if __name__ == "__main__":
    app.run(main)
