"""Quantized ab space: grids, soft encoding, annealed mean, prior, rebalancing."""

import math
import os

import numpy as np
import pytest
from conftest import brute_sq_dist, np_softmax, ref_rgb_to_lab, ref_soft_encode, to_np

from kcolor import bins


@pytest.fixture(scope="module")
def zhang():
    return bins.get_grid("zhang")


@pytest.fixture(scope="module")
def seed23():
    return bins.get_grid("seed23")


@pytest.fixture(scope="module")
def coarse_bins():
    return bins.in_gamut_bins(levels=32)


def _index(grid, a, b):
    hits = np.flatnonzero(np.all(grid.centres == np.float32([a, b]), -1))
    assert len(hits) == 1, f"({a}, {b}) is not a centre of {grid}"
    return int(hits[0])


def test_zhang_grid_has_261_bins(zhang):
    c = zhang.centres
    assert zhang.num_bins == 261 and c.shape == (261, 2)
    np.testing.assert_array_equal(c, np.round(c / 10) * 10)  # on the grid-10 lattice
    assert len({tuple(x) for x in c}) == 261
    assert [tuple(x) for x in c] == sorted(tuple(x) for x in c)  # sorted by (a, b)
    np.testing.assert_array_equal(c.min(0), [-90, -110])
    np.testing.assert_array_equal(c.max(0), [100, 90])


def test_zhang_example_colours_lie_in_their_bin_cells(zhang):
    with np.load(os.path.join(bins.ASSETS, "ab_bins_grid10.npz")) as f:
        centres, examples = f["centres"], f["example_rgb"]
    assert examples.dtype == np.uint8 and examples.shape == (261, 3)
    np.testing.assert_array_equal(centres, zhang.centres)
    ab = ref_rgb_to_lab(examples / 255.0)[:, 1:]
    assert np.all(np.abs(ab - centres) <= 5.0 + 1e-3), np.abs(ab - centres).max()


def test_seed23_grid(seed23):
    c = seed23.centres
    assert seed23.num_bins == 529
    axis = np.arange(-110, 111, 10)
    assert len(axis) == 23
    np.testing.assert_array_equal(np.unique(c[:, 0]), axis)
    np.testing.assert_array_equal(np.unique(c[:, 1]), axis)
    assert len({tuple(x) for x in c}) == 529


def test_get_grid_aliases_and_unknown():
    for alias, name in ((261, "zhang"), ("261", "zhang"), (529, "seed23"), ("529", "seed23")):
        grid = bins.get_grid(alias)
        assert grid.name == name
        np.testing.assert_array_equal(grid.centres, bins.get_grid(name).centres)
    assert bins.get_grid("zhang") is bins.get_grid("zhang")  # cached
    with pytest.raises(ValueError, match="unknown ab grid"):
        bins.get_grid("nope")


def test_in_gamut_bins_coarse_is_subset_of_shipped(zhang, coarse_bins):
    centres, examples = coarse_bins
    found = {tuple(x) for x in centres}
    shipped = {tuple(x) for x in zhang.centres}
    assert found <= shipped
    assert len(found) > 250  # a 32-level sampling still finds most of the 261
    assert examples.dtype == np.uint8 and examples.shape == (len(centres), 3)


def test_in_gamut_bins_coarse_examples_lie_in_their_cells(coarse_bins):
    centres, examples = coarse_bins
    ab = ref_rgb_to_lab(examples / 255.0)[:, 1:]
    assert np.all(np.abs(ab - centres) <= 5.0 + 1e-3), np.abs(ab - centres).max()


def test_nearest_matches_brute_force(zhang):
    ab = np.random.default_rng(0).uniform(-80, 80, (200, 2)).astype(np.float32)
    got = to_np(zhang.nearest(ab))
    np.testing.assert_array_equal(got, np.argmin(brute_sq_dist(ab, zhang.centres), -1))
    np.testing.assert_array_equal(zhang.nearest(ab, np), got)


GENERIC_AB = np.array([[13.7, -42.1], [0.3, 0.2], [71.2, 18.9], [-33.4, 57.8]], np.float32)


@pytest.mark.parametrize("grid_name", ["zhang", "seed23"])
def test_soft_encode_generic_ab(grid_name):
    grid = bins.get_grid(grid_name)
    z = to_np(grid.soft_encode(GENERIC_AB))
    assert z.shape == (4, grid.num_bins)
    np.testing.assert_allclose(z.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_array_equal((z > 0).sum(-1), 5)
    nearest = np.argmin(brute_sq_dist(GENERIC_AB, grid.centres), -1)
    np.testing.assert_array_equal(z.argmax(-1), nearest)
    np.testing.assert_allclose(z, ref_soft_encode(GENERIC_AB, grid.centres), atol=1e-5)


def test_soft_encode_batch_shape(zhang):
    ab = np.random.default_rng(1).uniform(-50, 50, (2, 3, 4, 2)).astype(np.float32)
    z = to_np(zhang.soft_encode(ab))
    assert z.shape == (2, 3, 4, 261)
    np.testing.assert_allclose(z.sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("centre", [(0, 0), (30, -40), (-20, 50)])
def test_soft_encode_on_a_centre_is_the_hand_gaussian(zhang, centre):
    a, b = centre
    i = _index(zhang, a, b)
    neighbours = [_index(zhang, a + da, b + db) for da, db in ((-10, 0), (10, 0), (0, -10), (0, 10))]
    # The 5 nearest: the centre (d = 0) and its 4 lattice neighbours (d = 10):
    # weights exp(-d^2 / (2 * 5^2)) = 1 and e^-2, normalised.
    norm = 1.0 + 4.0 * math.exp(-2.0)
    z = to_np(zhang.soft_encode(np.float32([[a, b]])))[0]
    expected = np.zeros(261)
    expected[i] = 1.0 / norm
    expected[neighbours] = math.exp(-2.0) / norm
    assert expected[i] == pytest.approx(0.6487856, abs=1e-6)
    np.testing.assert_allclose(z, expected, atol=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 0.38])
def test_annealed_mean_is_softmax_weighted_centres(zhang, temperature):
    logits = np.random.default_rng(2).normal(0, 2, (3, 261)).astype(np.float32)
    got = to_np(zhang.annealed_mean(logits, temperature))
    expected = np_softmax(logits / temperature) @ zhang.centres.astype(np.float64)
    np.testing.assert_allclose(got, expected, atol=1e-3)


@pytest.mark.parametrize("temperature", [0.0, 0.01])
def test_annealed_mean_low_temperature_is_the_mode(seed23, temperature):
    rng = np.random.default_rng(3)
    logits = rng.uniform(0, 1, (2, 2, 529)).astype(np.float32)
    modes = np.array([[17, 300], [5, 528]])
    for (i, j), q in np.ndenumerate(modes):
        logits[i, j, q] = 2.0  # a clear mode, 1 above the rest
    got = to_np(seed23.annealed_mean(logits, temperature))
    np.testing.assert_allclose(got, seed23.centres[modes], atol=1e-3)


def _random_prior(q, seed=4):
    p = np.random.default_rng(seed).gamma(0.3, size=q)
    return p / p.sum()


def test_smoothed_delta_prior_is_the_gaussian(zhang):
    prior = np.zeros(261)
    i = _index(zhang, 0, 0)
    prior[i] = 1.0
    p = zhang.smoothed(prior)
    assert p.sum() == pytest.approx(1.0)
    # Neighbour at distance 10: e^-2 of the centre; diagonal (d^2 = 200): e^-4.
    assert p[_index(zhang, 10, 0)] / p[i] == pytest.approx(math.exp(-2.0))
    assert p[_index(zhang, -10, 10)] / p[i] == pytest.approx(math.exp(-4.0))


@pytest.mark.parametrize("grid_name", ["zhang", "seed23"])
def test_rebalance_weights_have_unit_expectation(grid_name):
    grid = bins.get_grid(grid_name)
    prior = _random_prior(grid.num_bins)
    w = grid.rebalance_weights(prior)
    p = grid.smoothed(prior)
    assert w.dtype == np.float32 and w.shape == (grid.num_bins,)
    assert np.sum(p * w) == pytest.approx(1.0, abs=1e-5)
    # w ∝ 1 / (0.5 p + 0.5 / Q).
    raw = 1.0 / (0.5 * p + 0.5 / grid.num_bins)
    np.testing.assert_allclose(w / w[0], raw / raw[0], rtol=1e-5)


def test_rebalance_weights_limits_of_lambda(zhang):
    prior = _random_prior(261)
    p = zhang.smoothed(prior)
    # λ = 1: uniform mixing only -> every weight is 1.
    np.testing.assert_allclose(zhang.rebalance_weights(prior, lam=1.0), 1.0, rtol=1e-6)
    # λ = 0: w = c / p with E_p[w] = Q c = 1 -> w = 1 / (Q p).
    np.testing.assert_allclose(zhang.rebalance_weights(prior, lam=0.0), 1.0 / (261 * p), rtol=1e-5)


@pytest.mark.parametrize("grid_name", ["zhang", "seed23"])
def test_rebalance_weights_of_uniform_prior_are_one(grid_name):
    grid = bins.get_grid(grid_name)
    w = grid.rebalance_weights(np.full(grid.num_bins, 1.0 / grid.num_bins))
    np.testing.assert_allclose(w, 1.0, rtol=1e-5)


def test_rebalance_weights_favour_rare_bins(zhang):
    prior = np.zeros(261)
    common, rare = _index(zhang, 0, 0), _index(zhang, 60, 60)
    prior[common], prior[_index(zhang, 20, 20)], prior[rare] = 0.9, 0.09, 0.01
    w = zhang.rebalance_weights(prior)
    p = zhang.smoothed(prior)
    assert w[rare] > w[_index(zhang, 20, 20)] > w[common]
    assert np.argmin(w) == common
    # Weights are a decreasing function of the smoothed probability.
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(w[order]) <= 1e-6)
    # Bins far from every observed colour get the largest weight.
    assert w.max() == pytest.approx(w[_index(zhang, -90, 80)], rel=1e-6)


def test_colour_prior_of_a_known_array(zhang):
    gray = np.zeros((4, 5, 2), np.float32)
    p = bins.colour_prior([gray], zhang)
    expected = np.zeros(261)
    expected[_index(zhang, 0, 0)] = 1.0
    np.testing.assert_array_equal(p, expected)

    # Two arrays: 3 pixels near (0, 0), 1 near (20, -10); the counts add up.
    p = bins.colour_prior([np.float32([[1.0, -2.0], [0.0, 0.0], [-3.0, 4.0]]),
                           np.float32([[21.0, -9.0]])], zhang)
    assert p[_index(zhang, 0, 0)] == 0.75 and p[_index(zhang, 20, -10)] == 0.25
    assert p.sum() == 1.0


def test_colour_prior_of_nothing_raises(zhang):
    with pytest.raises(ValueError, match="no pixels"):
        bins.colour_prior([], zhang)


def test_shipped_prior(zhang):
    p = zhang.shipped_prior()
    assert p.shape == (261,)
    assert np.all(p >= 0) and p.sum() == pytest.approx(1.0, abs=1e-4)
