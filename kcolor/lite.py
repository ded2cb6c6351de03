"""Running an exported ``.tflite`` colorizer without TensorFlow or Keras.

Needs only numpy, Pillow and ``ai-edge-litert`` (``pip install kcolor[lite]``);
where ai-edge-litert is missing and TensorFlow is installed, TensorFlow's own
``tf.lite.Interpreter`` runs the file instead.
The model comes from ``kcolor export`` (``export/tflite.py``): L [1, S, S, 1]
(Lab lightness 0-100) → ab [1, S, S, 2] at the same size, decoding included;
int8 inputs and outputs are (de)quantized here with the file's own scale and
zero point. ``kcolor.colorize.Colorizer`` uses ``LiteRunner`` for ``.tflite``
paths, so ``kcolor colorize --model=model.tflite`` runs on it.
"""

import numpy as np


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


class LiteRunner:
    """Loads a ``.tflite`` colorizer once; ``predict_ab`` runs it image by image.

    Args:
      path: the ``.tflite`` file.
      num_threads: CPU threads for the interpreter (None: its default).
    """

    def __init__(self, path, num_threads=None):
        self.interpreter = _interpreter_class()(model_path=path, num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        shape = tuple(int(d) for d in self.input["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[1] != shape[2] or shape[3] != 1:
            raise ValueError(f"{path}: expected an input of shape [1, S, S, 1], got {list(shape)}")
        self.size = shape[1]

    def predict_ab(self, L_batch):
        """ab [B, S, S, 2] float32 for L [B, S, S, 1] (0-100) at the model's size."""
        out = []
        for L in np.asarray(L_batch, np.float32):
            self.interpreter.set_tensor(self.input["index"], quantize(L[None], self.input))
            self.interpreter.invoke()
            ab = self.interpreter.get_tensor(self.output["index"])
            out.append(dequantize(ab, self.output)[0])
        return np.stack(out)
