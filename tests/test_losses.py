"""Losses by hand on a 2 x 2 example, their properties, and their serialization."""

import math

import keras
import numpy as np
import pytest
from conftest import keras_roundtrip, np_log_softmax, np_softmax, ref_soft_encode, to_np

from kcolor import bins, losses

# The 2 x 2 example (B = 1). Lab target: L, and ab chosen away from ties
# between bins so that the 5 nearest bins of every pixel are unambiguous.
L = np.array([[50.0, 55.0], [70.0, 50.0]])
AB_TRUE = np.array([[[9.4, -21.3], [11.5, 0.7]], [[31.2, 38.6], [-6.3, 4.1]]])
# Prediction - truth, in ab units: 2, 5, 8 are below Huber's delta (0.1 = 11
# ab units after / 110), 12 and 20 above it.
DIFF = np.array([[[2.0, -5.0], [12.0, 0.0]], [[0.0, -20.0], [0.0, -8.0]]])
AB_PRED = AB_TRUE + DIFF

Y_TRUE = np.concatenate([L[..., None], AB_TRUE], -1)[None].astype(np.float32)  # [1, 2, 2, 3]
Y_PRED = AB_PRED[None].astype(np.float32)  # [1, 2, 2, 2]


def _value(loss, y_true, y_pred):
    return float(to_np(loss(y_true, y_pred)))


# --- numpy references (checked against the hand values below) ---------------


def np_huber(ab_true, ab_pred, delta=0.1):
    d = np.abs(np.asarray(ab_pred, np.float64) - ab_true) / 110.0
    pen = np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return pen.sum(-1).mean()


def np_neighbor(L, ab_pred):
    """Mean over right and down pairs of exp(-(ΔL/10)^2) (|Δa| + |Δb|) / 110."""
    h, w = L.shape
    terms = []
    for i in range(h):
        for j in range(w):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < h and j + dj < w:
                    dl = L[i + di, j + dj] - L[i, j]
                    dab = np.abs(ab_pred[i + di, j + dj] - ab_pred[i, j]).sum() / 110.0
                    terms.append(math.exp(-((dl / 10.0) ** 2)) * dab)
    return float(np.mean(terms))


def np_cross_entropy(ab_true, logits, centres, weights=None):
    z = ref_soft_encode(ab_true, centres)
    ce = -(z * np_log_softmax(logits)).sum(-1)
    if weights is not None:
        nearest = np.argmin(((ab_true[..., None, :] - centres) ** 2).sum(-1), -1)
        ce = ce * weights[nearest]
    return ce.mean()


# --- hand values --------------------------------------------------------------


def test_l1_by_hand():
    # |Δa| + |Δb| per pixel: 7, 12, 20, 8 -> 47 / 110, averaged over 4 pixels.
    assert _value(losses.L1(), Y_TRUE, Y_PRED) == pytest.approx(47 / 110 / 4, rel=1e-5)


def test_l2_by_hand():
    # Δa² + Δb² per pixel: 29, 144, 400, 64 -> 637 / 110², averaged over 4.
    assert _value(losses.L2(), Y_TRUE, Y_PRED) == pytest.approx(637 / 110**2 / 4, rel=1e-5)


def test_log_mse_by_hand():
    # The L2 error above, 637 / 110² / 4 = 0.013161, plus eps 1e-3: 10·log10(0.014161) = -18.489.
    assert _value(losses.LogMSE(), Y_TRUE, Y_PRED) == pytest.approx(-18.4891, abs=1e-3)
    # Per photo, then averaged: a second photo with a 10 x smaller diff weighs in at its own log.
    y_pred = np.concatenate([Y_PRED, (AB_TRUE + DIFF / 10)[None].astype(np.float32)])
    y_true = np.concatenate([Y_TRUE, Y_TRUE])
    small = 10 * math.log10(637 / 110**2 / 4 / 100 + 1e-3)  # -28.758
    got = to_np(losses.LogMSE().call(y_true, y_pred))
    np.testing.assert_allclose(got, [-18.4891, small], atol=1e-3)


def test_huber_by_hand():
    q = lambda x: 0.5 * (x / 110) ** 2  # noqa: E731  |x| / 110 < 0.1
    lin = lambda x: 0.1 * (x / 110 - 0.05)  # noqa: E731  |x| / 110 >= 0.1
    expected = (q(2) + q(5) + lin(12) + lin(20) + q(8)) / 4
    assert expected == pytest.approx(np_huber(AB_TRUE, AB_PRED))
    assert _value(losses.Huber(), Y_TRUE, Y_PRED) == pytest.approx(expected, rel=1e-5)
    # A larger delta makes every term quadratic: half the L2 value.
    assert _value(losses.Huber(delta=1.0), Y_TRUE, Y_PRED) == pytest.approx(
        0.5 * 637 / 110**2 / 4, rel=1e-5
    )


def test_neighbor_loss_by_hand():
    p = AB_PRED
    w = lambda dl: math.exp(-((dl / 10.0) ** 2))  # noqa: E731
    s = lambda u, v: abs(u[0] - v[0]) + abs(u[1] - v[1])  # noqa: E731
    pairs = [
        (w(55 - 50), s(p[0, 1], p[0, 0])),  # right, row 0: ΔL = 5
        (w(50 - 70), s(p[1, 1], p[1, 0])),  # right, row 1: ΔL = -20
        (w(70 - 50), s(p[1, 0], p[0, 0])),  # down, column 0: ΔL = 20
        (w(50 - 55), s(p[1, 1], p[0, 1])),  # down, column 1: ΔL = -5
    ]
    # Pair sums |Δa| + |Δb|: 12.1 + 27 = 39.1, 37.5 + 22.5 = 60, 19.8 + 44.9 = 64.7,
    # 29.8 + 4.6 = 34.4.
    np.testing.assert_allclose([x[1] for x in pairs], [39.1, 60.0, 64.7, 34.4], atol=1e-9)
    expected = sum(a * b for a, b in pairs) / 110 / 4
    assert expected == pytest.approx(np_neighbor(L, AB_PRED))
    assert _value(losses.NeighborLoss(), Y_TRUE, Y_PRED) == pytest.approx(expected, rel=1e-5)


@pytest.fixture(scope="module")
def zhang_logits():
    return np.random.default_rng(0).normal(0, 2, (1, 2, 2, 261)).astype(np.float32)


def test_binned_cross_entropy_by_hand(zhang_logits):
    centres = bins.get_grid("zhang").centres.astype(np.float64)
    expected = np_cross_entropy(AB_TRUE, zhang_logits[0], centres)
    got = _value(losses.BinnedCrossEntropy(), Y_TRUE, zhang_logits)
    assert got == pytest.approx(expected, rel=1e-5)


def test_binned_cross_entropy_rebalanced_by_hand(zhang_logits):
    grid = bins.get_grid("zhang")
    prior = np.random.default_rng(1).gamma(0.3, size=261)
    prior = list(prior / prior.sum())
    loss = losses.BinnedCrossEntropy(rebalance=True, prior=prior)
    weights = grid.rebalance_weights(prior).astype(np.float64)
    expected = np_cross_entropy(AB_TRUE, zhang_logits[0], grid.centres.astype(np.float64), weights)
    assert _value(loss, Y_TRUE, zhang_logits) == pytest.approx(expected, rel=1e-5)
    # Differs from the unweighted loss (the weights are not all 1).
    assert expected != pytest.approx(np_cross_entropy(AB_TRUE, zhang_logits[0], grid.centres))


def test_colorful_huber_by_hand():
    """Per pixel: w[q*] · (h(Δa) + h(Δb) + h(Δchroma)), h = Huber on /110."""
    grid = bins.get_grid("zhang")
    prior = np.random.default_rng(1).gamma(0.3, size=261)
    prior = list(prior / prior.sum())
    w = grid.rebalance_weights(prior, 0.8).astype(np.float64)
    h = lambda x: (0.5 * (x / 110) ** 2 if abs(x) / 110 < 0.1  # noqa: E731
                   else 0.1 * (abs(x) / 110 - 0.05))
    chroma = lambda ab: math.hypot(ab[0], ab[1])  # noqa: E731
    total = 0.0
    for i in range(2):
        for j in range(2):
            t, p = AB_TRUE[i, j], AB_PRED[i, j]
            nearest = int(np.argmin(((grid.centres - t) ** 2).sum(-1)))
            total += w[nearest] * (h(p[0] - t[0]) + h(p[1] - t[1])
                                   + 0.5 * h(chroma(p) - chroma(t)))
    loss = losses.ColorfulHuber(chroma_weight=0.5, prior=prior)
    assert _value(loss, Y_TRUE, Y_PRED) == pytest.approx(total / 4, rel=1e-4)
    # Without the chroma term and with flat weights (a uniform prior, λ = 1) it is Huber.
    plain = losses.ColorfulHuber(chroma_weight=0.0, lam=1.0, prior=list(np.full(261, 1 / 261)))
    assert _value(plain, Y_TRUE, Y_PRED) == pytest.approx(np_huber(AB_TRUE, AB_PRED), rel=1e-5)


def test_colorful_huber_prefers_a_saturated_guess_to_gray():
    """Two equally likely hues, a = ±40. Huber (L1-like beyond delta) charges
    gray 0.1 (40/110 - 0.05) = 0.0314 a sample and the guess a = 40 half of
    0.1 (80/110 - 0.05) = 0.0339: it prefers gray, slightly. The chroma term
    charges gray another 0.0314 and the guess nothing, so ColorfulHuber
    prefers the saturated guess (0.0339 against 0.0627)."""
    y_true = np.zeros((2, 1, 1, 3), np.float32)
    y_true[0, ..., 1], y_true[1, ..., 1] = 40.0, -40.0
    flat = list(np.full(261, 1 / 261))
    gray = np.zeros((2, 1, 1, 2), np.float32)
    guess = np.zeros((2, 1, 1, 2), np.float32)
    guess[..., 0] = 40.0
    huber = losses.Huber()
    colorful = losses.ColorfulHuber(lam=1.0, prior=flat)
    assert _value(huber, y_true, gray) == pytest.approx(0.1 * (40 / 110 - 0.05), rel=1e-5)
    assert _value(huber, y_true, guess) == pytest.approx(0.1 * (80 / 110 - 0.05) / 2, rel=1e-5)
    # rel 2e-3: the chroma of gray is sqrt(1e-6) · 110 = 0.11, not 0 (a finite gradient)
    assert _value(colorful, y_true, gray) == pytest.approx(0.1 * (40 / 110 - 0.05) * 2, rel=2e-3)
    assert _value(colorful, y_true, guess) == pytest.approx(0.1 * (80 / 110 - 0.05) / 2, rel=1e-5)


def test_binned_cross_entropy_seed23_grid():
    logits = np.random.default_rng(2).normal(0, 1, (1, 2, 2, 529)).astype(np.float32)
    centres = bins.get_grid("seed23").centres.astype(np.float64)
    expected = np_cross_entropy(AB_TRUE, logits[0], centres)
    got = _value(losses.BinnedCrossEntropy(grid="seed23"), Y_TRUE, logits)
    assert got == pytest.approx(expected, rel=1e-5)


def test_composite_default_is_ce_plus_10_huber_plus_10_neighbor():
    grid = bins.get_grid("seed23")  # CompositeLoss's default grid
    logits = np.random.default_rng(3).normal(0, 2, (1, 2, 2, 529)).astype(np.float32)
    ab = np_softmax(logits[0]) @ grid.centres.astype(np.float64)  # T = 1 annealed mean
    ce = np_cross_entropy(AB_TRUE, logits[0], grid.centres.astype(np.float64))
    expected = ce + 10 * np_huber(AB_TRUE, ab) + 10 * np_neighbor(L, ab)
    got = _value(losses.CompositeLoss(), Y_TRUE, logits)
    assert got == pytest.approx(expected, rel=1e-4)


def test_composite_of_regression_losses():
    loss = losses.CompositeLoss([losses.Huber(), losses.NeighborLoss()], [1.0, 10.0])
    expected = np_huber(AB_TRUE, AB_PRED) + 10 * np_neighbor(L, AB_PRED)
    assert _value(loss, Y_TRUE, Y_PRED) == pytest.approx(expected, rel=1e-5)
    # Without weights every term counts once.
    loss = losses.CompositeLoss([losses.L1(), losses.L2()])
    assert _value(loss, Y_TRUE, Y_PRED) == pytest.approx(47 / 440 + 637 / 48400, rel=1e-5)


def test_composite_rejects_mismatched_weights():
    with pytest.raises(ValueError, match="2 losses but 1 weights"):
        losses.CompositeLoss([losses.L1(), losses.L2()], [1.0])


def test_batch_reduction_is_the_mean_of_per_sample_values():
    other_true = np.concatenate([np.full((2, 2, 1), 40.0), np.zeros((2, 2, 2))], -1)
    other_pred = np.full((2, 2, 2), 22.0)  # |Δa| + |Δb| = 44 everywhere -> 0.4
    y_true = np.stack([Y_TRUE[0], other_true]).astype(np.float32)
    y_pred = np.stack([Y_PRED[0], other_pred]).astype(np.float32)
    loss = losses.L1()
    np.testing.assert_allclose(to_np(loss.call(y_true, y_pred)), [47 / 440, 0.4], rtol=1e-5)
    assert _value(loss, y_true, y_pred) == pytest.approx((47 / 440 + 0.4) / 2, rel=1e-5)


def test_neighbor_loss_is_nonnegative_and_zero_for_a_flat_colour():
    rng = np.random.default_rng(4)
    y_true = np.concatenate(
        [rng.uniform(0, 100, (3, 6, 5, 1)), rng.uniform(-80, 80, (3, 6, 5, 2))], -1
    ).astype(np.float32)
    loss = losses.NeighborLoss()
    for _ in range(3):
        pred = rng.uniform(-100, 100, (3, 6, 5, 2)).astype(np.float32)
        values = to_np(loss.call(y_true, pred))
        assert values.shape == (3,) and np.all(values >= 0)
        assert np.all(values > 0)
    flat = np.broadcast_to(np.float32([37.0, -12.5]), (3, 6, 5, 2))
    np.testing.assert_array_equal(to_np(loss.call(y_true, flat)), 0.0)


# --- construction and serialization ------------------------------------------

PRIOR = list(np.full(261, 1.0 / 261))


def _factories():
    return {
        "L1": lambda: losses.L1(ab_scale=100.0),
        "L2": lambda: losses.L2(),
        "Huber": lambda: losses.Huber(delta=0.2),
        "LogMSE": lambda: losses.LogMSE(eps=0.01, ab_scale=100.0),
        "NeighborLoss": lambda: losses.NeighborLoss(lightness_scale=5.0),
        "BinnedCE": lambda: losses.BinnedCrossEntropy(grid="seed23"),
        "BinnedCE_rebalanced": lambda: losses.BinnedCrossEntropy(rebalance=True, prior=PRIOR, lam=0.3),
        "Composite": lambda: losses.CompositeLoss(),
        "ColorfulHuber": lambda: losses.ColorfulHuber(chroma_weight=0.5, prior=PRIOR, lam=0.7),
        "Composite_regression": lambda: losses.CompositeLoss(
            [losses.Huber(), losses.NeighborLoss()], [1.0, 10.0], name="huber_neighbor"
        ),
    }


FACTORIES = _factories()


def _channels(loss):
    if isinstance(loss, losses.CompositeLoss):
        logits = any(getattr(l, "takes_logits", False) for l in loss.losses)
        return loss.grid.num_bins if logits else 2
    return loss.grid.num_bins if getattr(loss, "takes_logits", False) else 2


def _example(channels, batch=2, size=4, seed=5):
    rng = np.random.default_rng(seed)
    y_true = np.concatenate(
        [rng.uniform(0, 100, (batch, size, size, 1)), rng.uniform(-60, 60, (batch, size, size, 2))], -1
    ).astype(np.float32)
    scale = 1.0 if channels > 2 else 40.0
    y_pred = rng.normal(0, scale, (batch, size, size, channels)).astype(np.float32)
    return y_true, y_pred


@pytest.mark.parametrize(
    "cls",
    [losses.L1, losses.L2, losses.Huber, losses.NeighborLoss, losses.BinnedCrossEntropy, losses.CompositeLoss,
     losses.ColorfulHuber],
)
def test_every_loss_constructs_without_arguments(cls):
    loss = cls()
    y_true, y_pred = _example(_channels(loss))
    value = _value(loss, y_true, y_pred)
    assert np.isfinite(value) and value > 0


def test_default_names():
    names = [losses.L1().name, losses.L2().name, losses.Huber().name, losses.NeighborLoss().name,
             losses.BinnedCrossEntropy().name, losses.CompositeLoss().name]
    assert names == ["l1", "l2", "huber", "neighbor_loss", "binned_cross_entropy", "composite_loss"]


@pytest.mark.parametrize("name", list(FACTORIES))
def test_serialize_deserialize(name):
    loss = FACTORIES[name]()
    config = keras.losses.serialize(loss)
    clone = keras.losses.deserialize(config)
    assert type(clone) is type(loss)
    assert clone.get_config() == loss.get_config()
    y_true, y_pred = _example(_channels(loss))
    assert _value(clone, y_true, y_pred) == pytest.approx(_value(loss, y_true, y_pred), rel=1e-6)


def _tiny_model(channels):
    inputs = keras.Input((4, 4, 1))
    return keras.Model(inputs, keras.layers.Conv2D(channels, 1, name="head")(inputs))


@pytest.mark.parametrize("name", list(FACTORIES))
def test_keras_file_round_trip_in_a_compiled_model(name, tmp_path):
    loss = FACTORIES[name]()
    channels = _channels(loss)
    model = _tiny_model(channels)
    model.compile(optimizer="adam", loss=loss)
    model.optimizer.build(model.trainable_variables)
    y_true, _ = _example(channels)
    x = y_true[..., :1] / 100.0
    before = model.evaluate(x, y_true, verbose=0)

    loaded = keras_roundtrip(model, tmp_path)
    assert type(loaded.loss) is type(loss)
    assert loaded.loss.get_config() == loss.get_config()
    after = loaded.evaluate(x, y_true, verbose=0)
    assert after == pytest.approx(before, rel=1e-5)
    # The loss of the loaded model is the loss itself, not only its config.
    expected = _value(loss, y_true, to_np(model(x)))
    assert after == pytest.approx(expected, rel=1e-5)
