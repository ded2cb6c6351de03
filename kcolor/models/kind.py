"""The plain kind: colorizers that take L alone (``kcolor.kinds``).

* ``zhang``: the Zhang-ECCV16-style network (``small``);
* ``unet_lite0/1/2``: the U-Net on an EfficientNet-Lite encoder (``lite``).

Built by ``kcolor.models.build``; a preset stores every weight; called and
exported as ``kcolor.decode.build_inference_model`` (L → decoded ab).
"""

from kcolor import kinds


class PlainKind(kinds.Kind):
    name = "plain"

    def owns_arch(self, arch):
        return arch == "zhang" or arch.startswith("unet_lite")

    def owns_model(self, model):
        return True  # the fallback: a model no conditioned kind claims

    def build(self, arch, head="classification", width=0.25, grid="zhang", name=None, **kwargs):
        from kcolor import models

        return models.build(arch, head, width, grid, name=name, **kwargs)

    def build_kwargs(self, model):
        from kcolor import models
        from kcolor.models import unet

        return unet.build_kwargs(model) if models.is_lite(model) else None

    def plain_inference(self, model, decoding):
        from kcolor import decode

        return decode.build_inference_model(model, **decoding.as_dict())


KIND = kinds.register(PlainKind())
