"""Boxes: the JSON file format, normalisation, padding to ``max_boxes`` and
random boxes for training.

The boxes file (``kcolor colorize --instances=FILE.json``; also what
``python -m kcolor.instance.detect_folder`` writes)::

    {
      "units": "pixels",
      "images": {
        "family.jpg": [[34, 50, 210, 400], [220, 60, 380, 410]],
        "street/tram.png": [{"box": [10, 20, 200, 180], "label": "person", "score": 0.9}],
        "empty.jpg": []
      }
    }

* ``units``: ``"pixels"`` (default; coordinates in pixels of the photo as
  stored, after EXIF rotation) or ``"normalized"`` (0-1 of width and height).
* ``images``: photo → list of boxes. A photo is found under the path given
  on the command line, its path relative to the folder given, or its file
  name, in that order; a photo not listed gets no boxes.
* A box is ``[x0, y0, x1, y1]`` (left, top, right, bottom; x0 < x1, y0 < y1)
  or an object with that list as ``"box"`` and optional ``"score"`` (a
  number) and ``"label"`` (a string). Parts outside the photo are clipped
  off; a box with nothing left inside is an error.

When a photo has more boxes than the model takes (``max_boxes``), those
with the highest score, then the largest, are kept.
"""

import json
import os

import numpy as np

UNITS = ("pixels", "normalized")
MIN_SIDE = 1e-3  # normalised: thinner boxes are refused


class BoxesError(ValueError):
    """A boxes file or box that does not follow the format."""


def _parse_box(item, where):
    score, label = None, None
    if isinstance(item, dict):
        unknown = sorted(set(item) - {"box", "score", "label"})
        if unknown:
            raise BoxesError(f"{where}: unknown keys {unknown} (use box, score, label)")
        if "box" not in item:
            raise BoxesError(f"{where}: an object box needs a \"box\": [x0, y0, x1, y1]")
        score, label = item.get("score"), item.get("label")
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
            raise BoxesError(f"{where}: score must be a number, not {score!r}")
        if label is not None and not isinstance(label, str):
            raise BoxesError(f"{where}: label must be a string, not {label!r}")
        item = item["box"]
    if (not isinstance(item, (list, tuple)) or len(item) != 4
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in item)):
        raise BoxesError(f"{where}: a box is [x0, y0, x1, y1] (4 numbers), not {item!r}")
    x0, y0, x1, y1 = (float(v) for v in item)
    if not all(np.isfinite([x0, y0, x1, y1])):
        raise BoxesError(f"{where}: coordinates must be finite, not {item!r}")
    if not (x0 < x1 and y0 < y1):
        raise BoxesError(f"{where}: need x0 < x1 and y0 < y1, got {item!r}")
    return {"box": [x0, y0, x1, y1], "score": score, "label": label}


def parse(obj, source="boxes"):
    """Validates a decoded boxes JSON object → (units, {photo: [box dicts]})."""
    if not isinstance(obj, dict):
        raise BoxesError(f"{source}: the top level must be an object with \"images\"")
    unknown = sorted(set(obj) - {"units", "images"})
    if unknown:
        raise BoxesError(f"{source}: unknown top-level keys {unknown} (use units, images)")
    units = obj.get("units", "pixels")
    if units not in UNITS:
        raise BoxesError(f"{source}: units must be one of {UNITS}, not {units!r}")
    images = obj.get("images")
    if not isinstance(images, dict):
        raise BoxesError(f"{source}: \"images\" must be an object photo → list of boxes")
    parsed = {}
    for name, items in images.items():
        if not isinstance(items, list):
            raise BoxesError(f"{source}: {name}: boxes must be a list, not {items!r}")
        parsed[name] = [_parse_box(b, f"{source}: {name}: box {i}") for i, b in enumerate(items)]
        if units == "normalized":
            for i, b in enumerate(parsed[name]):
                if min(b["box"]) < -0.5 or max(b["box"]) > 1.5:
                    raise BoxesError(f"{source}: {name}: box {i} {b['box']} is not normalised "
                                     "(0-1); use \"units\": \"pixels\" for pixel coordinates")
    return units, parsed


def normalise(box, units, width, height, where="box"):
    """[x0, y0, x1, y1] in ``units`` → normalised, clipped to the photo."""
    x0, y0, x1, y1 = box
    if units == "pixels":
        x0, x1, y0, y1 = x0 / width, x1 / width, y0 / height, y1 / height
    out = [min(max(v, 0.0), 1.0) for v in (x0, y0, x1, y1)]
    if out[2] - out[0] < MIN_SIDE or out[3] - out[1] < MIN_SIDE:
        raise BoxesError(f"{where}: {list(box)} ({units}) lies outside the "
                         f"{width} x {height} photo")
    return out


class BoxesFile:
    """A loaded boxes file; ``for_photo`` gives one photo's normalised boxes."""

    def __init__(self, path=None, obj=None):
        self.path = path or "boxes"
        if obj is None:
            try:
                with open(path) as f:
                    obj = json.load(f)
            except FileNotFoundError:
                raise BoxesError(f"{path}: no such boxes file") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise BoxesError(f"{path}: not JSON ({e})") from None
        self.units, self.images = parse(obj, self.path)

    def lookup(self, *names):
        """The box dicts of the first of ``names`` listed (None if none is)."""
        for n in names:
            if n is None:
                continue
            for key in (n, os.path.normpath(n), n.replace(os.sep, "/")):
                if key in self.images:
                    return key, self.images[key]
        return None, None

    def for_photo(self, width, height, *names):
        """[n, 4] normalised (x0, y0, x1, y1) and [n] scores (NaN where none) of
        the first of ``names`` listed; empty arrays if none is."""
        key, items = self.lookup(*names)
        if not items:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        boxes = [normalise(b["box"], self.units, width, height, f"{self.path}: {key}: box {i}")
                 for i, b in enumerate(items)]
        scores = [np.nan if b["score"] is None else b["score"] for b in items]
        return np.asarray(boxes, np.float32), np.asarray(scores, np.float32)


def best_first(boxes, scores=None):
    """Indices of ``boxes`` [n, 4] by highest score (missing: last), then
    largest area."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    s = (np.zeros(len(boxes)) if scores is None
         else np.nan_to_num(np.asarray(scores, float), nan=-np.inf))
    return np.lexsort((-area, -s))  # last key is primary


def pad(boxes, max_boxes, scores=None):
    """[n, 4] normalised boxes → (boxes [max_boxes, 4], valid [max_boxes]):
    the best ``max_boxes`` (highest score, then largest area; in their
    given order), then zero padding with valid 0."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if len(boxes) > max_boxes:
        boxes = boxes[np.sort(best_first(boxes, scores)[:max_boxes])]
    out = np.zeros((max_boxes, 4), np.float32)
    valid = np.zeros((max_boxes,), np.float32)
    out[: len(boxes)] = boxes
    valid[: len(boxes)] = 1.0
    return out, valid


def pad_batch(box_lists, max_boxes, score_lists=None):
    """A list of [n_i, 4] → (boxes [B, max_boxes, 4], valid [B, max_boxes])."""
    pairs = [pad(b, max_boxes, None if score_lists is None else score_lists[i])
             for i, b in enumerate(box_lists)]
    if not pairs:
        return np.zeros((0, max_boxes, 4), np.float32), np.zeros((0, max_boxes), np.float32)
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def random_boxes(rng, n, min_side=0.2, max_side=0.7):
    """``n`` random normalised boxes, sides uniform in [min_side, max_side]."""
    w = rng.uniform(min_side, max_side, n)
    h = rng.uniform(min_side, max_side, n)
    x0 = rng.uniform(0, 1 - w)
    y0 = rng.uniform(0, 1 - h)
    return np.stack([x0, y0, x0 + w, y0 + h], -1).astype(np.float32)


def to_json(images, units="pixels"):
    """{photo: [[x0, y0, x1, y1] or box dicts]} → the file's object."""
    return {"units": units, "images": images}
