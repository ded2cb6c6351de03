"""The instance-aware kind (``kcolor.kinds``): everything the rest of kcolor
needs to know about instance-aware colorizers, in one place.

* **Built**: ``instance_unet_lite0`` presets are ``lite_model``'s U-Net
  (two ``lite`` branches fused in the decoder); ``.keras`` files may also
  hold the Zhang-style ``model.py`` network. Both take (L, boxes, valid).
* **Presets**: a preset with ``full_branch_from`` stores only the weights
  outside its full-image branch, which it takes from that preset.
* **Called**: ``predict_ab(L, boxes=[...])``, one [n, 4] normalised
  (x0, y0, x1, y1) array a photo; a photo without boxes takes the
  full-image branch alone (the ordinary colorizer it holds).
* **Exported**: the SavedModel's ``colorize_with_boxes`` signature; no
  TFLite (its files take no boxes).
* **Command line**: ``--instances=auto`` (the face detector) or a boxes
  file (``boxes.py``), with the ``lite_instances`` preset by default.
"""

import os

import numpy as np

from kcolor import kinds

ARCH_PREFIX = "instance_unet_lite"


class BoxesCondition(kinds.Condition):
    name = "boxes"
    flag = "instances"
    default_preset = "lite_instances"
    signature = "colorize_with_boxes"
    model_words = "an instance-aware model (recipes/instance_fusion.py)"
    refusal = ("this model is not instance-aware: it takes no boxes (train one with "
               "recipes/instance_*.py, or use --instances=none)")

    def capacity(self, model_or_signature):
        if hasattr(model_or_signature, "structured_input_signature"):  # a SavedModel signature
            return int(model_or_signature.structured_input_signature[1]["boxes"].shape[1])
        from kcolor.instance import model as instance_model

        return instance_model.max_boxes(model_or_signature)

    def clip(self, value, capacity):
        return value if capacity is None else value[:capacity]

    def inputs(self, values, capacity):
        from kcolor.instance import boxes as boxes_lib

        return list(boxes_lib.pad_batch([np.zeros((0, 4)) if b is None else b for b in values],
                                        capacity))

    def signature_inputs(self, values, capacity):
        b, v = self.inputs(values, capacity)
        return {"boxes": b, "valid": v}

    def source(self, spec):
        """None, "none", "auto" (the face detector), a boxes JSON file, or a
        detector object (anything with ``detect(rgb)``)."""
        if spec is None or (isinstance(spec, str) and spec in ("", "none")):
            return None
        if not isinstance(spec, str) or spec == "auto":
            from kcolor.instance import detector

            if isinstance(spec, str):
                try:
                    spec = detector.Detector()
                except ImportError as e:
                    raise ValueError(str(e)) from None
            det = spec
            return lambda rgb, src, rel: detector.normalised_boxes(det, rgb)
        from kcolor.instance import boxes

        f = boxes.BoxesFile(spec)

        def from_file(rgb, src, rel):
            b, s = f.for_photo(rgb.shape[1], rgb.shape[0], src, rel, os.path.basename(src))
            return b[boxes.best_first(b, s)]
        return from_file


class InstanceKind(kinds.Kind):
    name = "instance"
    condition = BoxesCondition()

    def owns_arch(self, arch):
        return arch.startswith(ARCH_PREFIX)

    def owns_model(self, model):
        from kcolor.instance import model as instance_model

        return instance_model.is_instance_model(model)

    def build(self, arch, head="classification", width=0.25, grid="zhang", name=None, **kwargs):
        """Regression only: ``head`` and ``grid`` are ignored."""
        from kcolor.instance import lite_model

        return lite_model.build_lite_instance_colorizer(
            int(arch[len(ARCH_PREFIX):]), name=name or "lite_instance_colorizer", **kwargs)

    def register_layers(self):
        from kcolor.instance import fusion  # noqa: F401 (CropBoxes, FuseInstances, ...)

    def build_kwargs(self, model):
        from kcolor.instance import lite_model

        return lite_model.build_kwargs(model) if lite_model.is_lite_instance_model(model) else None

    def load_preset_weights(self, model, cfg, arrays, load_preset):
        if not cfg.get("full_branch_from"):
            return super().load_preset_weights(model, cfg, arrays, load_preset)
        from kcolor.instance import lite_model

        lite_model.load_branch(model, "full", load_preset(cfg["full_branch_from"])[0])
        self.assign_own_weights(model, arrays)

    def preset_arrays(self, model, name, info, load_preset):
        base_name = info.get("full_branch_from")
        if not base_name:
            return super().preset_arrays(model, name, info, load_preset)
        from kcolor.instance import lite_model

        base = lite_model.colorizer_layers(load_preset(base_name)[0])
        for layer_name, layer in lite_model.branch_layers(model, "full").items():
            if not all(np.array_equal(np.asarray(a, np.float16), np.asarray(b, np.float16))
                       for a, b in zip(layer.get_weights(), base[layer_name].get_weights())):
                raise ValueError(f"{name}: layer {layer_name} of the full-image branch differs "
                                 f"from preset {base_name!r}'s")
        return [np.asarray(w) for w in own_weights(model)]

    def own_weights(self, model):
        return own_weights(model)

    def rebuilt(self, model, max_boxes=None, **options):
        from kcolor.instance import lite_model

        if max_boxes is None:
            return super().rebuilt(model, **options)
        if not lite_model.is_lite_instance_model(model):
            raise ValueError("max_boxes is for the instance-aware U-Net "
                             "(recipes/lite_instances.py)")
        kw = lite_model.build_kwargs(model) | {"max_boxes": int(max_boxes)}
        again = lite_model.build_lite_instance_colorizer(name=model.name, **kw)
        again.set_weights(model.get_weights())
        return again

    def plain_inference(self, model, decoding):
        """The full-image branch alone: the same numbers as the whole model
        without boxes, without the instance branch's work on empty crops."""
        from kcolor import decode

        return decode.build_inference_model(full_branch(model), **decoding.as_dict())

    def conditioned_inference(self, model, decoding):
        from kcolor.instance import model as instance_model

        inference = instance_model.build_inference_model(model, **decoding.as_dict())
        f = lambda L, boxes, valid: np.asarray(inference.predict_on_batch([L, boxes, valid]))
        f.model = inference
        return f

    def export_signature(self, model, decoding, input_multiple, size=None):
        import tensorflow as tf

        from export import graph
        from kcolor.instance import model as instance_model

        with_boxes = instance_model.build_inference_model(model, **decoding.as_dict())
        k = instance_model.max_boxes(model)

        def serve_boxes(L, boxes, valid):
            shape = tf.cast(tf.shape(L)[1:3], tf.float32)
            padded = tf.math.ceil(shape / input_multiple) * input_multiple
            sy, sx = shape[0] / padded[0], shape[1] / padded[1]  # boxes in the padded image
            boxes = boxes * tf.stack([sx, sy, sx, sy])
            ab = graph.ab_any_size(lambda Lp: with_boxes([Lp, boxes, valid]), L, input_multiple)
            return {"ab": ab, "rgb": graph.rgb_uint8(L, ab)}

        return self.condition.signature, serve_boxes, [
            tf.TensorSpec([None, None, None, 1], tf.float32, name="L"),
            tf.TensorSpec([None, k, 4], tf.float32, name="boxes"),
            tf.TensorSpec([None, k], tf.float32, name="valid")], with_boxes

    def check_tflite(self, model, cfg):
        base = cfg.get("full_branch_from")
        raise ValueError("instance-aware models export as a SavedModel only "
                         "(--formats=saved_model); TFLite files take no boxes"
                         + (f": for a phone export --model={base}, which is this model's "
                            "full-image branch (its output on photos without boxes)"
                            if base else ""))


def full_branch(model):
    """The full-image branch of an instance-aware Keras model (either kind)."""
    from kcolor.instance import lite_model
    from kcolor.instance import model as instance_model

    if lite_model.is_lite_instance_model(model):
        return lite_model.full_branch(model)
    return instance_model.full_branch(model)


def own_weights(model):
    """The weights of an instance-aware model outside its full-image branch
    (what a preset with ``full_branch_from`` stores), in ``model.weights`` order."""
    from kcolor.instance import lite_model

    full = {id(w) for layer in lite_model.branch_layers(model, "full").values()
            for w in layer.weights}
    return [w for w in model.weights if id(w) not in full]


KIND = kinds.register(InstanceKind())
