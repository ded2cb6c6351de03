"""From a network's low-resolution prediction to full-resolution ab and RGB.

``DecodeAb`` is a serializable layer, so the decoding goes into saved and
exported models: bin logits → annealed mean (temperature T), or ab as is →
optional saturation (``saturate``) → bilinear upsampling to the size of the input L.
``build_inference_model`` wraps a training model with it: L → ab at L's size.
``Decoding`` holds the three settings (temperature, saturation,
mean_saturation) as one value, from a preset's config to the exported files.
"""

import dataclasses

import keras
from keras import ops

from kcolor import bins, color


def resize_bilinear(x, size):
    """``x`` [batch, h, w, c] resized to ``size`` (bilinear). When the size is
    known only while a TensorFlow graph runs (exported models, predict()
    after a change of size), ``ops.image.resize`` cannot take it (it tests
    the size in Python); ``tf.image.resize`` is the op it would call."""
    if not all(isinstance(s, int) for s in size):
        import tensorflow as tf

        return tf.image.resize(x, size, method="bilinear")
    return ops.image.resize(x, size, interpolation="bilinear")


def saturate(ab, saturation=1.0, mean_saturation=None, xp=ops):
    """ab [batch, h, w, 2] with more (or less) colour.

    With ``mean_saturation`` None: ab × ``saturation``, every colour pushed
    away from gray. Otherwise each photo's mean ab m is scaled by
    ``mean_saturation`` and each pixel's departure from it by
    ``saturation``: ``mean_saturation · m + saturation · (ab − m)``. A
    regression colorizer's mean colour is about right while its colours are
    too close to one another; scaling the departures (mean_saturation = 1)
    adds contrast between sky, foliage and skin without strengthening a
    photo-wide cast (the sepia of old prints), and costs less PSNR for the
    same colourfulness (docs/MODEL_CARD.md). ``xp``: ``keras.ops`` or numpy.
    """
    if mean_saturation is None or mean_saturation == saturation:
        return ab * saturation
    m = xp.mean(ab, axis=(1, 2), keepdims=True)
    return m * mean_saturation + (ab - m) * saturation


@dataclasses.dataclass(frozen=True)
class Decoding:
    """How a prediction becomes ab: the annealed-mean ``temperature`` (for
    classification heads) and the colour gain (``saturation``,
    ``mean_saturation``: see ``saturate``). One value travels from a preset's
    config to the inference model, the exports and their sidecar files."""

    temperature: float = 0.38
    saturation: float = 1.0
    mean_saturation: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "temperature", float(self.temperature))
        object.__setattr__(self, "saturation", float(self.saturation))
        if self.mean_saturation is not None:
            object.__setattr__(self, "mean_saturation", float(self.mean_saturation))

    @classmethod
    def from_config(cls, cfg, temperature=None, saturation=None):
        """A preset's (or a run's) decoding; ``temperature`` and
        ``saturation``, when given, override the config's. A preset's
        ``mean_saturation`` belongs to its saturation and is kept."""
        return cls(cfg.get("temperature", 0.38) if temperature is None else temperature,
                   cfg.get("saturation", 1.0) if saturation is None else saturation,
                   cfg.get("mean_saturation"))

    def as_dict(self):
        return dataclasses.asdict(self)


@keras.saving.register_keras_serializable(package="kcolor")
class DecodeAb(keras.layers.Layer):
    """[prediction, L] → ab [batch, H, W, 2] at the size of L.

    Args:
      temperature: annealed-mean temperature for logits (0.38 as in Zhang et
        al.; 1 = mean, 0 = mode). Ignored for regression predictions.
      saturation, mean_saturation: as ``saturate`` (1, None = as predicted).
    """

    def __init__(self, temperature=0.38, saturation=1.0, mean_saturation=None, **kwargs):
        super().__init__(**kwargs)
        self.temperature = float(temperature)
        self.saturation = float(saturation)
        self.mean_saturation = None if mean_saturation is None else float(mean_saturation)

    def call(self, prediction, L):
        ab = prediction
        if prediction.shape[-1] != 2:
            grid = bins.get_grid(prediction.shape[-1])
            ab = grid.annealed_mean(prediction, self.temperature)
        ab = saturate(ab, self.saturation, self.mean_saturation)
        return resize_bilinear(ab, tuple(ops.shape(L)[1:3]))

    def compute_output_shape(self, prediction_shape, L_shape):
        return tuple(L_shape[:3]) + (2,)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature,
                "saturation": self.saturation, "mean_saturation": self.mean_saturation}


def build_inference_model(model, temperature=0.38, saturation=1.0, mean_saturation=None):
    """L [batch, H, W, 1] → ab [batch, H, W, 2] (H, W divisible by 8)."""
    L = keras.Input((None, None, 1), name="L")
    ab = DecodeAb(temperature, saturation, mean_saturation, name="decode_ab")(model(L), L)
    return keras.Model(L, ab, name="colorizer_inference")


def lab_from_L_ab(L, ab):
    return ops.concatenate([L, ab], axis=-1)


def rgb_from_L_ab(L, ab):
    """sRGB [0, 1] from L [..., 1] and ab [..., 2]; out-of-gamut clipped."""
    return color.lab_to_rgb(lab_from_L_ab(L, ab))
