"""Colorization metrics, written in ``keras.ops``; each returns one value per image.

* ``psnr``, ``ssim``: on sRGB in [0, 1] ([batch, h, w, 3]); the same
  definitions as ``tf.image.psnr`` / ``tf.image.ssim`` (11 x 11 Gaussian
  window, σ = 1.5, K1 = 0.01, K2 = 0.03, valid padding).
* ``auc``: Zhang et al.'s raw accuracy AuC: the fraction of pixels whose ab
  error (L2 in ab) is within t, for integer t in [0, 150], averaged over t and
  scaled to 100 (100 = every pixel exact).
* ``colorfulness``: Hasler & Süsstrunk (2003) on sRGB scaled to 0-255:
  sqrt(σ_rg² + σ_yb²) + 0.3·sqrt(μ_rg² + μ_yb²), rg = R - G,
  yb = (R + G)/2 - B. 0 for a gray image.

``PSNR``, ``SSIM`` wrap the first two as Keras metrics for ``compile``.
"""

import keras
import numpy as np
from keras import ops


def _flat(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


def psnr(rgb_true, rgb_pred, max_val=1.0):
    mse = ops.mean(_flat(ops.square(rgb_true - rgb_pred)), axis=-1)
    return 10.0 * ops.log(max_val**2 / ops.maximum(mse, 1e-12)) / np.log(10.0)


def _gaussian_kernel(channels, size=11, sigma=1.5):
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2 * sigma**2))
    g = np.outer(g, g)
    g /= g.sum()
    return np.tile(g[:, :, None, None], (1, 1, channels, 1)).astype(np.float32)


def ssim(rgb_true, rgb_pred, max_val=1.0, filter_size=11, sigma=1.5, k1=0.01, k2=0.03):
    x = ops.convert_to_tensor(rgb_true, "float32")
    y = ops.convert_to_tensor(rgb_pred, "float32")
    kernel = _gaussian_kernel(x.shape[-1], filter_size, sigma)

    def blur(t):
        return ops.depthwise_conv(t, kernel, strides=1, padding="valid")

    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    return ops.mean(_flat(lum * cs), axis=-1)


def auc(ab_true, ab_pred, max_threshold=150):
    err = ops.sqrt(ops.sum(ops.square(ab_true - ab_pred), axis=-1))
    # Number of integer thresholds t in [0, max] with err <= t.
    hits = ops.clip(max_threshold + 1 - ops.ceil(err), 0.0, max_threshold + 1.0)
    return 100.0 * ops.mean(_flat(hits), axis=-1) / (max_threshold + 1)


def colorfulness(rgb):
    rgb = 255.0 * ops.convert_to_tensor(rgb, "float32")
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = _flat(r - g), _flat(0.5 * (r + g) - b)
    std = ops.sqrt(ops.var(rg, axis=-1) + ops.var(yb, axis=-1))
    mean = ops.sqrt(ops.square(ops.mean(rg, axis=-1)) + ops.square(ops.mean(yb, axis=-1)))
    return std + 0.3 * mean


@keras.saving.register_keras_serializable(package="kcolor")
class PSNR(keras.metrics.MeanMetricWrapper):
    def __init__(self, name="psnr", dtype=None):
        super().__init__(psnr, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="kcolor")
class SSIM(keras.metrics.MeanMetricWrapper):
    def __init__(self, name="ssim", dtype=None):
        super().__init__(ssim, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


NAMES = ("psnr", "ssim", "auc", "colorfulness")


def all_metrics(rgb_true, lab_true, rgb_pred, lab_pred):
    """Dict of per-image numpy arrays for the four metrics above."""
    out = {
        "psnr": psnr(rgb_true, rgb_pred),
        "ssim": ssim(rgb_true, rgb_pred),
        "auc": auc(lab_true[..., 1:], lab_pred[..., 1:]),
        "colorfulness": colorfulness(rgb_pred),
    }
    return {k: ops.convert_to_numpy(v) for k, v in out.items()}
