"""The Zhang-ECCV16-style colorizer (the ``small`` preset) with a width multiplier.

``build_colorizer`` returns a functional Keras model from L ([batch, h, w, 1],
Lab lightness 0-100, h and w divisible by ``STRIDE_MULTIPLE``) to a prediction
at 1/``OUTPUT_STRIDE`` resolution: bin logits (``head="classification"``) or ab
in Lab units (``head="regression"``). ``kcolor.decode`` turns either into
full-resolution ab.

Backbone (channel counts at width 1.0, as in Zhang et al. 2016):
conv1 64x2 (/2) · conv2 128x2 (/2) · conv3 256x3 (/2) · conv4 512x3 ·
conv5 512x3 dilation 2 · conv6 512x3 dilation 2 · conv7 512x3 ·
conv8 transposed 256 (x2) + 256x2 → features at 1/4 resolution.
Each of conv1-7 ends with batch norm. Width 1.0 ≈ 32 M parameters; 0.25 ≈ 2 M.
"""

import keras
from keras import layers

from kcolor import bins

OUTPUT_STRIDE = 4
STRIDE_MULTIPLE = 8  # input sides must be divisible by this

_BLOCKS = (  # (name, channels, convs, last stride, dilation)
    ("conv1", 64, 2, 2, 1),
    ("conv2", 128, 2, 2, 1),
    ("conv3", 256, 3, 2, 1),
    ("conv4", 512, 3, 1, 1),
    ("conv5", 512, 3, 1, 2),
    ("conv6", 512, 3, 1, 2),
    ("conv7", 512, 3, 1, 1),
)

HEADS = ("classification", "regression")


def _ch(n, width):
    return max(8, int(round(n * width / 8)) * 8)


def build_backbone(width=0.25, name="backbone"):
    """L [batch, h, w, 1] (0-100) → features [batch, h/4, w/4, C]."""
    L = keras.Input((None, None, 1), name="L")
    x = layers.Rescaling(1 / 50.0, offset=-1.0, name="normalize_L")(L)
    for block, channels, convs, stride, dilation in _BLOCKS:
        for i in range(convs):
            s = stride if i == convs - 1 else 1
            x = layers.Conv2D(
                _ch(channels, width), 3, strides=s, padding="same",
                dilation_rate=dilation, activation="relu", name=f"{block}_{i + 1}",
            )(x)
        x = layers.BatchNormalization(name=f"{block}_bn")(x)
    x = layers.Conv2DTranspose(
        _ch(256, width), 4, strides=2, padding="same", activation="relu", name="conv8_1"
    )(x)
    for i in (2, 3):
        x = layers.Conv2D(_ch(256, width), 3, padding="same", activation="relu", name=f"conv8_{i}")(x)
    return keras.Model(L, x, name=name)


def build_colorizer(head="classification", width=0.25, grid="zhang", name=None):
    """The training model: L → logits [h/4, w/4, Q] or ab [h/4, w/4, 2].

    Args:
      head: ``"classification"`` (bin logits) or ``"regression"`` (ab).
      width: channel multiplier of the backbone.
      grid: ab grid of the classification head (``"zhang"`` or ``"seed23"``).
    """
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}: use one of {HEADS}")
    backbone = build_backbone(width)
    L = keras.Input((None, None, 1), name="L")
    x = backbone(L)
    if head == "classification":
        q = bins.get_grid(grid).num_bins
        out = layers.Conv2D(q, 1, name="logits")(x)
    else:
        out = layers.Conv2D(2, 1, name="ab_normalized")(x)
        out = layers.Rescaling(110.0, name="ab")(out)
    return keras.Model(L, out, name=name or f"colorizer_{head}")
