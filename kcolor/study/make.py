"""``kcolor study make``: picks photos, colorizes them, adds attention checks
and writes ``index.html`` (for participants) and ``key.json`` (the answers,
for the experimenter).

* Photos: a seeded random draw from the folder (recursive), skipping
  unreadable files (reported), photos under 32 px and photos with little
  colour; each is shrunk so its long side is at most ``display_size``.
* The colorized photo is the model's output for that shrunken photo's L, so
  both photos of a pair have the same size and lightness.
* Attention checks: other photos paired with an obviously wrong colouring:
  the photo's L under diagonal rainbow bands (Lab chroma 60, two hue cycles
  corner to corner), which nobody attentive takes for a real photo.
* Several models: every photo is colorized by each; a participant sees each
  photo once, with one model, the models rotating over the photos.
"""

import datetime
import hashlib
import json
import os
import random

import numpy as np
from PIL import Image

from kcolor import atomic, color, colorize_files, imageio
from kcolor.study import FORMAT, StudyError, page

MIN_SIDE = 32
PHOTO_COLOUR = 8.0   # a study photo's mean max-min channel spread, in levels (0-255)
CHECK_COLOUR = 16.0  # an attention-check photo's (so that its real version looks real)
CHECK_CHROMA = 60.0  # the rainbow of an attention check's fake, in Lab ab units
CHECK_CYCLES = 2     # ... and how many times its hue goes round, corner to corner
BATCH = 8


def model_specs(values):
    """[(label, model)] from ``--model`` values, each possibly comma-separated;
    the default preset when there are none. Labels are preset names or file
    names, made unique."""
    from kcolor import presets

    models = [m.strip() for v in (values or []) for m in v.split(",") if m.strip()] or [None]
    specs, seen = [], set()
    for m in models:
        if m is None or m in presets.names():
            label = m or presets.DEFAULT
        else:  # a file or a SavedModel folder: its name
            label = os.path.splitext(os.path.basename(os.path.normpath(m)))[0]
        base, k = label, 2
        while label in seen:
            label, k = f"{base}-{k}", k + 1
        seen.add(label)
        specs.append((label, m))
    return specs


def _preset_names():
    from kcolor import presets

    return presets.names()


def shrink(rgb, side):
    """``rgb`` with its long side at most ``side`` (Lanczos); smaller photos unchanged."""
    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        return rgb
    s = side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))


def colour_spread(rgb):
    """Mean over pixels of max - min channel, in levels: 0 for a gray photo."""
    x = rgb.astype(np.int16)
    return float((x.max(-1) - x.min(-1)).mean())


def wrong_colours(rgb):
    """The attention check's fake: the photo's L with rainbow ab (diagonal
    bands of every hue at chroma ``CHECK_CHROMA``)."""
    lab = color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    hue = 2 * np.pi * CHECK_CYCLES * (xx + yy) / (w + h)
    lab[..., 1] = CHECK_CHROMA * np.cos(hue)
    lab[..., 2] = CHECK_CHROMA * np.sin(hue)
    return np.round(np.clip(color.lab_to_rgb(lab, np), 0, 1) * 255).astype(np.uint8)


def pick_photos(folder, count, checks, seed, display_size, log=print):
    """([(relative path, rgb)] study photos, [(relative path, rgb)] check photos),
    drawn in a seeded random order from ``folder``."""
    if not os.path.isdir(folder):
        raise StudyError(f"{folder}: not a folder")
    found = colorize_files.expand([folder])
    random.Random(seed).shuffle(found)
    photos, check_photos, skipped = [], [], 0
    for path, rel in found:
        if len(photos) >= count and len(check_photos) >= checks:
            break
        try:
            rgb = imageio.read_rgb(path)
        except imageio.ImageReadError as e:
            log(f"skipping {e}")
            continue
        if min(rgb.shape[:2]) < MIN_SIDE:
            skipped += 1
            continue
        rgb = shrink(rgb, display_size)
        spread = colour_spread(rgb)
        if len(check_photos) < checks and spread >= CHECK_COLOUR:
            check_photos.append((rel, rgb))
        elif len(photos) < count and spread >= PHOTO_COLOUR:
            photos.append((rel, rgb))
        else:
            skipped += 1
    if len(photos) < count or len(check_photos) < checks:
        raise StudyError(
            f"{folder}: found {len(photos)} of {count} colour photos and {len(check_photos)} of "
            f"{checks} colourful ones for attention checks ({len(found)} files, {skipped} too small "
            f"or too gray); lower --count or --checks")
    return photos, check_photos


def colorize_all(specs, photos, log=print):
    """{label: [colorized rgb per photo]} with each model in turn."""
    from kcolor import colorize

    out = {}
    for label, model in specs:
        log(f"colorizing {len(photos)} photos with {label}")
        c = colorize.Colorizer(model)
        out[label] = []
        for i in range(0, len(photos), BATCH):
            out[label] += c.colorize([rgb for _, rgb in photos[i:i + BATCH]])
        del c
    return out


def _write_atomic(path, text):
    atomic.write_text(path, text)


def make(photos_dir, output, models=None, count=40, checks=4, seed=0, display_size=256,
         contact=None, overwrite=False, log=print):
    """Writes ``output/index.html`` and ``output/key.json``; returns the key (a dict).

    Raises:
      StudyError: too few usable photos, or ``output`` already holds a study
        (unless ``overwrite``: the old page's results could not be scored).
    """
    if count < 1 or checks < 0 or display_size < MIN_SIDE:
        raise StudyError(f"need --count >= 1, --checks >= 0 and --display_size >= {MIN_SIDE}")
    key_path, page_path = os.path.join(output, "key.json"), os.path.join(output, "index.html")
    if os.path.exists(key_path) and not overwrite:
        raise StudyError(f"{key_path}: a study is there already; results of its page need this key "
                         "(--overwrite replaces it)")
    atomic.remove_stale([output])  # temporary files of a make killed mid-write
    specs = model_specs(models)
    for _, m in specs:
        if m is not None and not os.path.exists(m) and m not in _preset_names():
            raise StudyError(f"{m}: no such model file or preset")
    photos, check_photos = pick_photos(photos_dir, count, checks, seed, display_size, log)
    fakes = colorize_all(specs, photos, log)
    rng = random.Random(f"{seed}:sides")

    def pair(pair_id, real, fake, **info):
        h, w = real.shape[:2]
        real_is_a = rng.random() < 0.5
        uris = (page.jpeg_uri(real), page.jpeg_uri(fake))
        a, b = uris if real_is_a else uris[::-1]
        return {"id": pair_id, "w": w, "h": h, "a": a, "b": b}, {"real": "a" if real_is_a else "b", **info}

    data = {"format": FORMAT, "models": [label for label, _ in specs], "contact": contact or "",
            "photos": [], "checks": []}
    key_pairs = {}
    for i, (rel, rgb) in enumerate(photos):
        entry = {"id": f"p{i + 1:02d}", "pairs": []}
        for m, (label, _) in enumerate(specs):
            shown, answer = pair(f"p{i + 1:02d}m{m + 1}", rgb, fakes[label][i], photo=rel,
                                 model=label, check=False)
            entry["pairs"].append({**shown, "model": label})
            key_pairs[shown["id"]] = answer
        data["photos"].append(entry)
    for j, (rel, rgb) in enumerate(check_photos):
        shown, answer = pair(f"c{j + 1:02d}", rgb, wrong_colours(rgb), photo=rel, model=None,
                             check=True)
        data["checks"].append(shown)
        key_pairs[shown["id"]] = answer
    study_id = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    data["study_id"] = study_id
    key = {
        "kcolor_study": FORMAT, "study_id": study_id,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "photos_dir": os.path.abspath(photos_dir), "seed": seed, "count": count, "checks": checks,
        "display_size": display_size,
        "models": [{"label": label, "model": model} for label, model in specs],
        "check_colouring": f"rainbow: Lab chroma {CHECK_CHROMA}, {CHECK_CYCLES} hue cycles",
        "pairs": key_pairs,
    }
    os.makedirs(output, exist_ok=True)
    _write_atomic(key_path, json.dumps(key, indent=1) + "\n")
    _write_atomic(page_path, page.render(data))
    size = os.path.getsize(page_path)
    size = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
    log(f"{page_path}: {len(photos)} photos x {len(specs)} model(s) + {len(check_photos)} attention "
        f"checks, {size}; answer key {key_path} (keep it, send participants index.html only)")
    return key
