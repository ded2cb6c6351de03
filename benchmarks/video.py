"""Video colorization: flicker, CDC, colour, speed and memory of ``kcolor.video``.

    nice -n 19 python benchmarks/video.py [--model=lite] [--clips=6] [--max_frames=0]

The README's and docs/VIDEO_ENCODER.md's figures (all 19 shared clips, whole;
about 35 minutes on 2 shared cores):

    nice -n 19 python benchmarks/video.py --clips=19 --methods=none,filter --max_frames=0

Each shared colour clip (``--video_dir``) is turned gray (Lab L with a = b = 0,
whole, or its first ``--max_frames`` frames; written near-losslessly) and colorized by
``kcolor.video.colorize_video`` once per ``--methods`` ("none" is frame by
frame, as photos); the colour clip is the truth ("real"). Each colorized clip
is scored twice: as the RGB frames kcolor hands its encoder ("fed", caught by
``kcolor.video_metrics.fed_frames``, exactly those arrays) and as the encoded
file ("encoded", x264 CRF 17, kcolor's default). The real clip is also put
through that same encoder (``video_metrics.encode_like_kcolor``: its decoded RGB
frames into kcolor's encoder path, CRF 17 and any ``--encoder_options``):
"real encoded". Per clip and method:

* flicker (issue #29, as the field measures it): on still pixels (|ΔL| < 1
  between consecutive frames of the real clip, the same pixels for every
  stream), the mean |Δab| (L2 in ab) between consecutive frames, over the
  real clip's own (its compression noise and real changes); 1.0 = as steady
  as the real video. Three figures:
  - fed × real: the frames kcolor makes, before any encoder. Floor: ≤ 1.5 on
    every clip with colour (the default method, "filter").
  - encoded × real encoded: the file against the real clip re-encoded with
    the same settings (encoded against encoded: the encoder's own flicker
    counts on both sides).
  - encoded × real: the file against the raw real clip (the figure reported
    before issue #29; x264 adds flicker to any re-encode, docs/VIDEO_ENCODER.md).
* CDC: colour distribution consistency (TCVC, ColorMNet, NTIRE 2023 video
  colorization): the mean Jensen-Shannon divergence (natural log) of the
  256-bin R, G, B histograms of frames i and i + 1, i + 2, i + 4 (weights
  1/3; each offset over its own valid range; ``kcolor.video_metrics``), of the
  fed frames, the encoded file, the real clip and the real clip encoded.
  Lower is steadier; not a ratio.
* colour: mean Hasler-Süsstrunk colourfulness of the encoded output frames,
  over frame-by-frame's. Floor: ≥ 0.8.
* moving ab error: on pixels that move (|ΔL| ≥ 5 in the truth), the mean L2
  distance of the encoded output's ab to the truth's, over frame-by-frame's:
  above 1, the smoothing smears colour behind moving things.
* fps: frames per second end to end (decode, colorize, smooth, encode, plus
  about 1 ms a frame writing the fed frames to a scratch file; model loaded
  beforehand), and its ratio to frame-by-frame's. Floor: ≥ 0.7.

Each clip prints one JSON line (``fed_flicker_*``, ``enc_flicker_*``,
``flicker_*``: the three flicker ratios; ``real_enc_flicker``: the real
clip encoded over the raw; ``cdc_*``), then a table of all clips, the worst
clip per method and whether the floor is met.

``--memory_frames=60,600`` (0: skip) then colorizes the first clip looped to
each length in a fresh process and reports its peak resident memory: it must
not grow with the clip's length.
"""

import itertools
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


class _RawFrames:
    """A sink for ``video_metrics.fed_frames``: appends each uint8 RGB frame's
    bytes to ``path``; ``frames()`` maps them back [n, H, W, 3] (a clip is never
    held whole in memory)."""

    def __init__(self, path):
        self.path, self.n, self.shape = path, 0, None
        self._f = open(path, "wb")

    def __call__(self, rgb):
        self.shape = rgb.shape
        self._f.write(np.ascontiguousarray(rgb, np.uint8).tobytes())
        self.n += 1

    def close(self):
        self._f.close()

    def frames(self):
        return np.memmap(self.path, np.uint8, "r", shape=(self.n,) + self.shape)


def scores(truth, streams, limit, moving=()):
    """Scores each of ``streams`` ({name: iterable of uint8 RGB frames, as long
    as the truth's}) and the truth (the clip at path ``truth``, first ``limit``
    frames) in step, two frames of each in memory. Returns {name: {"flicker",
    "colour", "cdc"}} (the truth under "truth") and, for names in ``moving``,
    "moving_err". Still pixels: |ΔL| < 1 between consecutive frames of the
    truth, the same pixels for every stream; flicker: their mean |Δab| (L2 in
    ab). Moving pixels: |ΔL| ≥ 5 in the truth; their error is the mean L2
    distance to the truth's ab."""
    from kcolor import video_metrics

    names = ["truth"] + list(streams)
    sums = {n: 0.0 for n in names}
    errs = {n: 0.0 for n in moving}
    colour = {n: [] for n in names}
    cdc = {n: video_metrics.CDC() for n in names}
    still_px, moving_px, prev = 0, 0, None
    iters = [_frames(truth, limit)] + [iter(streams[n]) for n in streams]
    for frames in itertools.zip_longest(*iters):
        if any(f is None for f in frames):
            raise ValueError(f"{truth}: streams of different lengths: "
                             f"{[n for n, f in zip(names, frames) if f is None]} ended first")
        labs = [_lab(f) for f in frames]
        for n, f in zip(names, frames):
            colour[n].append(colourfulness(f))
            cdc[n].add(f)
        if prev is not None:
            dL = np.abs(labs[0][..., 0] - prev[0][..., 0])
            still, move = dL < 1.0, dL >= 5.0
            still_px += int(still.sum())
            moving_px += int(move.sum())
            for n, lab, p in zip(names, labs, prev):
                d = np.linalg.norm(lab[..., 1:] - p[..., 1:], axis=-1)
                sums[n] += float(d[still].sum())
                if n in errs:
                    e = np.linalg.norm(lab[..., 1:] - labs[0][..., 1:], axis=-1)
                    errs[n] += float(e[move].sum())
        prev = labs
    out = {n: {"flicker": sums[n] / max(still_px, 1), "colour": float(np.mean(colour[n])),
               "cdc": cdc[n].value()} for n in names}
    for n in errs:
        out[n]["moving_err"] = errs[n] / max(moving_px, 1)
    return out


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
    from kcolor import colorize, presets, video, video_metrics

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
            outs, fed, row = {}, {}, {"clip": name, "frames": frames}
            for m in methods:
                outs[m] = os.path.join(tmp, f"{m}_{name}.mkv")
                fed[m] = _RawFrames(os.path.join(tmp, f"{m}_{name}.rgb"))
                t0 = time.perf_counter()
                with video_metrics.fed_frames(fed[m]):  # ~1 ms a frame of writing
                    video.colorize_video(gray, outs[m], c, FLAGS.batch_size, m,
                                         **(_smoother_args() if m != "none" else {}))
                dt = time.perf_counter() - t0
                fed[m].close()
                fps[m][0] += frames
                fps[m][1] += dt
                row[f"fps_{m}"] = frames / dt
            # The real clip through kcolor's own encoder (CRF 17 and the same options).
            real_enc = os.path.join(tmp, f"real_{name}.mkv")
            video_metrics.encode_like_kcolor(src, real_enc, FLAGS.max_frames,
                                             _encoder_options())
            streams = {"real_enc": _frames(real_enc)}
            streams.update({m: _frames(outs[m]) for m in methods})
            streams.update({f"{m}_fed": fed[m].frames() for m in methods})
            s = scores(src, streams, FLAGS.max_frames, moving=methods)
            t, te = s["truth"], s["real_enc"]
            row.update(truth_flicker=t["flicker"], truth_colour=t["colour"],
                       real_enc_flicker=te["flicker"] / t["flicker"],
                       cdc_truth=t["cdc"], cdc_real_enc=te["cdc"])
            for m in methods:
                row[f"fed_flicker_{m}"] = s[f"{m}_fed"]["flicker"] / t["flicker"]
                row[f"enc_flicker_{m}"] = s[m]["flicker"] / te["flicker"]
                row[f"flicker_{m}"] = s[m]["flicker"] / t["flicker"]
                row[f"cdc_fed_{m}"] = s[f"{m}_fed"]["cdc"]
                row[f"cdc_{m}"] = s[m]["cdc"]
                row[f"colour_{m}"] = s[m]["colour"] / s.get("none", s[m])["colour"]
                row[f"moving_err_{m}"] = s[m]["moving_err"] / s.get("none", s[m])["moving_err"]
            for path in [real_enc, gray] + list(outs.values()) + [f.path for f in fed.values()]:
                os.remove(path)
            rows.append(row)
            print(json.dumps({k: round(v, 6 if k.startswith("cdc") else 3)
                              if isinstance(v, float) else v for k, v in row.items()}),
                  flush=True)
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
    head = ["clip", "frames", "real still-pixel Δab", "real encoded × real"]
    head += [f"fed {m} × real" for m in methods]
    head += [f"encoded {m} × real encoded" for m in methods]
    head += [f"encoded {m} × real" for m in methods]
    head += ["CDC real", "CDC real encoded"]
    head += [f"CDC {m} {w}" for m in methods for w in ("fed", "encoded")]
    head += [f"colour {m} / none" for m in others]
    head += [f"moving ab error {m} / none" for m in others]
    head += [f"fps {m}" for m in methods]
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["clip"], str(r["frames"]), f"{r['truth_flicker']:.3f}",
                 f"{r['real_enc_flicker']:.2f}"]
        cells += [f"{r[f'{k}_{m}']:.2f}" for k in ("fed_flicker", "enc_flicker", "flicker")
                  for m in methods]
        cells += [f"{r['cdc_truth']:.5f}", f"{r['cdc_real_enc']:.5f}"]
        cells += [f"{r[f'{k}_{m}']:.5f}" for m in methods for k in ("cdc_fed", "cdc")]
        cells += [f"{r[f'colour_{m}']:.2f}" for m in others]
        cells += [f"{r[f'moving_err_{m}']:.2f}" for m in others]
        cells += [f"{r[f'fps_{m}']:.1f}" for m in methods]
        print("| " + " | ".join(cells) + " |")
    total = {m: fps[m][0] / fps[m][1] for m in methods}
    print("\nworst clip: " + "; ".join(
        f"{m}: fed frames {max(r[f'fed_flicker_{m}'] for r in rows):.2f}x real, encoded "
        f"{max(r[f'enc_flicker_{m}'] for r in rows):.2f}x real encoded "
        f"({max(r[f'flicker_{m}'] for r in rows):.2f}x real), CDC "
        f"{max(r[f'cdc_{m}'] for r in rows):.5f}"
        + (f", colour {min(r[f'colour_{m}'] for r in rows):.2f}x" if m != "none" else "")
        for m in methods))
    for m in others:
        worst = max(rows, key=lambda r: r[f"fed_flicker_{m}"])
        ok = worst[f"fed_flicker_{m}"] <= 1.5
        print(f"floor (fed frames <= 1.5x the real video's flicker on every clip), {m}: "
              f"{'met' if ok else 'MISSED'} (worst {worst[f'fed_flicker_{m}']:.2f}x, "
              f"{worst['clip']})")
    print("all clips: " + ", ".join(
        f"{m} {total[m]:.1f} fps" + (f" ({total[m] / total['none']:.2f}x frame by frame)"
                                     if m != "none" and "none" in total else "")
        for m in methods))


if __name__ == "__main__":
    app.run(main)
