"""Simulated user hints, drawn from a photo's true ab at the working size.

As colorization-pytorch's ``add_color_patches_rand_gt`` (the code of Zhang
et al., SIGGRAPH 2017), with its training options ``sample_p = 1/8``,
``sample_Ps = 1..9`` and ``samp = 'normal'``:

* the number of points is geometric: a point is added while
  ``rng.random() < 1 - p``, so a photo has none with probability p = 1/8,
  k with probability (7/8)^k / 8, 7 on average;
* a patch is P x P working pixels, P uniform in ``sizes`` (1..9) for
  training; 6 x 6 at 256 for evaluation (``default_patch``: round(6 s / 256),
  3 x 3 at 128);
* its top-left corner along each axis (n pixels) is
  ``int(clip(normal((n - P + 1) / 2, (n - P + 1) / 4), 0, n - P))``: centres
  gather around the middle of the photo with a standard deviation of about
  n / 4, and every patch lies wholly inside the image;
* the hint is the true ab averaged over the patch (each channel), the mask 1
  there; later patches overwrite earlier ones where they overlap.

Two departures from that code: each photo gets its own points (the code
draws them per photo too, but from NumPy's global generator), drawn from
the ``numpy.random.Generator`` given; and ab stays in Lab units (the code
divides by 110).

Evaluation (``sample_eval``, the SIGGRAPH 2017 protocol behind its PSNR vs.
number of points curve) draws exactly n points from a generator seeded per
photo (``seed_for``), so a photo gets the same points on every run, and its
first k points are the same for every n >= k.
"""

import zlib

import numpy as np

from kcolor.hints.points import default_patch

P_NONE = 1.0 / 8.0  # colorization-pytorch's sample_p
TRAIN_SIZES = tuple(range(1, 10))  # its sample_Ps


def _corner(rng, n, P):
    """Top-left coordinate of a P-pixel patch along an axis of n pixels."""
    v = rng.normal((n - P + 1) / 2.0, (n - P + 1) / 4.0)
    return int(min(max(v, 0.0), n - P))  # clip, then floor (as int() of a value >= 0)


def training_patches(rng, height, width, p=P_NONE, sizes=TRAIN_SIZES):
    """Random patches for training: a list of (row, col, P), top-left corner
    and side in working pixels (count, sides and places as the module says)."""
    out = []
    while rng.random() < 1.0 - p:
        P = int(sizes[rng.integers(len(sizes))])
        P = min(P, height, width)
        out.append((_corner(rng, height, P), _corner(rng, width, P), P))
    return out


def eval_patches(n_points, seed, height, width, patch):
    """``n_points`` patches of side ``patch`` (list of (row, col, P)) drawn
    from ``numpy.random.default_rng(seed)``; the first k are the same for
    any ``n_points`` >= k."""
    rng = np.random.default_rng(seed)
    P = min(int(patch), height, width)
    return [(_corner(rng, height, P), _corner(rng, width, P), P) for _ in range(int(n_points))]


def fill(ab_true, patches):
    """(hint_ab [h, w, 2], mask [h, w, 1]) float32 for ``patches`` on
    ``ab_true`` [h, w, 2]: each patch holds the true ab's mean over it."""
    ab_true = np.asarray(ab_true, np.float32)
    hint = np.zeros(ab_true.shape[:2] + (2,), np.float32)
    mask = np.zeros(ab_true.shape[:2] + (1,), np.float32)
    for r, c, P in patches:
        hint[r:r + P, c:c + P] = ab_true[r:r + P, c:c + P].mean((0, 1), dtype=np.float64)
        mask[r:r + P, c:c + P] = 1.0
    return hint, mask


def sample_training(ab_true, rng, p=P_NONE, sizes=TRAIN_SIZES):
    """Random hints for one training photo: (hint_ab [h, w, 2], mask
    [h, w, 1]) float32 from its true ab [h, w, 2] at the working size.
    ``rng``: a ``numpy.random.Generator``."""
    h, w = np.shape(ab_true)[:2]
    return fill(ab_true, training_patches(rng, h, w, p, sizes))


def sample_eval(ab_true, n_points, seed, patch=None):
    """Evaluation hints (SIGGRAPH 2017 protocol): exactly ``n_points``
    patches of ``patch`` working pixels (default ``default_patch(s)``: 6 at
    256, 3 at 128) placed as for training, from ``seed`` (one per photo,
    e.g. ``seed_for(name)``). Returns (hint_ab [h, w, 2], mask [h, w, 1])."""
    h, w = np.shape(ab_true)[:2]
    if patch is None:
        patch = default_patch(max(h, w))
    return fill(ab_true, eval_patches(n_points, seed, h, w, patch))


def seed_for(name):
    """A photo's evaluation seed: CRC-32 of its name (UTF-8), the same on
    every machine and run."""
    return zlib.crc32(str(name).encode("utf-8"))
