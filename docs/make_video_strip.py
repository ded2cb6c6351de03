"""Makes docs/video_strip.jpg: six frames of a clip, gray (top) and colorized
by ``kcolor.video`` with the default temporal filter (bottom).

    nice -n 19 python docs/make_video_strip.py [--clip=...] [--model=lite]

The clip's colour is thrown away first (Lab L with a = b = 0), as for the
benchmark (benchmarks/video.py).
"""

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

import numpy as np  # noqa: E402
import video as bench  # noqa: E402  (benchmarks/video.py: its helpers and its --model flag)
from absl import app, flags  # noqa: E402
from PIL import Image  # noqa: E402

flags.DEFINE_string("clip", "/work/shared/data/video/asl_gestures_learn.mkv", "Colour clip.")
flags.DEFINE_integer("frames", 6, "Frames shown, spread over the clip.")
flags.DEFINE_integer("width", 320, "Width of each frame in the strip.")
flags.DEFINE_string("output", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "video_strip.jpg"), "Output JPEG.")
FLAGS = flags.FLAGS


def main(argv):
    from kcolor import colorize, video

    with tempfile.TemporaryDirectory() as tmp:
        gray = os.path.join(tmp, "gray.mkv")
        n = bench._write(gray, (colorize.gray_rgb(f) for f in bench._frames(FLAGS.clip)),
                         bench._rate(FLAGS.clip))
        out = os.path.join(tmp, "colour.mkv")
        video.colorize_video(gray, out, colorize.Colorizer(FLAGS.model))
        pick = set(np.linspace(0, n - 1, FLAGS.frames).round().astype(int).tolist())
        rows = [[f for i, f in enumerate(bench._frames(p)) if i in pick] for p in (gray, out)]
    h, w = rows[0][0].shape[:2]
    th = round(FLAGS.width * h / w)
    gap = 6
    sheet = Image.new("RGB", (FLAGS.frames * (FLAGS.width + gap) - gap, 2 * th + gap), "white")
    for r, frames in enumerate(rows):
        for c, f in enumerate(frames):
            sheet.paste(Image.fromarray(f).resize((FLAGS.width, th), Image.LANCZOS),
                        (c * (FLAGS.width + gap), r * (th + gap)))
    sheet.save(FLAGS.output, quality=88)
    print(f"{FLAGS.output}: frames {sorted(pick)} of {n}, {os.path.basename(FLAGS.clip)}")


if __name__ == "__main__":
    app.run(main)
