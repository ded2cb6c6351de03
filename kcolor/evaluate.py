"""Scoring a colorizer on colour photos: the model and the gray baseline
(ab = 0) side by side, on the same centre crops."""

from kcolor import callbacks, colorize, data, metrics


def run(folder, model=None, size=None, temperature=None, limit=None, saturation=None):
    """Returns a Markdown table of PSNR, SSIM, AuC and colourfulness."""
    c = colorize.Colorizer(model, size, temperature, saturation)
    ds = data.validation_dataset(folder, c.size, limit=limit)
    scores, gray = callbacks.evaluate_colorizer(c.inference, ds)
    return format_table({"model": scores, "gray (ab = 0)": gray}, gray["true_colorfulness"])


def format_table(rows, true_colorfulness):
    lines = ["| | PSNR (dB) | SSIM | AuC | colourfulness |", "|---|---|---|---|---|"]
    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{m[k]:.2f}" if k != "ssim" else f"{m[k]:.4f}" for k in metrics.NAMES) + " |")
    lines.append(f"| ground truth | | | | {true_colorfulness:.2f} |")
    return "\n".join(lines)
