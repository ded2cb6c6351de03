"""TFLite colorizers at a fixed size: L [1, S, S, 1] → ab [1, S, S, 2].

Four variants, builtin ops only (no Flex, no custom ops), under
``<output_dir>/tflite/``, each with a JSON sidecar (``model_*.json``) that
describes its input and output:

* ``float32``: the Keras model as is;
* ``float16``: float16 weights, float32 compute and I/O;
* ``dynamic_int8``: int8 weights, float activations and I/O;
* ``int8``: int8 weights and activations, calibrated on L of real photos
  (``representative_L``); float32 input/output by default, int8 with
  ``int8_io=True`` (the sidecar then gives the scale and zero point).

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
    the int8 input cover all of L, not only the photos' darkest..lightest."""
    ramp = np.linspace(0.0, 100.0, size * size, dtype=np.float32)
    return ramp.reshape(1, size, size, 1)


def _fixed_size_saved_model(model, size, temperature, saturation, path):
    import keras
    import tensorflow as tf

    inference = graph.inference_model(model, temperature, saturation)
    archive = keras.export.ExportArchive()
    archive.track(inference)
    archive.add_endpoint("serving_default", lambda L: {"ab": inference(L)},
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


def sidecar(tflite_path, variant, size, temperature, saturation, source):
    """The JSON description of a .tflite file (read back from the file itself)."""
    from kcolor import lite

    runner = lite.LiteRunner(tflite_path)
    with open(tflite_path, "rb") as f:
        ops = tflite_ops.operators(f.read())
    return {
        "format": "tflite", "variant": variant, "size": size, "source": source,
        "temperature": temperature, "saturation": saturation, "operators": ops,
        "input": _tensor_info(runner.input, _MEANING["L"], [0.0, 100.0]),
        "output": _tensor_info(runner.output, _MEANING["ab"], [-128.0, 127.0]),
        "runtime": "kcolor.lite.LiteRunner (ai-edge-litert, no TensorFlow)",
    }


def export_tflite(model, output_dir, variants=VARIANTS, size=256, temperature=0.38,
                  saturation=1.0, representative=None, int8_io=False, source=""):
    """Writes ``output_dir/tflite/model_<variant>.tflite`` and ``.json`` for
    each variant; returns {variant: path}."""
    graph.require_tensorflow_backend()
    size = graph.check_size(size)
    folder = os.path.join(output_dir, "tflite")
    os.makedirs(folder, exist_ok=True)
    paths = {}
    with tempfile.TemporaryDirectory() as tmp:
        fixed = os.path.join(tmp, "fixed")
        _fixed_size_saved_model(model, size, temperature, saturation, fixed)
        for variant in variants:
            path = os.path.join(folder, f"model_{variant}.tflite")
            content = convert(fixed, variant, representative, int8_io)
            custom = tflite_ops.non_builtin(content)
            if custom:
                raise RuntimeError(f"TFLite {variant}: non-builtin operators {custom}")
            with open(path, "wb") as f:
                f.write(content)
            info = sidecar(path, variant, size, temperature, saturation, source)
            with open(path[:-len(".tflite")] + ".json", "w") as f:
                json.dump(info, f, indent=1)
            paths[variant] = path
    return paths
