"""From a network's low-resolution prediction to full-resolution ab and RGB.

``DecodeAb`` is a serializable layer, so the decoding goes into saved and
exported models: bin logits → annealed mean (temperature T), or ab as is →
optional saturation gain → bilinear upsampling to the size of the input L.
``build_inference_model`` wraps a training model with it: L → ab at L's size.
"""

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


@keras.saving.register_keras_serializable(package="kcolor")
class DecodeAb(keras.layers.Layer):
    """[prediction, L] → ab [batch, H, W, 2] at the size of L.

    Args:
      temperature: annealed-mean temperature for logits (0.38 as in Zhang et
        al.; 1 = mean, 0 = mode). Ignored for regression predictions.
      saturation: multiplies ab (1 = as predicted).
    """

    def __init__(self, temperature=0.38, saturation=1.0, **kwargs):
        super().__init__(**kwargs)
        self.temperature = float(temperature)
        self.saturation = float(saturation)

    def call(self, prediction, L):
        ab = prediction
        if prediction.shape[-1] != 2:
            grid = bins.get_grid(prediction.shape[-1])
            ab = grid.annealed_mean(prediction, self.temperature)
        ab = ab * self.saturation
        return resize_bilinear(ab, tuple(ops.shape(L)[1:3]))

    def compute_output_shape(self, prediction_shape, L_shape):
        return tuple(L_shape[:3]) + (2,)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "saturation": self.saturation}


def build_inference_model(model, temperature=0.38, saturation=1.0):
    """L [batch, H, W, 1] → ab [batch, H, W, 2] (H, W divisible by 8)."""
    L = keras.Input((None, None, 1), name="L")
    ab = DecodeAb(temperature, saturation, name="decode_ab")(model(L), L)
    return keras.Model(L, ab, name="colorizer_inference")


def lab_from_L_ab(L, ab):
    return ops.concatenate([L, ab], axis=-1)


def rgb_from_L_ab(L, ab):
    """sRGB [0, 1] from L [..., 1] and ab [..., 2]; out-of-gamut clipped."""
    return color.lab_to_rgb(lab_from_L_ab(L, ab))
