"""Makes docs/reference_example.jpg: colour from a reference photo
(``kcolor.hints.reference``, issue #32). Each row: the gray target, the
automatic colour, the reference, the colour with the reference's hint
points, and the truth.

    nice -n 19 python docs/make_reference_example.py [--model=lite_hints]

Rows: a sign-language clip (reference: its first frame; target: its last,
3.6 s later, turned gray), a CamVid street (reference: a frame 2 s
earlier), then the first target again with a related reference (the first
frame of another clip: the same room, another signer) and with an
unrelated one (an ImageNet sample photo: no point, the automatic colour
kept). The rows come from benchmarks/reference_pairs.py's pairs (shared
data, read-only); ``--refiner`` as there.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "benchmarks"))
sys.path.insert(0, os.path.join(HERE, ".."))

import numpy as np  # noqa: E402
import reference_pairs as bench  # noqa: E402  (its pairs, colorizer and --model/--data flags)
from absl import app, flags  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

flags.DEFINE_string("output", os.path.join(HERE, "reference_example.jpg"), "Output JPEG.")
flags.DEFINE_integer("height", 200, "Height of each picture.")
flags.DEFINE_list("rows", ["asl_gestures_book.mkv:0-end", "camvid:street_0016E5_07560"],
                  "Pairs shown (benchmarks/reference_pairs.py names), then the first "
                  "one's target with an unrelated reference.")
FLAGS = flags.FLAGS


def _label(im, text):
    d = ImageDraw.Draw(im)
    w = d.textlength(text) + 8
    d.rectangle([0, 0, w, 16], fill=(0, 0, 0))
    d.text((4, 2), text, fill=(255, 255, 255))
    return im


def main(argv):
    from kcolor import colorize
    from kcolor.hints import reference as R

    pairs = {p.name: p for p in bench.make_pairs(FLAGS.data, "all", FLAGS.camvid)}
    c = bench.colorizer_for(FLAGS.model, FLAGS.refiner)
    rows = []
    chosen = [(pairs[n], pairs[n].reference, "reference (same scene)") for n in FLAGS.rows]
    first = pairs[FLAGS.rows[0]]
    refs = dict(first.unrelated)
    chosen.append((first, refs[bench.RELATED], "same room, another signer"))
    chosen.append((first, refs["imagenet"], "unrelated reference"))
    for pair, ref, what in chosen:
        target = pair.target
        pts = R.reference_points(target, ref)
        auto = c.colorize([target])[0]
        out = c.colorize([target], hints=[pts])[0] if pts else auto
        gray = colorize.gray_rgb(target)
        cells = [(gray, "gray target"),
                 (auto, f"automatic {bench.psnr(auto, target):.1f} dB"),
                 (ref, what),
                 (out, f"with it: {len(pts)} points, {bench.psnr(out, target):.1f} dB"),
                 (target, "truth")]
        rows.append(cells)
        print(f"{pair.name} / {what}: {len(pts)} points, automatic "
              f"{bench.psnr(auto, target):.2f} dB, with the reference "
              f"{bench.psnr(out, target):.2f} dB")
    gap, hgt = 6, FLAGS.height
    widths = [[round(im.shape[1] * hgt / im.shape[0]) for im, _ in r] for r in rows]
    total_w = max(sum(w) + gap * (len(w) - 1) for w in widths)
    sheet = Image.new("RGB", (total_w, len(rows) * (hgt + gap) - gap), "white")
    for r, (cells, ws) in enumerate(zip(rows, widths)):
        x = 0
        for (im, text), w in zip(cells, ws):
            tile = _label(Image.fromarray(im).resize((w, hgt), Image.LANCZOS), text)
            sheet.paste(tile, (x, r * (hgt + gap)))
            x += w + gap
    sheet.save(FLAGS.output, quality=88)
    print(f"{FLAGS.output}: {sheet.size[0]} x {sheet.size[1]}")


if __name__ == "__main__":
    app.run(main)
