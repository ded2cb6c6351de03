"""Colorization losses, each a serializable ``keras.losses.Loss``.

Convention for every loss here:

* ``y_true``: Lab [batch, h, w, 3] at the model's output resolution (L first,
  so losses that need lightness, like ``NeighborLoss``, have it);
* ``y_pred``: ab [batch, h, w, 2] from a regression head, or bin logits
  [batch, h, w, Q] from a classification head (``BinnedCrossEntropy``;
  ``CompositeLoss`` accepts either).

Regression terms work on ab / ``ab_scale`` (default 110, so ab is about
[-1, 1]) and, as in the loss study, sum the a and b channels and average over
pixels. Every loss returns one value per sample; Keras averages over the batch.
"""

import keras
from keras import ops

from kcolor import bins


def _ab(y_true):
    return y_true[..., 1:3]


def _per_sample_mean(x):
    return ops.mean(ops.reshape(x, (ops.shape(x)[0], -1)), axis=-1)


class _AbLoss(keras.losses.Loss):
    """Base for per-pixel regression losses on ab."""

    takes_logits = False

    def __init__(self, ab_scale=110.0, name=None, **kwargs):
        super().__init__(name=name or self.__class__.__name__.lower(), **kwargs)
        self.ab_scale = float(ab_scale)

    def call(self, y_true, y_pred):
        diff = (y_pred - _ab(y_true)) / self.ab_scale
        return _per_sample_mean(ops.sum(self.penalty(diff), axis=-1))

    def get_config(self):
        return {**super().get_config(), "ab_scale": self.ab_scale}


@keras.saving.register_keras_serializable(package="kcolor")
class L1(_AbLoss):
    """Mean absolute ab error: mean over pixels of |Δa| + |Δb| (scaled)."""

    def penalty(self, d):
        return ops.abs(d)


@keras.saving.register_keras_serializable(package="kcolor")
class L2(_AbLoss):
    """Mean squared ab error: mean over pixels of Δa² + Δb² (scaled)."""

    def penalty(self, d):
        return d * d


@keras.saving.register_keras_serializable(package="kcolor")
class LogMSE(L2):
    """Per photo: 10·log10(``L2`` + eps), i.e. minus that photo's PSNR in
    (scaled) ab, up to a constant.

    Validation scores the *mean over photos* of PSNR, a logarithm of each
    photo's error. L2 weighs every pixel of every photo alike, so it spends
    the network on the photos with the largest errors; the log weighs each
    photo's gradient by 1 / (its error + eps), as mean PSNR does. ``eps``
    (default 1e-3: an rms error of 3.5 ab units at ab_scale 110) bounds that
    weight for photos that are already almost right, e.g. nearly gray ones.
    The error is Δa² + Δb² averaged over pixels (``L2``'s), on ab / ab_scale.
    """

    def __init__(self, eps=1e-3, ab_scale=110.0, name=None, **kwargs):
        super().__init__(ab_scale=ab_scale, name=name or "log_mse", **kwargs)
        self.eps = float(eps)

    def call(self, y_true, y_pred):
        return 10.0 * ops.log(super().call(y_true, y_pred) + self.eps) / ops.log(10.0)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


@keras.saving.register_keras_serializable(package="kcolor")
class Huber(_AbLoss):
    """Smooth-L1 on ab: 0.5·d² for |d| < delta, delta·(|d| - 0.5·delta) beyond.

    The study writes delta = 1 on raw pixel values. On ab / 110 a delta of 1
    would make Huber plain L2, so the default is 0.1 (11 ab units, about one
    bin of the grid): quadratic within a bin, robust (L1) beyond it.
    """

    def __init__(self, delta=0.1, ab_scale=110.0, name=None, **kwargs):
        super().__init__(ab_scale=ab_scale, name=name, **kwargs)
        self.delta = float(delta)

    def penalty(self, d):
        a = ops.abs(d)
        return ops.where(a < self.delta, 0.5 * d * d, self.delta * (a - 0.5 * self.delta))

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


@keras.saving.register_keras_serializable(package="kcolor")
class BinnedCrossEntropy(keras.losses.Loss):
    """Cross-entropy between soft-encoded true ab and predicted bin logits.

    The target Z is the true ab soft-encoded onto its 5 nearest bins
    (Gaussian, σ = 5). With ``rebalance=True`` each pixel is weighted by
    w[q*], q* its nearest bin, w ∝ ((1-λ)·p̃ + λ/Q)^-1 (Zhang et al., eq. 3-4),
    p̃ the smoothed colour prior: the shipped one unless ``prior`` is given.

    Args:
      grid: ``"zhang"`` (in-gamut grid-10 bins) or ``"seed23"`` (23 x 23).
      rebalance: weight rare colours up.
      lam: λ of the rebalancing.
      prior: optional list of Q bin probabilities.
    """

    takes_logits = True

    def __init__(self, grid="zhang", rebalance=False, lam=0.5, prior=None, name=None, **kwargs):
        super().__init__(name=name or "binned_cross_entropy", **kwargs)
        self.grid_name = grid
        self.grid = bins.get_grid(grid)
        self.rebalance = bool(rebalance)
        self.lam = float(lam)
        self.prior = None if prior is None else [float(p) for p in prior]
        self.weights = None
        if self.rebalance:
            p = self.prior if self.prior is not None else self.grid.shipped_prior()
            self.weights = self.grid.rebalance_weights(p, self.lam)

    def call(self, y_true, y_pred):
        ab = _ab(y_true)
        z = self.grid.soft_encode(ab)
        ce = -ops.sum(z * ops.log_softmax(y_pred, axis=-1), axis=-1)
        if self.weights is not None:
            ce = ce * ops.take(self.weights, self.grid.nearest(ab))
        return _per_sample_mean(ce)

    def get_config(self):
        return {
            **super().get_config(),
            "grid": self.grid_name,
            "rebalance": self.rebalance,
            "lam": self.lam,
            "prior": self.prior,
        }


@keras.saving.register_keras_serializable(package="kcolor")
class NeighborLoss(keras.losses.Loss):
    """Lightness-aware smoothness: neighbours of similar L get similar ab.

    The loss study writes  e^{-(L_p - L_q)^2} [(â_p - â_q) + (b̂_p - b̂_q)],
    q ∈ N(p). Summed over neighbours with signs, this can be driven to -∞ (and
    its sum over both orders of a pair is 0), so it has no minimum. We keep
    its idea and bound it: for every pixel p and its right and lower
    neighbour q,

        w_pq · (|â_p - â_q| + |b̂_p - b̂_q|) / ab_scale,
        w_pq = exp(-((L_p - L_q) / lightness_scale)^2),

    averaged over pairs. It is ≥ 0, is 0 exactly for a constant colour, is
    bounded by 2·max|ab|/ab_scale, and charges colour edges only where there
    is no lightness edge. The absolute (L1, total-variation-like) form keeps
    sharp colour edges cheaper than a squared form would. ``lightness_scale``
    (default 10 L units) is the lightness step at which a pair's weight
    drops to 1/e; the study's e^{-ΔL²} is this with L in units of 1.

    This term alone is minimised by any flat colour, so recipes pair it with a
    data term (``CompositeLoss``).
    """

    takes_logits = False

    def __init__(self, lightness_scale=10.0, ab_scale=110.0, name=None, **kwargs):
        super().__init__(name=name or "neighbor_loss", **kwargs)
        self.lightness_scale = float(lightness_scale)
        self.ab_scale = float(ab_scale)

    def _pairs(self, L, ab, axis):
        if axis == 1:
            dl, dab = L[:, 1:] - L[:, :-1], ab[:, 1:] - ab[:, :-1]
        else:
            dl, dab = L[:, :, 1:] - L[:, :, :-1], ab[:, :, 1:] - ab[:, :, :-1]
        w = ops.exp(-ops.square(dl / self.lightness_scale))
        return ops.reshape(
            w * ops.sum(ops.abs(dab), axis=-1, keepdims=True), (ops.shape(L)[0], -1)
        )

    def call(self, y_true, y_pred):
        L = y_true[..., :1]
        ab = y_pred / self.ab_scale
        terms = ops.concatenate([self._pairs(L, ab, 1), self._pairs(L, ab, 2)], axis=-1)
        return ops.mean(terms, axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "lightness_scale": self.lightness_scale,
            "ab_scale": self.ab_scale,
        }


@keras.saving.register_keras_serializable(package="kcolor")
class CompositeLoss(keras.losses.Loss):
    """Weighted sum of kcolor losses; default CE + 10·Huber + 10·Neighbor.

    With bin logits as ``y_pred``, the regression terms see the distribution's
    mean ab (softmax(logits) · centres; the T = 1 annealed mean, which is
    differentiable). With ab as ``y_pred`` there must be no logits term.

    Args:
      losses: list of kcolor losses (default: ``BinnedCrossEntropy(grid)``,
        ``Huber()``, ``NeighborLoss()``).
      weights: one weight per loss (default 1, 10, 10, as in the study).
      grid: the grid of the logits when ``losses`` is left to default.
    """

    def __init__(self, losses=None, weights=None, grid="seed23", name=None, **kwargs):
        super().__init__(name=name or "composite_loss", **kwargs)
        if losses is None:
            losses = [BinnedCrossEntropy(grid=grid), Huber(), NeighborLoss()]
            weights = [1.0, 10.0, 10.0] if weights is None else weights
        self.losses = [
            keras.losses.deserialize(l) if isinstance(l, dict) else l for l in losses
        ]
        self.loss_weights = [1.0] * len(self.losses) if weights is None else list(weights)
        if len(self.loss_weights) != len(self.losses):
            raise ValueError(
                f"CompositeLoss: {len(self.losses)} losses but {len(self.loss_weights)} weights"
            )
        self.grid_name = grid
        logit_losses = [l for l in self.losses if getattr(l, "takes_logits", False)]
        self.grid = logit_losses[0].grid if logit_losses else bins.get_grid(grid)

    def call(self, y_true, y_pred):
        ab_pred = y_pred
        if y_pred.shape[-1] != 2:
            ab_pred = self.grid.annealed_mean(y_pred, temperature=1.0)
        total = 0.0
        for loss, weight in zip(self.losses, self.loss_weights):
            pred = y_pred if getattr(loss, "takes_logits", False) else ab_pred
            total = total + weight * loss.call(y_true, pred)
        return total

    def get_config(self):
        return {
            **super().get_config(),
            "losses": [keras.losses.serialize(l) for l in self.losses],
            "weights": self.loss_weights,
            "grid": self.grid_name,
        }


@keras.saving.register_keras_serializable(package="kcolor")
class ColorfulHuber(Huber):
    """Huber on ab that seeks colour: rebalanced per pixel, plus a chroma term.

    Regression losses desaturate: where the hue is uncertain, the error is
    smallest near the mean of the candidates, close to gray. Two changes
    aim at accuracy and colour at once:

    * each pixel is weighted by Zhang et al.'s rebalancing weight of its true
      colour's bin, w[q*] ∝ ((1-λ)·p̃ + λ/Q)^-1, E_p̃[w] = 1 (as in
      ``BinnedCrossEntropy``). λ defaults to 0.8, not the paper's 0.5: on the
      shipped prior 0.5 weighs the rarest colours ~60× the commonest, 0.8
      about 7×, so near-gray pixels still count;
    * ``chroma_weight`` · Huber(|ab_pred| - |ab_true|): the chroma error,
      blind to hue. Huber is L1-like beyond ``delta``, so between two
      equally likely hues any prediction on the segment joining them costs
      the same; the chroma term then prefers one of the saturated ends over
      the gray middle.

    Per pixel: w[q*] · (h(Δa) + h(Δb) + chroma_weight · h(Δc)), h the Huber
    penalty on values / ``ab_scale``; averaged over pixels.
    """

    def __init__(self, delta=0.1, chroma_weight=1.0, lam=0.8, grid="zhang", prior=None,
                 ab_scale=110.0, name=None, **kwargs):
        super().__init__(delta=delta, ab_scale=ab_scale, name=name or "colorful_huber", **kwargs)
        self.chroma_weight = float(chroma_weight)
        self.lam = float(lam)
        self.grid_name = grid
        self.grid = bins.get_grid(grid)
        self.prior = None if prior is None else [float(p) for p in prior]
        p = self.prior if self.prior is not None else self.grid.shipped_prior()
        self.weights = self.grid.rebalance_weights(p, self.lam)

    def call(self, y_true, y_pred):
        ab_true = _ab(y_true)
        d = (y_pred - ab_true) / self.ab_scale
        per_pixel = ops.sum(self.penalty(d), axis=-1)
        if self.chroma_weight:
            eps = 1e-6  # keeps the gradient of |ab| finite at gray
            chroma = lambda ab: ops.sqrt(ops.sum(ops.square(ab / self.ab_scale), -1) + eps)  # noqa: E731
            per_pixel = per_pixel + self.chroma_weight * self.penalty(
                chroma(y_pred) - chroma(ab_true))
        per_pixel = per_pixel * ops.take(self.weights, self.grid.nearest(ab_true))
        return _per_sample_mean(per_pixel)

    def get_config(self):
        return {**super().get_config(), "chroma_weight": self.chroma_weight, "lam": self.lam,
                "grid": self.grid_name, "prior": self.prior}
