"""What ``kcolor edit`` does with photos, apart from HTTP: the photos it was
given, the hint-aware model (loaded once), previews and saves.

* **Photos** are found as ``kcolor colorize`` finds them
  (``colorize_files.expand``) and addressed by index only: no request names
  a file. Each one's output is ``colorize_files.output_path`` under the
  output folder, its hints file ``<output stem>.json`` beside it.
* **Preview**: an opened photo keeps its L at the working size and at the
  preview size; a preview runs the model once on the working-size L and the
  points (``Colorizer.predict_ab``, as ``colorize`` does) and joins the ab,
  resized, with the preview-size L. Its cost does not grow with the photo.
* **Save** runs ``Colorizer.colorize`` on the photo as read from disk, with
  the points as the hints file gives them, and writes both atomically: the
  photo is what ``kcolor colorize PHOTO --hints=FILE`` writes, byte for byte.
* **Saturation**: the preview rescales the model's ab (instant; the hinted
  pixels keep their colour); a save at a saturation other than the model's
  uses a Colorizer built with it, which is what ``--saturation`` does.
"""

import collections
import dataclasses
import io
import json
import math
import os
import shlex
import sys
import threading
import time

import numpy as np
from PIL import Image

from kcolor import atomic, colorize, colorize_files, imageio, kinds

PREVIEW_SIDE = 1024  # longest side of a preview unless the page asks for another
MIN_SIDE, MAX_SIDE = 64, 2048
MAX_POINTS = 1000
MAX_HINTS_FILE = 4 << 20  # a hints file bigger than this is not read back
MAX_SATURATION = 4.0
JPEG_QUALITY = 90
KEEP_OPEN = 2  # photos whose L stays in memory (12 MP: 48 MB each)
KEEP_COLORIZERS = 3  # Colorizers kept for saves at other saturations


class EditError(ValueError):
    """A request the session refuses; ``status`` is its HTTP status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


Item = collections.namedtuple("Item", "src rel dst hints")


def _inside(path, root):
    """Whether ``path``, links resolved, lies in the folder ``root`` (resolved)."""
    p, r = os.path.realpath(path), os.path.realpath(root)
    return p == r or p.startswith(r.rstrip(os.sep) + os.sep)


def find_photos(paths, output_dir):
    """[Item(src, rel, dst, hints)] for photo files, folders and globs.

    Inside a folder, files whose links lead out of it and the output folder
    are left out; an output that would overwrite its input, or two photos
    with one output, is an error (ValueError)."""
    items, seen = [], {}
    for p in paths:
        root = p if os.path.isdir(p) else None
        for src, rel in colorize_files.expand([p]):
            if root is not None and (not _inside(src, root) or _inside(src, output_dir)):
                continue  # a link out of the folder, or an earlier output
            if not os.path.isfile(src):
                raise ValueError(f"{src}: no such photo or folder")
            if not src.lower().endswith(imageio.EXTENSIONS):
                if root is None:
                    raise ValueError(f"{src}: not a photo ({', '.join(imageio.EXTENSIONS)})")
                continue  # a video clip in the folder
            dst = colorize_files.output_path(rel, output_dir)
            if os.path.realpath(dst) == os.path.realpath(src):
                raise ValueError(f"{src}: its output {dst} would overwrite it; give another "
                                 "--output_dir")
            if dst in seen:
                raise ValueError(f"{seen[dst]} and {src} would both be saved as {dst}")
            seen[dst] = src
            items.append(Item(src, rel, dst, os.path.splitext(dst)[0] + ".json"))
    if not items:
        raise ValueError(f"no photos in {' '.join(paths)} ({', '.join(imageio.EXTENSIONS)})")
    return items


def _fit(height, width, side):
    """(h, w) of an H x W photo whose longest side is at most ``side``."""
    scale = min(1.0, side / max(height, width))
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def jpeg(rgb, quality=JPEG_QUALITY):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@dataclasses.dataclass
class Opened:
    """An opened photo: its size, its L at the working size (``small``,
    exactly as ``Colorizer`` makes it) and at full size, and previews' L."""

    height: int
    width: int
    size: int
    small: np.ndarray
    L: np.ndarray
    previews: dict = dataclasses.field(default_factory=dict)

    def preview_L(self, side):
        h, w = _fit(self.height, self.width, side)
        if (h, w) not in self.previews:
            if (h, w) == (self.height, self.width):
                self.previews[h, w] = self.L
            else:
                self.previews[h, w] = colorize._resize(self.L, h, w)
            while len(self.previews) > 2:
                self.previews.pop(next(iter(self.previews)))
        return self.previews[h, w]


class Session:
    """The photos, the model and the output folder of one ``kcolor edit``.

    Args:
      items: ``find_photos``'s list.
      output_dir: where saves go (nothing is written elsewhere).
      model: what ``Colorizer`` takes (a preset name, a file, a model object);
        it must take hint points.
      size: working size (None: the model's), as ``kcolor colorize --size``.
      model_label: how the reproduce command names the model (None: leave
        ``--model`` out, the default of ``kcolor colorize --hints``).
    """

    def __init__(self, items, output_dir, model=None, size=None, model_label=None):
        self.items = list(items)
        self.output_dir = output_dir
        self.model, self.size, self.model_label = model, size, model_label
        self.colorizer = colorize.Colorizer(model, size)
        if self.colorizer.condition != "hints":
            raise ValueError(f"{model_label or 'this model'} takes no hint points: give a "
                             "hint-aware model (the lite_hints preset)")
        self.condition = kinds.conditions()["hints"]  # the hints format, through the kind
        self.saturation = float(self.colorizer.saturation)
        self.mean_saturation = _mean_saturation(model)
        self._colorizers = collections.OrderedDict()
        self.lock = threading.RLock()  # the model and the opened photos: one request at a time
        self._open = collections.OrderedDict()
        self._last = None  # (key, ab, mask) of the last preview's model run
        self.ready = threading.Event()
        self.stale = atomic.remove_stale(
            {output_dir} | {os.path.dirname(i.dst) for i in self.items})

    # -- photos -----------------------------------------------------------

    def item(self, index):
        if not isinstance(index, int) or isinstance(index, bool) or not (
                0 <= index < len(self.items)):
            raise EditError(404, f"no photo {index!r} (0 to {len(self.items) - 1})")
        return self.items[index]

    def open(self, index):
        """The ``Opened`` photo ``index`` (read once, kept while recent)."""
        item = self.item(index)
        with self.lock:
            if index in self._open:
                self._open.move_to_end(index)
                return self._open[index]
            try:
                rgb, _ = colorize.read_photo(item.src)
            except (imageio.ImageReadError, OSError) as e:
                raise EditError(422, f"{item.rel}: cannot read it ({_one_line(e)})") from None
            L = colorize._lightness(rgb)
            del rgb
            h, w = L.shape[:2]
            s = self.colorizer.working_size(h, w)
            opened = Opened(h, w, s, colorize._resize(L, s, s), L)
            self._open[index] = opened
            while len(self._open) > KEEP_OPEN:
                self._open.popitem(last=False)
            return opened

    def meta(self, index):
        """What the page needs to show photo ``index``: its size, the points
        of its hints file in the output folder (when there is one)."""
        item = self.item(index)
        photo = self.open(index)
        pts, error = [], None
        if os.path.lexists(item.hints):
            try:
                pts = self._read_hints(item.hints, photo)
            except ValueError as e:
                error = _one_line(e)
        patch = max(1, round(6 * photo.size / 256))  # the hints format's default patch
        return {"index": index, "name": item.rel, "width": photo.width, "height": photo.height,
                "working_size": photo.size, "points": pts, "hints_error": error,
                "saved": os.path.isfile(item.dst) and os.path.isfile(item.hints),
                "output": item.dst, "hints_file": item.hints,
                "default_size": [patch * photo.width / photo.size,
                                 patch * photo.height / photo.size]}

    def _read_hints(self, path, photo):
        """The point objects of the hints file ``path`` (in the output
        folder), checked for ``photo``; ValueError when they are not."""
        if not (_inside(path, self.output_dir) and os.path.isfile(path)):
            raise ValueError(f"{path}: not a file in {self.output_dir}; not read")
        if os.path.getsize(path) > MAX_HINTS_FILE:
            raise ValueError(f"{path}: over {MAX_HINTS_FILE >> 20} MB; not read")
        try:
            with open(path, encoding="utf-8") as f:
                obj = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not JSON ({e})") from None
        if not isinstance(obj, dict) or set(obj) != {"points"}:
            raise ValueError(f"{path}: the top level must be {{\"points\": [...]}}")
        try:
            return self.points(obj["points"], photo.width, photo.height, photo.size)[0]
        except EditError as e:
            raise ValueError(f"{path}: {e}") from None

    def gray(self, index, side=PREVIEW_SIDE):
        """JPEG of photo ``index``'s lightness at the preview size."""
        photo = self.open(index)
        with self.lock:
            Lp = photo.preview_L(_side(side))
        return jpeg(colorize._join(Lp, np.zeros(Lp.shape[:2] + (2,), np.float32)))

    # -- requests ---------------------------------------------------------

    def points(self, obj, width, height, size):
        """(point objects, their value at working size ``size``) of a
        request's ``points``: the hints file's point objects, checked by the
        hint kind as ``kcolor colorize --hints`` checks a file's."""
        if not isinstance(obj, list) or not all(isinstance(p, dict) for p in obj):
            raise EditError(400, "points must be a list of point objects")
        if len(obj) > MAX_POINTS:
            raise EditError(400, f"{len(obj)} points; at most {MAX_POINTS}")
        obj = [dict(p) for p in obj]
        try:
            return obj, self.condition.at_working_size(obj, height, width, size)
        except ValueError as e:
            raise EditError(400, _one_line(e)) from None

    def saturation_of(self, value):
        if value is None:
            return self.saturation
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not math.isfinite(value) or not 0 <= value <= MAX_SATURATION):
            raise EditError(400, f"saturation must be a number from 0 to {MAX_SATURATION:g}")
        return float(value)

    def warm_up(self):
        """Runs the model once with a hint (the first run builds and traces
        it: seconds), at the first photo's working size."""
        try:
            with self.lock:
                photo = self.open(0)
                for dots in ([{"x": 0, "y": 0, "ab": [0.0, 0.0]}], []):
                    self._model_ab(photo, self.points(dots, photo.width, photo.height,
                                                      photo.size)[1])
        except EditError:
            pass
        finally:
            self.ready.set()

    def _model_ab(self, photo, value):
        """(ab [s, s, 2] at the working size, hinted mask [s, s] or None) for
        the points' working-size ``value``, as ``Colorizer.colorize`` runs it."""
        mask = None
        if self.condition.present(value):
            mask = np.asarray(value.mask)[..., 0] > 0.5
        else:
            value = None  # the plain path: the automatic colour
        return self.colorizer.predict_ab(photo.small[None], [value])[0], mask

    def _resaturate(self, ab, mask, saturation):
        """The preview's ab at ``saturation`` from the model's at its own:
        ab × saturation / own (about each photo's mean colour for a preset
        with ``mean_saturation``); hinted pixels keep their colour."""
        own = self.saturation
        if saturation == own or own <= 1e-6:
            return ab
        free = np.ones(ab.shape[:2], bool) if mask is None else ~mask
        mean = ab[free].mean(0) if self.mean_saturation is not None and free.any() else 0.0
        out = mean + (saturation / own) * (ab - mean)
        if mask is not None:
            out[mask] = ab[mask]
        return out.astype(np.float32)

    def preview(self, index, obj, saturation=None, side=PREVIEW_SIDE):
        """(JPEG bytes, milliseconds) of photo ``index`` coloured with the
        points ``obj`` at the preview size (longest side ``side``)."""
        photo = self.open(index)
        saturation = self.saturation_of(saturation)
        t0 = time.perf_counter()
        pts, value = self.points(obj, photo.width, photo.height, photo.size)
        key = (index, json.dumps(pts, sort_keys=True))
        with self.lock:
            if self._last is not None and self._last[0] == key:
                ab, mask = self._last[1:]
            else:
                ab, mask = self._model_ab(photo, value)
                self._last = (key, ab, mask)
            Lp = photo.preview_L(_side(side))
        ab = self._resaturate(ab, mask, saturation)
        rgb = colorize._join(Lp, colorize._resize(ab, Lp.shape[0], Lp.shape[1]))
        data = jpeg(rgb)
        return data, (time.perf_counter() - t0) * 1000.0

    def colorizer_for(self, saturation):
        """The Colorizer that ``kcolor colorize`` builds for ``saturation``."""
        if saturation == self.saturation:
            return self.colorizer
        with self.lock:
            if saturation not in self._colorizers:
                self._colorizers[saturation] = colorize.Colorizer(self.model, self.size, None,
                                                                  saturation)
                while len(self._colorizers) > KEEP_COLORIZERS:
                    self._colorizers.popitem(last=False)
            self._colorizers.move_to_end(saturation)
            return self._colorizers[saturation]

    def save(self, index, obj, saturation=None):
        """Writes photo ``index`` coloured with the points ``obj`` at full
        resolution to its output path and the points to its hints file, both
        atomically; returns what was written and the command that redoes it."""
        item = self.item(index)
        saturation = self.saturation_of(saturation)
        for path in (item.dst, item.hints):
            if not _inside(os.path.dirname(path) or ".", self.output_dir) or (
                    os.path.lexists(path) and not _inside(path, self.output_dir)):
                raise EditError(403, f"{path}: leads out of {self.output_dir}; not written")
        try:
            rgb, alpha = colorize.read_photo(item.src)
        except (imageio.ImageReadError, OSError) as e:
            raise EditError(422, f"{item.rel}: cannot read it ({_one_line(e)})") from None
        h, w = rgb.shape[:2]
        pts, _ = self.points(obj, w, h, self.colorizer.working_size(h, w))
        t0 = time.perf_counter()
        with self.lock:  # the point objects, as kcolor colorize reads them from the file
            out = self.colorizer_for(saturation).colorize([rgb], hints=[pts])[0]
        del rgb
        try:
            colorize.write_atomic(out, alpha, item.dst)
            with atomic.open_atomic(item.hints, "w", ".json") as f:
                f.write(json.dumps({"points": pts}, indent=1) + "\n")
        except OSError as e:
            raise EditError(500, f"cannot write {item.dst}: {_one_line(e)}") from None
        return {"output": item.dst, "hints_file": item.hints, "points": len(pts),
                "seconds": round(time.perf_counter() - t0, 3),
                "command": self.command(index, saturation)}

    def command(self, index, saturation=None):
        """The ``kcolor colorize`` command that writes the saved photo again."""
        item = self.items[index]
        words = ["kcolor", "colorize", item.src, f"--hints={item.hints}",
                 f"--output_dir={self.output_dir}", "--overwrite"]
        if self.model_label:
            words.append(f"--model={self.model_label}")
        if self.size:
            words.append(f"--size={self.size}")
        if saturation is not None and saturation != self.saturation:
            words.append(f"--saturation={saturation!r}")
        return " ".join(shlex.quote(w) for w in words)

    def state(self):
        return {"photos": [{"index": i, "name": it.rel} for i, it in enumerate(self.items)],
                "output_dir": self.output_dir, "saturation": self.saturation,
                "ready": self.ready.is_set(), "model": self.model_label or "(given)"}


def _side(side):
    if side is None:
        return PREVIEW_SIDE
    if not isinstance(side, int) or isinstance(side, bool):
        raise EditError(400, "max_side must be an integer")
    return min(MAX_SIDE, max(MIN_SIDE, side))


def _one_line(e):
    return " ".join(str(e).split())[:500]


def _mean_saturation(model):
    """The ``mean_saturation`` of a preset (by name or .json file), else None."""
    from kcolor import presets

    try:
        if isinstance(model, str) and model in presets.names():
            return presets.config(model).get("mean_saturation")
        if isinstance(model, str) and model.endswith(".json"):
            with open(model) as f:
                return json.load(f).get("mean_saturation")
    except (OSError, ValueError):
        pass
    return None


def log(line):
    print(f"kcolor edit: {line}", file=sys.stderr, flush=True)
