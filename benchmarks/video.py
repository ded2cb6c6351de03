"""Video colorization: flicker, colour, speed and memory of ``kcolor.video``.

    nice -n 19 python benchmarks/video.py [--model=lite] [--clips=6] [--max_frames=0]

Each shared colour clip (``--video_dir``) is turned gray (Lab L with a = b = 0,
whole, or its first ``--max_frames`` frames; written near-losslessly) and colorized by
``kcolor.video.colorize_video`` once per ``--methods`` ("none" is frame by
frame, as photos); the colour clip is the truth. Per clip and method:

* flicker: on still pixels (|ΔL| < 1 between consecutive frames of the truth),
  the mean |Δab| (L2 in ab) between consecutive output frames, over the
  truth's own (its compression noise and real changes); 1.0 = as steady as
  the real video. Floor: ≤ 1.5 on every clip with colour.
* colour: mean Hasler-Süsstrunk colourfulness of the output frames, over
  frame-by-frame's. Floor: ≥ 0.8.
* moving ab error: on pixels that move (|ΔL| ≥ 5 in the truth), the mean L2
  distance of the output's ab to the truth's, over frame-by-frame's: above 1,
  the smoothing smears colour behind moving things.
* fps: frames per second end to end (decode, colorize, smooth, encode; model
  loaded beforehand), and its ratio to frame-by-frame's. Floor: ≥ 0.7.

``--memory_frames=60,600`` (0: skip) then colorizes the first clip looped to
each length in a fresh process and reports its peak resident memory: it must
not grow with the clip's length.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", None, "Preset, .keras, .tflite or SavedModel (default: the "
                    "default preset).")
flags.DEFINE_string("video_dir", "/work/shared/data/video", "Folder of colour clips.")
flags.DEFINE_string("clips", "6", "Number of clips (spread over the sorted folder; 0: only "
                    "the memory check, on the first) or a comma list of file names.")
flags.DEFINE_integer("max_frames", 0, "Frames a clip (0: all, the README's figures; the "
                     "first 60 are quicker, but the filter is still settling there).")
flags.DEFINE_list("methods", ["none", "filter", "flow"], "kcolor.temporal methods to run.")
flags.DEFINE_float("strength", None, "Smoother strength (default: kcolor.temporal's).")
flags.DEFINE_float("sigma", None, "Smoother sigma (default: kcolor.temporal's).")
flags.DEFINE_float("hold", None, "Smoother hold in ab units (0: off; default: kcolor.temporal's).")
flags.DEFINE_float("hold_dl", None, "Smoother hold_dl, also the chroma hold's stillness "
                   "threshold (default: kcolor.temporal's).")
flags.DEFINE_float("chroma_hold", None, "kcolor.video chroma hold in code values (0: off, RGB "
                   "frames to the encoder as before; default: kcolor.video's).")
flags.DEFINE_float("chroma_drift", None, "kcolor.video chroma hold's lightness drift bound in "
                   "L units (0: none; default: kcolor.video's).")
flags.DEFINE_list("encoder_options", None, "Extra video encoder options, key=value (e.g. "
                  "aq-mode=0 for x264; default: kcolor.video's).")
flags.DEFINE_integer("batch_size", 8, "Frames a network batch.")
flags.DEFINE_list("memory_frames", ["60", "600"], "Looped clip lengths for the peak memory "
                  "check (each in a fresh process); 0 or empty: skip.")
flags.DEFINE_string("one", None, "Internal: colorize this gray clip and print peak memory JSON.")
FLAGS = flags.FLAGS


def _peak_mb():
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


def _frames(path, limit=0):
    """Yields uint8 RGB frames of ``path`` (at most ``limit``; 0: all)."""
    import av

    with av.open(path) as f:
        for i, frame in enumerate(f.decode(video=0)):
            if limit and i >= limit:
                return
            yield frame.to_ndarray(format="rgb24")


def _write(path, frames, rate):
    """Writes RGB ``frames`` near-losslessly (x264 CRF 4) at ``rate``; returns the count."""
    import av

    n = 0
    with av.open(path, "w") as out:
        s = None
        for rgb in frames:
            if s is None:
                s = out.add_stream("libx264", rate=rate, options={"crf": "4", "preset": "fast"})
                s.height, s.width = rgb.shape[:2]
                s.pix_fmt = "yuv420p"
            for p in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(p)
            n += 1
        for p in s.encode(None):
            out.mux(p)
    return n


def _rate(path):
    import av

    with av.open(path) as f:
        s = f.streams.video[0]
        return s.average_rate or s.guessed_rate


def _lab(rgb):
    from kcolor import color

    return color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)


def colourfulness(rgb):
    """Hasler & Süsstrunk (2003) on uint8 RGB (as kcolor.metrics.colorfulness)."""
    rgb = rgb.astype(np.float64)
    rg, yb = rgb[..., 0] - rgb[..., 1], 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return np.sqrt(rg.var() + yb.var()) + 0.3 * np.hypot(rg.mean(), yb.mean())


def scores(truth, outputs, limit):
    """({name: still |Δab|}, {name: colourfulness}, {name: moving ab error}) of
    ``outputs`` and (first two) the truth, streaming the truth and each output
    in step (two frames of each in memory). Moving pixels: |ΔL| ≥ 5 in the
    truth; their error is the mean L2 distance to the truth's ab."""
    names = list(outputs)
    sums = {n: 0.0 for n in ["truth"] + names}
    errs = {n: 0.0 for n in names}
    colour = {n: [] for n in ["truth"] + names}
    still_px, moving_px, prev = 0, 0, None
    streams = [_frames(truth, limit)] + [_frames(outputs[n]) for n in names]
    for frames in zip(*streams):
        labs = [_lab(f) for f in frames]
        for n, f in zip(["truth"] + names, frames):
            colour[n].append(colourfulness(f))
        if prev is not None:
            still = np.abs(labs[0][..., 0] - prev[0][..., 0]) < 1.0
            still_px += int(still.sum())
            for n, lab, p in zip(["truth"] + names, labs, prev):
                d = np.linalg.norm(lab[..., 1:] - p[..., 1:], axis=-1)
                sums[n] += float(d[still].sum())
            moving = np.abs(labs[0][..., 0] - prev[0][..., 0]) >= 5.0
            moving_px += int(moving.sum())
            for n, lab in zip(names, labs[1:]):
                e = np.linalg.norm(lab[..., 1:] - labs[0][..., 1:], axis=-1)
                errs[n] += float(e[moving].sum())
        prev = labs
    flicker = {n: sums[n] / max(still_px, 1) for n in sums}
    moving = {n: errs[n] / max(moving_px, 1) for n in names}
    return flicker, {n: float(np.mean(c)) for n, c in colour.items()}, moving


def _smoother_args():
    return {k: v for k, v in (("strength", FLAGS.strength), ("sigma", FLAGS.sigma),
                              ("hold", FLAGS.hold), ("hold_dl", FLAGS.hold_dl),
                              ("chroma_hold", FLAGS.chroma_hold),
                              ("chroma_drift", FLAGS.chroma_drift),
                              ("encoder_options", _encoder_options())) if v is not None}


def _encoder_options():
    from kcolor import video

    return video.parse_video_options(FLAGS.encoder_options, "--encoder_options")


def _clips():
    names = sorted(f for f in os.listdir(FLAGS.video_dir) if f.lower().endswith(
        (".mp4", ".mkv", ".mov", ".avi", ".webm")))
    if FLAGS.clips.isdigit():
        n = min(int(FLAGS.clips), len(names))
        return [names[int(i * len(names) / n)] for i in range(n)]  # [] for 0
    return FLAGS.clips.split(",")


def _reset_peak():
    """Resets the peak resident memory (Linux: VmHWM via /proc/self/clear_refs);
    False where that is not possible (then ru_maxrss, the whole process's peak)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _rss_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure_one(gray):
    """In a fresh process: colorize ``gray``, print memory and frames as JSON:
    ``model_mb``, the resident memory once the model is loaded and traced;
    ``peak_mb``, the peak while the clip streams through (the process's
    whole peak where it cannot be reset)."""
    from kcolor import colorize, video

    c = colorize.Colorizer(FLAGS.model)
    c.predict_ab(np.zeros((FLAGS.batch_size, c.size, c.size, 1), np.float32))  # trace
    resettable = _reset_peak()
    base = _rss_mb("VmRSS") if resettable else _peak_mb()
    t0 = time.perf_counter()
    n = video.colorize_video(gray, gray + ".out.mkv", c, FLAGS.batch_size, "filter",
                             **_smoother_args())
    seconds = time.perf_counter() - t0
    peak = _rss_mb("VmHWM") if resettable else _peak_mb()
    print(json.dumps({"frames": n, "seconds": seconds, "model_mb": base, "peak_mb": peak}))


def memory(tmp, first):
    rows = []
    for n in [int(x) for x in FLAGS.memory_frames if int(x)]:
        src = os.path.join(FLAGS.video_dir, first)
        looped = (rgb for _ in range(10 ** 6) for rgb in _frames(src))
        gray = os.path.join(tmp, f"loop{n}.mkv")
        from kcolor import colorize

        _write(gray, (colorize.gray_rgb(next(looped)) for _ in range(n)), _rate(src))
        cmd = [sys.executable, __file__, f"--one={gray}", f"--batch_size={FLAGS.batch_size}"]
        cmd += [f"--model={FLAGS.model}"] if FLAGS.model else []
        cmd += [f"--{k}={v}" for k, v in _smoother_args().items() if k != "encoder_options"]
        cmd += [f"--encoder_options={','.join(FLAGS.encoder_options)}"] \
            if FLAGS.encoder_options is not None else []
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(r.stderr[-3000:])
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(f"\nresident memory, {first} looped, each length in a fresh process (model "
          "loaded and traced first; peak: while the clip streams through):")
    print("| frames | model loaded (MB) | peak (MB) | fps |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['frames']} | {r['model_mb']:.0f} | {r['peak_mb']:.0f} | "
              f"{r['frames'] / r['seconds']:.1f} |")


def main(argv):
    from kcolor import colorize, presets, video

    if FLAGS.one:
        return measure_one(FLAGS.one)
    c = colorize.Colorizer(FLAGS.model)
    print(f"model: {FLAGS.model or presets.DEFAULT + ' (default preset)'}, working size "
          f"{c.size} px; smoother {_smoother_args() or 'defaults'}; max_frames "
          f"{FLAGS.max_frames or 'all'}")
    methods = FLAGS.methods
    rows, fps = [], {m: [0, 0.0] for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        first = True
        clips = _clips() or sorted(os.listdir(FLAGS.video_dir))[:1]  # --clips=0: memory only
        for name in _clips():
            src = os.path.join(FLAGS.video_dir, name)
            gray = os.path.join(tmp, "gray_" + os.path.splitext(name)[0] + ".mkv")
            frames = _write(gray, (colorize.gray_rgb(f) for f in _frames(src, FLAGS.max_frames)),
                            _rate(src))
            if first:  # warm up (graph tracing) outside the timings
                video.colorize_video(gray, os.path.join(tmp, "warm.mkv"), c, FLAGS.batch_size,
                                     "none")
                first = False
            outs, row = {}, {"clip": name, "frames": frames}
            for m in methods:
                outs[m] = os.path.join(tmp, f"{m}_{name}.mkv")
                t0 = time.perf_counter()
                video.colorize_video(gray, outs[m], c, FLAGS.batch_size, m,
                                     **(_smoother_args() if m != "none" else {}))
                dt = time.perf_counter() - t0
                fps[m][0] += frames
                fps[m][1] += dt
                row[f"fps_{m}"] = frames / dt
            flicker, colour, err = scores(src, outs, FLAGS.max_frames)
            row["truth_flicker"], row["truth_colour"] = flicker["truth"], colour["truth"]
            for m in methods:
                row[f"flicker_{m}"] = flicker[m] / flicker["truth"]
                row[f"colour_{m}"] = colour[m] / colour.get("none", colour[m])
                row[f"moving_err_{m}"] = err[m] / err.get("none", err[m])
            rows.append(row)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                              for k, v in row.items()}), flush=True)
        if rows:
            _table(rows, methods, fps)
            _smoother_cost(c.size, [m for m in methods if m != "none"])
        if any(int(x) for x in FLAGS.memory_frames):
            memory(tmp, clips[0])


def _smoother_cost(size, methods, frames=200):
    """The smoother's own time a frame at the working size (the fps above are noisy
    on a shared machine; this part is what the temporal methods add)."""
    from kcolor import temporal

    rng = np.random.default_rng(0)
    L = rng.uniform(0, 100, (size, size)).astype(np.float32)
    ab = rng.normal(0, 20, (frames, size, size, 2)).astype(np.float32)
    costs = []
    for m in methods:
        s = temporal.Smoother(m, **{k: v for k, v in _smoother_args().items()
                                    if k not in ("chroma_hold", "chroma_drift",
                                                 "encoder_options")})
        t0 = time.perf_counter()
        for i in range(frames):
            s(L + rng.normal(0, 0.5, L.shape).astype(np.float32), ab[i])
        costs.append(f"{m} {1000 * (time.perf_counter() - t0) / frames:.2f} ms")
    print(f"smoother alone, a frame at {size} px: " + ", ".join(costs))


def _table(rows, methods, fps):
    others = [m for m in methods if m != "none"]
    head = ["clip", "frames", "truth |Δab| still", "truth colourfulness"]
    head += [f"flicker {m} / truth" for m in methods]
    head += [f"colour {m} / none" for m in others]
    head += [f"moving ab error {m} / none" for m in others]
    head += [f"fps {m}" for m in methods]
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["clip"], str(r["frames"]), f"{r['truth_flicker']:.3f}",
                 f"{r['truth_colour']:.1f}"]
        cells += [f"{r[f'flicker_{m}']:.2f}" for m in methods]
        cells += [f"{r[f'colour_{m}']:.2f}" for m in others]
        cells += [f"{r[f'moving_err_{m}']:.2f}" for m in others]
        cells += [f"{r[f'fps_{m}']:.1f}" for m in methods]
        print("| " + " | ".join(cells) + " |")
    total = {m: fps[m][0] / fps[m][1] for m in methods}
    print("\nworst clip: " + ", ".join(
        f"{m}: flicker {max(r[f'flicker_{m}'] for r in rows):.2f}x truth"
        + (f", colour {min(r[f'colour_{m}'] for r in rows):.2f}x" if m != "none" else "")
        for m in methods))
    print("all clips: " + ", ".join(
        f"{m} {total[m]:.1f} fps" + (f" ({total[m] / total['none']:.2f}x frame by frame)"
                                     if m != "none" and "none" in total else "")
        for m in methods))


if __name__ == "__main__":
    app.run(main)
