"""``kcolor evaluate --hints=0,1,2,5,10,20,50``: the hint-aware model against
SIGGRAPH 2017's protocol and against training-free propagation, in one run.

For every photo (squashed to ``size``, 256 by default) and every count n:
exactly n points, 6 × 6 patches at 256 (3 × 3 at 128; ``sampler.sample_eval``),
centres Gaussian around the photo's centre, a fixed seed per photo (its
name), each hint the true photo's mean ab over its patch. Scored:

* **model**: the hint-aware colorizer (``Colorizer(...).predict_ab_at_size``
  with the points; n = 0 is its automatic colour);
* **propagation**: the same points spread by Levin et al.'s propagation over
  the gray photo at the output stride (``propagate.propagate_at_stride``,
  exact), ignoring the network: the baseline a network must beat.

Per count and method: PSNR, SSIM, AuC, colourfulness, top-1/top-5 and FD of
the natural-colour judge (when asked), and hint fidelity: the mean |Δab|
(Euclidean, Lab units) between the output and the hint on hinted pixels.
The table puts SIGGRAPH 2017's own PSNR gains (its Fig. 6,
``richzhang/colorization-pytorch`` ``resources/psnrs_siggraph.npy``) beside
the model's gain over its automatic colour.
"""

import numpy as np

from kcolor import color, metrics
from kcolor.hints import points as points_lib
from kcolor.hints import propagate, sampler

# SIGGRAPH 2017 (Zhang, Zhu, Isola et al.), Fig. 6: PSNR gain over its own
# automatic result (24.43 dB) on 1,000 ImageNet photos at 256.
SIGGRAPH17_GAIN = {1: 0.94, 2: 1.77, 5: 2.96, 10: 3.99, 20: 4.91, 50: 5.99, 100: 6.70}


def eval_points(ab_true, n, seed):
    """The SIGGRAPH 2017 evaluation points of a photo as ``points.Point``s in
    its pixels (and their hint maps at its size)."""
    h, w = ab_true.shape[:2]
    patch = points_lib.default_patch(max(h, w))
    patches = sampler.eval_patches(n, seed, h, w, patch)
    hint, mask = sampler.fill(ab_true, patches)
    pts = []
    for r0, c0, P in patches:
        ab = np.asarray(ab_true[r0:r0 + P, c0:c0 + P], np.float64).mean((0, 1))
        pts.append(points_lib.Point(x=c0 + (P - 1) / 2.0, y=r0 + (P - 1) / 2.0,
                                    ab=(float(ab[0]), float(ab[1])), size=float(P)))
    return pts, hint, mask


class _Scores:
    """Sums of per-photo metrics for one (method, count)."""

    def __init__(self):
        self.sums, self.n, self.fidelity, self.hinted = {}, 0, 0.0, 0

    def add(self, rgb, lab_true, L, ab, mask=None, hint=None):
        lab = np.concatenate([L, ab], -1)
        rgb_pred = np.asarray(color.lab_to_rgb(lab, np), np.float32)
        for k, v in metrics.all_metrics(rgb, lab_true, rgb_pred, lab).items():
            self.sums[k] = self.sums.get(k, 0.0) + float(np.sum(np.asarray(v)))
        self.n += len(rgb)
        if mask is not None:
            m = mask[..., 0] > 0.5
            d = np.linalg.norm(ab - hint, axis=-1)
            self.fidelity += float(d[m].sum())
            self.hinted += int(m.sum())
        return rgb_pred

    def means(self):
        out = {k: v / self.n for k, v in self.sums.items()}
        out["fidelity"] = self.fidelity / self.hinted if self.hinted else float("nan")
        return out


def run(folder, counts, model=None, size=256, working_size=None, limit=None,
        natural_colour=False, labels=None, judge=None, html=None, batch_size=16,
        progress=True, judge_counts=None):
    """The table (Markdown) of ``counts`` hint points on the photos of
    ``folder``; ``html``: also a report with one photo at 0, 1, 5 and 10
    points. ``model``: a hint-aware model (default: the ``lite_hints``
    preset); ``judge_counts``: the counts the natural-colour judge scores
    (default: all; each costs two passes of the judge); the other arguments
    as ``kcolor.evaluate.run``."""
    import sys

    from kcolor import colorize, data, kinds

    counts = sorted({int(n) for n in counts})
    if not counts or counts[0] < 0:
        raise ValueError(f"--hints={counts}: counts of points, 0 or more")
    condition = kinds.conditions()["hints"]
    c = colorize.Colorizer(model or condition.default_preset, working_size)
    if c.condition != condition.name:
        raise ValueError(f"--hints needs {condition.model_words}; {model} takes no hints")
    jury, shared = {}, None
    if natural_colour:
        from kcolor import natural_colour as natural

        shared = judge if judge is not None else natural.Judge()
        shared.labels = natural.read_labels(labels) if labels else {}
    elif labels:
        raise ValueError("labels are for the natural-colour figures; they are turned off")
    methods = ("model", "propagation")
    scores = {(m, n): _Scores() for m in methods for n in counts}
    gray_scores, true_colour = _Scores(), 0.0
    shown = None
    ds = data.validation_dataset(folder, size, batch_size=batch_size, limit=limit, squash=True,
                                 with_names=True)
    seen = 0
    for batch in ds:
        batch = tuple(np.asarray(x) for x in batch)
        L, rgb, raw_names = batch
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in raw_names]
        lab_true = np.asarray(color.rgb_to_lab(rgb, np), np.float32)
        zeros = np.zeros(L.shape[:-1] + (2,), np.float32)
        rgb_gray = gray_scores.add(rgb, lab_true, L, zeros)
        true_colour += float(np.sum(np.asarray(metrics.colorfulness(rgb))))
        known = None
        if shared is not None:
            known = {"gray": shared.features(rgb_gray), "truth": shared.features(rgb)}
        seeds = [sampler.seed_for(n) for n in names]
        for n in counts:
            per = [eval_points(lab_true[i, ..., 1:], n, seeds[i]) for i in range(len(L))]
            hint = np.stack([p[1] for p in per])
            mask = np.stack([p[2] for p in per])
            ab_model = c.predict_ab_at_size(L, hints=[p[0] for p in per])
            ab_prop = np.stack([propagate.propagate_at_stride(L[i], hint[i], mask[i])
                                if n else zeros[i] for i in range(len(L))])
            for method, ab in (("model", ab_model), ("propagation", ab_prop)):
                rgb_pred = scores[method, n].add(rgb, lab_true, L, ab,
                                                 mask if n else None, hint)
                if shared is not None and (judge_counts is None or n in judge_counts):
                    if (method, n) not in jury:
                        jury[method, n] = natural.Judge(shared.labels, model=shared.model,
                                                        resolution=shared.resolution)
                    jury[method, n].add(batch, rgb_pred, rgb_gray, known)
                if html and seen == 0 and method == "model":  # the first photo
                    shown = shown or {"name": names[0], "truth": rgb[0], "gray": rgb_gray[0],
                                      "outputs": {}}
                    shown["outputs"][n] = (rgb_pred[0], per[0][0])
        seen += len(L)
        if progress:
            print(f"\r{seen} photos", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    table = _table(counts, scores, gray_scores.means(), true_colour / max(seen, 1), jury, size,
                   seen)
    if html and shown:
        write_report(html, shown, table)
    return table


def _table(counts, scores, gray, true_colour, jury, size, photos):
    auto = scores["model", 0].means()["psnr"] if 0 in counts else None
    natural = bool(jury)
    head = ["points", "method", "PSNR (dB)", "gain over automatic", "SIGGRAPH17 gain",
            "SSIM", "AuC", "colourfulness (× truth)", "hint |Δab|"]
    if natural:
        head += ["top-1 %", "top-5 %", "FD"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in counts:
        for method in ("model", "propagation"):
            m = scores[method, n].means()
            gain = "" if auto is None else f"{m['psnr'] - auto:+.2f}"
            sg = f"+{SIGGRAPH17_GAIN[n]:.2f}" if n in SIGGRAPH17_GAIN and method == "model" else ""
            fid = "" if np.isnan(m["fidelity"]) else f"{m['fidelity']:.2f}"
            name = method if n else ("automatic" if method == "model" else "gray (no hints)")
            row = [str(n), name, f"{m['psnr']:.2f}", gain, sg, f"{m['ssim']:.4f}",
                   f"{m['auc']:.2f}", f"{m['colorfulness']:.2f} ({m['colorfulness'] / true_colour:.2f})",
                   fid]
            if natural and (method, n) in jury:
                f = jury[method, n].figures()[0]["model"]
                row += [_num(f["top1"], 1), _num(f["top5"], 1), _num(f["fd"], 2)]
            elif natural:
                row += ["", "", ""]
            lines.append("| " + " | ".join(row) + " |")
    gray_row = ["", "gray", f"{gray['psnr']:.2f}", "", "", f"{gray['ssim']:.4f}",
                f"{gray['auc']:.2f}", "0.00 (0.00)", ""]
    truth_row = ["", "ground truth", "", "", "", "", "", f"{true_colour:.2f} (1.00)", ""]
    if natural:
        any_judge = next(iter(jury.values()))
        figs, labelled, total = any_judge.figures()
        gray_row += [_num(figs["gray"]["top1"], 1), _num(figs["gray"]["top5"], 1),
                     _num(figs["gray"]["fd"], 2)]
        truth_row += [_num(figs["truth"]["top1"], 1), _num(figs["truth"]["top5"], 1), "0.00"]
    lines += ["| " + " | ".join(gray_row) + " |", "| " + " | ".join(truth_row) + " |"]
    note = (f"\n\n{photos} photos squashed to {size} px; SIGGRAPH 2017's protocol: "
            f"{points_lib.default_patch(size)} x {points_lib.default_patch(size)} patches, "
            "Gaussian-placed, a fixed seed per photo, hints from the truth. 'propagation': "
            "the same points spread over the gray photo (Levin et al. 2004, at the output "
            "stride), without the network. hint |Δab|: mean distance of the output's ab to "
            "the hint on hinted pixels.")
    if natural:
        note += (f" Natural colour: EfficientNet-Lite2 top-1/top-5 on the {labelled} of "
                 f"{total} photos with a known ImageNet label; FD to the true photos'.")
    return "\n".join(lines) + note


def _num(x, digits):
    """x with ``digits`` decimals; blank for NaN (top-1 without labels)."""
    return "" if x is None or np.isnan(x) else f"{x:.{digits}f}"


def write_report(path, shown, table):
    """A self-contained HTML page: one photo gray, at each count (points
    marked) and true, and the table."""
    import base64
    import html as html_lib
    import io

    from PIL import Image, ImageDraw

    from kcolor import atomic

    def uri(rgb, pts=()):
        im = Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
                             if rgb.dtype != np.uint8 else rgb)
        draw = ImageDraw.Draw(im)
        for p in pts:
            r = max(2.0, (p.size or 3) / 2 + 1)
            draw.rectangle([p.x - r, p.y - r, p.x + r, p.y + r], outline=(255, 255, 255))
        buf = io.BytesIO()
        im.save(buf, "PNG")
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()

    cells = [("gray", uri(shown["gray"]))]
    for n in (0, 1, 5, 10):
        if n in shown["outputs"]:
            rgb, pts = shown["outputs"][n]
            cells.append((f"{n} point{'s' * (n != 1)}" if n else "automatic", uri(rgb, pts)))
    cells.append(("truth", uri(shown["truth"])))
    figs = "".join(f"<figure><img src='{u}'><figcaption>{html_lib.escape(t)}</figcaption>"
                   f"</figure>" for t, u in cells)
    page = (f"<!doctype html><meta charset=utf-8><title>kcolor evaluate --hints</title>"
            f"<style>body{{font:14px sans-serif;margin:2em}}figure{{display:inline-block;"
            f"margin:4px}}img{{width:256px;image-rendering:pixelated}}</style>"
            f"<h1>Hint points: {html_lib.escape(shown['name'])}</h1>{figs}"
            f"<pre>{html_lib.escape(table)}</pre>")
    atomic.write_text(path, page)
