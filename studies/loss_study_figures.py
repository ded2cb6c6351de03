"""The figures of docs/LOSS_STUDY.md, from the runs of studies/loss_study.sh.

    python studies/loss_study_figures.py [--runs=runs/loss_study] [--out=docs/loss_study]

Writes, into ``--out``:
  table.md    the validation table (from each run's val.md, kcolor evaluate),
              plus colour roughness (the bounded neighbour term of the
              prediction, on 200 val photos: lower = smoother colour where
              lightness is flat)
  curves.png  learning curves (from each run's log.csv)
  grid.jpg    8 val photos: gray input, each recipe's last epoch, ground truth
"""

import csv
import os

from absl import app, flags

RECIPES = ["l1", "l2", "huber", "binned_ce", "neighbor", "composite", "classification"]
LABELS = {"l1": "L1", "l2": "L2", "huber": "Huber", "binned_ce": "CE 23x23",
          "neighbor": "Huber+10 Nb", "composite": "CE+10H+10Nb", "classification": "Zhang rebal."}

flags.DEFINE_string("runs", "runs/loss_study", "Folder with one run folder per recipe.")
flags.DEFINE_string("out", "docs/loss_study", "Where the figures go.")
flags.DEFINE_string("val_dir", "../shared/data/val", "Validation photos (for the grid).")
flags.DEFINE_integer("grid_photos", 8, "Rows of the picture grid.")
FLAGS = flags.FLAGS


def read_scores(md_path):
    """{'model'|'gray (ab = 0)'|'ground truth': [PSNR, SSIM, AuC, colourfulness]} of a val.md."""
    rows = {}
    with open(md_path) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 5 and cells[0] and not cells[0].startswith("-") and cells[1] != "PSNR (dB)":
                rows[cells[0]] = [float(c) if c else None for c in cells[1:]]
    return rows


def roughness(runs, val_dir, n=200):
    """{recipe or 'ground truth': 100 x mean NeighborLoss(true L, ab)} on ``n``
    val photos squashed to 128 x 128."""
    import numpy as np
    from PIL import Image

    from kcolor import color, colorize, data, imageio, losses

    paths = data.spread(data.list_images(val_dir), n)
    rgb = np.stack([np.asarray(Image.fromarray(imageio.read_rgb(p)).resize((128, 128), Image.BICUBIC))
                    for p in paths]).astype(np.float32) / 255.0
    lab = color.rgb_to_lab(rgb, np)
    loss = losses.NeighborLoss()

    def score(ab):
        return 100 * float(np.mean(np.asarray(loss.call(lab, ab))))

    out = {"ground truth": score(lab[..., 1:]), "gray (ab = 0)": 0.0}
    for name in RECIPES:
        path = os.path.join(runs, name, "last.keras")
        if os.path.exists(path):
            c = colorize.Colorizer(path, size=128)
            out[name] = score(np.concatenate([c.predict_ab(lab[i:i + 32, ..., :1])
                                              for i in range(0, len(lab), 32)]))
    return out


def table(runs, rough):
    lines = ["| recipe | PSNR (dB) | SSIM | AuC | colourfulness | × ground truth | roughness |",
             "|---|---|---|---|---|---|---|"]
    gray = truth = None
    for name in RECIPES:
        path = os.path.join(runs, name, "val.md")
        if not os.path.exists(path):
            lines.append(f"| {name} | (not run) | | | | | |")
            continue
        s = read_scores(path)
        gray, truth = s["gray (ab = 0)"], s["ground truth"][3]
        p, ss, a, c = s["model"]
        lines.append(f"| {name} | {p:.2f} | {ss:.4f} | {a:.2f} | {c:.2f} | {c / truth:.2f} "
                     f"| {rough.get(name, float('nan')):.3f} |")
    if gray:
        lines.append(f"| gray (ab = 0) | {gray[0]:.2f} | {gray[1]:.4f} | {gray[2]:.2f} | 0.00 | 0 | 0 |")
        lines.append(f"| ground truth | | | | {truth:.2f} | 1 | {rough['ground truth']:.3f} |")
    return "\n".join(lines) + "\n"


def read_log(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def curves(runs, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    gray_psnr = None
    for name in RECIPES:
        path = os.path.join(runs, name, "log.csv")
        if not os.path.exists(path):
            continue
        rows = read_log(path)
        cfg_steps = _steps_per_epoch(runs, name)
        x = [(int(r["epoch"]) + 1) * cfg_steps for r in rows]
        loss = [float(r["loss"]) for r in rows]
        axes[0].plot(x, [v / loss[0] for v in loss], marker="o", label=LABELS[name])
        axes[1].plot(x, [float(r["val_psnr"]) for r in rows], marker="o", label=LABELS[name])
        axes[2].plot(x, [float(r["val_colorfulness"]) for r in rows], marker="o", label=LABELS[name])
        gray_psnr = float(rows[-1]["gray_psnr"])
        truth = float(rows[-1]["true_colorfulness"])
    if gray_psnr is not None:
        axes[1].axhline(gray_psnr, color="gray", ls="--", label="gray (ab = 0)")
        axes[2].axhline(truth, color="black", ls="--", label="ground truth")
    for ax, title in zip(axes, ["training loss / its first epoch", "val PSNR (dB)",
                                "val colourfulness"]):
        ax.set_title(title)
        ax.set_xlabel("training steps (batch 16)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    axes[2].legend(fontsize=8, loc="upper left")
    fig.suptitle("Loss study: 200 validation photos at 128 px after each epoch")
    fig.tight_layout()
    fig.savefig(png, dpi=90)


def _steps_per_epoch(runs, name):
    import json

    with open(os.path.join(runs, name, "config.json")) as f:
        return json.load(f)["steps_per_epoch"]


def grid(runs, val_dir, n, jpg):
    import picture_grid

    names = [r for r in RECIPES if os.path.exists(os.path.join(runs, r, "last.keras"))]
    picture_grid.write(picture_grid.val_photos([val_dir], n),
                       [(LABELS[r], os.path.join(runs, r, "last.keras")) for r in names], jpg)


def main(argv):
    del argv
    os.makedirs(FLAGS.out, exist_ok=True)
    md = table(FLAGS.runs, roughness(FLAGS.runs, FLAGS.val_dir))
    with open(os.path.join(FLAGS.out, "table.md"), "w") as f:
        f.write(md)
    print(md)
    curves(FLAGS.runs, os.path.join(FLAGS.out, "curves.png"))
    grid(FLAGS.runs, FLAGS.val_dir, FLAGS.grid_photos, os.path.join(FLAGS.out, "grid.jpg"))
    print(f"wrote {FLAGS.out}/table.md, curves.png, grid.jpg")


if __name__ == "__main__":
    app.run(main)
