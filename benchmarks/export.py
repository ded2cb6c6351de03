"""Exported formats side by side: file size, latency per image, quality.

    python benchmarks/export.py --export_dir=exported --data_dir=PHOTOS \
        [--model=small|model.keras] [--limit=200] [--threads=2] [--markdown=out.md]

``--export_dir`` is the output of ``kcolor export`` (its SavedModel and
``tflite/``); ``--model`` the Keras model it came from, the reference row.
Every row colorizes the same centre crops at the TFLite size S (the sidecars'
``size``), one image per call; latency is the median over the photos after one
warm-up call, with ``--threads`` CPU threads. Quality: PSNR, SSIM, AuC and
colourfulness (``kcolor.metrics``) against the photos, and the change of each
from the Keras float32 row; ``mean abs Δab`` is the mean ab difference from it.
"""

import glob
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from kcolor import atomic, color, colorize, data, decode, lite, metrics  # noqa: E402

flags.DEFINE_string("export_dir", "exported", "Output folder of kcolor export.")
flags.DEFINE_string("data_dir", None, "Colour photos to score on.", required=True)
flags.DEFINE_string("model", None, "The exported model (preset or .keras; default: shipped).")
flags.DEFINE_integer("limit", 200, "Use N photos spread over the folder.")
flags.DEFINE_integer("threads", 2, "CPU threads for every runtime.")
flags.DEFINE_string("markdown", None, "Also write the table here.")
FLAGS = flags.FLAGS


def folder_bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def runners(export_dir, model_spec, threads):
    """[(name, path or None, fn L [1, S, S, 1] → ab [1, S, S, 2])], Keras first."""
    model, cfg = colorize.load_model(model_spec)
    tflites = sorted(glob.glob(os.path.join(export_dir, "tflite", "model_*.tflite")))
    with open(tflites[0][:-len(".tflite")] + ".json") as f:
        side = json.load(f)
    decoding = decode.Decoding.from_config(side)  # what the export baked in
    inference = decode.build_inference_model(model, **decoding.as_dict())
    out = [("keras float32", None, lambda L: np.asarray(inference.predict_on_batch(L)))]
    served = sorted(glob.glob(os.path.join(export_dir, "*", "*", "saved_model.pb")))
    if served:
        sm_dir = os.path.dirname(served[0])
        sig = tf.saved_model.load(sm_dir).signatures["serving_default"]
        out.append(("saved_model", sm_dir, lambda L: sig(L=tf.constant(L))["ab"].numpy()))
    for path in tflites:
        runner = lite.LiteRunner(path, num_threads=threads)
        name = "tflite " + os.path.basename(path)[len("model_"):-len(".tflite")]
        out.append((name, path, runner.predict_ab))
    return out, side["size"]


def measure(fn, Ls):
    fn(Ls[0])  # warm-up
    abs_, times = [], []
    for L in Ls:
        t0 = time.perf_counter()
        abs_.append(fn(L))
        times.append(time.perf_counter() - t0)
    return np.concatenate(abs_), 1000.0 * float(np.median(times))


def scores(L, rgb, ab):
    lab_true = color.rgb_to_lab(rgb, np)
    lab_pred = np.concatenate([L, ab], -1)
    rgb_pred = color.lab_to_rgb(lab_pred, np).astype(np.float32)
    m = metrics.all_metrics(rgb, lab_true.astype(np.float32), rgb_pred, lab_pred)
    return {k: float(np.mean(v)) for k, v in m.items()}


def table(rows):
    head = ("| format | size (MB) | ms / image | PSNR | SSIM | AuC | colourfulness "
            "| ΔPSNR | ΔSSIM | ΔAuC | Δcolourfulness | mean abs Δab |")
    lines = [head, "|" + "---|" * 12]
    ref = rows[0]
    for r in rows:
        size = f"{r['bytes'] / 1e6:.2f}" if r["bytes"] else "—"
        lines.append(
            f"| {r['name']} | {size} | {r['ms']:.1f} | {r['psnr']:.2f} | {r['ssim']:.4f} "
            f"| {r['auc']:.2f} | {r['colorfulness']:.2f} | {r['psnr'] - ref['psnr']:+.2f} "
            f"| {r['ssim'] - ref['ssim']:+.4f} | {r['auc'] - ref['auc']:+.2f} "
            f"| {r['colorfulness'] - ref['colorfulness']:+.2f} | {r['dab']:.2f} |")
    return "\n".join(lines)


def main(argv):
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    run, size = runners(FLAGS.export_dir, FLAGS.model, FLAGS.threads)
    pairs = list(data.validation_dataset(FLAGS.data_dir, size, batch_size=1, limit=FLAGS.limit))
    Ls = [np.asarray(L, np.float32) for L, _ in pairs]
    L_all = np.concatenate(Ls)
    rgb_all = np.concatenate([np.asarray(rgb, np.float32) for _, rgb in pairs])
    rows, ref_ab = [], None
    for name, path, fn in run:
        ab, ms = measure(fn, Ls)
        ref_ab = ab if ref_ab is None else ref_ab
        rows.append({"name": name, "bytes": folder_bytes(path) if path else 0, "ms": ms,
                     "dab": float(np.abs(ab - ref_ab).mean()), **scores(L_all, rgb_all, ab)})
    text = (f"{len(Ls)} photos of {FLAGS.data_dir}, centre crops {size} x {size}, "
            f"{FLAGS.threads} threads\n\n" + table(rows))
    print(text)
    if FLAGS.markdown:
        atomic.write_text(FLAGS.markdown, text + "\n")


if __name__ == "__main__":
    app.run(main)
