"""The hints file: coloured points a user puts on a photo.

This module docstring is the format's contract; editors and other tools
write it, kcolor reads it::

    {"points": [
        {"x": 412, "y": 230, "color": "#a0522d", "size": 8},
        {"x": 40.5, "y": 18, "ab": [-5.0, -30.0]}
    ]}

The top level is an object with exactly one key, ``"points"``: a list (may be
empty). Each point is an object with these keys and no others:

* ``x``, ``y`` (required): the point's centre, as the 0-based column and row
  of the photo as kcolor reads it (EXIF orientation applied), in the photo's
  own pixels. Integers or floats; pixel ``(x, y)`` covers
  ``[x, x + 1) x [y, y + 1)``, so an integer names a pixel and its centre is
  at ``(x + 0.5, y + 0.5)``; a float places the centre in between the same
  way (``x = 10.5`` is the boundary between columns 10 and 11). Must lie in
  ``[0, W) x [0, H)`` for a W x H photo.
* exactly one of

  - ``color``: an sRGB colour as ``"#rrggbb"`` or CSS's short ``"#rgb"``
    (``"#a52"`` is ``"#aa5522"``), hexadecimal digits in either case. The
    hint is its CIE Lab a and b (D65, as ``kcolor.color``); its lightness is
    ignored (the photo's own L is kept). ``"#a0522d"`` (sienna) is
    a = 29.32, b = 35.64.
  - ``ab``: ``[a, b]``, the Lab chroma directly: two finite numbers with
    ``|a|, |b| <= 128``.

* ``size`` (optional): the side of the square patch the hint covers, in
  the photo's pixels, centred on the point; a positive finite number.
  Omitted, the patch is ``round(6 * s / 256)`` pixels square at the working
  size ``s`` (at least 1): SIGGRAPH 2017's 6 x 6 patch at 256 (3 x 3 at
  128) -- the patches the networks are trained and evaluated with. On the
  photo that is about ``6 W / 256`` pixels wide and ``6 H / 256`` tall.

Whatever its size, a patch covers at least one pixel at the working size
(the one holding its centre). Later points overwrite earlier ones where
patches overlap.

Any departure from the format is an error, reported as one line naming the
file and the reason (``HintsError``, a ``ValueError``): not JSON, a top
level that is not ``{"points": [...]}``, an unknown key (at the top level or
in a point), a missing or non-numeric ``x``/``y``, a point outside the
photo, both or neither of ``color``/``ab``, a bad colour, a bad ``size``.

At the working size (``to_maps``): the photo (H x W) is squashed to
s x s, so a point's patch, a square on the photo, is the rectangle
``[(x + 0.5 - size/2) s / W, (x + 0.5 + size/2) s / W)`` by the same in y,
and covers the working pixels whose centres lie inside it (clipped to the
image).
"""

import dataclasses
import json
import math
import re

import numpy as np

from kcolor import atomic

DEFAULT_PATCH_AT_256 = 6  # SIGGRAPH17: 6 x 6 hint patches at a 256 working size
MAX_AB = 128.0
_KEYS = ("x", "y", "color", "ab", "size")
_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})\Z")


class HintsError(ValueError):
    """A hints file or point that does not follow the format."""


@dataclasses.dataclass(frozen=True)
class Point:
    """One hint. ``x``, ``y``: centre in photo pixels (as given); ``ab``:
    (a, b); ``size``: patch side in photo pixels, or None for the default;
    ``color``: the ``"#rrggbb"``/``"#rgb"`` string it was given as (kept so
    ``dump`` writes the file back as it was), or None for an ``ab`` point."""

    x: float
    y: float
    ab: tuple
    size: float = None
    color: str = None


def default_patch(s):
    """Side in working pixels of a point without ``size`` at working size ``s``:
    ``round(6 * s / 256)``, at least 1 (6 at 256, 3 at 128)."""
    return max(1, int(round(DEFAULT_PATCH_AT_256 * s / 256.0)))


def hex_to_ab(text):
    """(a, b) of an sRGB ``"#rrggbb"`` or ``"#rgb"`` string (D65 Lab).
    Raises ValueError for anything else."""
    if not isinstance(text, str) or not _HEX.match(text):
        raise ValueError(f"color must be \"#rrggbb\" or \"#rgb\", not {text!r}")
    digits = text[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    rgb = np.array([int(digits[i:i + 2], 16) for i in (0, 2, 4)], np.float64) / 255.0
    from kcolor import color  # numpy path: no Keras

    lab = color.rgb_to_lab(rgb, np)
    return float(lab[1]), float(lab[2])


def _json_type(v):
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(v), type(v).__name__)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _parse_point(item, i, width, height, source):
    where = f"{source}: point {i}"
    if not isinstance(item, dict):
        raise HintsError(f"{where}: a point must be an object with x, y and color or ab, "
                         f"not {item!r}")
    unknown = sorted(set(item) - set(_KEYS))
    if unknown:
        raise HintsError(f"{where}: unknown keys {unknown} (use x, y, color or ab, size)")
    for k in ("x", "y"):
        if k not in item:
            raise HintsError(f"{where}: missing \"{k}\"")
        if not _is_number(item[k]):
            raise HintsError(f"{where}: {k} must be a finite number, not {item[k]!r}")
    x, y = item["x"], item["y"]
    if not (0 <= x < width and 0 <= y < height):
        raise HintsError(f"{where}: ({x}, {y}) lies outside the {width} x {height} photo "
                         f"(x in [0, {width}), y in [0, {height}))")
    has_color, has_ab = "color" in item, "ab" in item
    if has_color == has_ab:
        raise HintsError(f"{where}: give exactly one of \"color\" (\"#rrggbb\") and "
                         f"\"ab\" ([a, b]), not {'both' if has_color else 'neither'}")
    col = None
    if has_color:
        col = item["color"]
        try:
            ab = hex_to_ab(col)
        except ValueError as e:
            raise HintsError(f"{where}: {e}") from None
    else:
        v = item["ab"]
        if (not isinstance(v, (list, tuple)) or len(v) != 2
                or not all(_is_number(c) and abs(c) <= MAX_AB for c in v)):
            raise HintsError(f"{where}: ab must be [a, b], two finite numbers with "
                             f"|a|, |b| <= {MAX_AB:g}, not {v!r}")
        ab = (float(v[0]), float(v[1]))
    size = item.get("size")
    if "size" in item and not (_is_number(size) and size > 0):
        raise HintsError(f"{where}: size must be a positive number (pixels), not {size!r}")
    return Point(x=x, y=y, ab=ab, size=size, color=col)


def parse(obj, width, height, source="<hints>"):
    """Validates a decoded hints object for a ``width`` x ``height`` photo;
    returns its points (a list of ``Point``). Raises ``HintsError``
    ("SOURCE: reason")."""
    if not isinstance(obj, dict):
        raise HintsError(f"{source}: the top level must be an object "
                         f"{{\"points\": [...]}}, not {_json_type(obj)}")
    unknown = sorted(set(obj) - {"points"})
    if unknown:
        raise HintsError(f"{source}: unknown top-level keys {unknown} (use points)")
    if "points" not in obj:
        raise HintsError(f"{source}: missing \"points\" (the top level is "
                         f"{{\"points\": [...]}})")
    items = obj["points"]
    if not isinstance(items, list):
        raise HintsError(f"{source}: \"points\" must be a list, not {_json_type(items)}")
    return [_parse_point(p, i, width, height, source) for i, p in enumerate(items)]


def load(path, width, height):
    """The points of the hints file ``path`` for a ``width`` x ``height``
    photo (as kcolor reads it: EXIF orientation applied)."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except FileNotFoundError:
        raise HintsError(f"{path}: no such hints file") from None
    except IsADirectoryError:
        raise HintsError(f"{path}: is a folder, not a hints file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HintsError(f"{path}: not JSON ({e})") from None
    except OSError as e:
        raise HintsError(f"{path}: cannot read ({e.strerror or e})") from None
    return parse(obj, width, height, str(path))


def dump(points):
    """The file's object for ``points``: each point as given (``color`` when it
    had one, else ``ab``; ``size`` only when set), so ``parse(dump(p))``
    gives ``p`` back."""
    out = []
    for p in points:
        item = {"x": p.x, "y": p.y}
        if p.color is not None:
            item["color"] = p.color
        else:
            item["ab"] = [float(p.ab[0]), float(p.ab[1])]
        if p.size is not None:
            item["size"] = p.size
        out.append(item)
    return {"points": out}


def save(path, points):
    """Writes ``points`` to ``path`` as a hints file, atomically."""
    text = json.dumps(dump(points), indent=1) + "\n"
    with atomic.open_atomic(path, "w", ".json") as f:
        f.write(text)


def _span(centre, half, scale, n):
    """[j0, j1): the working pixels along one axis (n of them) whose centres
    lie in [(centre - half) scale, (centre + half) scale), at least the one
    holding centre * scale, clipped to [0, n)."""
    u = centre * scale
    # round(): boundaries that are exact in real numbers stay exact.
    j0 = math.ceil(round((centre - half) * scale - 0.5, 9))
    j1 = math.ceil(round((centre + half) * scale - 0.5, 9))
    k = min(max(int(math.floor(u)), 0), n - 1)
    j0, j1 = min(j0, k), max(j1, k + 1)
    return max(j0, 0), min(j1, n)


def patch_rect(point, height, width, s):
    """(r0, r1, c0, c1): the rows [r0, r1) and columns [c0, c1) that
    ``point``'s patch covers at working size ``s`` (the H x W photo squashed
    to s x s); at least one pixel."""
    cx, cy = point.x + 0.5, point.y + 0.5
    if point.size is None:  # default_patch(s) working pixels square
        p = default_patch(s)
        c0, c1 = _span(cx * s / width, p / 2.0, 1.0, s)
        r0, r1 = _span(cy * s / height, p / 2.0, 1.0, s)
    else:
        c0, c1 = _span(cx, point.size / 2.0, s / width, s)
        r0, r1 = _span(cy, point.size / 2.0, s / height, s)
    return r0, r1, c0, c1


def to_maps(points, height, width, s):
    """Hint maps at working size ``s`` for ``points`` on an H x W photo:
    (hint_ab [s, s, 2] float32, mask [s, s, 1] float32). The mask is 1 on
    every patch (``patch_rect``), where hint_ab is the point's ab (later
    points overwrite earlier ones); 0 and (0, 0) elsewhere."""
    hint = np.zeros((s, s, 2), np.float32)
    mask = np.zeros((s, s, 1), np.float32)
    for p in points:
        r0, r1, c0, c1 = patch_rect(p, height, width, s)
        hint[r0:r1, c0:c1] = p.ab
        mask[r0:r1, c0:c1] = 1.0
    return hint, mask
