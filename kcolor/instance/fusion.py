"""Crop-and-resize, its inverse (paste), and the fusion of instance features.

Boxes are [batch, K, 4] normalised ``(x0, y0, x1, y1)`` (0 = left/top edge
of the image, 1 = right/bottom edge), ``valid`` [batch, K] is 1 for a real
box and 0 for padding; K (``max_boxes``) is static.

Both resamplings are separable, so each is two batched matrix products
with interpolation matrices built from the boxes (``interpolation_matrix``):
differentiable, backend-agnostic (``keras.ops`` only) and exact for
axis-aligned boxes. Sampling positions follow the half-pixel convention of
``tf.image.resize``; the kernel is a triangle (bilinear) widened by the
downscaling factor when it shrinks (antialiasing), rows normalised to 1.
"""

import keras
from keras import layers, ops

NEG = -1e9  # the weight logit of an instance outside its box or of padding


def interpolation_matrix(start, end, n_out, n_in, inverse=False):
    """Bilinear resampling weights [..., n_out, n_in].

    ``inverse=False`` (crop): output sample ``o`` of ``n_out`` spread over
    ``[start, end]`` (normalised) of an input axis of ``n_in`` pixels.
    ``inverse=True`` (paste): output ``o`` is a pixel of an ``n_out`` axis
    and reads the ``n_in`` crop samples that span ``[start, end]``.
    The kernel is cut at the input's edges (rows renormalised), so an edge
    pixel is repeated outward; a row that reaches no input pixel is all 0.
    """
    start = ops.expand_dims(ops.cast(start, "float32"), -1)
    end = ops.expand_dims(ops.cast(end, "float32"), -1)
    n_out_f = ops.cast(n_out, "float32")
    n_in_f = ops.cast(n_in, "float32")
    o = ops.cast(ops.arange(n_out), "float32")
    span = ops.maximum(end - start, 1e-6)
    if inverse:
        t = (o + 0.5) / n_out_f  # normalised centre of output pixel o
        p = (t - start) / span * n_in_f - 0.5
        scale = ops.maximum(n_in_f / (span * n_out_f), 1.0)
    else:
        p = (start + (o + 0.5) / n_out_f * span) * n_in_f - 0.5
        scale = ops.maximum(span * n_in_f / n_out_f, 1.0)
    i = ops.cast(ops.arange(n_in), "float32")
    w = ops.relu(1.0 - ops.abs(ops.expand_dims(p, -1) - i) / ops.expand_dims(scale, -1))
    return w / ops.maximum(ops.sum(w, axis=-1, keepdims=True), 1e-12)


def _split(boxes):
    return boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]


def crop_boxes(images, boxes, size):
    """[B, H, W, C] and boxes [B, K, 4] → crops [B, K, size, size, C]."""
    x0, y0, x1, y1 = _split(boxes)
    shape = ops.shape(images)
    ry = interpolation_matrix(y0, y1, size, shape[1])  # [B, K, s, H]
    rx = interpolation_matrix(x0, x1, size, shape[2])  # [B, K, s, W]
    rows = ops.einsum("bkoy,byxc->bkoxc", ry, images)
    return ops.einsum("bkpx,bkoxc->bkopc", rx, rows)


def paste_boxes(crops, boxes, height, width):
    """Crops [B, K, h, w, C] → [B, K, height, width, C]: each resized into its
    box on the ``height`` x ``width`` grid (values outside the box are
    meaningless: mask them with ``box_masks``)."""
    x0, y0, x1, y1 = _split(boxes)
    shape = ops.shape(crops)
    ry = interpolation_matrix(y0, y1, height, shape[2], inverse=True)  # [B, K, H, h]
    rx = interpolation_matrix(x0, x1, width, shape[3], inverse=True)  # [B, K, W, w]
    rows = ops.einsum("bkyi,bkijc->bkyjc", ry, crops)
    return ops.einsum("bkxj,bkyjc->bkyxc", rx, rows)


def box_masks(boxes, valid, height, width):
    """[B, K, height, width] booleans: pixel centre inside a valid box."""
    x0, y0, x1, y1 = _split(boxes)

    def inside(start, end, n):
        t = (ops.cast(ops.arange(n), "float32") + 0.5) / ops.cast(n, "float32")
        return ops.logical_and(t >= ops.expand_dims(start, -1), t < ops.expand_dims(end, -1))

    my = inside(y0, y1, height)  # [B, K, H]
    mx = inside(x0, x1, width)  # [B, K, W]
    m = ops.logical_and(ops.expand_dims(my, -1), ops.expand_dims(mx, -2))
    ok = ops.reshape(ops.greater(ops.cast(valid, "float32"), 0.5), ops.shape(valid) + (1, 1))
    return ops.logical_and(m, ok)


@keras.saving.register_keras_serializable(package="kcolor")
class CropBoxes(layers.Layer):
    """[L [B, H, W, C], boxes [B, K, 4]] → crops [B·K, size, size, C]
    (box-major within each image), for a branch that sees every crop."""

    def __init__(self, size=64, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, images, boxes):
        crops = crop_boxes(images, boxes, self.size)
        return ops.reshape(crops, (-1, self.size, self.size, crops.shape[-1]))

    def compute_output_shape(self, images_shape, boxes_shape):
        n, k = images_shape[0], boxes_shape[1]
        b = None if n is None or k is None else n * k
        return (b, self.size, self.size, images_shape[-1])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="kcolor")
class WeightNet(layers.Layer):
    """Feature map → one weight logit per pixel: a small conv stack
    (3x3 ``hidden``, ReLU, 3x3 ``hidden``, ReLU, 3x3 → 1), as the seed's
    fusion modules."""

    def __init__(self, hidden=16, **kwargs):
        super().__init__(**kwargs)
        self.hidden = int(hidden)
        self.conv1 = layers.Conv2D(self.hidden, 3, padding="same", activation="relu", name="conv1")
        self.conv2 = layers.Conv2D(self.hidden, 3, padding="same", activation="relu", name="conv2")
        self.conv3 = layers.Conv2D(1, 3, padding="same", name="conv3")

    def build(self, input_shape):
        self.conv1.build(input_shape)
        self.conv2.build(tuple(input_shape[:-1]) + (self.hidden,))
        self.conv3.build(tuple(input_shape[:-1]) + (self.hidden,))

    def call(self, x):
        return self.conv3(self.conv2(self.conv1(x)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}


@keras.saving.register_keras_serializable(package="kcolor")
class FuseInstances(layers.Layer):
    """Blends full-image features with instance features pasted into their boxes.

    Inputs: ``full`` [B, h, w, C]; ``instances`` [B·K, hc, wc, C] (the
    instance branch on ``CropBoxes`` crops); ``boxes`` [B, K, 4]; ``valid``
    [B, K]. Each branch's ``WeightNet`` predicts a weight logit map (the
    instance one on the crop, pasted with its features); an instance's logit
    is ``NEG`` outside its box and for padding; a softmax over the 1 + K
    logits at each pixel gives weights that sum to 1, and the output is
    the weighted sum of the full-image features and the pasted instance
    features. With no valid box every pixel weights the full image by
    exactly 1, so the output is ``full`` itself.

    ``call(..., return_weights=True)`` returns (features, weights [B, 1+K, h, w]).
    """

    def __init__(self, hidden=16, **kwargs):
        super().__init__(**kwargs)
        self.hidden = int(hidden)
        self.full_weight = WeightNet(self.hidden, name="full_weight")
        self.instance_weight = WeightNet(self.hidden, name="instance_weight")

    def build(self, full_shape, instances_shape=None, boxes_shape=None, valid_shape=None):
        self.full_weight.build(full_shape)
        self.instance_weight.build(instances_shape if instances_shape is not None else full_shape)

    def call(self, full, instances, boxes, valid, return_weights=False):
        k = boxes.shape[1]
        shape = ops.shape(full)
        h, w = shape[1], shape[2]
        logit_full = self.full_weight(full)  # [B, h, w, 1]
        inst = ops.concatenate([instances, self.instance_weight(instances)], axis=-1)
        ishape = ops.shape(inst)
        inst = ops.reshape(inst, (-1, k, ishape[1], ishape[2], ishape[3]))
        pasted = paste_boxes(inst, boxes, h, w)  # [B, K, h, w, C + 1]
        mask = box_masks(boxes, valid, h, w)
        logit_inst = ops.where(mask, pasted[..., -1], NEG)
        logits = ops.concatenate([ops.expand_dims(logit_full[..., 0], 1), logit_inst], axis=1)
        weights = ops.softmax(logits, axis=1)  # [B, 1 + K, h, w]
        out = full * ops.expand_dims(weights[:, 0], -1)
        out = out + ops.sum(ops.expand_dims(weights[:, 1:], -1) * pasted[..., :-1], axis=1)
        return (out, weights) if return_weights else out

    def compute_output_shape(self, full_shape, *args, **kwargs):
        return tuple(full_shape)

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}
