"""Simulated hints (kcolor.hints.sampler): the training distribution's
statistics, the evaluation protocol's determinism, hints = patch means."""

import math
import zlib

import numpy as np
import pytest

from kcolor.hints import sampler

DRAWS = 20000


@pytest.fixture(scope="module")
def training_draws():
    rng = np.random.default_rng(123)
    return [sampler.training_patches(rng, 256, 256) for _ in range(DRAWS)]


def test_count_is_geometric_with_one_photo_in_eight_bare(training_draws):
    counts = np.array([len(p) for p in training_draws])
    # P(k) = (7/8)^k / 8: P(0) = 0.125, mean (1 - p) / p = 7, P(1) = 0.109.
    # Standard errors over 20,000 photos: 0.0023, 0.053 and 0.0022.
    assert np.mean(counts == 0) == pytest.approx(0.125, abs=0.01)
    assert np.mean(counts == 1) == pytest.approx(0.875 / 8, abs=0.01)
    assert counts.mean() == pytest.approx(7.0, abs=0.25)


def test_patch_sides_uniform_1_to_9(training_draws):
    sides = np.array([P for d in training_draws for _, _, P in d])
    freq = np.bincount(sides, minlength=10) / len(sides)
    assert freq[0] == 0 and sides.max() == 9
    np.testing.assert_allclose(freq[1:], 1 / 9, atol=0.006)  # s.e. 0.0008


def test_centres_gather_around_the_middle_sd_about_a_quarter(training_draws):
    n = 256
    rows = np.array([r + P / 2 for d in training_draws for r, _, P in d])
    cols = np.array([c + P / 2 for d in training_draws for _, c, P in d])
    sides = np.array([P for d in training_draws for _, _, P in d])
    # corner = floor(clip(N(mu, sd), mu - 2 sd, ~mu + 2 sd)), mu = (n - P + 1) / 2,
    # sd = (n - P + 1) / 4: the centre corner + P/2 has mean n/2 and variance
    # E[clip(Z, -2, 2)^2] * sd^2 + 1/12 (the floor), with
    # E[clip(Z, -2, 2)^2] = (2 Phi(2) - 1) - 4 phi(2) + 8 (1 - Phi(2)) = 0.9205.
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    tail = 0.5 * math.erfc(2 / math.sqrt(2))
    clipped = (1 - 2 * tail) - 4 * phi2 + 8 * tail
    assert clipped == pytest.approx(0.9205, abs=1e-4)
    want_sd = math.sqrt(np.mean(clipped * ((n - sides + 1) / 4.0) ** 2) + 1 / 12)
    assert want_sd == pytest.approx(0.9594 * n / 4, rel=0.02)  # "sd about s/4"
    for centres in (rows, cols):
        assert centres.mean() == pytest.approx(n / 2, abs=0.5)
        assert centres.std() == pytest.approx(want_sd, rel=0.02)
        assert centres.min() >= 0.5 and centres.max() <= n - 0.5
    # every patch lies inside the image
    assert all(0 <= r and r + P <= n and 0 <= c and c + P <= n
               for d in training_draws[:2000] for r, c, P in d)


def test_fill_hint_is_the_patch_mean():
    # ab[r, c] = (r, c): a 2 x 2 patch at (2, 3) has mean (2.5, 3.5); a 3 x 3
    # patch at (5, 0) has mean (6, 1).
    r, c = np.mgrid[0:8, 0:8].astype(np.float32)
    ab = np.stack([r, c], -1)
    hint, mask = sampler.fill(ab, [(2, 3, 2), (5, 0, 3)])
    assert mask.sum() == 4 + 9 and mask.dtype == np.float32
    np.testing.assert_array_equal(hint[2:4, 3:5].reshape(-1, 2), [[2.5, 3.5]] * 4)
    np.testing.assert_array_equal(hint[5:8, 0:3].reshape(-1, 2), [[6.0, 1.0]] * 9)
    assert not hint[mask[..., 0] == 0].any()


def test_sample_training_uses_the_generator_it_is_given():
    ab = np.random.default_rng(0).normal(0, 20, (32, 32, 2)).astype(np.float32)
    for seed in range(20):
        patches = sampler.training_patches(np.random.default_rng(seed), 32, 32)
        hint, mask = sampler.sample_training(ab, np.random.default_rng(seed))
        want = np.zeros((32, 32), bool)
        for r, c, P in patches:
            want[r:r + P, c:c + P] = True
        np.testing.assert_array_equal(mask[..., 0] > 0, want)
        if patches:  # the last patch is not overwritten
            r, c, P = patches[-1]
            np.testing.assert_allclose(hint[r, c], ab[r:r + P, c:c + P].mean((0, 1)), atol=1e-4)


def test_eval_sampling_is_deterministic_and_nested():
    ab = np.random.default_rng(1).normal(0, 20, (256, 256, 2)).astype(np.float32)
    h1, m1 = sampler.sample_eval(ab, 10, seed=42)
    h2, m2 = sampler.sample_eval(ab, 10, seed=42)
    np.testing.assert_array_equal(h1, h2)
    np.testing.assert_array_equal(m1, m2)
    h3, _ = sampler.sample_eval(ab, 10, seed=43)
    assert not np.array_equal(h1, h3)
    ten = sampler.eval_patches(10, 42, 256, 256, 6)
    assert len(ten) == 10 and all(P == 6 for _, _, P in ten)
    assert sampler.eval_patches(5, 42, 256, 256, 6) == ten[:5]
    _, m5 = sampler.sample_eval(ab, 5, seed=42)
    assert np.all(m5 <= m1)  # the 5 points are among the 10
    # default patch: 6 x 6 at 256, 3 x 3 at 128; one point covers exactly that
    assert sampler.sample_eval(ab, 1, seed=7)[1].sum() == 36
    assert sampler.sample_eval(ab[:128, :128], 1, seed=7)[1].sum() == 9
    assert sampler.sample_eval(ab, 0, seed=7)[1].sum() == 0


def test_eval_hint_is_the_patch_mean():
    ab = np.random.default_rng(2).normal(0, 20, (64, 64, 2)).astype(np.float32)
    (r, c, P), = sampler.eval_patches(1, 5, 64, 64, 4)
    hint, mask = sampler.sample_eval(ab, 1, seed=5, patch=4)
    np.testing.assert_allclose(hint[r + 1, c + 2], ab[r:r + 4, c:c + 4].mean((0, 1)), atol=1e-4)
    assert mask[r:r + 4, c:c + 4].all() and mask.sum() == 16


def test_seed_for_is_the_crc32_of_the_name():
    assert sampler.seed_for("n01443537.jpg") == zlib.crc32(b"n01443537.jpg")
    assert sampler.seed_for("é.png") == zlib.crc32("é.png".encode("utf-8"))
