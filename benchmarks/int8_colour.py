"""Does the full-int8 TFLite file keep the colour? (issue #13)

    python benchmarks/int8_colour.py [--model=small|run/last.keras] \
        [--data_dir=../shared/data/val] [--calibration_dir=../shared/data/train] \
        [--limit=200] [--calibration_limit=100] [--size=128] [--markdown=out.md]

Colorizes ``--limit`` photos spread over ``--data_dir``, squashed to size x
size (``kcolor.data.validation_dataset(squash=True)``), with the Keras float
model (``kcolor.decode.build_inference_model`` with the preset's temperature
and saturation, or ``--temperature``/``--saturation``) and with full-int8
TFLite files calibrated on ``--calibration_limit`` photos spread over
``--calibration_dir`` (``export.tflite.representative_L``: scored and
calibration photos differ). Rows (``--rows``):

* ``before``: the float graph converted to full int8 as is (the int8 export
  before issue #13's fix);
* ``pinned``: only the fixed L and ab ranges (``INT8_L_RANGE``, ``INT8_AB_RANGE``);
* ``equalized``: only ``equalize_relu_batchnorm``;
* ``export``: what ``kcolor export`` writes now (both), via ``export_tflite``;
* ``dynamic_int8``: int8 weights, float activations, for reference.

Prints PSNR and colourfulness (``kcolor.metrics``, as
``kcolor.callbacks.evaluate_colorizer``) against the photos, each ratio to the
float model, the mean |Δab| from it, and the int8 ab output's quantization
range (``--ranges`` lists every quantized activation tensor of the
``before`` and ``export`` files). Requirement: colourfulness ratio within
0.95..1.05 and ΔPSNR within ±0.3 dB.
"""

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The repository's ``export`` package, not this folder's export.py.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [_ROOT] + [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(
    os.path.abspath(__file__))]

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", "small", "Preset name or .keras file.")
flags.DEFINE_string("data_dir", "../shared/data/val", "Photos to score on.")
flags.DEFINE_string("calibration_dir", "../shared/data/train",
                    "Photos to calibrate int8 on (not the scored ones).")
flags.DEFINE_integer("limit", 200, "Score N photos spread over --data_dir.")
flags.DEFINE_integer("calibration_limit", 100, "Calibrate on N photos spread over the folder.")
flags.DEFINE_integer("size", 128, "Working size S (photos squashed to S x S).")
flags.DEFINE_float("temperature", None, "Default: the preset's, else 0.38.")
flags.DEFINE_float("saturation", None, "Default: the preset's, else 1.0.")
flags.DEFINE_list("rows", ["before", "pinned", "equalized", "export", "dynamic_int8"],
                  "Which TFLite rows (see the module docstring).")
flags.DEFINE_integer("threads", 1, "CPU threads for TensorFlow and the interpreter.")
flags.DEFINE_bool("ranges", False, "List the quantized tensors of the before/export files.")
flags.DEFINE_string("markdown", None, "Also write the table here.")
FLAGS = flags.FLAGS

ROW_NAMES = {"before": "TFLite int8 (before)", "pinned": "TFLite int8, L/ab range pinned",
             "equalized": "TFLite int8, equalized", "export": "TFLite int8 (export)",
             "dynamic_int8": "TFLite dynamic_int8"}


def scores(L, rgb, ab):
    """Mean PSNR and colourfulness of the colorized photos against ``rgb``."""
    from keras import ops

    from kcolor import color, metrics

    rgb_pred = np.asarray(color.lab_to_rgb(np.concatenate([L, ab], -1), np), np.float32)
    psnr = ops.convert_to_numpy(metrics.psnr(rgb, rgb_pred))
    colour = ops.convert_to_numpy(metrics.colorfulness(rgb_pred))
    return float(np.mean(psnr)), float(np.mean(colour))


def output_range(detail):
    """'[lo, hi] (scale s)' of the int8 tensor feeding a float output, or of
    the output itself when it is int8."""
    scale, zero = detail["quantization"]
    if not scale:
        return "float"
    return f"[{scale * (-128 - zero):.1f}, {scale * (127 - zero):.1f}] (scale {scale:.3g})"


def ab_tensor(runner):
    """The quantization of the int8 ab tensor the float output is dequantized
    from (the last quantized 4-D tensor with 2 channels), or None."""
    found = None
    for d in runner.interpreter.get_tensor_details():
        if d["quantization"][0] and len(d["shape"]) == 4 and d["shape"][-1] == 2:
            found = d if found is None or d["index"] > found["index"] else found
    return found


def list_ranges(name, runner):
    print(f"\nquantized activations of {name}:")
    for d in runner.interpreter.get_tensor_details():
        scale, zero = d["quantization"]
        if scale and len(d["shape"]) == 4:
            short = d["name"].split(";")[0][-60:]
            print(f"  {short:60s} {[int(n) for n in d['shape']]} [{scale * (-128 - zero):8.2f}, "
                  f"{scale * (127 - zero):8.2f}] scale {scale:.4g}")


def build_tflite(row, model, size, decoding, representative, tmp):
    """The path of one TFLite row's file (``decoding``: a ``kcolor.decode.Decoding``)."""
    from export import tflite

    if row == "export":
        return tflite.export_tflite(model, os.path.join(tmp, row), ["int8"], size, decoding,
                                    representative)["int8"]
    saved = os.path.join(tmp, row + "_saved")
    tflite._fixed_size_saved_model(model, size, decoding, saved,
                                   equalize=row == "equalized", pin_ranges=row == "pinned")
    path = os.path.join(tmp, f"{row}.tflite")
    with open(path, "wb") as f:
        f.write(tflite.convert(saved, "dynamic_int8" if row == "dynamic_int8" else "int8",
                               representative))
    return path


def table(rows):
    lines = ["| model | PSNR | colourfulness | ΔPSNR | colourfulness ratio | mean abs Δab "
             "| int8 ab range |", "|" + "---|" * 7]
    ref = rows[0]
    for r in rows:
        lines.append(f"| {r['name']} | {r['psnr']:.2f} | {r['colour']:.2f} "
                     f"| {r['psnr'] - ref['psnr']:+.2f} | {r['colour'] / ref['colour']:.3f} "
                     f"| {r['dab']:.2f} | {r['range']} |")
    return "\n".join(lines)


def main(argv):
    import tensorflow as tf
    from absl import logging

    logging.set_verbosity(logging.WARNING)

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    import kcolor.losses  # noqa: F401 (registered classes of training checkpoints)
    import kcolor.optimizers  # noqa: F401
    from export import tflite
    from kcolor import atomic, colorize, data, decode, lite

    t0 = time.time()
    model, cfg = colorize.load_model(FLAGS.model)
    decoding = decode.Decoding.from_config(cfg, FLAGS.temperature, FLAGS.saturation)
    pairs = list(data.validation_dataset(FLAGS.data_dir, FLAGS.size, batch_size=50,
                                         limit=FLAGS.limit, squash=True))
    L = np.concatenate([np.asarray(a, np.float32) for a, _ in pairs])
    rgb = np.concatenate([np.asarray(b, np.float32) for _, b in pairs])
    representative = tflite.representative_L(FLAGS.calibration_dir, FLAGS.size,
                                             FLAGS.calibration_limit)
    inference = decode.build_inference_model(model, **decoding.as_dict())
    ab_float = np.asarray(inference.predict(L, batch_size=25, verbose=0))
    rows = [{"name": "Keras float32", "dab": 0.0, "range": "—",
             **dict(zip(("psnr", "colour"), scores(L, rgb, ab_float)))}]
    with tempfile.TemporaryDirectory() as tmp:
        for row in FLAGS.rows:
            path = build_tflite(row, model, FLAGS.size, decoding, representative, tmp)
            runner = lite.LiteRunner(path, num_threads=FLAGS.threads)
            ab = runner.predict_ab(L)
            detail = ab_tensor(runner)
            rows.append({"name": ROW_NAMES[row], "dab": float(np.abs(ab - ab_float).mean()),
                         "range": output_range(detail) if detail else "float",
                         **dict(zip(("psnr", "colour"), scores(L, rgb, ab)))})
            if FLAGS.ranges and row in ("before", "export"):
                list_ranges(ROW_NAMES[row], runner)
    kept = "" if decoding.mean_saturation is None else f", mean colour x{decoding.mean_saturation}"
    text = (f"{FLAGS.model} (T {decoding.temperature}, saturation {decoding.saturation}{kept}): "
            f"{len(L)} photos of "
            f"{FLAGS.data_dir} squashed to {FLAGS.size} px; int8 calibrated on "
            f"{len(representative)} L of {FLAGS.calibration_dir} (representative_L); "
            f"{time.time() - t0:.0f} s\n\n" + table(rows))
    print(text)
    if FLAGS.markdown:
        atomic.write_text(FLAGS.markdown, text + "\n")


if __name__ == "__main__":
    app.run(main)
