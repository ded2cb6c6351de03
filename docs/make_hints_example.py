"""docs/hints_example.jpg: hint points, as `kcolor colorize --hints` uses them.

    python docs/make_hints_example.py [--model=lite_hints]

Row 1, an imagenet_samples photo with its truth: gray, automatic (`lite`), four
points whose colours are the true photo's (6 × 6 px means), and the truth.
Row 2, a historical photo: gray, automatic, and a red sky (a colour no model
would guess: the hint is followed, and stops at the skyline).
Row 3, a historical photo: gray, automatic, and three points (a blue dress,
skin, a green wall). Points are drawn as rings in the colour they give.
"""

import os
import sys

import numpy as np
from PIL import Image, ImageDraw

from kcolor import color, colorize, imageio
from kcolor.hints import points

DATA = "/work/shared/data"
# (photo, [(x, y as fractions of width and height, "#colour" or None = the truth's)])
ROWS = [
    (f"{DATA}/imagenet_samples/n03617480.jpg",
     [(0.46, 0.60, None), (0.20, 0.90, None), (0.51, 0.14, None), (0.85, 0.45, None)]),
    (f"{DATA}/showcase/New York Riverfront December 15, 1931.jpg",
     [(0.25, 0.15, "#d8503c"), (0.80, 0.10, "#d8503c")]),
    (f"{DATA}/showcase/Audrey Hepburn.jpg",
     [(0.33, 0.42, "#6f9bd1"), (0.62, 0.40, "#e0b49a"), (0.12, 0.30, "#9fc29a")]),
]
SIDE = 256


def _fit(rgb):
    im = Image.fromarray(rgb)
    im.thumbnail((SIDE, SIDE))
    return np.asarray(im)


def _ring(rgb, pts):
    im = Image.fromarray(rgb)
    d = ImageDraw.Draw(im)
    for p in pts:
        lab = np.array([[[60.0, *p.ab]]], np.float32)
        c = tuple(int(v) for v in np.round(color.lab_to_rgb(lab, np)[0, 0] * 255))
        r = 6
        d.ellipse([p.x - r, p.y - r, p.x + r, p.y + r], outline=(255, 255, 255), width=3)
        d.ellipse([p.x - r + 2, p.y - r + 2, p.x + r - 2, p.y + r - 2], outline=c, width=2)
    return np.asarray(im)


def main(model="lite_hints", out="docs/hints_example.jpg"):
    auto_c = colorize.Colorizer("lite")
    hint_c = colorize.Colorizer(model)
    tiles = []
    for path, spec in ROWS:
        rgb = _fit(imageio.read_rgb(path))
        h, w = rgb.shape[:2]
        lab = color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)
        pts = []
        for fx, fy, hexcol in spec:
            x, y = int(fx * w), int(fy * h)
            if hexcol is None:
                patch = lab[max(y - 3, 0):y + 3, max(x - 3, 0):x + 3, 1:].mean((0, 1))
                ab = (float(patch[0]), float(patch[1]))
            else:
                ab = points.hex_to_ab(hexcol)
            pts.append(points.Point(x=x, y=y, ab=ab, size=6))
        gray = colorize.gray_rgb(rgb)
        auto = auto_c.colorize([gray])[0]
        hinted = hint_c.colorize([gray], hints=[pts])[0]
        row = [gray, auto, _ring(hinted, pts)]
        if hexcol is None or path.startswith(f"{DATA}/imagenet_samples"):
            row.append(rgb)
        tiles.append(row)
    cw = SIDE + 6
    canvas = Image.new("RGB", (4 * cw, sum(max(t.shape[0] for t in r) + 6 for r in tiles)),
                       "white")
    y = 0
    for row in tiles:
        for i, t in enumerate(row):
            canvas.paste(Image.fromarray(t), (i * cw, y))
        y += max(t.shape[0] for t in row) + 6
    canvas.save(out, quality=90)
    canvas.save(os.path.splitext(out)[0] + ".png") if out.endswith(".png") else None
    print(out)


if __name__ == "__main__":
    main(*(a.split("=", 1)[1] for a in sys.argv[1:2] if a.startswith("--model=")))
