"""The equal-budget comparison of the U-Net recipes (docs/MODEL_CARD.md, "How
the recipe was chosen"): accuracy and colour together.

    python studies/lite_comparison.py \
        --checkpoints=lite_huber=runs/cmp/huber.keras,lite_classification=...,lite_colorful=... \
        [--val_dirs=../shared/data/val,../shared/data/people_places/val] [--limit=300] \
        [--out=docs/lite_comparison]

For each checkpoint, on ``--limit`` photos spread over the val folders at
128 px: PSNR and colourfulness as trained (saturation 1), then the saturation
that brings its colourfulness to ``--target`` × the ground truth's (found by
interpolating over a few gains; colourfulness grows about linearly with the
gain) and its PSNR there. Every recipe can trade PSNR for colour with a gain,
so the fair figure is PSNR at equal colour: the best recipe is the one with
the highest PSNR at the target. Writes ``table.md`` and ``grid.jpg`` (gray
input, each recipe at gain 1, the truth).
"""

import os

from absl import app, flags

flags.DEFINE_list("checkpoints", None, "name=path.keras, one per recipe.", required=True)
flags.DEFINE_list("val_dirs", ["../shared/data/val", "../shared/data/people_places/val"],
                  "Validation folders.")
flags.DEFINE_integer("limit", 300, "Photos spread over the val folders.")
flags.DEFINE_float("target", 0.75, "Colourfulness target, × the ground truth's.")
flags.DEFINE_list("gains", ["0.5", "0.7", "0.9", "1.1", "1.3", "1.5", "1.7"],
                  "Saturation gains to interpolate over.")
flags.DEFINE_integer("grid_photos", 8, "Rows of the picture grid.")
flags.DEFINE_string("out", "docs/lite_comparison", "Where table.md and grid.jpg go.")
FLAGS = flags.FLAGS


def score_at_gains(path, dataset, gains):
    """[(gain, PSNR, colourfulness, true colourfulness, gray PSNR)] of one checkpoint."""
    from kcolor import callbacks, colorize, decode

    model, _ = colorize.load_model(path)
    rows = []
    for gain in gains:
        inference = decode.build_inference_model(model, 0.38, gain)
        scores, gray = callbacks.evaluate_colorizer(inference.predict_on_batch, dataset)
        rows.append((gain, scores["psnr"], scores["colorfulness"], gray["true_colorfulness"],
                     gray["psnr"]))
    return rows


def at_target(rows, target):
    """(gain, PSNR) where colourfulness / truth crosses ``target`` (linear
    interpolation between the two gains around it), or None."""
    for (g0, p0, c0, t, _), (g1, p1, c1, _, _) in zip(rows, rows[1:]):
        r0, r1 = c0 / t, c1 / t
        if r0 <= target <= r1 and r1 > r0:
            f = (target - r0) / (r1 - r0)
            return g0 + f * (g1 - g0), p0 + f * (p1 - p0)
    return None


def grid(named_paths, val_dirs, n, jpg):
    import picture_grid

    picture_grid.write(picture_grid.val_photos(val_dirs, n), named_paths, jpg, width=1.6)


def main(argv):
    del argv
    from kcolor import data

    os.makedirs(FLAGS.out, exist_ok=True)
    named = [tuple(c.split("=", 1)) for c in FLAGS.checkpoints]
    val = data.validation_dataset(",".join(FLAGS.val_dirs), 128, limit=FLAGS.limit).cache()
    gains = [float(g) for g in FLAGS.gains]
    lines = [f"| recipe | PSNR at gain 1 (dB) | colourfulness × truth at gain 1 | "
             f"gain for {FLAGS.target:.2f}× | PSNR there (dB) |", "|---|---|---|---|---|"]
    gray_psnr = None
    for name, path in named:
        rows = score_at_gains(path, val, [1.0] + gains)
        g1, p1, c1, truth, gray_psnr = rows[0]
        hit = at_target(rows[1:], FLAGS.target)
        there = f"{hit[0]:.2f} | {hit[1]:.2f}" if hit else "not reached | "
        lines.append(f"| {name} | {p1:.2f} | {c1 / truth:.2f} | {there} |")
        print(lines[-1], flush=True)
    lines.append(f"| gray (ab = 0) | {gray_psnr:.2f} | 0 | | |")
    md = "\n".join(lines) + f"\n\n{FLAGS.limit} photos spread over {', '.join(FLAGS.val_dirs)}, 128 px.\n"
    with open(os.path.join(FLAGS.out, "table.md"), "w") as f:
        f.write(md)
    print(md)
    grid(named, FLAGS.val_dirs, FLAGS.grid_photos, os.path.join(FLAGS.out, "grid.jpg"))
    print(f"wrote {FLAGS.out}/table.md and grid.jpg")


if __name__ == "__main__":
    app.run(main)
