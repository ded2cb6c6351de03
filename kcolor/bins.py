"""The quantized ab space: bin grids, soft encoding, colour prior, rebalancing
weights and annealed-mean decoding (Zhang, Isola, Efros 2016, sections 2.1-2.3).

Two grids ship:

* ``"zhang"``: grid size 10 over ab, keeping only the bins that hold an
  in-gamut sRGB colour for some L. Measured over all 16.7 M 8-bit sRGB colours
  this is **261** bins (a in [-90, 100], b in [-110, 90]); the paper reports 313
  for the same range, which we attribute to filling the convex hull of the
  gamut's ab footprint (see README, "Quantized ab space"). ``in_gamut_bins()``
  recomputes the set; the result, with one example colour per bin, is stored in
  ``assets/ab_bins_grid10.npz``.
* ``"seed23"``: the loss study's 23 x 23 grid of size 10 (centres -110..110),
  all 529 bins kept.
"""

import functools
import os

import keras
import numpy as np

from kcolor import color

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
GRID_SIZE = 10.0


def in_gamut_bins(grid_size=10, levels=256):
    """Grid bins (rounded ab / grid_size) hit by some sRGB colour.

    Args:
      grid_size: bin width in ab units.
      levels: sRGB samples per channel (256 = every 8-bit colour).

    Returns:
      (centres [Q, 2] float32 sorted by (a, b), example_rgb [Q, 3] uint8):
      for each bin one sRGB colour whose ab lies inside it.
    """
    # Sampled on the 8-bit lattice, so the uint8 examples are the colours tested.
    v = np.unique(np.round(np.linspace(0.0, 255.0, levels))) / 255.0
    g, b = np.meshgrid(v, v, indexing="ij")
    found = {}
    for r in v:
        rgb = np.stack([np.full_like(g, r), g, b], -1).reshape(-1, 3)
        idx = np.round(color.rgb_to_lab(rgb, np)[:, 1:] / grid_size).astype(int)
        keys, first = np.unique(idx, axis=0, return_index=True)
        for k, f in zip(map(tuple, keys), first):
            found.setdefault(k, rgb[f])
    keys = sorted(found)
    centres = np.array(keys, np.float32) * grid_size
    examples = np.round(np.array([found[k] for k in keys]) * 255).astype(np.uint8)
    return centres, examples


class AbGrid:
    """A set of ab bin centres with the operations that use them.

    Args:
      name: ``"zhang"`` (in-gamut grid-10 bins) or ``"seed23"`` (23 x 23).
      sigma: std (ab units) of the soft-encoding Gaussian; the paper's 5.
      neighbors: bins each true colour is spread over; the paper's 5.
    """

    def __init__(self, name, centres, sigma=5.0, neighbors=5):
        self.name = name
        self.centres = np.asarray(centres, np.float32)
        self.sigma = float(sigma)
        self.neighbors = int(neighbors)

    @property
    def num_bins(self):
        return len(self.centres)

    def __repr__(self):
        return f"AbGrid({self.name!r}, Q={self.num_bins})"

    def _sq_dist(self, ab, xp):
        # |ab - c|^2 = |ab|^2 - 2 ab.c + |c|^2, as one matmul.
        ab2 = xp.sum(ab * ab, axis=-1, keepdims=True)
        c2 = np.sum(self.centres**2, -1)
        return xp.maximum(ab2 - 2.0 * xp.matmul(ab, self.centres.T) + c2, 0.0)

    def nearest(self, ab, xp=None):
        """Index of the nearest bin, [...] int."""
        xp = keras.ops if xp is None else xp
        return xp.argmin(self._sq_dist(ab, xp), axis=-1)

    def soft_encode(self, ab):
        """Soft-encodes ab [..., 2] onto its ``neighbors`` nearest bins.

        Weights are a Gaussian of the distance (std ``sigma``), normalised to
        sum to 1; all other bins get 0. Returns [..., Q] (``keras.ops``).
        Bins exactly as far as the k-th nearest share in the weight too, so
        an ab exactly between bins (a measure-zero case) spreads over more.
        """
        xp = keras.ops
        d2 = self._sq_dist(ab, xp)
        kth = -xp.top_k(-d2, self.neighbors)[0][..., -1:]  # k-th smallest
        dmin = xp.min(d2, axis=-1, keepdims=True)
        w = xp.exp(-(d2 - dmin) / (2.0 * self.sigma**2))
        w = xp.where(d2 <= kth, w, 0.0)
        return w / xp.sum(w, axis=-1, keepdims=True)

    def annealed_mean(self, logits, temperature=0.38):
        """Annealed-mean point estimate of ab from bin logits [..., Q].

        f_T(z) = exp(log z / T) / sum(...), i.e. softmax(logits / T); the
        result is sum_q f_T(z)_q * centre_q. T = 1 gives the mean of the
        distribution, T -> 0 its mode (T = 0 is taken as the mode).
        """
        xp = keras.ops
        if temperature <= 0:
            p = xp.one_hot(xp.argmax(logits, axis=-1), self.num_bins)
        else:
            p = xp.softmax(logits / temperature, axis=-1)
        return xp.matmul(p, self.centres)

    def smoothed(self, prior):
        """Prior smoothed with the Gaussian of std ``sigma`` over ab."""
        d2 = np.sum((self.centres[:, None] - self.centres[None]) ** 2, -1)
        k = np.exp(-d2 / (2 * self.sigma**2))
        k /= k.sum(axis=1, keepdims=True)  # a uniform prior stays uniform
        p = k @ np.asarray(prior, np.float64)
        return p / p.sum()

    def rebalance_weights(self, prior, lam=0.5):
        """Class-rebalancing weights w ∝ ((1-λ)·p̃ + λ/Q)^-1 with E_p̃[w] = 1.

        Args:
          prior: empirical bin probabilities [Q] (``colour_prior``).
          lam: mixing weight λ of the uniform distribution (paper: 0.5).
        Returns:
          float32 [Q].
        """
        p = self.smoothed(prior)
        w = 1.0 / ((1.0 - lam) * p + lam / self.num_bins)
        return (w / np.sum(p * w)).astype(np.float32)

    def shipped_prior(self):
        """The prior measured on the training photos, shipped with kcolor."""
        path = os.path.join(ASSETS, f"prior_{self.name}.npy")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path}: no shipped prior for grid {self.name!r}; "
                "run `kcolor prior` to measure one"
            )
        return np.load(path)


@functools.lru_cache(maxsize=None)
def get_grid(name="zhang"):
    """Returns the shared ``AbGrid`` called ``name`` (or with ``name`` bins)."""
    if name in ("zhang", 261, "261"):
        with np.load(os.path.join(ASSETS, "ab_bins_grid10.npz")) as f:
            return AbGrid("zhang", f["centres"])
    if name in ("seed23", 529, "529"):
        c = np.arange(-110.0, 111.0, GRID_SIZE)
        a, b = np.meshgrid(c, c, indexing="ij")
        return AbGrid("seed23", np.stack([a.ravel(), b.ravel()], -1))
    raise ValueError(f"unknown ab grid {name!r}: use 'zhang' or 'seed23'")


def colour_prior(images_lab_ab, grid):
    """Empirical bin probabilities from an iterable of ab arrays [..., 2]."""
    counts = np.zeros(grid.num_bins, np.float64)
    for ab in images_lab_ab:
        idx = grid.nearest(np.asarray(ab, np.float32).reshape(-1, 2), np)
        counts += np.bincount(idx, minlength=grid.num_bins)
    if counts.sum() == 0:
        raise ValueError("no pixels: cannot measure a colour prior")
    return counts / counts.sum()


if __name__ == "__main__":  # regenerates assets/ab_bins_grid10.npz
    centres, examples = in_gamut_bins()
    np.savez_compressed(
        os.path.join(ASSETS, "ab_bins_grid10.npz"), centres=centres, example_rgb=examples
    )
    print(f"{len(centres)} in-gamut bins written")
