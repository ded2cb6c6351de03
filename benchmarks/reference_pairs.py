"""Colour from a reference (issue #32, ``kcolor.hints.reference``): scores
reference pairs made from the shared data.

    nice -n 19 python benchmarks/reference_pairs.py [--model=lite_hints] [--split=test]
    nice -n 19 python benchmarks/reference_pairs.py --split=tune --sweep   # the choice

Pairs (``--data``, /work/shared/data; read-only, nothing is written there):

* **same scene, test split** (the floors are judged here): each of the 19
  clips of ``video/`` whose first and last frames are at least 2 s apart
  (11 asl_gestures clips and bottle-detection): reference = the first
  frame in colour, target = the last frame turned gray (bottle-detection
  gives two pairs: frames 0 -> 600 and 600 -> 1188, 20 s apart each);
* **same scene, tune split** (the parameters were chosen on it, never on the
  test pairs): the 7 asl_gestures clips shorter than 2 s (first -> last
  frame, 1.5-1.9 s), and CamVid drives (``diverse/*/camvid_*``, 128 x 128
  crops; a frame and the first one 60-120 frames, 2-4 s, later in the same
  sequence; ``--camvid`` pairs spread over the four sequences);
* **unrelated**: each target also gets a reference that shows something
  else: an ``imagenet_samples/`` photo (even-numbered ones for the tune
  split, odd-numbered for test), and for the clips' targets a frame of the
  other kind of clip (asl_gestures <-> bottle-detection);
* **same room** (reported, no floor): each asl_gestures target also gets
  the first frame of the next asl_gestures clip, the same room with another
  signer: a related, not an unrelated, reference.

Each target is colorized three ways by one ``kcolor.colorize.Colorizer``
(``--model``, a hint-aware model; until the ``lite_hints`` preset exists the
script builds ``lite`` + an untrained refiner, as ``kcolor.hints.model``
does: 0.5 propagated + 0.5 automatic, hinted pixels exact): automatic (no
points), with the same-scene reference's points and with the unrelated
reference's. Figures, per split and pair kind:

* PSNR (dB, sRGB in [0, 1], the photo's own size) of each against the
  true colour photo; the mean gain over automatic; the share of pairs the
  reference improves (gain > 0);
* colourfulness (``kcolor.metrics``, Hasler-Susstrunk) of the output over
  the truth's (the mean of per-pair ratios, pairs whose truth has
  colourfulness above 5; bottle-detection is near gray);
* the number of points given;
* matching time: ``reference_points`` (reference features, target
  features, matching) on a 1152 x 864 target made from a clip frame with a
  similar reference (another frame), median of 5 after a warm-up, with the
  colorizer's own time on it beside it.

Floors (issue #32), on the test split: same scene PSNR >= automatic + 1.5 dB
on average and better on >= 80 % of pairs, colourfulness >= 0.8 x the
truth's; unrelated reference PSNR no more than 0.3 dB below automatic;
matching <= 0.5 s.

``--sweep`` scores the settings grid (stride x threshold x max points, then
the ratio test and patch size at the best) on ``--split`` and prints one line
a setting: how ``kcolor.hints.reference``'s constants were chosen.
"""

import glob
import json
import os
import re
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", None, "Hint-aware model (preset, .keras); default: lite_hints "
                    "when shipped, else lite + an untrained refiner.")
flags.DEFINE_string("refiner", None, "A hint refiner .keras file (a kcolor.hints.train run's "
                    "last.keras) put into lite + the hint model, instead of --model.")
flags.DEFINE_string("data", "/work/shared/data", "The shared data folder.")
flags.DEFINE_enum("split", "test", ["tune", "test", "all"], "Which pairs.")
flags.DEFINE_integer("camvid", 24, "CamVid pairs in the tune split.")
flags.DEFINE_bool("sweep", False, "Score the settings grid instead of the defaults.")
flags.DEFINE_string("grid", None, "--sweep: a JSON list of settings overrides instead of the "
                    "built-in grid.")
flags.DEFINE_bool("timing", True, "Measure the matching time on a 1152 x 864 target.")
flags.DEFINE_string("json", None, "Also write per-pair rows here (JSON lines).")
flags.DEFINE_string("video", None, "Instead of pairs: the flicker of clips colorized with "
                    "a reference (comma list of file names in data/video, or a number: that "
                    "many spread over the folder).")
flags.DEFINE_integer("max_frames", 0, "--video: frames a clip (0: all).")
flags.DEFINE_string("settings", None, "Settings overrides as JSON, e.g. '{\"threshold\": 0.7}'.")
FLAGS = flags.FLAGS

MIN_GAP_S = 2.0
RELATED = "same room"  # reported, but no floor: not an unrelated reference


# -- pairs ---------------------------------------------------------------------

def _frames(path, wanted):
    """{index: uint8 RGB} of the frames ``wanted`` (negative: from the end) of a clip, and fps."""
    import av

    with av.open(path) as f:
        rate = float(f.streams.video[0].average_rate)
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    n = len(frames)
    return {i: frames[i % n] for i in wanted}, n, rate


def _read(path):
    from kcolor import imageio

    return imageio.read_rgb(path)


class Pair:
    def __init__(self, name, split, target, reference, unrelated):
        self.name, self.split = name, split
        self.target, self.reference, self.unrelated = target, reference, unrelated


def make_pairs(data, split, camvid=24):
    """The pairs of ``split`` ("tune", "test" or "all"); see the docstring."""
    clips = sorted(glob.glob(os.path.join(data, "video", "*")))
    samples = sorted(glob.glob(os.path.join(data, "imagenet_samples", "*.jpg")))
    loaded = {}
    for path in clips:
        name = os.path.basename(path)
        if name.startswith("bottle"):
            got, n, rate = _frames(path, [0, 600, -1])
            loaded[name] = ([(got[0], got[600], "0-600"), (got[600], got[-1], "600-end")], n, rate)
        else:
            got, n, rate = _frames(path, [0, -1])
            loaded[name] = ([(got[0], got[-1], "0-end")], n, rate)
    asl_frame = loaded["asl_gestures_book.mkv"][0][0][0]
    bottle_frame = next(v for k, v in loaded.items() if k.startswith("bottle"))[0][0][0]
    asl = [k for k in loaded if k.startswith("asl")]
    pairs = []
    k = {"tune": 0, "test": 1}
    for name, (items, n, rate) in loaded.items():
        gap = (n - 1) / rate
        which = "test" if gap >= MIN_GAP_S else "tune"
        other = asl_frame if name.startswith("bottle") else bottle_frame
        for ref, tgt, tag in items:
            i = k[which]
            k[which] += 2
            refs = [("imagenet", _read(samples[(37 * i) % len(samples)])),
                    ("other clip", other)]
            if name in asl:  # related, not unrelated: the same room, another signer's clip
                refs.append((RELATED, loaded[asl[(asl.index(name) + 1) % len(asl)]][0][0][0]))
            pairs.append(Pair(f"{name}:{tag}", which, tgt, ref, refs))
    cam = sorted(glob.glob(os.path.join(data, "diverse", "*", "camvid_*.jpg")),
                 key=os.path.basename)
    seqs = {}
    for p in cam:
        m = re.match(r"camvid_[a-z]+_(\w+?)_f?(\d+)\.jpg", os.path.basename(p))
        seqs.setdefault(m.group(1), []).append((int(m.group(2)), p))
    cands = []
    for seq, frames in sorted(seqs.items()):
        frames.sort()
        for j, (f, p) in enumerate(frames):
            later = [q for g, q in frames[j + 1:] if 60 <= g - f <= 120]
            if later:
                cands.append((seq, p, later[0]))
    step = max(1, len(cands) // max(camvid, 1))
    for seq, p, q in cands[::step][:camvid]:
        i = k["tune"]
        k["tune"] += 2
        pairs.append(Pair(f"camvid:{os.path.basename(q)[7:-4]}", "tune", _read(q), _read(p),
                          [("imagenet", _read(samples[(37 * i) % len(samples)]))]))
    return [p for p in pairs if split == "all" or p.split == split]


# -- scoring -------------------------------------------------------------------

def _model_name():
    from kcolor import presets

    if FLAGS.refiner:
        return f"lite + the refiner {FLAGS.refiner}"
    if FLAGS.model:
        return FLAGS.model
    return "lite_hints" if "lite_hints" in presets.names() else "lite + an untrained refiner"


def colorizer_for(model, refiner=None):
    from kcolor import colorize, presets

    if refiner:
        import keras

        from kcolor import kinds
        from kcolor.hints import model as hm

        kinds.register_layers()
        trained = keras.models.load_model(refiner, compile=False)
        base, _ = presets.load("lite")
        convs = [layer for layer in trained.layers
                 if layer.name.startswith("refine") and layer.name != "refiner_in"]
        m = hm.build_hint_colorizer(base, int(convs[0].filters),
                                    tuple(int(l.dilation_rate[0]) for l in convs))
        hm.refiner_of(m).set_weights(trained.get_weights())
        return colorize.Colorizer(m, size=256)
    if model:
        return colorize.Colorizer(model)
    if "lite_hints" in presets.names():
        return colorize.Colorizer("lite_hints")
    from kcolor.hints import model as hm

    base, _ = presets.load("lite")
    return colorize.Colorizer(hm.build_hint_colorizer(base), size=256)


def psnr(a, b):
    mse = np.mean(np.square(a.astype(np.float64) / 255.0 - b.astype(np.float64) / 255.0))
    return 10.0 * np.log10(1.0 / max(mse, 1e-12))


def colourfulness(rgb):
    from keras import ops

    from kcolor import metrics

    value = metrics.colorfulness(rgb[None].astype(np.float32) / 255.0)
    return float(ops.convert_to_numpy(value)[0])


def score(pairs, colorizer, settings, auto_cache=None):
    """Per pair: {name, split, auto, same, unrelated: [(kind, psnr, n)], ...}."""
    from kcolor.hints import reference as R

    rows = []
    for p in pairs:
        key = p.name
        if auto_cache is not None and key in auto_cache:
            auto = auto_cache[key]
        else:
            out = colorizer.colorize([p.target])[0]
            auto = (psnr(out, p.target), colourfulness(out))
            if auto_cache is not None:
                auto_cache[key] = auto
        h, w = p.target.shape[:2]
        m = R.Reference(p.reference, settings).matches_batch([p.target])[0]
        pts, share = R.to_points(m, h, w, settings), m.share
        out = colorizer.colorize([p.target], hints=[pts])[0] if pts else None
        same = (psnr(out, p.target), colourfulness(out)) if pts else auto
        unrel = []
        for kind, ref in p.unrelated:
            um = R.Reference(ref, settings).matches_batch([p.target])[0]
            upts = R.to_points(um, h, w, settings)
            uo = colorizer.colorize([p.target], hints=[upts])[0] if upts else None
            unrel.append((kind, psnr(uo, p.target) if upts else auto[0], len(upts), um.share))
        rows.append({"name": p.name, "split": p.split, "auto_psnr": auto[0],
                     "auto_cf": auto[1], "truth_cf": colourfulness(p.target),
                     "same_psnr": same[0], "same_cf": same[1], "same_points": len(pts),
                     "same_share": share,
                     "unrelated": unrel})
    return rows


def _ratio(rows, key):
    """Mean of the rows' ``key`` over their truth's colourfulness (nan: no row)."""
    return statistics.mean(r[key] / r["truth_cf"] for r in rows) if rows else float("nan")


def summary(rows):
    gain = [r["same_psnr"] - r["auto_psnr"] for r in rows]
    coloured = [r for r in rows if r["truth_cf"] > 5]
    ugain = {}
    for r in rows:
        for kind, ps, n, share in r["unrelated"]:
            ugain.setdefault(kind, []).append((ps - r["auto_psnr"], n, share))
    out = {
        "pairs": len(rows),
        "auto_psnr": statistics.mean(r["auto_psnr"] for r in rows),
        "same_psnr": statistics.mean(r["same_psnr"] for r in rows),
        "gain": statistics.mean(gain),
        "improved": sum(g > 0 for g in gain) / len(gain),
        "same_points": statistics.mean(r["same_points"] for r in rows),
        "cf_auto": _ratio(coloured, "auto_cf"),
        "cf_same": _ratio(coloured, "same_cf"),
    }
    for kind, v in ugain.items():
        out[f"unrel_{kind}_gain"] = statistics.mean(g for g, _, _ in v)
        out[f"unrel_{kind}_worst"] = min(g for g, _, _ in v)
        out[f"unrel_{kind}_points"] = statistics.mean(n for _, n, _ in v)
        out[f"unrel_{kind}_maxshare"] = max(s for _, _, s in v)
    out["same_minshare"] = min(r["same_share"] for r in rows)
    return out


def timing(data, colorizer, settings):
    """(median seconds of reference_points, of colorizer.colorize) on a 1152 x 864 target."""
    from PIL import Image

    from kcolor.hints import reference as R

    got, _, _ = _frames(os.path.join(data, "video", "asl_gestures_book.mkv"), [0, -1])
    big = [np.asarray(Image.fromarray(got[i]).resize((1152, 864), Image.BICUBIC)) for i in (0, -1)]
    ref, tgt = big
    R.reference_points(tgt, ref, settings)  # warm-up: the network built and traced
    t_match, t_col = [], []
    for _ in range(5):
        t = time.perf_counter()
        pts = R.reference_points(tgt, ref, settings)
        t_match.append(time.perf_counter() - t)
        t = time.perf_counter()
        colorizer.colorize([tgt], hints=[pts])
        t_col.append(time.perf_counter() - t)
    return statistics.median(t_match), statistics.median(t_col), len(pts)


def _fmt(s):
    parts = [f"n={s['pairs']}", f"auto {s['auto_psnr']:.2f}", f"ref {s['same_psnr']:.2f}",
             f"gain {s['gain']:+.2f}", f"improved {s['improved']:.0%}",
             f"pts {s['same_points']:.0f} (share min {s['same_minshare']:.3f})",
             f"cf auto {s['cf_auto']:.2f} ref {s['cf_same']:.2f}"]
    for k in sorted(s):
        if k.startswith("unrel_") and k.endswith("_gain"):
            kind = k[6:-5]
            parts.append(f"unrel[{kind}] {s[k]:+.2f} (worst {s['unrel_' + kind + '_worst']:+.2f}, "
                         f"pts {s['unrel_' + kind + '_points']:.1f}, share max "
                         f"{s['unrel_' + kind + '_maxshare']:.3f})")
    return ", ".join(parts)


# -- video ---------------------------------------------------------------------

def _reference_maps(reference, frames, size):
    """The hint condition's working-size maps of a batch of frames (one
    size) from ``reference``: what ``colorize_video`` computes per batch."""
    from kcolor import kinds

    return kinds.conditions()["hints"].reference_maps(reference, frames, size)


def _colorize_clip(gray, dst, colorizer, reference, sink):
    """``colorize_video(gray, dst, colorizer, reference=reference)`` with the
    frames handed to the encoder going to ``sink`` (``video_metrics.fed_frames``)."""
    from kcolor import video, video_metrics

    with video_metrics.fed_frames(sink):
        return video.colorize_video(gray, dst, colorizer, reference=reference)


def _write_gray(path, frames, rate):
    """The frames' lightness as a near-lossless gray clip (x264 CRF 4), as benchmarks/video.py."""
    import av

    from kcolor import colorize

    with av.open(path, "w") as out:
        s = None
        for rgb in frames:
            if s is None:
                s = out.add_stream("libx264", rate=rate, options={"crf": "4", "preset": "fast"})
                s.height, s.width = rgb.shape[:2]
                s.pix_fmt = "yuv420p"
            for p in s.encode(av.VideoFrame.from_ndarray(colorize.gray_rgb(rgb), format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def flicker(truth, streams):
    """{name: mean |delta ab| between consecutive frames on the truth's still
    pixels (|delta L| < 1), over the truth's own}, as benchmarks/video.py's
    flicker; ``streams`` are lists of uint8 RGB frames as long as ``truth``."""
    from kcolor import color

    def lab(f):
        return color.rgb_to_lab(f.astype(np.float32) / 255.0, np)

    sums = {n: 0.0 for n in ["truth"] + list(streams)}
    prev, still_px = None, 0
    for i, t in enumerate(truth):
        labs = {"truth": lab(t), **{n: lab(v[i]) for n, v in streams.items()}}
        if prev is not None:
            still = np.abs(labs["truth"][..., 0] - prev["truth"][..., 0]) < 1.0
            still_px += int(still.sum())
            for n in sums:
                d = np.linalg.norm(labs[n][..., 1:] - prev[n][..., 1:], axis=-1)
                sums[n] += float(d[still].sum())
        prev = labs
    base = sums["truth"] / max(still_px, 1)
    return {n: (sums[n] / max(still_px, 1)) / base for n in streams}, base


def video_flicker(colorizer, settings):
    """Each clip of ``--video``: gray copy, colorized automatic and with a
    reference (the clip's last frame in colour), both with the default
    temporal filter; flicker of the frames handed to the encoder over the
    real clip's, their PSNR and colourfulness over the truth's."""
    import tempfile

    from kcolor.hints import reference as R

    folder = os.path.join(FLAGS.data, "video")
    names = sorted(os.listdir(folder))
    if FLAGS.video.isdigit():
        n = int(FLAGS.video)
        names = [names[int(i * len(names) / n)] for i in range(n)]
    else:
        names = FLAGS.video.split(",")
    print("| clip | frames | real still-pixel |Δab| | fed flicker auto × real | "
          "fed flicker reference × real | PSNR auto | PSNR reference | colour auto / truth | "
          "colour reference / truth | matching ms a frame |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            import av

            with av.open(os.path.join(folder, name)) as f:
                rate = f.streams.video[0].average_rate
                truth = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
            ref_rgb = truth[-1]
            if FLAGS.max_frames:
                truth = truth[:FLAGS.max_frames]
            gray = os.path.join(tmp, "gray.mkv")
            _write_gray(gray, truth, rate)
            fed = {}
            ref = R.Reference(ref_rgb, settings)
            from kcolor import colorize

            Ls = [colorize._lightness(t) for t in truth[:8]]
            size = colorizer.working_size(*truth[0].shape[:2])
            _reference_maps(ref, Ls, size)  # warm-up
            t0 = time.perf_counter()
            _reference_maps(ref, Ls, size)
            t_match = (time.perf_counter() - t0) / len(Ls)
            for kind, reference in (("auto", None), ("reference", ref)):
                frames = []
                _colorize_clip(gray, os.path.join(tmp, f"{kind}.mkv"), colorizer, reference,
                               frames.append)
                fed[kind] = frames
            ratios, base = flicker(truth, fed)
            ps = {k: statistics.mean(psnr(a, b) for a, b in zip(v, truth)) for k, v in fed.items()}
            cf_t = statistics.mean(colourfulness(t) for t in truth[::10])
            cf = {k: statistics.mean(colourfulness(a) for a in v[::10]) / cf_t
                  for k, v in fed.items()}
            worst = max(worst, ratios["reference"])
            print(f"| {name} | {len(truth)} | {base:.3f} | {ratios['auto']:.2f} | "
                  f"{ratios['reference']:.2f} | {ps['auto']:.2f} | {ps['reference']:.2f} | "
                  f"{cf['auto']:.2f} | {cf['reference']:.2f} | {1000 * t_match:.0f} |",
                  flush=True)
    print(f"floor (fed frames with a reference <= 1.5x the real video's flicker on every clip): "
          f"{'met' if worst <= 1.5 else 'NOT met'} (worst {worst:.2f}x)")


def _grid():
    for stride in (8, 16):
        for threshold in (0.6, 0.7, 0.8):
            for max_points in (30, 100, 300):
                yield {"stride": stride, "threshold": threshold, "max_points": max_points}


def main(argv):
    from kcolor.hints import reference as R

    colorizer = colorizer_for(FLAGS.model, FLAGS.refiner)
    if FLAGS.video:
        return video_flicker(colorizer, R.Settings(**json.loads(FLAGS.settings or "{}")))
    pairs = make_pairs(FLAGS.data, FLAGS.split, FLAGS.camvid)
    base = R.Settings(**json.loads(FLAGS.settings or "{}"))
    print(f"{len(pairs)} pairs ({FLAGS.split}); model {_model_name()}; {base}", flush=True)
    cache = {}
    if FLAGS.sweep:
        import dataclasses

        for over in json.loads(FLAGS.grid) if FLAGS.grid else _grid():
            s = dataclasses.replace(base, **over)
            rows = score(pairs, colorizer, s, cache)
            print(json.dumps(over), _fmt(summary(rows)), flush=True)
        return
    rows = score(pairs, colorizer, base, cache)
    if FLAGS.json:
        with open(FLAGS.json, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    for r in rows:
        u = " ".join(f"{k} {ps - r['auto_psnr']:+.2f}/{n}/{sh:.3f}"
                     for k, ps, n, sh in r["unrelated"])
        print(f"{r['name']:40s} auto {r['auto_psnr']:6.2f}  ref {r['same_psnr']:6.2f} "
              f"({r['same_psnr'] - r['auto_psnr']:+.2f}, {r['same_points']:3d} pts, "
              f"share {r['same_share']:.2f})  "
              f"cf {r['auto_cf'] / max(r['truth_cf'], 1e-6):.2f}/"
              f"{r['same_cf'] / max(r['truth_cf'], 1e-6):.2f}  unrelated {u}")
    for split in sorted({r["split"] for r in rows}):
        sel = [r for r in rows if r["split"] == split]
        print(f"[{split}] {_fmt(summary(sel))}")
        s = summary(sel)
        if split == "test":
            checks = [("same scene PSNR gain >= 1.5 dB", s["gain"] >= 1.5),
                      ("improved on >= 80 % of pairs", s["improved"] >= 0.8),
                      ("colourfulness >= 0.8 x truth", s["cf_same"] >= 0.8)]
            checks += [(f"unrelated ({k[6:-5]}) >= -0.3 dB", s[k] >= -0.3)
                       for k in sorted(s) if k.startswith("unrel_") and k.endswith("_gain")
                       and k[6:-5] != RELATED]
            for what, ok in checks:
                print(f"  floor {what}: {'met' if ok else 'NOT met'}")
    if FLAGS.timing:
        tm, tc, n = timing(FLAGS.data, colorizer, base)
        print(f"matching on 1152 x 864: {tm:.3f} s ({n} points; floor 0.5 s: "
              f"{'met' if tm <= 0.5 else 'NOT met'}); colorize with them {tc:.3f} s")


if __name__ == "__main__":
    app.run(main)
