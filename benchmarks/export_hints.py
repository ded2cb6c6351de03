"""A hint-aware model's exports against its Keras model, at the same points.

    python benchmarks/export_hints.py --data_dir=/work/shared/data/imagenet_samples \
        [--model=lite_hints|PRESET.json] [--export_dir=DIR] [--limit=20] [--points=10] \
        [--threads=2] [--markdown=out.md]

Exports the model (``kcolor export``: SavedModel and the four TFLite
variants at ``--size``) into ``--export_dir`` unless it already holds an
export, then colorizes ``--limit`` photos spread over ``--data_dir`` at their
own size with ``kcolor.colorize.Colorizer`` on the Keras model, the
SavedModel (``colorize_with_hints``) and each ``.tflite`` file, every one
with the same ``--points`` points a photo (``kcolor.hints.evaluate.eval_points``:
SIGGRAPH 2017's protocol, seeded by the photo's name). Per format: PSNR of
the colour photo against the true photo and against the Keras one, and the
mean, lowest and highest per-photo change of PSNR (vs. the truth) from Keras's.
"no points" rows: the same without points (the Keras model's plain path is
the base network alone; a .tflite file runs with an empty mask). Latency:
median of ``--repeats`` calls of one working-size inference with the points
(``LiteRunner.predict_ab``, and the ``propagate_float32.tflite`` part of
it for a file that takes ``prop``; Keras ``predict_on_batch``; the
SavedModel's signature), ``--threads`` threads, after one warm-up call.
"""

import glob
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The repository's export package, not benchmarks/export.py beside this file.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from kcolor import atomic, color, colorize, colorize_files, lite  # noqa: E402
from kcolor.hints import evaluate, points, sampler  # noqa: E402

flags.DEFINE_string("model", "lite_hints", "The hint-aware model (preset name or .json).")
flags.DEFINE_string("data_dir", None, "Colour photos to score on.", required=True)
flags.DEFINE_string("export_dir", "exported_hints", "Where the export is (or goes).")
flags.DEFINE_integer("size", 256, "Working size of the export.")
flags.DEFINE_integer("limit", 20, "Photos, spread over the folder.")
flags.DEFINE_integer("points", 10, "Hint points a photo.")
flags.DEFINE_integer("threads", 2, "CPU threads for every runtime.")
flags.DEFINE_integer("repeats", 5, "Timed calls per format.")
flags.DEFINE_string("markdown", None, "Also write the table here.")
FLAGS = flags.FLAGS


def psnr(a, b):
    mse = np.mean(np.square(a.astype(np.float64) / 255.0 - b.astype(np.float64) / 255.0))
    return 10.0 * np.log10(1.0 / max(mse, 1e-12))


def size_of(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def export_once(export_dir, model, size):
    from export import command

    if glob.glob(os.path.join(export_dir, "tflite", "model_*.tflite")):
        return None
    t0 = time.perf_counter()
    command.export(model, export_dir, size=size, warmup=False)
    return time.perf_counter() - t0


def formats(export_dir, model, size):
    """[(name, path or None, Colorizer)], Keras first."""
    out = [("keras", None, colorize.Colorizer(model, size=size))]
    served = sorted(glob.glob(os.path.join(export_dir, "*", "*", "saved_model.pb")))
    if served:
        path = os.path.dirname(served[0])
        out.append(("saved_model", path, colorize.Colorizer(path)))
    for variant in ("float32", "float16", "dynamic_int8", "int8"):
        path = os.path.join(export_dir, "tflite", f"model_{variant}.tflite")
        if os.path.exists(path):
            out.append((f"tflite {variant}", path, colorize.Colorizer(path)))
    return out


def photos(folder, limit):
    files = sorted(p for p, _ in colorize_files.expand([folder]))
    if limit and len(files) > limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).astype(int)]
    return files


def latency(name, path, colorizer, L, hint_ab, mask, threads, repeats):
    if path is None:
        predict = colorizer.backend._conditioned  # the Keras inference model, cached
    elif name == "saved_model":
        def predict(L, hint_ab, mask):
            return colorizer.backend.signature(L=L, hint_ab=hint_ab, mask=mask)["ab"].numpy()
    else:
        runner = lite.LiteRunner(path, num_threads=threads)
        predict = runner.predict_ab
    ms = _median_ms(lambda: predict(L, hint_ab, mask), repeats)
    if path is not None and path.endswith(".tflite") and runner._propagate is not None:
        arrays = {"L": L, "hint_ab": hint_ab, "mask": mask}
        return f"{ms:.0f} ({_median_ms(lambda: runner._propagate.run(arrays), repeats):.0f})"
    return f"{ms:.0f}"


def _median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


def main(argv):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    seconds = export_once(FLAGS.export_dir, FLAGS.model, FLAGS.size)
    runs = formats(FLAGS.export_dir, FLAGS.model, FLAGS.size)
    files = photos(FLAGS.data_dir, FLAGS.limit)
    scores = {name: {"truth": [], "keras": [], "plain_truth": [], "plain_keras": []}
              for name, _, _ in runs}
    first = None
    for path in files:
        rgb, _ = colorize.read_photo(path)
        lab = color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)
        pts, _, _ = evaluate.eval_points(lab[..., 1:], FLAGS.points,
                                         sampler.seed_for(os.path.basename(path)))
        if first is None:
            first = (rgb, pts)
        ref = ref_plain = None
        for name, _, c in runs:
            out = c.colorize([rgb], hints=[pts])[0]
            plain = c.colorize([rgb])[0]
            ref = out if ref is None else ref
            ref_plain = plain if ref_plain is None else ref_plain
            s = scores[name]
            s["truth"].append(psnr(rgb, out))
            s["keras"].append(psnr(ref, out))
            s["plain_truth"].append(psnr(rgb, plain))
            s["plain_keras"].append(psnr(ref_plain, plain))
    rgb, pts = first
    S = FLAGS.size
    L = colorize._resize(colorize._lightness(rgb), S, S)[None]
    hint_ab, mask = points.to_maps(pts, rgb.shape[0], rgb.shape[1], S)
    hint_ab, mask = hint_ab[None], mask[None]
    keras_truth = np.asarray(scores["keras"]["truth"])
    keras_plain = np.asarray(scores["keras"]["plain_truth"])
    lines = [
        f"{len(files)} photos of {FLAGS.data_dir} at their own size, {FLAGS.points} points "
        f"each (eval_points), working size {S}, model {FLAGS.model}, {FLAGS.threads} threads"
        + (f"; export took {seconds:.0f} s" if seconds else ""), "",
        "| format | MB (+ propagate_float32 where it takes prop) | ms / inference with points "
        "(of which propagate_float32) | PSNR vs truth | ΔPSNR vs Keras: mean [min, max] "
        "| PSNR vs Keras | no points: PSNR vs truth | ΔPSNR: mean [min, max] | PSNR vs Keras |",
        "|" + "---|" * 9]
    for name, path, c in runs:
        s = {k: np.asarray(v) for k, v in scores[name].items()}
        d, dp = s["truth"] - keras_truth, s["plain_truth"] - keras_plain
        mb = size_of(path) / 1e6 if path else 0.0
        if path and path.endswith(".tflite") and "prop" in c.lite.inputs:
            mb += size_of(c.lite.propagation) / 1e6
        ms = latency(name, path, c, L, hint_ab, mask, FLAGS.threads, FLAGS.repeats)
        vs = "—" if path is None else f"{np.mean(s['keras']):.2f}"
        vs_plain = "—" if path is None else f"{np.mean(s['plain_keras']):.2f}"
        lines.append(
            f"| {name} | {mb:.2f} | {ms} | {s['truth'].mean():.2f} | {d.mean():+.3f} "
            f"[{d.min():+.2f}, {d.max():+.2f}] | {vs} | {s['plain_truth'].mean():.2f} "
            f"| {dp.mean():+.3f} [{dp.min():+.2f}, {dp.max():+.2f}] | {vs_plain} |")
    text = "\n".join(lines)
    print(text)
    if FLAGS.markdown:
        atomic.write_text(FLAGS.markdown, text + "\n")
    print(json.dumps({"psnr_truth": {k: float(np.mean(v["truth"])) for k, v in scores.items()}}))


if __name__ == "__main__":
    app.run(main)
