"""The hint-aware kind (``kcolor.kinds``): everything the rest of kcolor
needs to know about colorizers that take hint points, in one place.

* **Built**: ``hint_<base arch>`` presets (``hint_unet_lite0``) are
  ``model.py``'s network: the base U-Net, the hints' propagation and the
  refiner.
* **Presets**: a preset with ``base_from`` stores only the refiner's weights
  and takes the base network's from that preset (``lite``): a few hundred KB.
* **Called**: ``predict_ab(L, hints=[...])``, one list of points a photo
  (``points.Point``, or dicts in the hints-file format), in the photo's own
  pixels; a photo without points takes the base network alone, so its
  colour is the automatic one.
* **Exported**: the SavedModel's ``colorize_with_hints`` signature and
  TFLite files with three inputs (L, hint_ab, mask at the working size); the
  propagation is part of the graph (``keras.ops``, builtin ops only).
* **Command line**: ``--hints=FILE`` (every photo) or ``--hints=FOLDER``
  (``<photo stem>.json`` a photo, the others automatic), with the
  ``lite_hints`` preset by default.
"""

import collections
import os

import numpy as np

from kcolor import kinds

HintMaps = collections.namedtuple("HintMaps", "ab mask")  # at the working size


class HintsCondition(kinds.Condition):
    name = "hints"
    flag = "hints"
    default_preset = "lite_hints"
    signature = "colorize_with_hints"
    model_words = "a hint-aware model (the lite_hints preset)"
    refusal = ("this model takes no hint points (use the hint-aware preset: leave --model out, "
               "or --model=lite_hints)")

    def present(self, value):
        if value is None:
            return False
        if isinstance(value, HintMaps):
            return bool(np.any(value.mask > 0.5))
        return len(value) > 0

    def at_working_size(self, value, height, width, size):
        from kcolor.hints import points

        if isinstance(value, HintMaps):
            return value
        if any(isinstance(p, dict) for p in value):  # the file format's point objects
            value = points.parse({"points": list(value)}, width, height, "hints")
        return HintMaps(*points.to_maps(value, height, width, size))

    def simulate(self, ab_true, rng):
        """Training-style simulated hints (``sampler.sample_training``) of a
        photo's true ab [s, s, 2]: (hint_ab, mask), e.g. to calibrate int8."""
        from kcolor.hints import sampler

        return sampler.sample_training(ab_true, rng)

    def inputs(self, values, capacity):
        ab = np.stack([v.ab for v in values]).astype(np.float32)
        mask = np.stack([v.mask for v in values]).astype(np.float32)
        return [ab, mask]

    def signature_inputs(self, values, capacity):
        ab, mask = self.inputs(values, capacity)
        return {"hint_ab": ab, "mask": mask}

    def source(self, spec):
        """None or "": no hints; a hints file (for every photo) or a folder
        of ``<photo stem>.json`` files (a photo without one: automatic)."""
        if spec in (None, "", "none"):
            return None
        from kcolor.hints import points

        if os.path.isdir(spec):
            def from_folder(rgb, src, rel):
                stem = os.path.splitext(os.path.basename(src))[0]
                path = os.path.join(spec, stem + ".json")
                if not os.path.exists(path):
                    return None
                return points.load(path, rgb.shape[1], rgb.shape[0])
            return from_folder
        if not os.path.isfile(spec):
            raise ValueError(f"{spec}: no such hints file or folder")
        return lambda rgb, src, rel: points.load(spec, rgb.shape[1], rgb.shape[0])

    def reference(self, reference, colorizer=None):
        """``reference`` (a colour photo: uint8 RGB or a path; or one built
        already) as a ``kcolor.hints.reference.Reference``, its features
        computed once. An unreadable file raises ``ImageReadError`` ("PATH:
        reason"); with ``colorizer``, one that takes no hint points raises
        ValueError."""
        from kcolor.hints import reference as ref_lib

        if colorizer is not None and colorizer.condition != self.name:
            raise ValueError(ref_lib.NEEDS_HINT_MODEL)
        return ref_lib.as_reference(reference)

    def with_reference(self, images, reference, hints=None, colorizer=None):
        """Each photo's hint points: its reference's matched colours, then
        its own ``hints`` (``kcolor.hints.reference.with_reference``); with
        ``colorizer``, one that takes no hint points raises ValueError."""
        from kcolor.hints import reference as ref_lib

        if colorizer is not None and colorizer.condition != self.name:
            raise ValueError(ref_lib.NEEDS_HINT_MODEL)
        return ref_lib.with_reference(images, reference, hints)

    def reference_maps(self, reference, frames, size):
        """Working-size ``HintMaps`` of a clip's frames (one size; RGB or L)
        from ``reference`` (a built ``Reference``): its points on each frame,
        the frames through the encoder in one batch."""
        h, w = np.asarray(frames[0]).shape[:2]
        return [self.at_working_size(p, h, w, size) for p in reference.points_batch(frames)]


    def evaluate(self, folder, counts, **kwargs):
        """``kcolor evaluate --hints=COUNTS``: ``kcolor.hints.evaluate.run``."""
        from kcolor.hints import evaluate

        return evaluate.run(folder, counts, **kwargs)


class HintKind(kinds.Kind):
    name = "hints"
    condition = HintsCondition()

    def owns_arch(self, arch):
        from kcolor.hints import model as hint_model

        return arch.startswith(hint_model.ARCH_PREFIX)

    def owns_model(self, model):
        from kcolor.hints import model as hint_model

        return hint_model.is_hint_model(model)

    def register_layers(self):
        from kcolor.hints import model  # noqa: F401 (HintCells, Propagate, Blend, KeepHints, ...)

    def build(self, arch, head="regression", width=0.25, grid="zhang", name=None, base=None,
              channels=32, dilations=(1, 2, 4, 8, 1), reach=None):
        from kcolor import models
        from kcolor.hints import model as hint_model

        base_net = models.build(arch[len(hint_model.ARCH_PREFIX):], "regression", grid=grid,
                                **(base or {}))
        return hint_model.build_hint_colorizer(base_net, channels, tuple(dilations),
                                               name=name or "hint_colorizer", reach=reach)

    def build_kwargs(self, model):
        from kcolor.hints import model as hint_model

        return hint_model.build_kwargs(model)

    def own_weights(self, model):
        from kcolor.hints import model as hint_model

        return list(hint_model.refiner_of(model).weights)

    def load_preset_weights(self, model, cfg, arrays, load_preset):
        if not cfg.get("base_from"):
            return super().load_preset_weights(model, cfg, arrays, load_preset)
        from kcolor.hints import model as hint_model

        hint_model.base_of(model).set_weights(load_preset(cfg["base_from"])[0].get_weights())
        self.assign_own_weights(model, arrays)

    def preset_arrays(self, model, name, info, load_preset):
        base_name = info.get("base_from")
        if not base_name:
            return super().preset_arrays(model, name, info, load_preset)
        from kcolor.hints import model as hint_model

        ours = hint_model.base_of(model).get_weights()
        theirs = load_preset(base_name)[0].get_weights()
        if len(ours) != len(theirs) or not all(
                np.array_equal(np.asarray(a, np.float16), np.asarray(b, np.float16))
                for a, b in zip(ours, theirs)):
            raise ValueError(f"{name}: its base network differs from preset {base_name!r}'s")
        return [np.asarray(w) for w in self.own_weights(model)]

    def plain_inference(self, model, decoding):
        """The base network alone: the automatic colour."""
        from kcolor import decode
        from kcolor.hints import model as hint_model

        return decode.build_inference_model(hint_model.base_of(model), **decoding.as_dict())

    def conditioned_inference(self, model, decoding):
        """The network with the propagation solved outside it, exactly (SciPy):
        the same function as the exports' in-graph solve, about 10× faster."""
        from kcolor.hints import model as hint_model

        inference = hint_model.inference_model_outside(model, decoding)
        settings = hint_model.propagation_of(model)

        def predict(L, hint_ab, mask):
            prop = hint_model.propagate_batch(L, hint_ab, mask, settings=settings)
            return np.asarray(inference.predict_on_batch([L, hint_ab, mask, prop]))
        predict.model = inference
        return predict

    def export_signature(self, model, decoding, input_multiple, size=None):
        """``colorize_with_hints``: L [B, s, s, 1], hint_ab [B, s, s, 2], mask
        [B, s, s, 1] at the export's working size s → ab, rgb."""
        if size is None:
            return None
        import tensorflow as tf

        from export import graph
        from kcolor.hints import model as hint_model

        inference = hint_model.inference_model(model, size, decoding)

        def serve_hints(L, hint_ab, mask):
            ab = inference([L, hint_ab, mask])
            return {"ab": ab, "rgb": graph.rgb_uint8(L, ab)}

        return self.condition.signature, serve_hints, [
            tf.TensorSpec([None, size, size, 1], tf.float32, name="L"),
            tf.TensorSpec([None, size, size, 2], tf.float32, name="hint_ab"),
            tf.TensorSpec([None, size, size, 1], tf.float32, name="mask")], inference

    def tflite_split(self, inference):
        """(propagation, network): ``inference`` ([L, hint_ab, mask] → ab,
        ``model.inference_model``) cut at its ``Propagate`` layer: [L,
        hint_ab, mask] → prop [B, s/4, s/4, 3], and [L, hint_ab, mask, prop]
        → ab (the same layers and weights after it): the float16 and int8
        files take ``prop`` from a float32 propagation file."""
        import keras

        from kcolor import decode
        from kcolor.hints import model as hint_model

        def only(kind):
            found = [l for l in inference.layers if isinstance(l, kind)]
            if len(found) != 1:
                raise ValueError(f"{inference.name}: {len(found)} {kind.__name__} layers")
            return found[0]

        propagate = only(hint_model.Propagate)
        propagation = keras.Model(inference.inputs, propagate.output, name="propagation")
        stored = [l for l in inference.layers if hint_model.is_hint_model(l)]
        if len(stored) != 1:
            raise ValueError(f"{inference.name}: no hint-aware model in it")
        inputs = [keras.Input(t.shape[1:], name=t.name.split(":")[0]) for t in inference.inputs]
        prop = keras.Input(propagate.output.shape[1:], name="prop")
        L, hint_ab, mask = inputs
        ab = only(decode.DecodeAb)(stored[0]([L, hint_ab, mask, prop]), L)
        ab = only(hint_model.KeepHints)(ab, hint_ab, mask)
        return propagation, keras.Model(inputs + [prop], ab, name="network_with_prop")

    def tflite_float_layers(self, network):
        """Names of the layers of ``network`` (``tflite_split``'s) that the
        int8 file keeps in float: the hint cells (int8 division by an empty
        cell's count of 0 fails) and the refiner (all-int8 costs 0.18 dB)."""
        from kcolor.hints import model as hint_model

        names = []

        def walk(model):
            for layer in model.layers:
                if isinstance(layer, hint_model.HintCells):
                    names.append(layer.name)
                elif hint_model.is_hint_model(layer):
                    names.append(hint_model.refiner_of(layer).name)
                    walk(layer)
                elif hasattr(layer, "layers"):
                    walk(layer)

        walk(network)
        return names

    def tflite_inference(self, model, decoding, size):
        from kcolor.hints import model as hint_model

        return hint_model.inference_model(model, size, decoding)


KIND = kinds.register(HintKind())
