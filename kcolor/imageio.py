"""Reading photos as people have them, with Pillow."""

import numpy as np
from PIL import Image, ImageOps

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


class ImageReadError(ValueError):
    """A file that is not a readable image; str() is 'PATH: reason'."""


def read_rgb(path):
    """Decodes ``path`` to uint8 RGB [h, w, 3], EXIF orientation applied.

    Raises:
      ImageReadError: with the message ``PATH: reason``.
    """
    return read_rgb_alpha(path)[0]


def read_rgb_alpha(path):
    """(uint8 RGB [h, w, 3], uint8 alpha [h, w] or None) from one decode,
    EXIF orientation applied; 16-bit gray is scaled to 8 bits.

    Raises:
      ImageReadError: with the message ``PATH: reason``.
    """
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            alpha = np.asarray(im.getchannel("A")) if "A" in im.getbands() else None
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                im = Image.fromarray((np.asarray(im, np.float64) / 257.0).clip(0, 255).astype(np.uint8))
            return np.asarray(im.convert("RGB")), alpha
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as e:
        reason = str(e) or type(e).__name__
        raise ImageReadError(f"{path}: {reason}") from e


def umask_mode():
    """The mode a normally created file gets (0o666 less the umask)."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
