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
}


def representative_L(folder, size, limit=100):
    """L [1, size, size, 1] float32 of up to ``limit`` photos of ``folder``
    (spread evenly over it), squashed to size x size as kcolor.colorize does,
    then ``lightness_ramp``."""
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
        L = color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)[..., :1]
        out.append(colorize._resize(L, size, size)[None].astype(np.float32))
    if not out:
        raise ValueError(f"{folder}: no readable photos for the int8 representative dataset")
    return out + [lightness_ramp(size)]


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
    and of the ``decoding`` baked into it."""
    from kcolor import lite

    runner = lite.LiteRunner(tflite_path)
    with open(tflite_path, "rb") as f:
        ops = tflite_ops.operators(f.read())
    return {
        "format": "tflite", "variant": variant, "size": size, "source": source,
        **decoding.as_dict(), "operators": ops,
        "input": _tensor_info(runner.input, _MEANING["L"], [0.0, 100.0]),
        "output": _tensor_info(runner.output, _MEANING["ab"], [-128.0, 127.0]),
        "runtime": "kcolor.lite.LiteRunner (ai-edge-litert, no TensorFlow)",
    }


def export_tflite(model, output_dir, variants=VARIANTS, size=256, decoding=None,
                  representative=None, int8_io=False, source=""):
    """Writes ``output_dir/tflite/model_<variant>.tflite`` and ``.json`` for
    each variant, with ``decoding`` (a ``kcolor.decode.Decoding``; default: T
    0.38, no saturation); returns {variant: path}."""
    from kcolor import decode

    graph.require_tensorflow_backend()
    decoding = decoding or decode.Decoding()
    size = graph.check_size(size, model)
    folder = os.path.join(output_dir, "tflite")
    os.makedirs(folder, exist_ok=True)
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
