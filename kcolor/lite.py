"""Running an exported ``.tflite`` colorizer without TensorFlow or Keras.

Needs only numpy, Pillow and ``ai-edge-litert`` (``pip install kcolor[lite]``);
where ai-edge-litert is missing and TensorFlow is installed, TensorFlow's own
``tf.lite.Interpreter`` runs the file instead.
The model comes from ``kcolor export`` (``export/tflite.py``): L [1, S, S, 1]
(Lab lightness 0-100) → ab [1, S, S, 2] at the same size, decoding included;
int8 inputs and outputs are (de)quantized here with the file's own scale and
zero point. ``kcolor.colorize.Colorizer`` uses ``LiteRunner`` for ``.tflite``
paths, so ``kcolor colorize --model=model.tflite`` runs on it.

A hint-aware model's files (``kcolor.hints``) also take ``hint_ab`` [1, S, S, 2]
and ``mask`` [1, S, S, 1] (found by name; each input quantized with its own
parameters). Its ``model_float16.tflite`` and ``model_int8.tflite`` take a
fourth input, ``prop`` [1, S/4, S/4, 3]: the output of
``propagate_float32.tflite`` (``PROPAGATION_FILE``, written beside them by
the same export) on the same L, hint_ab and mask, since the hints'
propagation runs in float32 only; ``LiteRunner`` runs both.
"""

import json
import os
import re

import numpy as np

# The float32 propagation a hint-aware model_float16/model_int8.tflite takes
# its "prop" input from (export/tflite.py writes it beside them).
PROPAGATION_FILE = "propagate_float32.tflite"
# Inputs a kcolor .tflite file may take, by name ("serving_default_L:0" is L).
INPUT_NAMES = ("L", "hint_ab", "mask", "prop")


def _interpreter_class():
    """ai-edge-litert's Interpreter; TensorFlow's own ``tf.lite.Interpreter``
    where only TensorFlow is installed (``pip install kcolor`` without the
    ``lite`` extra: ``kcolor export``'s sidecars, ``kcolor evaluate`` and
    ``kcolor colorize`` of a .tflite file)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        try:
            import tensorflow as tf
        except ImportError:
            raise ImportError(
                "running a .tflite model needs ai-edge-litert: pip install 'kcolor[lite]'"
            ) from e
        return _tf_interpreter(tf)
    return Interpreter


def _tf_interpreter(tf):
    import warnings

    def interpreter(**kwargs):
        with warnings.catch_warnings():  # "deprecated, use ai_edge_litert": we do where installed
            warnings.filterwarnings("ignore", "(?s).*tf.lite.Interpreter is deprecated")
            return tf.lite.Interpreter(**kwargs)
    return interpreter


def quantize(x, detail):
    """float → the tensor's integer dtype, if it is quantized (else float32)."""
    scale, zero = detail["quantization"]
    if not scale:
        return np.asarray(x, np.float32)
    info = np.iinfo(detail["dtype"])
    q = np.round(np.asarray(x, np.float64) / scale + zero)
    return np.clip(q, info.min, info.max).astype(detail["dtype"])


def dequantize(x, detail):
    scale, zero = detail["quantization"]
    if not scale:
        return np.asarray(x, np.float32)
    return ((x.astype(np.float32) - zero) * scale).astype(np.float32)


def input_name(detail):
    """A .tflite input's name without the converter's decorations:
    "serving_default_hint_ab:0" → "hint_ab"."""
    name = re.sub(r":\d+$", "", detail["name"])
    return name[len("serving_default_"):] if name.startswith("serving_default_") else name


class _Graph:
    """One .tflite file: its inputs by name, its one output, one example a run."""

    def __init__(self, path, num_threads=None):
        self.interpreter = _interpreter_class()(model_path=path, num_threads=num_threads)
        self.interpreter.allocate_tensors()
        details = self.interpreter.get_input_details()
        # A file with one input takes L, whatever the converter called it.
        self.inputs = ({"L": details[0]} if len(details) == 1
                       else {input_name(d): d for d in details})
        self.output = self.interpreter.get_output_details()[0]

    def run(self, arrays):
        """The dequantized output for {input name: array [1, ...]}."""
        for name, detail in self.inputs.items():
            self.interpreter.set_tensor(detail["index"], quantize(arrays[name], detail))
        self.interpreter.invoke()
        return dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)


def propagation_path(path):
    """The propagation file a hint-aware ``.tflite`` at ``path`` that takes
    ``prop`` takes it from: its sidecar's ``propagation.file`` (the ``.json``
    beside it), else ``PROPAGATION_FILE``, in the same folder."""
    folder = os.path.dirname(os.path.abspath(path))
    name = PROPAGATION_FILE
    try:
        with open(os.path.splitext(path)[0] + ".json") as f:
            name = json.load(f)["propagation"]["file"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return os.path.join(folder, name)


class LiteRunner:
    """Loads a ``.tflite`` colorizer once; ``predict_ab`` runs it image by image.

    Args:
      path: the ``.tflite`` file.
      num_threads: CPU threads for the interpreter (None: its default).
      propagation: for a hint-aware file with an input called ``prop``
        (float16, int8), the float32 propagation file from the same export
        (default: ``propagation_path(path)``).

    Attributes: ``size`` (S), ``input`` (L's details), ``inputs`` ({name:
    details} of every input), ``output``, ``condition`` ("hints" for a file
    that takes hint points, else None), ``propagation`` (the propagation
    file's path, or None).
    """

    def __init__(self, path, num_threads=None, propagation=None):
        self._graph = _Graph(path, num_threads)
        self.interpreter = self._graph.interpreter
        self.inputs = self._graph.inputs
        self.output = self._graph.output
        unknown = sorted(set(self.inputs) - set(INPUT_NAMES))
        if unknown or "L" not in self.inputs:
            raise ValueError(f"{path}: inputs {sorted(self.inputs)}; a kcolor .tflite file "
                             f"takes L and optionally hint_ab, mask and prop")
        self.input = self.inputs["L"]
        shape = tuple(int(d) for d in self.input["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[1] != shape[2] or shape[3] != 1:
            raise ValueError(f"{path}: expected an input of shape [1, S, S, 1], got {list(shape)}")
        self.size = shape[1]
        self.condition = None
        if set(self.inputs) - {"L"}:
            if not {"hint_ab", "mask"} <= set(self.inputs):
                raise ValueError(f"{path}: inputs {sorted(self.inputs)}: hint_ab and mask go "
                                 f"together")
            self.condition = "hints"
            for name, channels in (("hint_ab", 2), ("mask", 1)):
                want = (1, self.size, self.size, channels)
                if tuple(int(d) for d in self.inputs[name]["shape"]) != want:
                    raise ValueError(f"{path}: {name} should be {list(want)}, "
                                     f"not {list(self.inputs[name]['shape'])}")
        self.propagation = None
        self._propagate = None
        if "prop" in self.inputs:
            self.propagation = propagation or propagation_path(path)
            if not os.path.exists(self.propagation):
                raise FileNotFoundError(
                    f"{path} takes the hints' propagation as its input 'prop': it needs "
                    f"{self.propagation} (written by the same kcolor export) beside it")
            self._propagate = _Graph(self.propagation, num_threads)
            if set(self._propagate.inputs) != {"L", "hint_ab", "mask"}:
                raise ValueError(f"{self.propagation}: not a kcolor propagation file (inputs "
                                 f"{sorted(self._propagate.inputs)})")

    def predict_ab(self, L_batch, hint_ab=None, mask=None):
        """ab [B, S, S, 2] float32 for L [B, S, S, 1] (0-100) at the model's size.

        For a file that takes hints: ``hint_ab`` [B, S, S, 2] (Lab a, b, read
        where ``mask`` > 0.5) and ``mask`` [B, S, S, 1]; None: no hints (zeros).
        A file without hint inputs refuses a mask with any hint in it."""
        L_batch = np.asarray(L_batch, np.float32)
        n = len(L_batch)
        if self.condition is None:
            if mask is not None and np.any(np.asarray(mask) > 0.5):
                raise ValueError("this .tflite model takes no hint points (export a hint-aware "
                                 "model: kcolor export --model=lite_hints)")
            hints = None
        else:
            hints = {}
            for name, value, channels in (("hint_ab", hint_ab, 2), ("mask", mask, 1)):
                want = (n, self.size, self.size, channels)
                value = np.zeros(want, np.float32) if value is None else np.asarray(value, np.float32)
                if value.shape != want:
                    raise ValueError(f"{name}: expected shape {list(want)}, got {list(value.shape)}")
                hints[name] = value
        out = []
        for i in range(n):
            arrays = {"L": L_batch[i][None]}
            if hints is not None:
                arrays.update({k: v[i][None] for k, v in hints.items()})
            if self._propagate is not None:
                arrays["prop"] = self._propagate.run(arrays)
            out.append(self._graph.run(arrays)[0])
        return np.stack(out)
