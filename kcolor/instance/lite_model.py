"""The instance-aware U-Net colorizer: the default ``lite`` network on the
whole photo, a second copy of it on each detected box, fused in the decoder.

    L ─► full encoder ─► dec16 ─► fuse ─► dec8 ─► fuse ─► dec4 ─► fuse ─► head ─► ab
    │                             ▲               ▲               ▲
    └► CropBoxes ─► instance encoder ─► dec16 ──► dec8 ─────────► dec4
       (K crops, crop_size²)

* **Branches**: two copies of ``kcolor.models.unet``'s network, each split
  into sub-models ``{branch}_encoder`` (normalize_L + EfficientNet-Lite, the
  five skip taps), ``{branch}_dec16``/``_dec8``/``_dec4`` (one decoder stage
  each: bilinear ×2, concatenate the skip, two conv-BN-ReLU) and, for the
  full branch, ``full_head``. Their layers carry the U-Net's names, so
  weights move by name from an ordinary ``unet_lite`` colorizer
  (``load_branch``): both branches start from the same preset.
* **Fusion** (``kcolor.instance.fusion.FuseInstances``, as the Zhang-style
  instance model): after each decoder stage named in ``fusion_points``, the
  full-image features become a per-pixel softmax blend of themselves and the
  instance features pasted into their boxes. With no valid box the full
  image's weight is exactly 1, so the output is the full branch's: the
  ordinary colorizer it was loaded from, bit for bit.
* Why fuse in the decoder only: the encoder is the ImageNet network both
  branches share the weights of; the decoder stages are where colour is
  decided, at strides 16, 8 and 4 (the output's).

The inputs are those of ``kcolor.instance.model`` (``L``, ``boxes``,
``valid``), so ``Colorizer``, ``kcolor colorize --instances`` and the
SavedModel's ``colorize_with_boxes`` take either kind of instance model.
"""

import keras
from keras import layers

from kcolor.instance import fusion
from kcolor.models import efficientnet_lite, unet

STAGES = ("dec16", "dec8", "dec4")
DEFAULT_MAX_BOXES = 4
DEFAULT_CROP_SIZE = 128
ARCH_PREFIX = "instance_"  # preset arch "instance_unet_lite0" (kcolor.models.build)


def _encoder(variant, gray_stem, prefix):
    L = keras.Input((None, None, 1), name=f"{prefix}_L")
    gray = layers.Rescaling(2.55 / 128.0, offset=-127.0 / 128.0, name="normalize_L")(L)
    if not gray_stem:
        gray = layers.Concatenate(name="gray_rgb")([gray, gray, gray])
    encoder = efficientnet_lite.build_efficientnet_lite(variant, input_channels=1 if gray_stem else 3)
    return keras.Model(L, encoder(gray), name=f"{prefix}_encoder")


def _stage(stride, channels, in_channels, skip_channels, prefix):
    x_in = keras.Input((None, None, in_channels), name=f"{prefix}_dec{stride}_x")
    skip = keras.Input((None, None, skip_channels), name=f"{prefix}_dec{stride}_skip")
    x = unet.Upsample2x(name=f"up{stride}")(x_in)
    x = layers.Concatenate(name=f"skip{stride}")([x, skip])
    x = unet._conv_bn_relu(x, channels, f"dec{stride}_a")
    x = unet._conv_bn_relu(x, channels, f"dec{stride}_b")
    return keras.Model([x_in, skip], x, name=f"{prefix}_dec{stride}")


def _head(in_channels):
    x_in = keras.Input((None, None, in_channels), name="full_head_x")
    x = layers.Conv2D(2, 1, kernel_initializer="zeros", name="ab_normalized")(x_in)
    x = layers.Activation("tanh", name="ab_tanh")(x)
    return keras.Model(x_in, layers.Rescaling(110.0, name="ab")(x), name="full_head")


def _branch(variant, decoder, gray_stem, prefix):
    encoder = _encoder(variant, gray_stem, prefix)
    taps = [int(t.shape[-1]) for t in encoder.outputs]  # strides 2 ... 32
    stages, channels = [], taps[4]
    for i, (stride, c) in enumerate(zip((16, 8, 4), decoder)):
        stages.append(_stage(stride, c, channels, taps[3 - i], prefix))
        channels = c
    return encoder, stages, channels


def build_lite_instance_colorizer(variant=0, decoder=unet.DECODER, gray_stem=True,
                                  max_boxes=DEFAULT_MAX_BOXES, crop_size=DEFAULT_CROP_SIZE,
                                  fusion_points=STAGES, fusion_hidden=16,
                                  name="lite_instance_colorizer"):
    """Inputs ``L`` [B, H, W, 1] (0-100, sides divisible by 32), ``boxes``
    [B, max_boxes, 4] normalised (x0, y0, x1, y1), ``valid`` [B, max_boxes]
    → ab [B, H/4, W/4, 2] in Lab units (a regression U-Net's output).

    ``decoder``: the U-Net's three decoder widths (stride 4 output only).
    ``crop_size`` (divisible by 32): the side each box is resized to for the
    instance branch. ``fusion_points``: after which decoder stages to fuse.
    """
    decoder = tuple(int(c) for c in decoder)
    if len(decoder) != 3:
        raise ValueError(f"decoder {decoder}: the instance-aware U-Net takes 3 stages "
                         "(strides 16, 8, 4)")
    unknown = sorted(set(fusion_points) - set(STAGES))
    if unknown or not fusion_points:
        raise ValueError(f"fusion_points {list(fusion_points)}: use some of {STAGES}")
    if crop_size % 32:
        raise ValueError(f"crop_size {crop_size} must be divisible by 32")
    L = keras.Input((None, None, 1), name="L")
    boxes = keras.Input((max_boxes, 4), name="boxes")
    valid = keras.Input((max_boxes,), name="valid")
    crops = fusion.CropBoxes(crop_size, name="crop_boxes")(L, boxes)
    f_enc, f_stages, channels = _branch(variant, decoder, gray_stem, "full")
    i_enc, i_stages, _ = _branch(variant, decoder, gray_stem, "instance")
    ft, it = f_enc(L), i_enc(crops)
    f, i = ft[4], it[4]
    for k, (fs, is_, stage) in enumerate(zip(f_stages, i_stages, STAGES)):
        f, i = fs([f, ft[3 - k]]), is_([i, it[3 - k]])
        if stage in fusion_points:
            f = fusion.FuseInstances(fusion_hidden, name=f"fuse_{stage}")(f, i, boxes, valid)
    out = _head(channels)(f)
    return keras.Model([L, boxes, valid], out, name=name)


def build_kwargs(model):
    """What ``build_lite_instance_colorizer`` needs to rebuild ``model`` (a preset records it)."""
    encoder = model.get_layer("full_encoder")
    lite = next(l for l in encoder.layers if l.name.startswith("efficientnet_lite"))
    return {
        "decoder": [int(model.get_layer(f"full_{s}").get_layer(f"{s}_b_conv").filters)
                    for s in STAGES],
        "gray_stem": int(lite.inputs[0].shape[-1]) == 1,
        "max_boxes": int(model.inputs[1].shape[1]),
        "crop_size": int(model.get_layer("crop_boxes").size),
        "fusion_points": [s for s in STAGES if _has(model, f"fuse_{s}")],
        "fusion_hidden": next(int(l.hidden) for l in model.layers
                              if isinstance(l, fusion.FuseInstances)),
    }


def _has(model, name):
    try:
        model.get_layer(name)
        return True
    except ValueError:
        return False


def is_lite_instance_model(model):
    return _has(model, "full_encoder") and _has(model, "instance_encoder")


def _weighted(model):
    """{layer name: layer} with weights inside a sub-model (one level of
    nesting: the EfficientNet encoder counts as one layer)."""
    return {l.name: l for l in model.layers if l.weights}


def branch_layers(model, branch):
    """{U-Net layer name: layer} of ``branch`` ("full" or "instance"); the
    full branch includes the head."""
    out = _weighted(model.get_layer(f"{branch}_encoder"))
    for stage in STAGES:
        out.update(_weighted(model.get_layer(f"{branch}_{stage}")))
    if branch == "full":
        out.update(_weighted(model.get_layer("full_head")))
    return out


def colorizer_layers(colorizer):
    """{layer name: layer} with weights of an ordinary U-Net colorizer."""
    return _weighted(colorizer)


def load_branch(model, branch, colorizer):
    """Copies an ordinary U-Net colorizer's weights (a model, a ``.keras``
    path or a preset name) into ``branch``; the instance branch has no head."""
    if isinstance(colorizer, str):
        from kcolor import presets

        colorizer, _ = presets.load_model(colorizer)
    from kcolor.instance import model as zhang_instance

    zhang_instance.copy_layers(colorizer_layers(colorizer), branch_layers(model, branch),
                               f"{getattr(colorizer, 'name', colorizer)}", branch,
                               "a U-Net colorizer of the same variant and decoder?")


def full_branch(model):
    """The full-image branch alone, L → ab: the ordinary colorizer it computes
    (shares the layers and weights of ``model``)."""
    L = keras.Input((None, None, 1), name="L")
    t = model.get_layer("full_encoder")(L)
    x = t[4]
    for k, stage in enumerate(STAGES):
        x = model.get_layer(f"full_{stage}")([x, t[3 - k]])
    return keras.Model(L, model.get_layer("full_head")(x), name="full_branch")


def set_trainable(model, full=False, instance=True):
    """Freezes or unfreezes each branch; fusion layers stay trainable.
    A frozen branch's batch norms run in inference mode."""
    for layer in model.layers:
        if layer.name.startswith("full_"):
            layer.trainable = full
        elif layer.name.startswith("instance_"):
            layer.trainable = instance
