"""Batch colorization of files for ``kcolor colorize``: finding inputs,
mirroring their layout under the output folder, skipping finished outputs,
reporting bad files as ``PATH: reason`` and going on. Video clips
(``kcolor.video.EXTENSIONS``) go to ``kcolor.video`` after the photos, one
clip at a time, each to the same name and container."""

import glob
import os
import sys
import time

from kcolor import atomic, colorize, imageio, video

INPUT_EXTENSIONS = imageio.EXTENSIONS + video.EXTENSIONS


def expand(paths):
    """(input file, path relative to its root) for files, folders and globs."""
    found = []
    for p in paths:
        matches = sorted(glob.glob(p)) if glob.has_magic(p) else [p]
        if not matches:
            found.append((p, os.path.basename(p)))  # reported as missing later
        for m in matches:
            if os.path.isdir(m):
                for root, _, files in sorted(os.walk(m)):
                    for f in sorted(files):
                        if f.lower().endswith(INPUT_EXTENSIONS):
                            full = os.path.join(root, f)
                            found.append((full, os.path.relpath(full, m)))
            else:
                found.append((m, os.path.basename(m)))
    return found


def output_path(rel, output_dir, fmt=None):
    """Output path for input ``rel``: same stem and format unless ``fmt`` (an
    extension; photos only: a clip keeps its name and container)."""
    stem, ext = os.path.splitext(rel)
    if video.is_video(rel):
        return os.path.join(output_dir, rel)
    ext = ext.lower() if ext.lower() in colorize.FORMATS else ".png"
    if fmt:
        ext = "." + fmt.lower().lstrip(".")
        if ext not in colorize.FORMATS:
            raise ValueError(f"unknown output format {fmt!r}: use one of "
                             f"{', '.join(sorted(e[1:] for e in colorize.FORMATS))}")
    return os.path.join(output_dir, stem + ext)


def is_colour(rgb, tolerance=3.0):
    """True when the channels differ by more than ``tolerance`` levels on average."""
    rgb = rgb.astype("int16")
    spread = rgb.max(axis=-1) - rgb.min(axis=-1)
    return float(spread.mean()) > tolerance


def side_by_side(gray, colour):
    import numpy as np

    gap = np.full((gray.shape[0], 8, 3), 255, np.uint8)
    return np.concatenate([gray, gap, colour], axis=1)


def _progbar(n):
    """Keras' progress bar when the model loaded Keras; none for .tflite runs,
    which must not import Keras and TensorFlow for a progress bar."""
    keras = sys.modules.get("keras")
    return keras.utils.Progbar(n, unit_name="photo", stateful_metrics=["photos/s"]) if keras else None


def run(paths, output_dir, model=None, size=None, temperature=None, saturation=None,
        batch_size=8, overwrite=False, progress=True, fmt=None, pairs=False, html=False,
        instances=None, temporal="filter", video_options=None, hints=None, reference=None):
    """Colorizes ``paths``; returns a ``Summary``: (number colorized, number
    failed), with the stale temporary files it removed first (``kcolor.atomic``:
    left in the output folders by a run killed mid-write).

    ``instances`` (instance-aware models only): None or "none" (no boxes),
    "auto" (the face detector), or a boxes JSON file, looked up by each
    photo's path as given, its path below the folder given, then its file
    name (the ``boxes`` condition of ``kcolor.kinds``). ``hints`` (hint-aware
    models only): a hints file for every photo or a folder of ``<photo
    stem>.json`` files (the ``hints`` condition); a photo whose hints file is
    bad is reported as ``PHOTO: HINTS: reason`` and the batch goes on.

    ``fmt`` overrides the output format (an extension such as "png");
    ``pairs`` writes gray | colour side by side instead of the colour photo;
    ``html`` writes ``output_dir/index.html``, a contact sheet of every output
    photo (``fmt``, ``pairs`` and ``html`` concern photos, not clips).
    ``temporal``: the ``kcolor.temporal`` method for clips ("filter", "flow",
    "none": frame by frame). ``video_options``: encoder options for clips
    over ``kcolor.video``'s ({"crf": "23"}; ``parse_video_options``).
    ``reference``: a colour photo whose matched colours every photo and
    clip gets as hint points (``kcolor.hints.reference``; hint-aware
    models), before a photo's own ``hints``; an unreadable one fails here,
    before any work (``PATH: reason``).
    Colour inputs are colorized from their lightness (a one-time note says so).
    """
    output_path("check", output_dir, fmt)  # an unknown --format fails before any work
    # a missing or bad boxes or hints file fails before any work too
    condition, value_for = _condition_source(instances=instances, hints=hints)
    if reference:
        condition, value_for, reference = _reference_source(reference, condition, value_for)
    jobs, planned, failed = [], [], 0
    found = expand(paths)
    rels = dict(found)
    inputs = {os.path.realpath(p) for p, _ in found}
    for src, rel in found:
        dst = output_path(rel, output_dir, fmt)
        if os.path.realpath(dst) in inputs:
            print(f"{src}: output {dst} would overwrite an input; refused", file=sys.stderr)
            failed += 1
            continue
        planned.append((src, dst))
        if overwrite or not os.path.exists(dst):  # else finished by an earlier run
            jobs.append((src, dst))
    # Temporary files of a run killed mid-write (their writer is gone).
    stale = atomic.remove_stale({output_dir} | {os.path.dirname(d) for _, d in planned})
    t0 = time.perf_counter()
    done, more_failed = _colorize_jobs(jobs, model, size, temperature, saturation, batch_size,
                                       progress, pairs, condition, value_for, rels, temporal,
                                       video_options, reference) if jobs else (0, 0)
    if done and progress:
        seconds = time.perf_counter() - t0
        what = "photos"
        if any(video.is_video(s) for s, _ in jobs):
            what = "file" if done == 1 else "files"
        print(f"{done} {what} in {seconds:.1f} s ({done / seconds:.2f} {what}/s, model loading included)")
    if html:
        from kcolor import contact_sheet

        shown = [(s, d) for s, d in planned if os.path.exists(d) and not video.is_video(d)]
        print(f"contact sheet: {contact_sheet.write(shown, output_dir)}")
    return Summary(done, failed + more_failed, stale)


class Summary(tuple):
    """``(colorized, failed)`` of ``run``, plus ``stale``: the stale temporary
    files removed from the output folders; str() is the summary line."""

    def __new__(cls, done, failed, stale=()):
        self = super().__new__(cls, (done, failed))
        self.stale = list(stale)
        return self

    def __str__(self):
        line = f"{self[0]} colorized, {self[1]} failed"
        if self.stale:
            n = len(self.stale)
            line += f", {n} stale temporary file{'s' * (n != 1)} of an interrupted run removed"
        return line


def _condition_source(**specs):
    """(Condition, f(rgb, src, rel) → this photo's value) of the one
    condition a flag asks for (``kcolor.kinds``: ``instances`` → boxes), or
    (None, None); a bad file fails here, before any photo is read."""
    from kcolor import kinds

    by_flag = {c.flag: c for c in kinds.conditions().values()}
    asked = []
    for flag, spec in specs.items():
        source = by_flag[flag].source(spec)
        if source is not None:
            asked.append((by_flag[flag], source, spec))
    if len(asked) > 1:
        raise ValueError(" and ".join(f"--{c.flag}" for c, _, _ in asked)
                         + ": give one of them (no model takes both)")
    if not asked:
        return None, None
    condition, source, spec = asked[0]
    source.spec = spec
    return condition, source


def _reference_source(path, condition, value_for):
    """(the hints condition, f(rgb, src, rel) → the reference's points then
    the photo's own hints, the reference) for ``--reference=PATH``: the
    reference is read and its features computed here, once."""
    from kcolor import kinds

    hints = kinds.conditions()["hints"]
    if condition is not None and condition is not hints:
        raise ValueError(f"--reference and --{condition.flag}: give one of them "
                         f"(no model takes both)")
    ref = hints.reference(path)  # ImageReadError (a ValueError): "PATH: reason"

    def points_for(rgb, src, rel):
        own = value_for(rgb, src, rel) if value_for is not None else None
        return hints.with_reference([rgb], ref, [own])[0]
    points_for.spec, points_for.flag = path, "reference"
    return hints, points_for, ref


def _colorize_jobs(jobs, model, size, temperature, saturation, batch_size, progress, pairs,
                   condition=None, value_for=None, rels=None, temporal="filter",
                   video_options=None, reference=None):
    if condition is not None and model is None:  # --instances alone: that kind's preset
        model = condition.default_preset
    colorizer = colorize.Colorizer(model, size, temperature, saturation)
    if condition is not None and colorizer.condition != condition.name:
        flag = getattr(value_for, "flag", condition.flag)
        raise ValueError(f"--{flag}={value_for.spec} needs {condition.model_words}; "
                         f"{model or 'the default model'} takes no {condition.name}")
    clips = [j for j in jobs if video.is_video(j[0])]
    photos = [j for j in jobs if not video.is_video(j[0])]
    done, failed = _colorize_photos(photos, colorizer, batch_size, progress, pairs, value_for,
                                    rels) if photos else (0, 0)
    for src, dst in clips:
        ok = _colorize_clip(src, dst, colorizer, batch_size, progress, temporal, video_options,
                            reference)
        done, failed = done + ok, failed + (not ok)
    return done, failed


def _colorize_clip(src, dst, colorizer, batch_size, progress, temporal, video_options=None,
                   reference=None):
    """True when the clip ``src`` was written to ``dst``; else reports ``PATH: reason``."""
    bar = None
    if progress:
        print(f"{src} -> {dst}")
        keras = sys.modules.get("keras")
        if keras:
            bar = keras.utils.Progbar(video.frame_count(src), unit_name="frame")
    try:
        video.colorize_video(src, dst, colorizer, batch_size, temporal,
                             progress=bar.update if bar else None,
                             encoder_options=video_options, reference=reference)
        return True
    except video.VideoError as e:
        print(f"\n{e}", file=sys.stderr)
    except OSError as e:
        print(f"\n{src}: cannot write {dst}: {e}", file=sys.stderr)
    return False


def _colorize_photos(jobs, colorizer, batch_size, progress, pairs, value_for, rels):
    failed, noted_colour = 0, False
    bar = _progbar(len(jobs)) if progress else None
    t0 = time.perf_counter()
    done = 0
    for start in range(0, len(jobs), batch_size):
        batch, images, values = [], [], []
        for src, dst in jobs[start:start + batch_size]:
            try:
                rgb, alpha = colorize.read_photo(src)
            except (imageio.ImageReadError, OSError) as e:
                print(f"\n{e}" if isinstance(e, imageio.ImageReadError) else f"\n{src}: {e}",
                      file=sys.stderr)
                failed += 1
                continue
            if not noted_colour and is_colour(rgb):
                print(f"\nnote: {src} is a colour photo; kcolor colorizes its lightness "
                      "and ignores its colours (noted once)", file=sys.stderr)
                noted_colour = True
            if value_for is not None:
                try:
                    values.append(value_for(rgb, src, (rels or {}).get(src)))
                except ValueError as e:  # a box outside this photo, a bad hints file
                    print(f"\n{src}: {e}", file=sys.stderr)
                    failed += 1
                    continue
            batch.append((src, dst, alpha))
            images.append(rgb)
        if images:
            outs = colorizer.colorize(images, values if value_for is not None else None)
            for (src, dst, alpha), rgb, out in zip(batch, images, outs):
                if pairs:
                    gray = colorize.gray_rgb(rgb)
                    out, alpha = side_by_side(gray, out), None
                try:
                    colorize.write_atomic(out, alpha, dst)
                    done += 1
                except (OSError, ValueError) as e:
                    print(f"\n{src}: cannot write {dst}: {e}", file=sys.stderr)
                    failed += 1
        if bar:
            seen = min(start + batch_size, len(jobs))
            bar.update(seen, values=[("photos/s", seen / (time.perf_counter() - t0))])
    return done, failed


def _boxes_source(instances):
    """f(rgb, src, rel) → the boxes ``--instances`` gives a photo, or None."""
    return _condition_source(instances=instances)[1]
