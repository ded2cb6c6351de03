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
        html=None, examples=4, working_size=None):
    """Returns a Markdown table of PSNR, SSIM, AuC and colourfulness; with
    ``html`` (a path) also writes a report with the worst and best photos.

    ``model``: any model ``kcolor colorize`` takes (``colorize.Colorizer``): a
    preset, a ``.keras`` file, a ``.tflite`` file or a SavedModel folder from
    ``kcolor export``. ``working_size``: the size the network sees (default:
    the model's; a SavedModel records none: 128).
    """
    c = colorize.Colorizer(model, working_size, temperature, saturation)
    ds = data.validation_dataset(folder, size or DEFAULT_SIZE, limit=limit, squash=True)
    kept = []  # (psnr, rgb_true uint8, rgb_pred uint8)

    def keep(rgb, rgb_pred, scores):
        for i, p in enumerate(scores["psnr"]):
            kept.append((float(p), _u8(rgb[i]), _u8(rgb_pred[i])))
        kept.sort(key=lambda k: k[0])
        del kept[examples:-examples or None]  # keep the worst and the best

    scores, gray = callbacks.evaluate_colorizer(c.predict_ab_at_size, ds,
                                               keep if html else None)
    table = format_table({"model": scores, "gray (ab = 0)": gray}, gray["true_colorfulness"])
    if html:
        from kcolor import evaluate_report

        evaluate_report.write(html, table, kept[:examples], kept[-examples:][::-1], folder, size)
    return table


def _u8(x):
    return np.round(np.clip(np.asarray(x), 0, 1) * 255).astype(np.uint8)


def format_table(rows, true_colorfulness):
    lines = ["| | PSNR (dB) | SSIM | AuC | colourfulness |", "|---|---|---|---|---|"]
    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{m[k]:.2f}" if k != "ssim" else f"{m[k]:.4f}" for k in metrics.NAMES) + " |")
    lines.append(f"| ground truth | | | | {true_colorfulness:.2f} |")
    return "\n".join(lines)
