"""Scoring a colorizer on colour photos: the model and the gray baseline
(ab = 0) side by side.

Protocol (as in the colorization literature): each photo is squashed to
``size`` x ``size`` (default 256) and scored there. The network still sees L
at its own working size (the scale it was trained at); its ab is upsampled to
``size``, exactly as ``kcolor colorize`` does for a full photo.
"""

import numpy as np

from kcolor import callbacks, colorize, data, metrics

DEFAULT_SIZE = 256


def run(folder, model=None, size=DEFAULT_SIZE, temperature=None, limit=None, saturation=None,
        html=None, examples=4, working_size=None, natural_colour=False, labels=None,
        judge=None, instances=None):
    """Returns a Markdown table of PSNR, SSIM, AuC and colourfulness; with
    ``html`` (a path) also writes a report with the worst and best photos.

    ``model``: any model ``kcolor colorize`` takes (``colorize.Colorizer``): a
    preset, a ``.keras`` file, a ``.tflite`` file or a SavedModel folder from
    ``kcolor export``. ``working_size``: the size the network sees (default:
    the model's; a SavedModel: the size its export recorded, else 128).

    ``natural_colour``: also the natural-colour figures of
    ``kcolor.natural_colour`` (top-1, top-5 of an ImageNet classifier and the
    FD of its features to the true photos'; needs the ``[natural]`` extra,
    else ImportError), for the model, the gray baseline and the truth.
    ``labels``: a labels CSV (``file,imagenet_index,...``) for top-1/top-5
    (``imagenette_<wnid>_...`` photos need none). ``judge``: a
    ``natural_colour.Judge`` (default: EfficientNet-Lite2 with its ImageNet
    weights; tests pass one with a random network at a small resolution);
    after the run it holds the logits and pooled features.

    ``instances="auto"``: an instance-aware model gets the boxes
    ``kcolor colorize --instances=auto`` would find (the face detector, run
    on the gray photo the model sees); ``model`` defaults to the
    instance-aware preset. ``None`` or ``"none"``: no boxes. A detector (an
    object with ``detect(rgb)``, as the instance kind's face detector)
    may be given instead of ``"auto"`` (the ``boxes`` condition of
    ``kcolor.kinds`` turns either into boxes).
    """
    from kcolor import kinds

    boxes = kinds.conditions()["boxes"]
    boxes_for = boxes.source(instances)
    auto = boxes_for is not None
    if auto and model is None:
        model = boxes.default_preset
    c = colorize.Colorizer(model, working_size, temperature, saturation)
    predict, counts = c.predict_ab_at_size, {"photos": 0, "with_boxes": 0}
    if auto:
        if c.condition != boxes.name:
            raise ValueError(f"--instances={instances} needs {boxes.model_words}; "
                             f"{model} takes no boxes")
        predict = _with_values(c, boxes_for, counts)
    jury = None
    if natural_colour:
        from kcolor import natural_colour as natural

        label_table = natural.read_labels(labels) if labels else None
        jury = judge if judge is not None else natural.Judge()
        jury.labels = label_table or {}
    elif labels:
        raise ValueError("labels are for the natural-colour figures; they are turned off")
    ds = data.validation_dataset(folder, size or DEFAULT_SIZE, limit=limit, squash=True,
                                 with_names=jury is not None)
    kept = []  # (psnr, rgb_true uint8, rgb_pred uint8)

    def keep(rgb, rgb_pred, scores):
        for i, p in enumerate(scores["psnr"]):
            kept.append((float(p), _u8(rgb[i]), _u8(rgb_pred[i])))
        kept.sort(key=lambda k: k[0])
        del kept[examples:-examples or None]  # keep the worst and the best

    scores, gray = callbacks.evaluate_colorizer(predict, ds,
                                               keep if html else None,
                                               jury.add if jury else None)
    natural_rows, note = None, ""
    if jury is not None:
        figures, labelled, total = jury.figures()
        natural_rows = {"model": figures["model"], "gray (ab = 0)": figures["gray"],
                        "ground truth": figures["truth"]}
        note = "\n\n" + natural_note(labelled, total)
    if auto:
        note += (f"\n\nBoxes (--instances={instances if isinstance(instances, str) else 'auto'})"
                 f": {counts['with_boxes']} of {counts['photos']} photos had a detection; "
                 "the others took the full-image branch alone.")
    table = format_table({"model": scores, "gray (ab = 0)": gray}, gray["true_colorfulness"],
                         natural_rows) + note
    if html:
        from kcolor import evaluate_report

        evaluate_report.write(html, table, kept[:examples], kept[-examples:][::-1], folder, size)
    return table


def _with_values(c, value_for, counts):
    """``c.predict_ab_at_size`` with the condition ``value_for`` finds on each
    gray photo (the boxes a detector finds)."""
    from kcolor import color

    def predict(L):
        L = np.asarray(L, np.float32)
        zeros = np.zeros(L.shape[:-1] + (2,), np.float32)
        gray = _u8(np.asarray(color.lab_to_rgb(np.concatenate([L, zeros], -1), np)))
        values = [value_for(g, None, None) for g in gray]
        counts["photos"] += len(L)
        counts["with_boxes"] += sum(len(v) > 0 for v in values)
        return c.predict_ab_at_size(L, values)

    return predict


def _u8(x):
    return np.round(np.clip(np.asarray(x), 0, 1) * 255).astype(np.uint8)


def natural_note(labelled, total):
    """The line under a table with natural-colour figures: what they are and
    how many photos top-1/top-5 scored."""
    scored = (f"top-1/top-5 on the {labelled} of {total} photos with a known ImageNet label"
              if labelled else f"top-1/top-5: none of the {total} photos has a known ImageNet "
              "label (--labels=CSV)")
    return (f"Natural colour, judged by EfficientNet-Lite2 (ImageNet): {scored}; FD: Fréchet "
            f"distance of its pooled features to the true photos' ({total} photos).")


NATURAL_COLUMNS = (("top1", "top-1 %", "{:.1f}"), ("top5", "top-5 %", "{:.1f}"),
                   ("fd", "FD", "{:.2f}"))


def format_table(rows, true_colorfulness, natural=None):
    """Markdown table of ``rows`` ({name: metrics}), a ground-truth row with
    ``true_colorfulness``; with ``natural`` ({row name: {"top1", "top5",
    "fd"}}, "ground truth" included) three more columns."""
    head = ["", "PSNR (dB)", "SSIM", "AuC", "colourfulness"]
    if natural:
        head += [title for _, title, _ in NATURAL_COLUMNS]
    lines = ["| " + " | ".join(head).lstrip() + " |", "|" + "---|" * len(head)]

    def extra(name):
        if not natural:
            return ""
        m = natural.get(name, {})
        cells = ["" if m.get(k) is None or np.isnan(m[k]) else fmt.format(m[k])
                 for k, _, fmt in NATURAL_COLUMNS]
        return " " + " | ".join(cells) + " |"

    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{m[k]:.2f}" if k != "ssim" else f"{m[k]:.4f}" for k in metrics.NAMES) + " |"
            + extra(name))
    lines.append(f"| ground truth | | | | {true_colorfulness:.2f} |" + extra("ground truth"))
    return "\n".join(lines)
