"""``kcolor export``: writes the SavedModel and TFLite files of a model.

    kcolor export --output_dir=exported [--model=small|model.keras]
        [--formats=saved_model,tflite_float32,tflite_float16,tflite_dynamic_int8,tflite_int8]
        [--name=kcolor --version=1 --size=256 --representative_dir=PHOTOS]

``tflite_int8`` is calibrated on ``--representative_dir``, by default on the
photos that ship with kcolor for that (``kcolor/assets/calibration/``); for a
hint-aware model (``--model=lite_hints``) with simulated hints from their
true colour, and its files take the hint inputs (``export/tflite.py``).
"""

import json
import os
import sys

from absl import flags

import kcolor

FLAGS = flags.FLAGS
FORMATS = ("saved_model", "tflite_float32", "tflite_float16", "tflite_dynamic_int8",
           "tflite_int8")
# 40 varied 128-px colour photos that ship with kcolor (their README.md says
# where they come from): tflite_int8's calibration when no folder is given.
CALIBRATION_DIR = os.path.join(os.path.dirname(kcolor.__file__), "assets", "calibration")


def define_flags():
    flags.DEFINE_string("model", None, "Preset name or .keras file (default: the shipped model).")
    flags.DEFINE_string("output_dir", "exported", "Where the exports go.")
    flags.DEFINE_list("formats", list(FORMATS), f"Any of {', '.join(FORMATS)}.")
    flags.DEFINE_string("name", "kcolor", "Model name (TF Serving: output_dir/NAME/VERSION).")
    flags.DEFINE_integer("version", 1, "Model version (TF Serving folder).")
    flags.DEFINE_integer("size", None, "Working size: the TFLite input side and the size "
                         "colorize_image resizes to (default: the model's, else 256).")
    flags.DEFINE_float("temperature", None, "Annealed-mean temperature (default: the model's).")
    flags.DEFINE_float("saturation", None, "Multiply the predicted ab (default: the model's, "
                       "else 1).")
    flags.DEFINE_bool("warmup", True, "Write TF Serving warm-up requests into the SavedModel.")
    flags.DEFINE_string("representative_dir", None, "Photos to calibrate tflite_int8 on "
                        "(default: the calibration photos that ship with kcolor).")
    flags.DEFINE_integer("representative_count", 100, "Use at most this many of them.")
    flags.DEFINE_bool("int8_io", False, "tflite_int8 with int8 input and output "
                      "(default: float32 input and output around int8 compute).")


def export(model_spec, output_dir, formats=FORMATS, name="kcolor", version=1, size=None,
           temperature=None, saturation=None, representative_dir=None, representative_count=100,
           int8_io=False, warmup=True):
    """Writes the requested formats; returns {format: path}."""
    from export import graph, saved_model, tflite
    from kcolor import colorize, decode

    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown formats {unknown}: use any of {', '.join(FORMATS)}")
    graph.require_tensorflow_backend()
    model, cfg = colorize.load_model(model_spec)
    size = int(size or cfg.get("size", 256))
    decoding = decode.Decoding.from_config(cfg, temperature, saturation)
    variants = [f[len("tflite_"):] for f in formats if f.startswith("tflite_")]
    from kcolor import kinds

    if variants:
        kinds.for_model(model).check_tflite(model, cfg)
        tflite.check_variants(model, variants, int8_io)
    done = {}
    if "saved_model" in formats:
        done["saved_model"] = saved_model.export_saved_model(
            model, output_dir, name, version, size, decoding, warmup)
    if variants:
        rep = None
        if "int8" in variants:
            rep = tflite.representative(model, representative_dir or CALIBRATION_DIR, size,
                                        representative_count)
        source = model_spec if isinstance(model_spec, str) else getattr(model_spec, "name", "")
        paths = tflite.export_tflite(model, output_dir, variants, size, decoding, rep,
                                     int8_io, source=source or "preset:default")
        done.update({f"tflite_{v}": p for v, p in paths.items()})
    return done


def run(argv):
    if len(argv) > 1:
        sys.exit(f"kcolor export: unexpected arguments {argv[1:]}")
    try:
        done = export(FLAGS.model, FLAGS.output_dir, FLAGS.formats, FLAGS.name, FLAGS.version,
                      FLAGS.size, FLAGS.temperature, FLAGS.saturation, FLAGS.representative_dir,
                      FLAGS.representative_count, FLAGS.int8_io, FLAGS.warmup)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        sys.exit(f"kcolor export: {e}")
    for fmt, path in done.items():
        size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs) \
            if os.path.isdir(path) else os.path.getsize(path)
        print(json.dumps({"format": fmt, "path": path, "bytes": size}))
