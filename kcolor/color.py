"""sRGB <-> CIE Lab (D65, 2 degree observer), differentiable and exportable.

Every function is written against a numpy-like namespace ``xp`` so one piece of
colour science serves three places:

* ``keras.ops`` (the default): inside models and losses, on any Keras backend,
  differentiable, and traced into exported SavedModel / TFLite graphs;
* ``tf.experimental.numpy``: inside ``tf.data`` pipelines, whatever the Keras
  backend is (``kcolor.data`` passes it);
* ``numpy``: offline tools such as the colour prior.

Conventions: sRGB is float in [0, 1] with channels on the last axis; Lab has L
in [0, 100] and a, b roughly in [-128, 127].

Keras is imported only when a function falls back to ``keras.ops``, so the
numpy path (``xp=numpy``) works where Keras and TensorFlow are not installed
(``kcolor.lite``).
"""

import numpy as np

# sRGB (linear) -> XYZ, D65. The rows sum to the D65 white point, so sRGB white
# maps to L = 100, a = b = 0 exactly.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float64,
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float64)

_EPS = 6.0 / 29.0
_KAPPA = 3.0 * _EPS**2  # slope of the linear segment of f^-1


def _namespace(xp):
    if xp is not None:
        return xp
    import keras

    return keras.ops


def _srgb_to_linear(c, xp):
    # max() keeps power() away from 0, so its gradient stays finite.
    return xp.where(
        c <= 0.04045,
        c / 12.92,
        xp.power((xp.maximum(c, 0.04045) + 0.055) / 1.055, 2.4),
    )


def _linear_to_srgb(c, xp):
    return xp.where(
        c <= 0.0031308,
        12.92 * c,
        1.055 * xp.power(xp.maximum(c, 0.0031308), 1.0 / 2.4) - 0.055,
    )


def _f(t, xp):
    return xp.where(
        t <= _EPS**3,
        t / _KAPPA + 4.0 / 29.0,
        xp.power(xp.maximum(t, _EPS**3), 1.0 / 3.0),
    )


def _f_inv(t, xp):
    return xp.where(t <= _EPS, _KAPPA * (t - 4.0 / 29.0), t * t * t)


def rgb_to_lab(rgb, xp=None):
    """Converts sRGB in [0, 1] (last axis 3) to CIE Lab (D65).

    Args:
      rgb: float tensor [..., 3]. Values outside [0, 1] are clipped.
      xp: numpy-like namespace; defaults to ``keras.ops``.

    Returns:
      Tensor [..., 3]: L in [0, 100], then a and b.
    """
    xp = _namespace(xp)
    rgb = xp.clip(rgb, 0.0, 1.0)
    lin = _srgb_to_linear(rgb, xp)
    m = (_RGB_TO_XYZ / WHITE_D65[:, None]).T.astype(np.float32)
    xyz = _f(xp.matmul(lin, m), xp)  # normalised by the white point
    fx, fy, fz = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    return xp.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], -1)


def lab_to_rgb(lab, xp=None):
    """Converts CIE Lab (D65) to sRGB in [0, 1], clipping out-of-gamut colours.

    Args:
      lab: float tensor [..., 3] (L, a, b).
      xp: numpy-like namespace; defaults to ``keras.ops``.

    Returns:
      Tensor [..., 3] in [0, 1].
    """
    xp = _namespace(xp)
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (L + 16.0) / 116.0
    f = xp.stack([fy + a / 500.0, fy, fy - b / 200.0], -1)
    m = (_XYZ_TO_RGB * WHITE_D65[None, :]).T.astype(np.float32)
    lin = xp.matmul(_f_inv(f, xp), m)
    return xp.clip(_linear_to_srgb(xp.clip(lin, 0.0, 1.0), xp), 0.0, 1.0)


def l_and_ab(lab):
    """Splits a Lab tensor into (L [..., 1], ab [..., 2])."""
    return lab[..., :1], lab[..., 1:]


def gray_lab(rgb, xp=None):
    """The gray version of a colour image in Lab: its L with a = b = 0."""
    xp = _namespace(xp)
    lab = rgb_to_lab(rgb, xp)
    return xp.concatenate([lab[..., :1], xp.zeros_like(lab[..., 1:])], -1)
