"""Scores colorizers on the whole image and inside boxes (the instance study).

    python -m kcolor.instance.evaluate --val_dir=PHOTOS --boxes=val_boxes.json \
        --model=full=runs/baseline/best.keras --model=instance=runs/fusion/best.keras \
        [--size=256] [--markdown=table.md] [--pictures=DIR] [--limit=N]

Protocol (as ``kcolor evaluate``): each photo squashed to ``size`` x
``size``, the network at its own working size, ab upsampled to ``size``.
Boxes (normalised, so squashing keeps them) come from the boxes file;
instance-aware models get them, ordinary models ignore them. Scores:

* ``all photos``: PSNR, SSIM, AuC, colourfulness of the whole image, mean
  over every photo;
* ``photos with boxes``: the same over the photos with at least one box;
* ``inside boxes``: the four metrics on each box's region of truth and
  prediction (boxes under 11 px a side at ``size``, too small for SSIM's
  window, are left out), mean over boxes; and ``skin Δab``, the mean
  Euclidean ab error (Lab units) over the skin pixels of those regions
  (``skin_mask``: the true photo's pixels in Chai & Ngan's YCbCr skin
  range), the figure that says whether faces got the colour of skin.

A ``gray (ab = 0)`` row is the baseline. ``--pictures`` writes, for the
photos with boxes, strips gray | each model | truth with the boxes drawn,
and ``pictures.md`` linking them.
"""

import os
import sys

import numpy as np

from kcolor import color, data, imageio, metrics

MIN_BOX = 11  # SSIM's window


def load_photos(folder, boxes_path, size, limit=None, max_boxes=16):
    """(names, RGB [N, size, size, 3] float32 0-1, list of [n_i, 4] boxes)."""
    import tensorflow as tf

    from kcolor.instance import data as idata

    paths = data.spread(data.list_images(folder), limit)
    det, valid = idata.load_boxes(boxes_path, folder, paths, max_boxes)
    names, rgbs, boxes = [], [], []
    for p, b, v in zip(paths, det, valid):
        try:
            img = imageio.read_rgb(p)
        except imageio.ImageReadError as e:
            print(f"skipping {e}", file=sys.stderr)
            continue
        _, rgb = data._val_example(tf.constant(img), size, squash=True)
        names.append(os.path.relpath(p, folder))
        rgbs.append(rgb.numpy())
        boxes.append(b[v > 0.5])
    return names, np.stack(rgbs), boxes


def predict(colorizer, L, boxes, batch_size=16):
    out = []
    for i in range(0, len(L), batch_size):
        b = boxes[i:i + batch_size] if colorizer.instance_aware else None
        out.append(colorizer.predict_ab_at_size(L[i:i + batch_size], b))
    return np.concatenate(out)


def pixel_boxes(b, size):
    """Normalised boxes → integer pixel (x0, y0, x1, y1) at ``size``."""
    px = np.round(np.asarray(b) * size).astype(int)
    return [tuple(r) for r in px if r[2] - r[0] >= MIN_BOX and r[3] - r[1] >= MIN_BOX]


def skin_mask(rgb):
    """Pixels of RGB (0-1, [..., 3]) whose colour is skin's by Chai & Ngan's
    rule (1999): Cb in [77, 127] and Cr in [133, 173] (ITU-R BT.601, 0-255),
    and luma Y over 40 (shadows carry no hue)."""
    x = np.asarray(rgb, np.float64) * 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return (cb >= 77) & (cb <= 127) & (cr >= 133) & (cr <= 173) & (y > 40)


def score(rgb, lab, ab, boxes, size):
    """{"all": {...}, "with_boxes": {...}, "inside_boxes": {...}} of means,
    plus the counts; ``ab`` [N, size, size, 2] predicted."""
    lab_pred = np.concatenate([lab[..., :1], ab], -1)
    rgb_pred = np.clip(np.asarray(color.lab_to_rgb(lab_pred, np)), 0, 1).astype(np.float32)
    per = {k: [] for k in metrics.NAMES}
    for i in range(0, len(rgb), 64):
        m = metrics.all_metrics(rgb[i:i + 64], lab[i:i + 64], rgb_pred[i:i + 64],
                                lab_pred[i:i + 64])
        for k in metrics.NAMES:
            per[k].append(m[k])
    per = {k: np.concatenate(v) for k, v in per.items()}
    has = np.array([len(pixel_boxes(b, size)) > 0 for b in boxes])
    inside = {k: [] for k in metrics.NAMES}
    skin_err, skin_n = 0.0, 0
    for i, b in enumerate(boxes):
        for x0, y0, x1, y1 in pixel_boxes(b, size):
            crop = (slice(None), slice(y0, y1), slice(x0, x1))
            m = metrics.all_metrics(rgb[i:i + 1][crop], lab[i:i + 1][crop],
                                    rgb_pred[i:i + 1][crop], lab_pred[i:i + 1][crop])
            for k in metrics.NAMES:
                inside[k].append(float(m[k][0]))
            skin = skin_mask(rgb[i, y0:y1, x0:x1])
            d = ab[i, y0:y1, x0:x1] - lab[i, y0:y1, x0:x1, 1:]
            skin_err += float(np.sqrt((d[skin] ** 2).sum(-1)).sum())
            skin_n += int(skin.sum())
    inside_means = {k: float(np.mean(v)) if v else float("nan") for k, v in inside.items()}
    inside_means["skin_dab"] = skin_err / skin_n if skin_n else float("nan")
    inside_means["skin_pixels"] = skin_n
    return {
        "all": {k: float(v.mean()) for k, v in per.items()},
        "with_boxes": {k: float(v[has].mean()) if has.any() else float("nan")
                       for k, v in per.items()},
        "inside_boxes": inside_means,
        "photos": int(len(rgb)), "photos_with_boxes": int(has.sum()),
        "boxes": int(len(inside["psnr"])),
    }, rgb_pred


def format_table(results):
    first = next(iter(results.values()))
    parts = [("all", f"all {first['photos']} photos"),
             ("with_boxes", f"the {first['photos_with_boxes']} photos with boxes"),
             ("inside_boxes", f"inside their {first['boxes']} boxes")]
    out = []
    for key, title in parts:
        skin = key == "inside_boxes"
        if skin:
            title += f" (skin: {first[key]['skin_pixels']} pixels)"
        out += [f"**{title}**", "", "| model | PSNR (dB) | SSIM | AuC | colourfulness |"
                + (" skin Δab |" if skin else ""), "|---|---|---|---|---|" + ("---|" if skin else "")]
        for name, r in results.items():
            m = r[key]
            out.append(f"| {name} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['auc']:.2f} | "
                       f"{m['colorfulness']:.2f} |" + (f" {m['skin_dab']:.2f} |" if skin else ""))
        out.append("")
    return "\n".join(out)


def write_pictures(folder, names, rgb, preds, boxes, size, limit=12):
    from PIL import Image, ImageDraw

    os.makedirs(folder, exist_ok=True)
    lines = ["| photo | gray | " + " | ".join(preds) + " | truth |",
             "|---|" + "---|" * (len(preds) + 2)]
    gray = np.clip(color.lab_to_rgb(color.gray_lab(rgb, np), np), 0, 1)
    shown = [i for i, b in enumerate(boxes) if pixel_boxes(b, size)][:limit]
    for i in shown:
        tiles = [gray[i]] + [p[i] for p in preds.values()] + [rgb[i]]
        ims = []
        for t in tiles:
            im = Image.fromarray(np.round(t * 255).astype(np.uint8))
            d = ImageDraw.Draw(im)
            for x0, y0, x1, y1 in pixel_boxes(boxes[i], size):
                d.rectangle([x0, y0, x1 - 1, y1 - 1], outline=(255, 255, 0))
            ims.append(im)
        strip = Image.new("RGB", (len(ims) * (size + 4), size), "white")
        for k, im in enumerate(ims):
            strip.paste(im, (k * (size + 4), 0))
        fname = f"{i:04d}.jpg"
        strip.save(os.path.join(folder, fname), quality=90)
        lines.append(f"| {names[i]} | ![{names[i]}]({fname}) |")
    with open(os.path.join(folder, "pictures.md"), "w") as f:
        f.write("Strips: gray | " + " | ".join(preds) + " | truth (boxes in yellow)\n\n")
        f.write("\n".join(f"![{names[i]}]({i:04d}.jpg)" for i in shown) + "\n")
    return shown


def run(val_dir, models, boxes_path, size=256, limit=None, pictures=None):
    """``models``: {name: model spec for ``Colorizer``}; returns (table, results)."""
    from kcolor import colorize

    names, rgb, boxes = load_photos(val_dir, boxes_path, size, limit)
    lab = np.asarray(color.rgb_to_lab(rgb, np), np.float32)
    L = lab[..., :1]
    results, preds = {}, {}
    for name, spec in models.items():
        c = colorize.Colorizer(spec)
        results[name], preds[name] = score(rgb, lab, predict(c, L, boxes), boxes, size)
        print(f"{name}: {results[name]['all']}", flush=True)
    results["gray (ab = 0)"], _ = score(rgb, lab, np.zeros_like(lab[..., 1:]), boxes, size)
    if pictures:
        write_pictures(pictures, names, rgb, preds, boxes, size)
    return format_table(results), results


def main(argv):
    import json

    from absl import flags

    F = flags.FLAGS
    models = {}
    for spec in F.model:
        name, _, path = spec.rpartition("=")
        models[name or os.path.splitext(os.path.basename(path))[0]] = path
    table, results = run(F.val_dir, models, F.boxes, F.size, F.limit, F.pictures)
    print(table)
    if F.markdown:
        with open(F.markdown, "w") as f:
            f.write(table + "\n")
        with open(os.path.splitext(F.markdown)[0] + ".json", "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("val_dir", None, "Folder of colour photos.", required=True)
    flags.DEFINE_string("boxes", None, "Boxes file of those photos (detect_folder).")
    flags.DEFINE_multi_string("model", [], "NAME=PATH of a .keras model (repeat).")
    flags.DEFINE_integer("size", 256, "Photos are squashed to size x size and scored there.")
    flags.DEFINE_integer("limit", None, "Use only N photos, spread evenly over the folder.")
    flags.DEFINE_string("markdown", None, "Write the tables here (and the numbers as .json).")
    flags.DEFINE_string("pictures", None, "Write strips of the photos with boxes here.")
    app.run(main)
