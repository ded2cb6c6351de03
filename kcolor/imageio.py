"""Reading photos as people have them, with Pillow."""

import os
import sys

import numpy as np
from PIL import ExifTags, Image

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


class ImageReadError(ValueError):
    """A file that is not a readable image; str() is 'PATH: reason'."""


def list_images(folder):
    """Sorted image paths below ``folder`` (recursive)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: not a folder")
    paths = []
    for root, _, files in os.walk(folder):
        paths += [os.path.join(root, f) for f in files if f.lower().endswith(EXTENSIONS)]
    if not paths:
        raise FileNotFoundError(f"{folder}: no images ({', '.join(EXTENSIONS)})")
    return sorted(paths)


def spread(paths, limit):
    """``limit`` paths spread evenly over ``paths`` (all of them if None)."""
    if not limit or limit >= len(paths):
        return paths
    return [paths[i * len(paths) // limit] for i in range(limit)]


def read_rgb(path):
    """Decodes ``path`` to uint8 RGB [h, w, 3], EXIF orientation applied.

    Raises:
      ImageReadError: with the message ``PATH: reason``.
    """
    return read_rgb_alpha(path)[0]


def read_rgb_alpha(path):
    """(uint8 RGB [h, w, 3], uint8 alpha [h, w] or None) from one decode,
    EXIF orientation applied; 16-bit gray is scaled to 8 bits. When the
    EXIF data cannot be parsed (a garbled APP1 block in an old scan), the
    pixels are used as stored and one line ``warning: PATH: ...`` goes to
    stderr (once per path in this process).

    Raises:
      ImageReadError: with the message ``PATH: reason``.
    """
    try:
        with Image.open(path) as im:
            im.load()  # pixel errors are read errors; EXIF errors are not
            orientation, broken = exif_orientation(im)
            if broken:
                _warn_once(path, f"EXIF data unreadable ({broken}); using the pixels as stored")
            elif orientation in _TRANSPOSE:
                im = im.transpose(_TRANSPOSE[orientation])
            alpha = np.asarray(im.getchannel("A")) if "A" in im.getbands() else None
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                im = Image.fromarray((np.asarray(im, np.float64) / 257.0).clip(0, 255).astype(np.uint8))
            return np.asarray(im.convert("RGB")), alpha
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as e:
        reason = str(e) or type(e).__name__
        raise ImageReadError(f"{path}: {reason}") from e


# EXIF orientation → the transposition that shows the photo upright (as
# ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def exif_orientation(im):
    """(orientation, None) of an open Pillow image, 1 when it has none; or
    (1, reason) when its EXIF data cannot be parsed."""
    try:
        orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
        return (orientation if orientation in _TRANSPOSE else 1), None
    except Exception as e:  # noqa: BLE001 (any failure to parse metadata: use the pixels)
        return 1, " ".join(str(e).split()) or type(e).__name__


def upright_size(path):
    """(width, height) of ``path`` as shown upright (``read_rgb`` applies the
    EXIF orientation: 5-8 swap the sides), read from the header only."""
    with Image.open(path) as im:
        w, h = im.size
        orientation, _ = exif_orientation(im)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


_warned = set()


def _warn_once(path, message):
    if str(path) not in _warned:
        _warned.add(str(path))
        print(f"warning: {path}: {message}", file=sys.stderr)


def umask_mode():
    """The mode a normally created file gets (0o666 less the umask)."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
