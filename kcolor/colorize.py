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

    An instance-aware model (``kcolor.instance``; a ``.keras`` file, or a
    SavedModel with a ``colorize_with_boxes`` signature) takes boxes:
    ``colorize(images, boxes=[...])``, one [n, 4] array of normalised
    (x0, y0, x1, y1) a photo; ``instance_aware`` tells which.
    """

    def __init__(self, model=None, size=None, temperature=None, saturation=None):
        self.saturation = 1.0 if saturation is None else float(saturation)
        self.min_size = None  # None: every photo at self.size (see working_size)
        self.lite = None
        self.serving = None
        self.serving_boxes = None
        self.max_boxes = None  # boxes a photo the model takes; None: not instance-aware
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
        from kcolor.instance import model as instance_model

        if instance_model.is_instance_model(model):
            self.max_boxes = instance_model.max_boxes(model)
            self.inference = instance_model.build_inference_model(model, **decoding.as_dict())
            # Photos without boxes take the full-image branch alone: the
            # ordinary colorizer it holds (the same numbers, without the
            # instance branch's work on empty crops).
            self.plain = decode.build_inference_model(_full_branch(model), **decoding.as_dict())
        else:
            self.inference = decode.build_inference_model(model, **decoding.as_dict())

    def _init_lite(self, path, size, temperature):
        from kcolor import lite

        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such model file")
        if temperature is not None:
            raise ValueError(f"{path}: the temperature of a .tflite model is fixed at export")
        self.lite = lite.LiteRunner(path)
        if size and int(size) != self.lite.size:
            raise ValueError(f"{path}: this .tflite model works at {self.lite.size} px, not {size}")
        self.size = self.lite.size

    def _init_saved_model(self, path, size, temperature):
        """A SavedModel from ``kcolor export``: its serving_default signature.
        Temperature and saturation were fixed at export; the working size is
        the one the export recorded (``assets.extra/kcolor.json``), else
        ``size``, else 128 (exports made before it was recorded)."""
        import tensorflow as tf

        if temperature is not None:
            raise ValueError(f"{path}: the temperature of a SavedModel is fixed at export")
        loaded = tf.saved_model.load(path)
        self.serving = loaded.signatures["serving_default"]
        if "colorize_with_boxes" in loaded.signatures:
            self.serving_boxes = loaded.signatures["colorize_with_boxes"]
            self.max_boxes = int(self.serving_boxes.structured_input_signature[1]["boxes"].shape[1])
        self._loaded = loaded  # keeps the signatures' variables alive
        self.size = int(size or _recorded_working_size(path) or 128)

    @property
    def instance_aware(self):
        return self.max_boxes is not None

    def _padded_boxes(self, boxes, n):
        """(boxes [n, K, 4], valid [n, K]) from a list of [n_i, 4] (or None)."""
        from kcolor.instance import boxes as boxes_lib

        if boxes is None:
            boxes = [None] * n
        if len(boxes) != n:
            raise ValueError(f"{len(boxes)} box lists for {n} photos")
        return boxes_lib.pad_batch([np.zeros((0, 4)) if b is None else b for b in boxes],
                                   self.max_boxes)

    def predict_ab(self, L_batch, boxes=None):
        """ab [B, s, s, 2] for L [B, s, s, 1] at the working size; ``boxes``:
        one [n, 4] normalised array (or None) a photo, instance-aware models only."""
        if boxes is not None and not self.instance_aware and any(
                b is not None and len(b) for b in boxes):
            raise ValueError("this model is not instance-aware: it takes no boxes "
                             "(train one with recipes/instance_*.py, or use --instances=none)")
        if self.instance_aware:
            L = np.asarray(L_batch, np.float32)
            has = [b is not None and len(b) > 0 for b in (boxes or [None] * len(L))]
            if not any(has):
                return self._predict_plain(L)
            if not all(has):  # photos without boxes: the full-image branch alone
                ab = np.empty(L.shape[:3] + (2,), np.float32)
                idx = [i for i, h in enumerate(has) if h]
                rest = [i for i, h in enumerate(has) if not h]
                ab[idx] = self.predict_ab(L[idx], [boxes[i] for i in idx])
                ab[rest] = self._predict_plain(L[rest])
                return ab
            b, v = self._padded_boxes(boxes, len(L_batch))
            if self.serving_boxes is not None:
                import tensorflow as tf

                ab = self.serving_boxes(L=tf.constant(L), boxes=tf.constant(b),
                                        valid=tf.constant(v))["ab"]
                return ab.numpy() * self.saturation
            return np.asarray(self.inference.predict_on_batch([L, b, v]))
        if self.lite is not None:
            return self.lite.predict_ab(L_batch) * self.saturation
        if self.serving is not None:
            import tensorflow as tf

            ab = self.serving(L=tf.constant(np.asarray(L_batch, np.float32)))["ab"]
            return ab.numpy() * self.saturation
        return np.asarray(self.inference.predict_on_batch(np.asarray(L_batch, np.float32)))

    def _predict_plain(self, L):
        """ab of an instance-aware model for photos without boxes."""
        if self.serving is not None:  # serving_default: the full-image branch
            import tensorflow as tf

            return self.serving(L=tf.constant(L))["ab"].numpy() * self.saturation
        return np.asarray(self.plain.predict_on_batch(L))

    def working_size(self, h, w):
        """The side a photo of h x w is squashed to for the network: ``size``,
        or with a preset's ``min_size`` the photo's short side (down to the
        network's input multiple) between ``min_size`` and ``size``."""
        if not self.min_size:
            return self.size
        side = min(h, w) // self._multiple * self._multiple
        return int(min(self.size, max(self.min_size, side)))

    def _ab_at_sizes(self, Ls, boxes=None):
        """Yields, for each L [H, W, 1] of ``Ls`` (any sizes), ab [H, W, 2]:
        L squashed to its working size, colorized in one batch per working
        size, and the ab resized back to that L's size."""
        sizes = [self.working_size(L.shape[0], L.shape[1]) for L in Ls]
        abs_ = [None] * len(Ls)
        for s in sorted(set(sizes)):
            idx = [i for i, z in enumerate(sizes) if z == s]
            small = np.stack([_resize(Ls[i], s, s) for i in idx])
            part = None if boxes is None else [boxes[i] for i in idx]
            for i, ab in zip(idx, self.predict_ab(small, part)):
                abs_[i] = ab
        for i, ab in enumerate(abs_):
            abs_[i] = None
            yield _resize(ab, Ls[i].shape[0], Ls[i].shape[1])

    def predict_ab_at_size(self, L_batch, boxes=None):
        """ab at the size of ``L_batch`` [B, H, W, 1] (as ``colorize`` does)."""
        return np.stack(list(self._ab_at_sizes(np.asarray(L_batch, np.float32), boxes)))

    def colorize(self, rgb_images, boxes=None):
        """Colorizes a list of uint8 RGB arrays (any sizes); returns uint8 RGB.

        Full-size colour conversions run in strips of rows, so a photo costs
        its L (4 B/px), its upsampled ab (8 B/px) and the uint8 output
        (3 B/px) plus one strip's temporaries, not a dozen float32 copies.
        """
        Ls = [_lightness(im) for im in rgb_images]
        out = []
        for i, ab_full in enumerate(self._ab_at_sizes(Ls, boxes)):
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


def _full_branch(model):
    """The full-image branch of an instance-aware Keras model (either kind)."""
    from kcolor.instance import lite_model
    from kcolor.instance import model as instance_model

    if lite_model.is_lite_instance_model(model):
        return lite_model.full_branch(model)
    return instance_model.full_branch(model)


def load_model(model=None):
    """(Keras training model, preset config or {}) from a preset name (None:
    the default preset), a preset's ``.json`` path (its ``.npz`` beside it),
    a ``.keras`` path or a model object."""
    import keras

    from kcolor import presets
    from kcolor.instance import fusion  # noqa: F401 (registers the instance-aware layers)

    if model is None or (isinstance(model, str) and model in presets.names()):
        return presets.load(model or presets.DEFAULT)
    if isinstance(model, str):
        if not os.path.exists(model):
            raise FileNotFoundError(f"{model}: no such model file or preset")
        if model.endswith(".json"):
            folder, name = os.path.split(model)
            return presets.load(name[:-len(".json")], folder or ".")
        return keras.models.load_model(model, compile=False), {}
    return model, {}


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
