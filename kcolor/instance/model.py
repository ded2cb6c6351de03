"""The instance-aware colorizer: L, boxes, valid → logits (or ab) at 1/4.

Two copies of the library's backbone (``kcolor.models``) run side by side,
block by block: the full-image branch on L, the instance branch on the
crops of L in the boxes (``CropBoxes``, ``crop_size`` x ``crop_size``). After
each block named in ``fusion_blocks`` a ``FuseInstances`` layer replaces the
full-image features by their per-pixel blend with the instance features
pasted into their boxes; the instance branch goes on unchanged. The
full-image branch's head turns the last fused features into the output, so
with no valid box the model computes exactly the full-image model.

Each branch is a list of block sub-models named ``full_conv1`` ...
``full_conv8`` and ``instance_conv1`` ... whose layers carry the names of
``kcolor.models.build_backbone``, so weights move by name between this model
and ordinary colorizers (``load_branch``).
"""

import keras
from keras import layers

from kcolor import bins, decode, models
from kcolor.models import zhang
from kcolor.instance import fusion

BLOCK_NAMES = tuple(b[0] for b in zhang._BLOCKS) + ("conv8",)
INPUT_NAMES = ("L", "boxes", "valid")
DEFAULT_MAX_BOXES = 4
DEFAULT_CROP_SIZE = 64


def build_blocks(width=0.25, prefix="full"):
    """The backbone of ``models.build_backbone(width)`` as one sub-model per
    block (``{prefix}_conv1`` … ``{prefix}_conv8``), chained in order."""
    blocks, channels = [], 1
    for i, (block, ch, convs, stride, dilation) in enumerate(zhang._BLOCKS):
        x_in = keras.Input((None, None, channels), name=f"{prefix}_{block}_in")
        x = x_in
        if i == 0:
            x = layers.Rescaling(1 / 50.0, offset=-1.0, name="normalize_L")(x)
        for j in range(convs):
            s = stride if j == convs - 1 else 1
            x = layers.Conv2D(zhang._ch(ch, width), 3, strides=s, padding="same",
                              dilation_rate=dilation, activation="relu", name=f"{block}_{j + 1}")(x)
        x = layers.BatchNormalization(name=f"{block}_bn")(x)
        blocks.append(keras.Model(x_in, x, name=f"{prefix}_{block}"))
        channels = zhang._ch(ch, width)
    x_in = keras.Input((None, None, channels), name=f"{prefix}_conv8_in")
    x = layers.Conv2DTranspose(zhang._ch(256, width), 4, strides=2, padding="same",
                               activation="relu", name="conv8_1")(x_in)
    for j in (2, 3):
        x = layers.Conv2D(zhang._ch(256, width), 3, padding="same", activation="relu",
                          name=f"conv8_{j}")(x)
    blocks.append(keras.Model(x_in, x, name=f"{prefix}_conv8"))
    return blocks


def _head(head, grid, name):
    if head == "classification":
        return [layers.Conv2D(bins.get_grid(grid).num_bins, 1, name=f"{name}logits")]
    return [layers.Conv2D(2, 1, name=f"{name}ab_normalized"),
            layers.Rescaling(110.0, name=f"{name}ab")]


def build_instance_colorizer(head="classification", width=0.25, grid="seed23",
                             max_boxes=DEFAULT_MAX_BOXES, crop_size=DEFAULT_CROP_SIZE,
                             fusion_blocks=BLOCK_NAMES, fusion_hidden=16,
                             name="instance_colorizer"):
    """Inputs ``L`` [B, H, W, 1] (0-100, sides divisible by 8), ``boxes``
    [B, max_boxes, 4] normalised (x0, y0, x1, y1), ``valid`` [B, max_boxes]
    (1 = box, 0 = padding) → the full-image head's output [B, H/4, W/4, Q or 2].

    ``crop_size`` (divisible by 8): the side each box's crop is resized to for
    the instance branch. ``fusion_blocks``: after which blocks to fuse.
    """
    if head not in models.HEADS:
        raise ValueError(f"unknown head {head!r}: use one of {models.HEADS}")
    unknown = sorted(set(fusion_blocks) - set(BLOCK_NAMES))
    if unknown or not fusion_blocks:
        raise ValueError(f"fusion_blocks {list(fusion_blocks)}: use some of {BLOCK_NAMES}")
    if crop_size % models.STRIDE_MULTIPLE:
        raise ValueError(f"crop_size {crop_size} must be divisible by {models.STRIDE_MULTIPLE}")
    L = keras.Input((None, None, 1), name="L")
    boxes = keras.Input((max_boxes, 4), name="boxes")
    valid = keras.Input((max_boxes,), name="valid")
    crops = fusion.CropBoxes(crop_size, name="crop_boxes")(L, boxes)
    f, i = L, crops
    for fb, ib in zip(build_blocks(width, "full"), build_blocks(width, "instance")):
        f, i = fb(f), ib(i)
        block = fb.name[len("full_"):]
        if block in fusion_blocks:
            f = fusion.FuseInstances(fusion_hidden, name=f"fuse_{block}")(f, i, boxes, valid)
    for layer in _head(head, grid, "full_"):
        f = layer(f)
    return keras.Model([L, boxes, valid], f, name=name)


def is_instance_model(model):
    """True for a model whose inputs are (L, boxes, valid)."""
    names = [getattr(t, "name", "") for t in model.inputs]
    return len(names) == 3 and [n.split(":")[0] for n in names] == list(INPUT_NAMES)


def max_boxes(model):
    return int(model.inputs[1].shape[1])


def crop_size(model):
    return int(model.get_layer("crop_boxes").size)


def branch_layers(model, branch):
    """{layer name: layer} of ``branch`` ("full" or "instance") in an
    instance-aware model: backbone layers, plus the head for "full"."""
    out = {}
    for block in BLOCK_NAMES:
        for layer in model.get_layer(f"{branch}_{block}").layers:
            if layer.weights:
                out[layer.name] = layer
    if branch == "full":
        for layer in model.layers:
            if (layer.name.startswith("full_") and layer.weights
                    and not isinstance(layer, keras.Model)):
                out[layer.name[len("full_"):]] = layer
    return out


def colorizer_layers(colorizer):
    """{layer name: layer} with weights of an ordinary colorizer (backbone and head)."""
    out = {l.name: l for l in colorizer.get_layer("backbone").layers if l.weights}
    out.update({l.name: l for l in colorizer.layers if l.weights and l.name != "backbone"})
    return out


def load_branch(model, branch, colorizer):
    """Copies an ordinary colorizer's weights (``models.build_colorizer`` of
    the same width; a model or a ``.keras`` path) into ``branch``. The
    instance branch has no head, so the colorizer's head is skipped there."""
    if isinstance(colorizer, str):
        colorizer = keras.models.load_model(colorizer, compile=False)
    copy_layers(colorizer_layers(colorizer), branch_layers(model, branch),
                f"{getattr(colorizer, 'name', colorizer)}", branch, "same head and width?")


def copy_layers(src, dst, source, branch, hint):
    """Sets each layer of ``dst`` ({name: layer}) to the weights of the
    layer of the same name in ``src``; ValueError naming ``source``,
    ``branch`` and ``hint`` when one is missing or its shapes differ."""
    missing = sorted(set(dst) - set(src))
    if missing:
        raise ValueError(f"{source}: no layers {missing} for the {branch} branch ({hint})")
    for name, layer in dst.items():
        weights = src[name].get_weights()
        if [w.shape for w in weights] != [tuple(w.shape) for w in layer.weights]:
            raise ValueError(f"layer {name}: shapes {[w.shape for w in weights]} do not fit "
                             f"{[tuple(w.shape) for w in layer.weights]} ({hint})")
        layer.set_weights(weights)


def full_branch(model):
    """The full-image branch of ``model`` alone, as a model L → output: the
    ordinary colorizer it computes (shares its layers and weights)."""
    L = keras.Input((None, None, 1), name="L")
    x = L
    for block in BLOCK_NAMES:
        x = model.get_layer(f"full_{block}")(x)
    for layer in model.layers:
        if layer.name.startswith("full_") and not isinstance(layer, keras.Model):
            x = layer(x)
    return keras.Model(L, x, name="full_branch")


def set_branches_trainable(model, trainable):
    """Freezes (False) or unfreezes both branches; fusion layers stay trainable.
    Frozen batch norms run in inference mode."""
    for layer in model.layers:
        if isinstance(layer, keras.Model) or layer.name.startswith("full_"):
            layer.trainable = trainable


def build_inference_model(model, temperature=0.38, saturation=1.0, mean_saturation=None):
    """(L [B, H, W, 1], boxes [B, K, 4], valid [B, K]) → ab [B, H, W, 2]."""
    L = keras.Input((None, None, 1), name="L")
    k = max_boxes(model)
    boxes = keras.Input((k, 4), name="boxes")
    valid = keras.Input((k,), name="valid")
    decoder = decode.DecodeAb(temperature, saturation, mean_saturation, name="decode_ab")
    ab = decoder(model([L, boxes, valid]), L)
    return keras.Model([L, boxes, valid], ab, name="instance_colorizer_inference")
