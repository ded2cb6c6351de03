"""TFLite colorizers at a fixed size: L [1, S, S, 1] → ab [1, S, S, 2].

Four variants, builtin ops only (no Flex, no custom ops), under
``<output_dir>/tflite/``, each with a JSON sidecar (``model_*.json``) that
describes its input and output:

* ``float32``: the Keras model as is;
* ``float16``: float16 weights, float32 compute and I/O;
* ``dynamic_int8``: int8 weights, float activations and I/O;
* ``int8``: int8 weights and activations, calibrated on L of real photos
  (``representative_L``); float32 input/output by default, int8 with
  ``int8_io=True`` (the sidecar then gives the scale and zero point). It is
  converted from a graph made for it (``_fixed_size_saved_model`` with
  ``equalize`` and ``pin_ranges``): conv-ReLU-BN gains moved into the
  convolutions (``equalize_relu_batchnorm``), and L and ab at fixed ranges
  (``INT8_L_RANGE``, ``INT8_AB_RANGE``), so that it keeps the float model's
  colour (issue #13, ``benchmarks/int8_colour.py``).

A model whose kind gives a ``tflite_inference`` (``kcolor.kinds``: the
hint-aware kind, ``kcolor.hints``) is written with its condition's inputs
(``export_conditioned``): L [1, S, S, 1], hint_ab [1, S, S, 2] and mask
[1, S, S, 1] → ab, with the hints' propagation in the graph (a WHILE loop of
builtin ops); the sidecar says ``"condition": "hints"`` and describes every
input. Its float16 and int8 variants (``SPLIT_VARIANTS``) are two files:
``propagate_float32.tflite`` (L, hint_ab, mask → prop [1, S/4, S/4, 3],
float32) runs the propagation and ``model_<variant>.tflite`` takes ``prop``
as a fourth input.

* int8: TFLite's calibrator crashes on a WHILE loop (tensorflow#75140) and
  the propagation's residuals do not survive int8; with the loop unrolled
  (20 steps: 12,900 nodes at 64 px), keeping it in float by name took the
  quantizer 17 minutes at 64 px. The network is calibrated on the
  calibration photos with simulated hints from their true colour
  (``representative_hints``) and is int8 but for two parts kept in float
  (selective quantization, ``tf.lite.experimental.QuantizationDebugger``):
  the hints' 4 × 4 cell means (int8 division by an empty cell's count
  fails) and the refiner, whose first convolution takes L, the automatic
  ab, the hints, the propagated ab and the hints' reach (0-1: one int8 step
  at that tensor's scale) in one tensor. With the refiner in float the int8
  file is 0.04 dB from Keras on average at 10 points (worst photo
  -0.30 dB; -0.40 dB with the 2026-12-08 preset), against -0.18 dB (worst
  -1.47 dB) all int8, for 113 KB more
  (``lite_hints``, 20 ImageNet photos, ``benchmarks/export_hints.py``).
* float16: float16 constants turn the propagation's guard against 0/0
  (1e-30) into 0: with no hint at all, every pixel was NaN.

``kcolor.lite`` runs them without TensorFlow.
"""

import json
import os
import tempfile

import numpy as np

from export import graph, tflite_ops

VARIANTS = ("float32", "float16", "dynamic_int8", "int8")

_MEANING = {
    "L": "CIE Lab lightness of the photo squashed to S x S, 0 (black) to 100 (white)",
    "ab": "predicted CIE Lab a, b (roughly -110..110) at the input's size; "
          "join with L and convert Lab→sRGB",
    "hint_ab": "the hints' CIE Lab a, b at S x S (each point's patch at the working size, "
               "kcolor.hints.points.to_maps), read where mask is 1; 0 elsewhere",
    "mask": "1 on hinted pixels, 0 elsewhere (all 0: no hints)",
    "prop": "the output 'prop' of propagate_float32.tflite run on the same L, hint_ab and "
            "mask: the hints' a, b propagated over L (times their reach) and their reach (0-1), "
            "at S/4 x S/4",
}
_RANGE = {"L": [0.0, 100.0], "hint_ab": [-128.0, 128.0], "mask": [0.0, 1.0],
          "prop": [-128.0, 128.0], "ab": [-128.0, 127.0]}


def representative_L(folder, size, limit=100):
    """L [1, size, size, 1] float32 of up to ``limit`` photos of ``folder``
    (spread evenly over it), squashed to size x size as kcolor.colorize does,
    then ``lightness_ramp``."""
    return [lab[None, ..., :1] for lab in _representative_lab(folder, size, limit)] + [
        lightness_ramp(size)]


def _representative_lab(folder, size, limit):
    """Lab [size, size, 3] float32 of up to ``limit`` photos of ``folder``
    (spread evenly over it), each channel squashed as kcolor.colorize does."""
    from kcolor import color, colorize, colorize_files, imageio

    files = [p for p, _ in colorize_files.expand([folder])]
    if limit and len(files) > limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).astype(int)]
    out = []
    for path in files:
        try:
            rgb = imageio.read_rgb(path)
        except imageio.ImageReadError:
            continue
        lab = color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)
        out.append(colorize._resize(lab, size, size).astype(np.float32))
    if not out:
        raise ValueError(f"{folder}: no readable photos for the int8 representative dataset")
    return out


# Simulated hints of the int8 calibration photos: the training sampler's
# (kcolor.hints.sampler.sample_training: 0 to ~20 patches of 1-9 px, 7 on
# average, none on one photo in 8), from a fixed seed.
REPRESENTATIVE_HINT_SEED = 0


def representative_hints(folder, size, limit=100, seed=REPRESENTATIVE_HINT_SEED):
    """{"L", "hint_ab", "mask"} [1, size, size, ·] float32 of up to ``limit``
    photos of ``folder`` as ``representative_L``, each with simulated hints
    from its true colour (``sampler.sample_training``, ``seed``), then the
    lightness ramp without hints: what a hint-aware int8 file calibrates on."""
    from kcolor import kinds

    hints = kinds.condition("hints")
    rng = np.random.default_rng(seed)
    out = []
    for lab in _representative_lab(folder, size, limit):
        hint_ab, mask = hints.simulate(lab[..., 1:], rng)
        out.append({"L": lab[None, ..., :1], "hint_ab": hint_ab[None], "mask": mask[None]})
    zeros = np.zeros((1, size, size, 1), np.float32)
    out.append({"L": lightness_ramp(size), "hint_ab": np.zeros((1, size, size, 2), np.float32),
                "mask": zeros})
    return out


def representative(model, folder, size, limit=100):
    """What the int8 variant of ``model`` calibrates on: ``representative_hints``
    for a file that takes hints (its kind's ``tflite_inference``), else
    ``representative_L``."""
    from kcolor import kinds

    kind = kinds.for_model(model)
    if kind.condition is not None and kind.condition.name == "hints":
        return representative_hints(folder, size, limit)
    return representative_L(folder, size, limit)


def lightness_ramp(size):
    """L from 0 to 100 across [1, size, size, 1]: calibrating on it too makes
    the int8 activations cover lighter and darker inputs than the photos (the
    input's own range is ``INT8_L_RANGE`` whatever the calibration)."""
    ramp = np.linspace(0.0, 100.0, size * size, dtype=np.float32)
    return ramp.reshape(1, size, size, 1)


# The int8 variant's L input and ab output get these fixed ranges instead of
# calibrated ones (fake-quant nodes in the graph it is converted from): the
# calibration photos then decide neither which L the file takes nor how
# colourful its ab can get. ab in [-128, 127] is a scale of 1 Lab unit and
# zero point 0, past the sRGB gamut (|a|, |b| < 110) on both sides.
INT8_L_RANGE = (0.0, 100.0)
INT8_AB_RANGE = (-128.0, 127.0)


def _relu_batchnorm_pairs(model):
    """[(conv, batchnorm)]: each BatchNormalization of ``model`` (and of the
    functional models nested in it) whose input is a Conv2D or
    Conv2DTranspose with a ReLU activation that nothing else reads."""
    import keras

    def source(tensor):
        return tensor._keras_history.operation

    if not isinstance(model, (keras.Sequential, keras.src.models.functional.Functional)):
        return []  # a subclassed model: no graph to read
    pairs = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            pairs += _relu_batchnorm_pairs(layer)
    readers = {}  # id(layer) → how many times its output is read in this model
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                readers[id(source(tensor))] = readers.get(id(source(tensor)), 0) + 1
    for tensor in model.outputs:
        readers[id(source(tensor))] = readers.get(id(source(tensor)), 0) + 1
    for bn in model.layers:
        if (type(bn) is not keras.layers.BatchNormalization or not (bn.scale and bn.center)
                or bn.axis not in (-1, 3) or len(bn._inbound_nodes) != 1):
            continue
        conv = source(bn._inbound_nodes[0].input_tensors[0])
        if (type(conv) in (keras.layers.Conv2D, keras.layers.Conv2DTranspose)
                and conv.activation is keras.activations.relu
                and readers.get(id(conv)) == 1):
            pairs.append((conv, bn))
    return pairs


def equalize_relu_batchnorm(model):
    """``model``, or a copy computing the same in float, whose ReLU
    convolutions followed by a BatchNormalization (the conv-ReLU-BN blocks of
    Zhang et al.'s net) output that BatchNormalization's per-channel scale.

    For a > 0, relu(z)·a = relu(a·z): the gain a = γ/σ of each channel moves
    into the convolution's kernel and bias (int8 weights are quantized per
    channel anyway), and the BatchNormalization keeps only its sign and
    offset. Converted as trained, such a ReLU output gets the int8 range of
    the BN-scaled values while it holds the unscaled ones: in the ``small``
    net's first block (gains 15-31) values up to 0.6 at the scale of
    [0, 12.85], a handful of steps, which the gains then amplify; the colour
    washed out (issue #13: -17 % colourfulness). Equalized, the ReLU output
    is the scaled value and the range fits it.
    """
    import keras

    if not _relu_batchnorm_pairs(model):
        return model
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for conv, bn in _relu_batchnorm_pairs(copy):
        gamma, beta, mean, var = (np.asarray(w, np.float64) for w in bn.get_weights())
        sigma = np.sqrt(var + bn.epsilon)
        gain = gamma / sigma
        s = np.abs(gain)
        weights = conv.get_weights()
        # Conv2D kernels are [h, w, in, out]; Conv2DTranspose ones [h, w, out, in].
        shape = [1, 1, -1, 1] if type(conv) is keras.layers.Conv2DTranspose else [1, 1, 1, -1]
        weights[0] = weights[0] * s.reshape(shape)
        if conv.use_bias:
            weights[1] = weights[1] * s
        conv.set_weights([w.astype(np.float32) for w in weights])
        bn.set_weights([w.astype(np.float32) for w in (np.sign(gain) * sigma, beta, mean * s, var)])
    return copy


def _fixed_size_saved_model(model, size, decoding, path, equalize=False, pin_ranges=False):
    """A SavedModel of ``model`` with ``decoding`` (``kcolor.decode.Decoding``)
    for L [1, size, size, 1].

    The int8 variant is converted from one with both options:
      equalize: the model through ``equalize_relu_batchnorm`` (the same in float).
      pin_ranges: the L input and ab output pinned to ``INT8_L_RANGE`` and
        ``INT8_AB_RANGE`` by fake quantization (in float that only rounds ab
        to whole Lab units and clips it there, so only for int8).
    """
    import keras
    import tensorflow as tf

    if equalize:
        model = equalize_relu_batchnorm(model)
    inference = graph.inference_model(model, decoding)

    def ab(L):
        if not pin_ranges:
            return inference(L)
        L = tf.quantization.fake_quant_with_min_max_args(L, *INT8_L_RANGE, num_bits=8)
        out = inference(L)
        return tf.quantization.fake_quant_with_min_max_args(out, *INT8_AB_RANGE, num_bits=8)

    archive = keras.export.ExportArchive()
    archive.track(inference)
    archive.add_endpoint("serving_default", lambda L: {"ab": ab(L)},
                         [tf.TensorSpec([1, size, size, 1], tf.float32, name="L")])
    archive.write_out(path, verbose=False)


def convert(saved_model_dir, variant, representative=None, int8_io=False):
    """The .tflite bytes of one variant of a fixed-size SavedModel."""
    import tensorflow as tf

    if variant not in VARIANTS:
        raise ValueError(f"unknown TFLite variant {variant!r}: use one of {VARIANTS}")
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "int8":
        if not representative:
            raise ValueError("the int8 TFLite model needs representative photos "
                             "(--representative_dir)")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([L] for L in representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    return converter.convert()


def _tensor_info(detail, meaning, value_range):
    scale, zero = detail["quantization"]
    info = {"name": detail["name"], "shape": [int(d) for d in detail["shape"]],
            "dtype": np.dtype(detail["dtype"]).name, "meaning": meaning, "range": value_range}
    if scale:
        info["quantization"] = {"scale": float(scale), "zero_point": int(zero),
                                "real_value": "scale * (q - zero_point)"}
    return info


def sidecar(tflite_path, variant, size, decoding, source):
    """The JSON description of a .tflite file (read back from the file itself)
    and of the ``decoding`` baked into it. A file that takes hints also gets
    ``condition``, ``inputs`` (every input, L first) and what an app does
    with them (``app``); a file that takes ``prop`` (float16, int8), the
    ``propagation`` file it takes it from."""
    from kcolor import lite

    runner = lite.LiteRunner(tflite_path)
    with open(tflite_path, "rb") as f:
        ops = tflite_ops.operators(f.read())
    info = {
        "format": "tflite", "variant": variant, "size": size, "source": source,
        **decoding.as_dict(), "operators": ops,
        "input": _tensor_info(runner.input, _MEANING["L"], [0.0, 100.0]),
        "output": _tensor_info(runner.output, _MEANING["ab"], [-128.0, 127.0]),
        "runtime": "kcolor.lite.LiteRunner (ai-edge-litert, no TensorFlow)",
    }
    if runner.condition is None:
        return info
    names = [n for n in lite.INPUT_NAMES if n in runner.inputs]
    info["condition"] = runner.condition
    info["inputs"] = [_tensor_info(runner.inputs[n], _MEANING[n], _RANGE[n]) for n in names]
    steps = ["L: as for the automatic model; hint_ab, mask: the points' patches at S x S "
             "(kcolor.hints.points.to_maps; no points: all zeros)"]
    if "prop" in runner.inputs:
        info["propagation"] = {"file": os.path.basename(runner.propagation),
                               "inputs": ["L", "hint_ab", "mask"], "output": "prop"}
        steps.append(f"run {os.path.basename(runner.propagation)} on L, hint_ab and mask; "
                     f"feed its output to this file's input prop")
    steps.append("feed each input by name (the converter may order them otherwise), "
                 "quantized with its own scale and zero point where it has them")
    info["app"] = steps
    return info


def _propagation_sidecar(path, size, source):
    """The JSON description of ``propagate_float32.tflite``."""
    from kcolor import lite

    graph = lite._Graph(path)
    with open(path, "rb") as f:
        ops = tflite_ops.operators(f.read())
    return {
        "format": "tflite", "variant": "float32", "size": size, "source": source,
        "role": "the hints' propagation (kcolor.hints.propagate, float32) whose output is "
                "the input prop of model_float16.tflite and model_int8.tflite",
        "operators": ops,
        "inputs": [_tensor_info(graph.inputs[n], _MEANING[n], _RANGE[n])
                   for n in ("L", "hint_ab", "mask")],
        "output": _tensor_info(graph.output, _MEANING["prop"], _RANGE["prop"]),
        "runtime": "kcolor.lite.LiteRunner runs it for the files that take prop",
    }


def export_tflite(model, output_dir, variants=VARIANTS, size=256, decoding=None,
                  representative=None, int8_io=False, source=""):
    """Writes ``output_dir/tflite/model_<variant>.tflite`` and ``.json`` for
    each variant, with ``decoding`` (a ``kcolor.decode.Decoding``; default: T
    0.38, no saturation); returns {variant: path}."""
    from kcolor import decode, kinds

    graph.require_tensorflow_backend()
    decoding = decoding or decode.Decoding()
    size = graph.check_size(size, model)
    folder = os.path.join(output_dir, "tflite")
    os.makedirs(folder, exist_ok=True)
    kind = kinds.for_model(model)
    inference = kind.tflite_inference(model, decoding, size)
    if inference is not None:
        return export_conditioned(model, kind, inference, folder, variants, size, decoding,
                                  representative, int8_io, source)
    paths = {}
    with tempfile.TemporaryDirectory() as tmp:
        saved = {}
        for variant in variants:
            int8 = variant == "int8"
            if int8 not in saved:
                saved[int8] = os.path.join(tmp, "fixed_int8" if int8 else "fixed")
                _fixed_size_saved_model(model, size, decoding, saved[int8],
                                        equalize=int8, pin_ranges=int8)
            path = os.path.join(folder, f"model_{variant}.tflite")
            content = convert(saved[int8], variant, representative, int8_io)
            custom = tflite_ops.non_builtin(content)
            if custom:
                raise RuntimeError(f"TFLite {variant}: non-builtin operators {custom}")
            with open(path, "wb") as f:
                f.write(content)
            info = sidecar(path, variant, size, decoding, source)
            with open(path[:-len(".tflite")] + ".json", "w") as f:
                json.dump(info, f, indent=1)
            paths[variant] = path
    return paths


def _write(path, content, variant):
    custom = tflite_ops.non_builtin(content)
    if custom:
        raise RuntimeError(f"TFLite {variant}: non-builtin operators {custom}")
    with open(path, "wb") as f:
        f.write(content)


def _write_json(path, info):
    with open(path[:-len(".tflite")] + ".json", "w") as f:
        json.dump(info, f, indent=1)


# The variants of a hint-aware model whose network takes the propagation as
# an input (prop) from propagate_float32.tflite (module docstring). float16
# in one file: 6.3 dB instead of 25.1 without points (NaN everywhere),
# benchmarks/export_hints.py on 20 photos.
SPLIT_VARIANTS = ("float16", "int8")

# Fixed ranges of the int8 hint network's inputs (L and hint_ab as L and ab
# in the plain int8 file); prop's range is calibrated.
_PINNED = {"L": INT8_L_RANGE, "hint_ab": INT8_AB_RANGE, "mask": (0.0, 1.0)}


def _input_name(tensor):
    return tensor.name.split(":")[0]


def _keras_saved_model(inference, path, output, pin_ranges=False):
    """A SavedModel of the fixed-size Keras model ``inference`` (batch 1; its
    inputs' names) whose serving_default returns {``output``: ...};
    ``pin_ranges``: inputs in ``_PINNED`` and the ab output pinned by fake
    quantization, as ``_fixed_size_saved_model``'s."""
    import keras
    import tensorflow as tf

    names = [_input_name(t) for t in inference.inputs]
    specs = [tf.TensorSpec([1] + list(t.shape[1:]), tf.float32, name=n)
             for n, t in zip(names, inference.inputs)]

    def serve(*args):
        args = list(args)
        if pin_ranges:
            args = [tf.quantization.fake_quant_with_min_max_args(a, *_PINNED[n], num_bits=8)
                    if n in _PINNED else a for n, a in zip(names, args)]
        out = inference(args)
        if pin_ranges:
            out = tf.quantization.fake_quant_with_min_max_args(out, *INT8_AB_RANGE, num_bits=8)
        return {output: out}

    archive = keras.export.ExportArchive()
    archive.track(inference)
    archive.add_endpoint("serving_default", serve, specs)
    archive.write_out(path, verbose=False)


def _float_nodes(network, calibrated, names):
    """Output tensor names in the ``calibrated`` .tflite of ``network`` that
    its ``HintCells`` layers (int8 division by an empty cell's count of 0
    fails) and its refiner compute: what the int8 file keeps in float."""
    import re

    from kcolor import lite

    pattern = re.compile(r"(^|/)(%s)(_\d+)?/" % "|".join(re.escape(n) for n in names))
    interpreter = lite._interpreter_class()(model_content=calibrated)
    tensors = {interpreter._get_tensor_details(i, 0)["name"]
               for op in interpreter._get_ops_details() for i in op["outputs"] if i >= 0}
    found = sorted(t for t in tensors if pattern.search(t))
    missing = [n for n in names if not any(re.search(r"(^|/)%s(_\d+)?/" % re.escape(n), t)
                                           for t in found)]
    if missing:
        raise RuntimeError(f"no nodes of {missing} in the calibrated model")
    return found


def _int8_with_float_nodes(saved_model_dir, representative, float_nodes_of):
    """int8 .tflite bytes (float32 input and output) of a SavedModel,
    calibrated on ``representative`` (dicts by input name), with the nodes
    ``float_nodes_of(calibrated model)`` names kept in float: selective
    quantization by ``tf.lite.experimental.QuantizationDebugger``."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(representative)
    # The debugger calibrates (the converter with _experimental_calibrate_only);
    # the float nodes are named in the calibrated model, then quantized without them.
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=lambda: iter(representative))
    debugger.options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_nodes=float_nodes_of(debugger.calibrated_model))
    return debugger.get_nondebug_quantized_model()


def check_variants(model, variants, int8_io=False):
    """Raises ValueError for options the TFLite files of ``model`` cannot have
    (before anything is written)."""
    from kcolor import kinds

    kind = kinds.for_model(model)
    if kind.condition is None or kind.condition.name != "hints":
        return
    if "int8" in variants and int8_io:
        raise ValueError("--int8_io: a hint-aware model's int8 file has float32 inputs and "
                         "output (its propagation runs in float32 beside it)")


def export_conditioned(model, kind, inference, folder, variants, size, decoding,
                       representative=None, int8_io=False, source=""):
    """``export_tflite`` for a model whose kind gives a ``tflite_inference``
    (``inference``: inputs L, hint_ab, mask → ab): ``model_<variant>.tflite``
    and ``.json`` in ``folder``, and for ``SPLIT_VARIANTS``
    ``propagate_float32.tflite`` (and ``.json``) beside them (module
    docstring). ``representative``: ``representative_hints``."""
    from kcolor import lite

    if kind.condition is None or kind.condition.name != "hints":
        raise ValueError(f"TFLite files of {kind.name} models with their condition are not "
                         f"supported")
    check_variants(model, variants, int8_io)
    if "int8" in variants:
        if not representative:
            raise ValueError("the int8 TFLite model needs representative photos "
                             "(--representative_dir)")
        if not isinstance(representative[0], dict) or "hint_ab" not in representative[0]:
            raise ValueError("a hint-aware int8 file calibrates on photos with hints: "
                             "export.tflite.representative_hints")
    paths = {}
    with tempfile.TemporaryDirectory() as tmp:
        fixed = prop_path = None
        for variant in variants:
            path = os.path.join(folder, f"model_{variant}.tflite")
            if variant in SPLIT_VARIANTS:
                whole = inference if variant != "int8" else kind.tflite_inference(
                    equalize_relu_batchnorm(model), decoding, size)
                propagation, network = kind.tflite_split(whole)
                if prop_path is None:  # one file for both (it holds no weights)
                    prop_path = _write_propagation(propagation, folder, size,
                                                   os.path.join(tmp, "propagation"), source)
                network_dir = os.path.join(tmp, f"network_{variant}")
                _keras_saved_model(network, network_dir, "ab", pin_ranges=variant == "int8")
                if variant == "int8":
                    runner = lite._Graph(prop_path)  # calibration's prop: the file's own
                    data = [{**item, "prop": runner.run(item)} for item in representative]
                    content = _int8_with_float_nodes(
                        network_dir, data, lambda calibrated: _float_nodes(
                            network, calibrated, kind.tflite_float_layers(network)))
                else:
                    content = convert(network_dir, variant)
            else:
                if fixed is None:
                    fixed = os.path.join(tmp, "fixed")
                    _keras_saved_model(inference, fixed, "ab")
                content = convert(fixed, variant)
            _write(path, content, variant)
            _write_json(path, sidecar(path, variant, size, decoding, source))
            paths[variant] = path
    return paths


def _write_propagation(propagation, folder, size, tmp, source):
    """Writes ``propagate_float32.tflite`` (and .json) of the Keras model
    ``propagation`` ([L, hint_ab, mask] → prop); returns its path."""
    from kcolor import lite

    path = os.path.join(folder, lite.PROPAGATION_FILE)
    _keras_saved_model(propagation, tmp, "prop")
    _write(path, convert(tmp, "float32"), "float32")
    _write_json(path, _propagation_sidecar(path, size, source))
    return path
