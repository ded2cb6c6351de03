"""The empirical colour prior: how often each ab bin occurs in a folder of photos.

``kcolor prior --data_dir=DIR --grid=zhang --output=prior.npy`` measures it
(nearest-bin counts over every pixel, normalised); the shipped priors in
``kcolor/assets/prior_<grid>.npy`` were measured on the training photos with
``--max_side=128``. Rebalancing weights are derived from it by
``AbGrid.rebalance_weights``.
"""


import numpy as np
from absl import logging

from kcolor import atomic, bins, color, data, imageio


def _ab_of(paths, max_side):
    from PIL import Image

    for path in paths:
        try:
            rgb = imageio.read_rgb(path)
        except imageio.ImageReadError as e:
            logging.warning("skipping unreadable photo %s", e)
            continue
        if max_side and max(rgb.shape[:2]) > max_side:
            im = Image.fromarray(rgb)
            im.thumbnail((max_side, max_side))
            rgb = np.asarray(im)
        yield color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)[..., 1:]


def measure(folder, grid="zhang", max_side=128, limit=None, progress=True):
    """Bin probabilities [Q] measured on the photos below ``folder``."""
    g = bins.get_grid(grid)
    paths = data.spread(data.list_images(folder), limit)
    it = _ab_of(paths, max_side)
    if progress:
        import keras

        bar = keras.utils.Progbar(len(paths), unit_name="photo")
        it = (bar.add(1) or ab for ab in it)
    return bins.colour_prior(it, g)


def save(prior, path):
    """Writes ``prior`` to ``path`` (.npy) atomically."""
    with atomic.open_atomic(path, "wb", ".npy") as f:
        np.save(f, np.asarray(prior, np.float32))
