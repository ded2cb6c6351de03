"""Writes docs/instance_faces.jpg: the showcase photos in which
``--instances=auto`` finds people, as gray (boxes in yellow) | ``lite`` |
``lite_instances``, each cropped around its boxes.

    python docs/make_instance_faces.py [--output=X.jpg] [--showcase=DIR]

Needs ``pip install -e ".[instances]"`` (the detector).
"""

import os
import sys

import numpy as np
from absl import app, flags
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from kcolor import colorize  # noqa: E402
from kcolor.instance import detector  # noqa: E402

flags.DEFINE_string("showcase", os.path.join(ROOT, "..", "shared", "data", "showcase"),
                    "Folder of gray photos.")
flags.DEFINE_string("output", os.path.join(ROOT, "docs", "instance_faces.jpg"), "Output image.")
flags.DEFINE_integer("height", 240, "Row height in pixels.")
flags.DEFINE_integer("max_width", 1600, "Widest line of the sheet in pixels.")
FLAGS = flags.FLAGS


def _crop_around(boxes, w, h, margin=0.6):
    """A crop holding every box with ``margin`` x its size around it."""
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = boxes[:, 2].max(), boxes[:, 3].max()
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    return (int(max(0, x0 - mx)), int(max(0, y0 - my)), int(min(w, x1 + mx)),
            int(min(h, y1 + my)))


def main(argv):
    det = detector.Detector()
    plain = colorize.Colorizer("lite")
    inst = colorize.Colorizer("lite_instances")
    rows = []
    for name in sorted(os.listdir(FLAGS.showcase)):
        rgb, _ = colorize.read_photo(os.path.join(FLAGS.showcase, name))
        boxes = det.detect(rgb)[0][:inst.max_boxes]
        if not len(boxes):
            continue
        h, w = rgb.shape[:2]
        a = plain.colorize([rgb])[0]
        b = inst.colorize([rgb], boxes=[boxes / [w, h, w, h]])[0]
        crop = _crop_around(boxes, w, h)
        gray = Image.fromarray(colorize.gray_rgb(rgb))
        d = ImageDraw.Draw(gray)
        for x0, y0, x1, y1 in boxes:
            d.rectangle([x0, y0, x1, y1], outline=(255, 220, 0), width=max(2, w // 300))
        tiles = [gray.crop(crop)] + [Image.fromarray(x).crop(crop) for x in (a, b)]
        scale = FLAGS.height / tiles[0].height
        rows.append([t.resize((max(1, round(t.width * scale)), FLAGS.height), Image.LANCZOS)
                     for t in tiles])
        print(f"{name}: {len(boxes)} boxes", flush=True)
    lines, line = [], []  # photos side by side, lines up to --max_width
    for r in rows:
        if line and sum(sum(t.width + 8 for t in x) + 24 for x in line + [r]) > FLAGS.max_width:
            lines.append(line)
            line = []
        line.append(r)
    lines.append(line)
    width = max(sum(sum(t.width + 8 for t in x) + 24 for x in ln) for ln in lines)
    sheet = Image.new("RGB", (width, (FLAGS.height + 8) * len(lines) + 24), "white")
    ImageDraw.Draw(sheet).text((4, 6), "each photo: gray + boxes  |  lite  |  lite_instances "
                               "(--instances=auto)", fill=(0, 0, 0))
    y = 24
    for ln in lines:
        x = 0
        for r in ln:
            for t in r:
                sheet.paste(t, (x, y))
                x += t.width + 8
            x += 24
        y += FLAGS.height + 8
    sheet.save(FLAGS.output, quality=88)
    print(f"wrote {FLAGS.output}: {len(rows)} photos")


if __name__ == "__main__":
    app.run(main)
