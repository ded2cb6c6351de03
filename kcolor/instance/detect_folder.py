"""Detects boxes in every photo of a folder and writes a boxes file.

    python -m kcolor.instance.detect_folder --data_dir=PHOTOS --output=boxes.json \
        [--units=normalized] [--kinds=face] [--limit=N] [--shard=I/N]

Keys are paths relative to ``--data_dir``; every photo gets an entry (an
empty list when nothing was found), so a later run can tell "searched,
nothing" from "not searched". With ``--shard=I/N`` only every N-th photo
from the I-th is searched (run N processes, then ``--merge`` their files).
The format is ``kcolor.instance.boxes``'s; boxes carry "score" and
"label". ``--units=normalized`` (the default) is what the training recipes
read fastest; ``pixels`` is easier to edit by hand.
"""

import json
import os
import sys
import time

from absl import app, flags

flags.DEFINE_string("data_dir", None, "Folder of photos (searched recursively).")
flags.DEFINE_string("output", "boxes.json", "The boxes file to write.")
flags.DEFINE_enum("units", "normalized", ["normalized", "pixels"], "Coordinates written.")
flags.DEFINE_list("kinds", None, "Detector kinds (default: mtcnn; face = the Haar "
                  "cascade; see kcolor.instance.detector).")
flags.DEFINE_integer("limit", None, "Only N photos, spread evenly over the folder.")
flags.DEFINE_string("shard", None, "I/N: search photos I, I+N, I+2N, ... only.")
flags.DEFINE_list("merge", None, "Instead of detecting, merge these boxes files into --output.")
FLAGS = flags.FLAGS


def detect(paths, root, det, units="normalized", progress=True):
    """{relative path: [box dicts]} for ``paths`` below ``root``."""
    from kcolor import imageio

    out, t0, found = {}, time.perf_counter(), 0
    for n, p in enumerate(paths, 1):
        rel = os.path.relpath(p, root).replace(os.sep, "/")
        try:
            rgb = imageio.read_rgb(p)
        except (imageio.ImageReadError, OSError) as e:
            print(f"{p}: skipped ({e})", file=sys.stderr)
            continue
        b, s, labels = det.detect(rgb)
        if units == "normalized":
            h, w = rgb.shape[:2]
            b = b / [w, h, w, h]
        out[rel] = [{"box": [round(float(v), 5) for v in box], "score": round(float(sc), 4),
                     "label": lab} for box, sc, lab in zip(b, s, labels)]
        found += len(b)
        if progress and (n % 200 == 0 or n == len(paths)):
            dt = time.perf_counter() - t0
            print(f"{n}/{len(paths)} photos, {found} boxes, {1000 * dt / n:.0f} ms/photo",
                  flush=True)
    return out


def write(images, path, units):
    from kcolor.instance import boxes

    boxes.parse(boxes.to_json(images, units), path)  # what we write, we can read
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(boxes.to_json(images, units), f, indent=0)
    os.replace(tmp, path)


def main(argv):
    from kcolor import data
    from kcolor.instance import boxes, detector

    if FLAGS.merge:
        images, units = {}, None
        for p in FLAGS.merge:
            f = boxes.BoxesFile(p)
            if units not in (None, f.units):
                sys.exit(f"{p}: units {f.units} differ from the other files' {units}")
            units = f.units
            images.update({k: [{kk: vv for kk, vv in b.items() if vv is not None} for b in v]
                           for k, v in f.images.items()})
        write(images, FLAGS.output, units or "normalized")
        print(f"{FLAGS.output}: {len(images)} photos from {len(FLAGS.merge)} files")
        return
    if not FLAGS.data_dir:
        sys.exit("--data_dir is required")
    paths = data.spread(data.list_images(FLAGS.data_dir), FLAGS.limit)
    if FLAGS.shard:
        i, n = (int(v) for v in FLAGS.shard.split("/"))
        paths = paths[i::n]
    det = detector.Detector(kinds=tuple(FLAGS.kinds or detector.DEFAULT_KINDS))
    images = detect(paths, FLAGS.data_dir, det, FLAGS.units)
    write(images, FLAGS.output, FLAGS.units)
    with_box = sum(bool(v) for v in images.values())
    print(f"{FLAGS.output}: {len(images)} photos, {with_box} with boxes, "
          f"{sum(len(v) for v in images.values())} boxes")


if __name__ == "__main__":
    app.run(main)
