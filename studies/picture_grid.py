"""One picture grid for the studies: a row per photo, a column per model."""


def val_photos(val_dirs, n, side=128):
    """``n`` uint8 RGB photos spread over ``val_dirs`` (a list of folders),
    resized to ``side`` × ``side``."""
    import numpy as np
    from PIL import Image

    from kcolor import data, imageio

    paths = data.spread(data.resolve(",".join(val_dirs))[1], n)
    return [np.asarray(Image.fromarray(imageio.read_rgb(p)).resize((side, side), Image.BICUBIC))
            for p in paths]


def write(photos, named_models, jpg, width=1.45):
    """Gray input | one column per (label, model spec) at gain 1 | ground truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kcolor import colorize

    columns = [("gray input", [colorize.gray_rgb(p) for p in photos])]
    for label, spec in named_models:
        columns.append((label, colorize.Colorizer(spec, size=photos[0].shape[0]).colorize(photos)))
    columns.append(("ground truth", photos))
    n = len(photos)
    fig, axes = plt.subplots(n, len(columns), figsize=(width * len(columns), 1.5 * n + 0.3))
    for j, (title, images) in enumerate(columns):
        axes[0, j].set_title(title, fontsize=8)
        for i, im in enumerate(images):
            axes[i, j].imshow(im)
            axes[i, j].axis("off")
    fig.tight_layout(pad=0.2)
    fig.savefig(jpg, dpi=110, pil_kwargs={"quality": 90})
