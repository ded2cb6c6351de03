"""Sharded TFRecord photo sets: what ``kcolor prepare-data`` writes.

``write_shards`` reads photos from a folder (recursive) or a list file (one
path a line, relative paths from the list's folder, ``#`` comments), and for
each photo

* decodes it with ``kcolor.imageio.read_rgb`` (EXIF orientation, CMYK,
  16-bit, alpha; EXIF data that cannot be parsed is ignored with a
  warning); a missing, unreadable or truncated file is skipped;
* skips it when its short side is under ``min_side`` (default 64 px) or when
  it is nearly gray: Hasler–Süsstrunk colourfulness (0–255 scale, on a
  64 px copy) under ``min_colorfulness`` (default 2; a grayscale photo scores
  0, and the least colourful 1 in 1000 of ``shared/data/train`` about 3):
  gray photos teach a colorizer nothing;
* resizes it so that its short side is ``size`` (default 256) when it is
  larger; smaller photos keep their size (upscaling adds no information, the
  training crop upscales at read time anyway). ``size=0`` keeps every photo's
  size;
* stores it as JPEG (quality 95) or PNG in a ``tf.train.Example``:
  ``image/encoded``, ``image/height``, ``image/width``, ``image/format`` and
  ``image/source`` (the input path). A JPEG that needs no change (RGB, not
  resized, no EXIF rotation, no unreadable EXIF data) is stored byte for
  byte, without re-encoding.

Photos are shuffled (``seed``) and dealt round-robin to ``num_shards`` files
``PREFIX-00000-of-00008.tfrecord`` ..., so every shard is a sample of the
whole set even when the input is sorted by class. Each shard is written to a
``.tmp`` file and renamed when complete, so a killed run leaves no half shard
(and ``PREFIX-*.tfrecord`` never matches a partial file).
``PREFIX.manifest.json``, written last, lists the shards, their photo counts,
the settings and every skipped file with its reason. Each skipped file is
also reported as one line ``PATH: reason``.

Reading shards: ``kcolor.data.training_dataset`` and ``validation_dataset``
take a shard pattern (``DIR/train-*.tfrecord``) wherever they take a folder.
"""

import collections
import concurrent.futures
import glob
import io
import json
import os
import random
import sys
import time

import numpy as np
from PIL import Image

from kcolor import imageio

SUFFIX = ".tfrecord"
MANIFEST_SUFFIX = ".manifest.json"
FORMATS = ("jpeg", "png")
DEFAULTS = dict(size=256, min_side=64, min_colorfulness=2.0, fmt="jpeg", quality=95)


class Skip(Exception):
    """A photo left out of the shards; str() is the reason."""


def shard_path(prefix, index, count):
    return f"{prefix}-{index:05d}-of-{count:05d}{SUFFIX}"


def existing_shards(prefix):
    """Shard files of any count already written under ``prefix``."""
    return sorted(glob.glob(glob.escape(prefix) + "-[0-9]*-of-[0-9]*" + SUFFIX))


def read_input(source):
    """Photo paths of a folder (sorted, recursive) or of a list file.

    Raises:
      FileNotFoundError: ``SOURCE: reason`` when it is neither, or lists nothing.
    """
    if not os.path.exists(source):
        raise FileNotFoundError(f"{source}: no such folder or list file")
    if os.path.isdir(source):
        from kcolor import data

        return data.list_images(source)
    base = os.path.dirname(os.path.abspath(source))
    try:
        with open(source, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except UnicodeDecodeError as e:
        raise FileNotFoundError(f"{source}: not a text list of photo paths ({e.reason})") from e
    paths = [os.path.join(base, p) for p in lines if p and not p.startswith("#")]
    if not paths:
        raise FileNotFoundError(f"{source}: the list names no photos")
    return paths


def colorfulness(rgb):
    """Hasler–Süsstrunk colourfulness of uint8 RGB [h, w, 3] (0–255 scale),
    as ``kcolor.metrics.colorfulness`` but in numpy."""
    x = rgb.reshape(-1, 3).astype(np.float64)
    rg = x[:, 0] - x[:, 1]
    yb = 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    return float(np.sqrt(rg.var() + yb.var()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _is_plain_jpeg(path):
    """An RGB JPEG with no EXIF rotation and no unreadable EXIF data (whose
    bytes can be stored as they are)."""
    with Image.open(path) as im:
        return (im.format == "JPEG" and im.mode == "RGB"
                and imageio.exif_orientation(im) == (1, None))


def prepare_photo(path, size=256, min_side=64, min_colorfulness=2.0, fmt="jpeg", quality=95):
    """(encoded bytes, height, width) of one photo, as module docstring says.

    Raises:
      Skip: the reason the photo is left out.
    """
    try:
        rgb = imageio.read_rgb(path)
    except imageio.ImageReadError as e:
        raise Skip(str(e)[len(str(path)) + 2:] if str(e).startswith(f"{path}: ") else str(e))
    h, w = rgb.shape[:2]
    if min(h, w) < min_side:
        raise Skip(f"too small ({w}x{h}; short side under {min_side} px)")
    small = Image.fromarray(rgb)
    small.thumbnail((64, 64), Image.BILINEAR)
    c = colorfulness(np.asarray(small))
    if c < min_colorfulness:
        raise Skip(f"nearly gray (colourfulness {c:.2f} < {min_colorfulness:g})")
    resize = size and min(h, w) > size
    if not resize and fmt == "jpeg":
        try:
            if _is_plain_jpeg(path):
                with open(path, "rb") as f:
                    return f.read(), h, w
        except OSError:
            pass  # re-encode what read_rgb decoded
    im = Image.fromarray(rgb)
    if resize:
        scale = size / min(h, w)
        w, h = max(size, round(w * scale)), max(size, round(h * scale))
        im = im.resize((w, h), Image.LANCZOS, reducing_gap=3.0)
    buf = io.BytesIO()
    if fmt == "jpeg":
        im.save(buf, "JPEG", quality=quality)
    else:
        im.save(buf, "PNG")
    return buf.getvalue(), h, w


def example(encoded, height, width, fmt, source):
    """The ``tf.train.Example`` of one photo (serialized bytes)."""
    import tensorflow as tf

    def b(v):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))

    def i(v):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))

    return tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": b(encoded),
        "image/height": i(height),
        "image/width": i(width),
        "image/format": b(fmt.encode()),
        "image/source": b(os.fsencode(source)),
    })).SerializeToString()


def _ordered_map(fn, items, workers):
    """``map(fn, items)`` on a thread pool (Pillow releases the GIL while it
    decodes, resizes and encodes), in order, at most 4 x workers ahead."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        pending = collections.deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 4 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _try(args):
    path, kwargs = args
    try:
        return path, prepare_photo(path, **kwargs), None
    except Skip as e:
        return path, None, str(e)


def _atomic_write_text(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_shards(source, output, num_shards=8, size=256, min_side=64, min_colorfulness=2.0,
                 fmt="jpeg", quality=95, workers=None, seed=0, limit=None, overwrite=False,
                 progress=True, report=None):
    """Writes the photos of ``source`` (folder or list file) to TFRecord
    shards ``OUTPUT-00000-of-NNNNN.tfrecord`` and ``OUTPUT.manifest.json``.

    Args:
      limit: use only this many photos, spread evenly over the input.
      report: called with each skipped file's line ``PATH: reason``
        (default: print it to stderr).
    Returns:
      The manifest (a dict).
    Raises:
      FileNotFoundError: no input; FileExistsError: shards of ``output``
      exist and ``overwrite`` is False; ValueError: bad settings.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    if num_shards < 1:
        raise ValueError(f"num_shards must be at least 1, not {num_shards}")
    if size < 0 or min_side < 1:
        raise ValueError(f"size must be >= 0 and min_side >= 1 (got {size}, {min_side})")
    if report is None:
        report = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if os.path.isdir(output) or not os.path.basename(output):
        raise ValueError(f"{output}: is a folder; give a file prefix inside it, e.g. "
                         f"{os.path.join(output, 'train')}")
    paths = read_input(source)
    import tensorflow as tf

    from kcolor import data

    paths = data.spread(paths, limit)
    output = os.path.abspath(output)
    old = existing_shards(output)
    if old and not overwrite:
        raise FileExistsError(f"{old[0]}: shards of {output} exist already (--overwrite "
                              "replaces them)")
    os.makedirs(os.path.dirname(output), exist_ok=True)

    order = list(paths)
    random.Random(seed).shuffle(order)
    num_shards = min(num_shards, len(order))
    jobs = [order[k::num_shards] for k in range(num_shards)]
    settings = dict(size=size, min_side=min_side, min_colorfulness=min_colorfulness, fmt=fmt,
                    quality=quality)
    work = [(p, settings) for job in jobs for p in job]
    results = _ordered_map(_try, work, workers or os.cpu_count() or 1)

    import keras

    bar = keras.utils.Progbar(len(work), unit_name="photo",
                              interval=0.1 if os.isatty(1) else 30.0) if progress else None
    t0, done, shards, skipped = time.perf_counter(), 0, [], []
    for k, job in enumerate(jobs):
        final = shard_path(output, k, num_shards)
        tmp = f"{final}.tmp{os.getpid()}"
        count = 0
        try:
            with tf.io.TFRecordWriter(tmp) as writer:
                for _ in job:
                    path, got, reason = next(results)
                    if got is None:
                        skipped.append({"path": path, "reason": reason})
                        report(f"{path}: {reason}")
                    else:
                        writer.write(example(*got, fmt, path))
                        count += 1
                    done += 1
                    if bar:
                        bar.update(done)
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        shards.append({"file": os.path.basename(final), "photos": count,
                       "bytes": os.path.getsize(final)})
    for path in old:  # shards of an earlier run with another count
        if os.path.basename(path) not in {s["file"] for s in shards}:
            os.remove(path)

    reasons = collections.Counter(s["reason"].split(" (")[0] if s["reason"].startswith(
        ("too small", "nearly gray")) else "unreadable" for s in skipped)
    manifest = {
        "pattern": os.path.basename(output) + f"-*-of-{num_shards:05d}{SUFFIX}",
        "photos": sum(s["photos"] for s in shards),
        "bytes": sum(s["bytes"] for s in shards),
        "shards": shards,
        "skipped": skipped,
        "skipped_by_reason": dict(reasons),
        "input": os.path.abspath(source),
        "input_photos": len(paths),
        "settings": {**settings, "seed": seed},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    _atomic_write_text(output + MANIFEST_SUFFIX, json.dumps(manifest, indent=1) + "\n")
    return manifest


def summary(manifest, output):
    """One line: what ``write_shards`` wrote and left out."""
    line = (f"{manifest['photos']} photos in {len(manifest['shards'])} shards "
            f"{output}-*-of-{len(manifest['shards']):05d}{SUFFIX} "
            f"({manifest['bytes'] / 1e6:.1f} MB, {manifest['seconds']:.0f} s)")
    skipped = manifest["skipped_by_reason"]
    if skipped:
        line += f"; skipped {sum(skipped.values())}: " + ", ".join(
            f"{n} {why}" for why, n in sorted(skipped.items()))
    return line
