"""Colorizing photos at full resolution: the Python API behind ``kcolor colorize``.

The network sees L at a working size (squashed to ``size`` x ``size``, the
scale it was trained at); its ab is decoded (annealed mean), upsampled
bilinearly to the photo's own size and joined with the photo's original L,
so the output keeps every detail of the input's lightness.

A preset with ``min_size`` works at the photo's own resolution between
``min_size`` and ``size``: a photo whose short side is below ``size`` is
not enlarged past the detail it holds (its short side, down to a multiple of
the network's input multiple, and at least ``min_size``). The default
``lite`` works at 256 px, and at 128 px on a 128-px photo (enlarged 2x, the
blur made it paint colour where it has none).
"""

import os

import numpy as np
from PIL import Image

from kcolor import atomic, color, imageio  # no Keras here: .tflite runs need none


class KerasBackend:
    """A Keras model through its kind (``kcolor.kinds``): ``plain`` (L → ab,
    a Keras inference model) and, for a kind that takes a condition,
    ``conditioned(L, *inputs)``."""

    def __init__(self, model, decoding):
        from kcolor import kinds

        kind = kinds.for_model(model)
        self.condition = kind.condition
        self.plain = kind.plain_inference(model, decoding)
        self._conditioned = kind.conditioned_inference(model, decoding)
        self.capacity = self.condition.capacity(model) if self.condition else None

    def predict_plain(self, L):
        return np.asarray(self.plain.predict_on_batch(L))

    def predict_conditioned(self, L, values):
        return self._conditioned(L, *self.condition.inputs(values, self.capacity))


class LiteBackend:
    """A ``.tflite`` file from ``kcolor export``, run by ``kcolor.lite``
    (no TensorFlow or Keras); ab × ``saturation``. A file with hint inputs
    (a hint-aware model's) takes the ``hints`` condition; without points it
    runs with an empty mask (the file holds no base-only path)."""

    condition = None
    capacity = None

    def __init__(self, path, saturation):
        from kcolor import lite

        self.runner = lite.LiteRunner(path)
        self.saturation = saturation
        if self.runner.condition == "hints":
            from kcolor import kinds  # kcolor.hints alone: no Keras

            self.condition = kinds.condition("hints")
            self.capacity = None

    def predict_plain(self, L):
        return self.runner.predict_ab(L) * self.saturation

    def predict_conditioned(self, L, values):
        hint_ab, mask = self.condition.inputs(values, None)
        return self.runner.predict_ab(L, hint_ab, mask) * self.saturation


class SavedModelBackend:
    """A SavedModel from ``kcolor export``: its ``serving_default`` and, when
    it has one, the signature of a kind's condition (``colorize_with_boxes``,
    ``colorize_with_hints``); ab × ``saturation``."""

    def __init__(self, path, saturation):
        import tensorflow as tf

        from kcolor import kinds

        self.loaded = tf.saved_model.load(path)  # keeps the signatures' variables alive
        self.serving = self.loaded.signatures["serving_default"]
        self.saturation = saturation
        self.condition = self.signature = self.capacity = None
        for condition in kinds.conditions().values():
            if condition.signature in self.loaded.signatures:
                self.condition = condition
                self.signature = self.loaded.signatures[condition.signature]
                self.capacity = condition.capacity(self.signature)

    def predict_plain(self, L):
        import tensorflow as tf

        return self.serving(L=tf.constant(L))["ab"].numpy() * self.saturation

    def predict_conditioned(self, L, values):
        import tensorflow as tf

        extra = self.condition.signature_inputs(values, self.capacity)
        ab = self.signature(L=tf.constant(L), **{k: tf.constant(v) for k, v in extra.items()})
        return ab["ab"].numpy() * self.saturation


class Colorizer:
    """Loads a model once and colorizes RGB arrays.

    Args:
      model: a preset name (default: the shipped ``small``), a ``.keras``
        training model (L → logits or ab), a Keras model object, or a
        ``.tflite`` file from ``kcolor export`` (run by ``kcolor.lite``
        without TensorFlow; its size and temperature are fixed in the file),
        or a SavedModel directory from ``kcolor export``.
      size: working size (default: the preset's, else 128); given, it is
        fixed, also for photos smaller than it (see ``working_size``).
      temperature: annealed-mean temperature for classification models.
      saturation: colour gain (default: the preset's, else 1 = as predicted).
        For a Keras model it is ``kcolor.decode.saturate``'s: with a preset
        that sets ``mean_saturation`` it scales each pixel's departure from
        the photo's mean colour; otherwise it multiplies ab. For an exported
        model (whose own saturation was fixed at export) it multiplies ab.

    The model runs behind one of three back-ends with the same interface
    (``KerasBackend``, ``LiteBackend``, ``SavedModelBackend``). A model whose
    kind takes a condition (``kcolor.kinds``: an instance-aware model takes
    ``boxes``, a hint-aware one ``hints``) gets it by keyword:
    ``colorize(images, boxes=[...])``, one value a photo (None: nothing, the
    model's plain path); ``condition`` names the keyword the model takes.
    """

    def __init__(self, model=None, size=None, temperature=None, saturation=None):
        self.saturation = 1.0 if saturation is None else float(saturation)
        self.min_size = None  # None: every photo at self.size (see working_size)
        self.lite = None
        self.serving = None
        if isinstance(model, str) and model.lower().endswith(".tflite"):
            self._init_lite(model, size, temperature)
            return
        if isinstance(model, str) and os.path.isfile(os.path.join(model, "saved_model.pb")):
            self._init_saved_model(model, size, temperature)
            return
        from kcolor import decode, models

        model, cfg = load_model(model)
        self.size = int(size or cfg.get("size", 128))
        multiple = models.input_multiple(model)
        if self.size % multiple:
            raise ValueError(f"--size {self.size} must be divisible by {multiple}")
        if not size and cfg.get("min_size"):
            self.min_size, self._multiple = int(cfg["min_size"]), multiple
        decoding = decode.Decoding.from_config(cfg, temperature, saturation)
        self.saturation = decoding.saturation
        self.backend = KerasBackend(model, decoding)
        self.inference = self.backend.plain  # the Keras inference model (L → ab)

    def _init_lite(self, path, size, temperature):
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such model file")
        if temperature is not None:
            raise ValueError(f"{path}: the temperature of a .tflite model is fixed at export")
        self.backend = LiteBackend(path, self.saturation)
        self.lite = self.backend.runner
        if size and int(size) != self.lite.size:
            raise ValueError(f"{path}: this .tflite model works at {self.lite.size} px, not {size}")
        self.size = self.lite.size

    def _init_saved_model(self, path, size, temperature):
        """A SavedModel from ``kcolor export``: its serving_default signature.
        Temperature and saturation were fixed at export; the working size is
        the one the export recorded (``assets.extra/kcolor.json``), else
        ``size``, else 128 (exports made before it was recorded)."""
        if temperature is not None:
            raise ValueError(f"{path}: the temperature of a SavedModel is fixed at export")
        self.backend = SavedModelBackend(path, self.saturation)
        self.serving = self.backend.serving
        self.size = int(size or _recorded_working_size(path) or 128)

    @property
    def condition(self):
        """The keyword of the condition the model takes ("boxes", "hints"), or None."""
        return self.backend.condition.name if self.backend.condition else None

    @property
    def instance_aware(self):
        return self.condition == "boxes"

    @property
    def max_boxes(self):
        """Boxes a photo the model takes; None: not instance-aware."""
        return self.backend.capacity if self.instance_aware else None

    def _values(self, n, values, conditions):
        """The one condition's values for ``n`` photos (None: none given):
        ``values`` (positional: the model's own condition) or its keyword."""
        from kcolor import kinds

        mine = self.condition
        given = {k: v for k, v in conditions.items() if v is not None}
        if values is not None:
            given[mine or "values"] = values
        known = kinds.conditions()
        for name, vals in given.items():
            if name == mine:
                continue
            if name not in known:
                raise TypeError(f"unknown condition {name!r}; kcolor's: {', '.join(known)}")
            if any(known[name].present(v) for v in vals):
                raise ValueError(known[name].refusal
                                 + (f" (this model takes {mine})" if mine else ""))
        values = given.get(mine) if mine else None
        if values is not None and len(values) != n:
            raise ValueError(f"{len(values)} {mine} lists for {n} photos")
        return values

    def predict_ab(self, L_batch, values=None, **conditions):
        """ab [B, s, s, 2] for L [B, s, s, 1] at the working size. The
        condition the model takes, as ``values`` or by its keyword
        (``boxes=``: one [n, 4] normalised array a photo; ``hints=``: one
        working-size value a photo; None: nothing). Photos without one take
        the model's plain path."""
        L = np.asarray(L_batch, np.float32)
        values = self._values(len(L), values, conditions)
        backend = self.backend
        if values is None:
            return backend.predict_plain(L)
        has = [backend.condition.present(v) for v in values]
        if not any(has):
            return backend.predict_plain(L)
        if all(has):
            return backend.predict_conditioned(L, list(values))
        ab = np.empty(L.shape[:3] + (2,), np.float32)
        idx = [i for i, h in enumerate(has) if h]
        rest = [i for i, h in enumerate(has) if not h]
        ab[idx] = backend.predict_conditioned(L[idx], [values[i] for i in idx])
        ab[rest] = backend.predict_plain(L[rest])
        return ab

    def working_size(self, h, w):
        """The side a photo of h x w is squashed to for the network: ``size``,
        or with a preset's ``min_size`` the photo's short side (down to the
        network's input multiple) between ``min_size`` and ``size``."""
        if not self.min_size:
            return self.size
        side = min(h, w) // self._multiple * self._multiple
        return int(min(self.size, max(self.min_size, side)))

    def _ab_at_sizes(self, Ls, values=None, **conditions):
        """Yields, for each L [H, W, 1] of ``Ls`` (any sizes), ab [H, W, 2]:
        L squashed to its working size, colorized in one batch per working
        size, and the ab resized back to that L's size. ``conditions``: one
        value a photo, given for the photo's own size."""
        sizes = [self.working_size(L.shape[0], L.shape[1]) for L in Ls]
        values = self._values(len(Ls), values, conditions)
        condition = self.backend.condition
        abs_ = [None] * len(Ls)
        for s in sorted(set(sizes)):
            idx = [i for i, z in enumerate(sizes) if z == s]
            small = np.stack([_resize(Ls[i], s, s) for i in idx])
            part = None
            if values is not None:
                part = [
                    None if values[i] is None else condition.at_working_size(
                        condition.clip(values[i], self.backend.capacity),
                        Ls[i].shape[0], Ls[i].shape[1], s) for i in idx]
            for i, ab in zip(idx, self.predict_ab(small, part)):
                abs_[i] = ab
        for i, ab in enumerate(abs_):
            abs_[i] = None
            yield _resize(ab, Ls[i].shape[0], Ls[i].shape[1])

    def predict_ab_at_size(self, L_batch, values=None, **conditions):
        """ab at the size of ``L_batch`` [B, H, W, 1] (as ``colorize`` does)."""
        return np.stack(list(self._ab_at_sizes(np.asarray(L_batch, np.float32), values,
                                               **conditions)))

    def colorize(self, rgb_images, values=None, reference=None, **conditions):
        """Colorizes a list of uint8 RGB arrays (any sizes); returns uint8 RGB.
        ``values`` or ``conditions``: as ``predict_ab``, one value a photo,
        for the photo's own size (``boxes=``; ``hints=``: points in its pixels).
        ``reference`` (hint-aware models): a colour photo (uint8 RGB, a path
        or a ``kcolor.hints.reference.Reference``; a list: one a photo) whose
        matched colours each photo gets as hint points, before its own
        ``hints`` (``kcolor.hints.reference``).

        Full-size colour conversions run in strips of rows, so a photo costs
        its L (4 B/px), its upsampled ab (8 B/px) and the uint8 output
        (3 B/px) plus one strip's temporaries, not a dozen float32 copies.
        """
        if reference is not None:
            from kcolor import kinds

            if values is not None:
                conditions["hints"], values = values, None
            conditions["hints"] = kinds.conditions()["hints"].with_reference(
                rgb_images, reference, conditions.get("hints"), colorizer=self)
        Ls = [_lightness(im) for im in rgb_images]
        out = []
        for i, ab_full in enumerate(self._ab_at_sizes(Ls, values, **conditions)):
            L, Ls[i] = Ls[i], None  # drop each L as soon as its photo is done
            out.append(_join(L, ab_full))
        return out


_STRIP = 256  # rows per strip: about 4000 x 256 px, ~12 MB per float32 Lab copy


def _join(L, ab, as_float=False):
    """uint8 RGB of L [H, W, 1] and ab [H, W, 2], computed strip by strip
    (``as_float``: float32 RGB in [0, 1] instead)."""
    rgb = np.empty(L.shape[:2] + (3,), np.float32 if as_float else np.uint8)
    for r in range(0, L.shape[0], _STRIP):
        lab = np.concatenate([L[r:r + _STRIP], ab[r:r + _STRIP]], -1)
        part = color.lab_to_rgb(lab, np)
        rgb[r:r + _STRIP] = part if as_float else np.round(part * 255)
    return rgb


def _lightness(rgb):
    """L [H, W, 1] float32 of uint8 RGB, computed strip by strip."""
    L = np.empty(rgb.shape[:2] + (1,), np.float32)
    for r in range(0, rgb.shape[0], _STRIP):
        lab = color.rgb_to_lab(rgb[r:r + _STRIP].astype(np.float32) / 255.0, np)
        L[r:r + _STRIP] = lab[..., :1]
    return L


# Beside a SavedModel from kcolor export (TF Serving ignores assets.extra):
# {"working_size": N}, written by export.saved_model.write_working_size.
WORKING_SIZE_FILE = os.path.join("assets.extra", "kcolor.json")


def _recorded_working_size(saved_model_dir):
    """The working size ``kcolor export`` recorded beside a SavedModel, or None."""
    import json

    path = os.path.join(saved_model_dir, WORKING_SIZE_FILE)
    try:
        with open(path) as f:
            return int(json.load(f)["working_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_model(model=None):
    """(Keras training model, preset config or {}): ``kcolor.presets.load_model``."""
    from kcolor import presets

    return presets.load_model(model)


def gray_rgb(rgb):
    """The lightness of ``rgb`` (uint8) as a gray uint8 RGB image (a = b = 0)."""
    lab = color.gray_lab(rgb.astype(np.float32) / 255.0, np)
    return np.round(color.lab_to_rgb(lab, np) * 255).astype(np.uint8)


def _resize(x, h, w):
    """Bilinear resize of float [H, W, C] to [h, w, C], channel by channel."""
    chans = [
        np.asarray(Image.fromarray(x[..., c].astype(np.float32), "F").resize((w, h), Image.BILINEAR))
        for c in range(x.shape[-1])
    ]
    return np.stack(chans, -1)


FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF",
           ".webp": "WEBP", ".bmp": "BMP"}


def read_photo(path):
    """(RGB uint8, alpha uint8 or None) with EXIF orientation applied."""
    return imageio.read_rgb_alpha(path)


def write_atomic(rgb, alpha, path):
    """Saves to ``path`` via a temporary file and rename: never a partial file."""
    ext = os.path.splitext(path)[1].lower()
    fmt = FORMATS.get(ext)
    if fmt is None:
        raise ValueError(f"{path}: unsupported output format {ext!r}")
    im = Image.fromarray(rgb)
    if alpha is not None and fmt in ("PNG", "TIFF", "WEBP"):
        im.putalpha(Image.fromarray(alpha))
    with atomic.open_atomic(path, "wb", ext) as f:
        im.save(f, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
