"""Batch colorization of files for ``kcolor colorize``: finding inputs,
mirroring their layout under the output folder, skipping finished outputs,
reporting bad files as ``PATH: reason`` and going on."""

import glob
import os
import sys

from kcolor import colorize, imageio


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
                        if f.lower().endswith(imageio.EXTENSIONS):
                            full = os.path.join(root, f)
                            found.append((full, os.path.relpath(full, m)))
            else:
                found.append((m, os.path.basename(m)))
    return found


def output_path(rel, output_dir):
    stem, ext = os.path.splitext(rel)
    ext = ext.lower() if ext.lower() in colorize.FORMATS else ".png"
    return os.path.join(output_dir, stem + ext)


def run(paths, output_dir, model=None, size=None, temperature=None, saturation=1.0,
        batch_size=8, overwrite=False, progress=True):
    """Colorizes ``paths``; returns (number colorized, number failed)."""
    import keras

    jobs, failed = [], 0
    inputs = {os.path.realpath(p) for p, _ in expand(paths)}
    for src, rel in expand(paths):
        dst = output_path(rel, output_dir)
        if os.path.realpath(dst) in inputs:
            print(f"{src}: output {dst} would overwrite an input; refused", file=sys.stderr)
            failed += 1
        elif os.path.exists(dst) and not overwrite:
            continue  # finished by an earlier run
        else:
            jobs.append((src, dst))
    if not jobs:
        return 0, failed
    colorizer = colorize.Colorizer(model, size, temperature, saturation)
    bar = keras.utils.Progbar(len(jobs), unit_name="photo") if progress else None
    done = 0
    for start in range(0, len(jobs), batch_size):
        batch, images = [], []
        for src, dst in jobs[start:start + batch_size]:
            try:
                rgb, alpha = colorize.read_photo(src)
            except (imageio.ImageReadError, OSError) as e:
                print(f"\n{e}" if isinstance(e, imageio.ImageReadError) else f"\n{src}: {e}",
                      file=sys.stderr)
                failed += 1
                continue
            batch.append((src, dst, alpha))
            images.append(rgb)
        if images:
            for (src, dst, alpha), out in zip(batch, colorizer.colorize(images)):
                try:
                    colorize.write_atomic(out, alpha, dst)
                    done += 1
                except (OSError, ValueError) as e:
                    print(f"\n{src}: cannot write {dst}: {e}", file=sys.stderr)
                    failed += 1
        if bar:
            bar.update(min(start + batch_size, len(jobs)))
    return done, failed
