"""sRGB <-> Lab: known colours, round trip, gamut clipping, gradients, namespaces."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import KNOWN_COLOURS, ref_lab_to_rgb, ref_rgb_to_lab, to_np

from kcolor import color

NAMESPACES = {
    "keras": None,
    "numpy": np,
    "tnp": tf.experimental.numpy,
}


def _call(fn, x, xp_name):
    xp = NAMESPACES[xp_name]
    if xp_name == "tnp":
        return fn(tf.constant(x), xp).numpy()
    if xp_name == "numpy":
        return np.asarray(fn(x, xp))
    return to_np(fn(x))


@pytest.mark.parametrize("xp_name", list(NAMESPACES))
@pytest.mark.parametrize("name", list(KNOWN_COLOURS))
def test_known_colours_to_lab(name, xp_name):
    rgb, lab = KNOWN_COLOURS[name]
    got = _call(color.rgb_to_lab, np.array([rgb], np.float32), xp_name)[0]
    np.testing.assert_allclose(got, lab, atol=0.01)


@pytest.mark.parametrize("name", list(KNOWN_COLOURS))
def test_known_lab_to_rgb(name):
    rgb, lab = KNOWN_COLOURS[name]
    got = to_np(color.lab_to_rgb(np.array([lab], np.float32)))[0]
    np.testing.assert_allclose(got, rgb, atol=1e-3)


def test_mid_gray_is_neutral():
    # sRGB 0.5 -> linear ((0.555 / 1.055) ** 2.4) = 0.21404, L = 116 Y^(1/3) - 16.
    y = ((0.5 + 0.055) / 1.055) ** 2.4
    L = 116.0 * y ** (1.0 / 3.0) - 16.0
    assert L == pytest.approx(53.3889, abs=1e-3)
    got = to_np(color.rgb_to_lab(np.full((1, 3), 0.5, np.float32)))[0]
    np.testing.assert_allclose(got, [L, 0.0, 0.0], atol=1e-3)


def test_random_colours_match_float64_reference():
    rgb = np.random.default_rng(1).uniform(0, 1, (1000, 3)).astype(np.float32)
    got = to_np(color.rgb_to_lab(rgb))
    np.testing.assert_allclose(got, ref_rgb_to_lab(rgb), atol=2e-3)


def test_round_trip_1000_random_colours():
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 1, (1000, 3)).astype(np.float32)
    # Include the cube's corners and the linear (dark) segment of the sRGB curve.
    corners = np.array(np.meshgrid([0, 1], [0, 1], [0, 1])).reshape(3, -1).T
    dark = rng.uniform(0, 0.04, (50, 3))
    rgb = np.concatenate([rgb, corners, dark]).astype(np.float32)
    back = to_np(color.lab_to_rgb(color.rgb_to_lab(rgb)))
    np.testing.assert_allclose(back, rgb, atol=1e-4)


def test_round_trip_keeps_batch_shape():
    rgb = np.random.default_rng(2).uniform(0, 1, (2, 3, 5, 3)).astype(np.float32)
    lab = color.rgb_to_lab(rgb)
    assert tuple(lab.shape) == (2, 3, 5, 3)
    np.testing.assert_allclose(to_np(color.lab_to_rgb(lab)), rgb, atol=1e-4)


OUT_OF_GAMUT = np.array(
    [
        [50.0, 120.0, -120.0],
        [150.0, 0.0, 0.0],
        [150.0, 60.0, 60.0],
        [-20.0, 0.0, 0.0],
        [50.0, -200.0, 200.0],
        [0.0, 127.0, -128.0],
    ],
    np.float32,
)


@pytest.mark.parametrize("xp_name", list(NAMESPACES))
def test_out_of_gamut_lab_is_clipped(xp_name):
    got = _call(color.lab_to_rgb, OUT_OF_GAMUT, xp_name)
    assert np.all(np.isfinite(got))
    assert got.min() >= 0.0 and got.max() <= 1.0
    np.testing.assert_allclose(got, ref_lab_to_rgb(OUT_OF_GAMUT), atol=1e-4)
    np.testing.assert_allclose(got[1], [1.0, 1.0, 1.0], atol=1e-6)  # L = 150: white
    np.testing.assert_allclose(got[3], [0.0, 0.0, 0.0], atol=1e-6)  # L < 0: black
    # L = 50, a = 120, b = -120: a saturated magenta, green clipped to 0.
    assert got[0, 1] == 0.0 and got[0, 2] == pytest.approx(1.0, abs=1e-6)


def test_rgb_outside_unit_cube_is_clipped():
    got = to_np(color.rgb_to_lab(np.array([[1.5, -0.2, 0.5], [1.0, 0.0, 0.5]], np.float32)))
    np.testing.assert_allclose(got[0], got[1], atol=1e-6)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_rgb_to_lab_gradient_is_finite_at_the_ends(value):
    x = tf.constant(np.full((1, 3), value), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        lab = color.rgb_to_lab(x)
        per_channel = [lab[..., i] for i in range(3)]
    jac = np.stack([tape.gradient(c, x).numpy()[0] for c in per_channel])  # [3 (Lab), 3 (rgb)]
    assert np.all(np.isfinite(jac)), jac

    # dL/d(rgb) by hand: L = 116 f(Y) - 16 with Y = M[1] . lin(rgb) (Yn = 1).
    m_y = np.array([0.2126729, 0.7151522, 0.0721750])
    if value == 0.0:
        # Linear segments: lin = c / 12.92 and f(t) = t / (3 (6/29)^2) + 4/29.
        expected = 116.0 * m_y / (12.92 * 3 * (6.0 / 29.0) ** 2)
    else:
        # lin' (1) = 2.4 / 1.055, f'(1) = 1/3.
        expected = 116.0 * m_y * (2.4 / 1.055) / 3.0
    np.testing.assert_allclose(jac[0], expected, rtol=1e-4)


@pytest.mark.parametrize("L", [0.0, 100.0])
def test_lab_to_rgb_gradient_is_finite(L):
    x = tf.constant([[L, 0.0, 0.0]], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(color.lab_to_rgb(x))
    g = tape.gradient(y, x).numpy()
    assert np.all(np.isfinite(g)), g


@pytest.mark.parametrize("fn", ["rgb_to_lab", "lab_to_rgb", "gray_lab"])
def test_numpy_and_tnp_paths_agree_with_keras_ops(fn):
    rng = np.random.default_rng(3)
    if fn == "lab_to_rgb":
        x = np.stack(
            [rng.uniform(0, 100, 500), rng.uniform(-100, 100, 500), rng.uniform(-110, 100, 500)], -1
        ).astype(np.float32)
        atol = 1e-5
    else:
        x = rng.uniform(0, 1, (500, 3)).astype(np.float32)
        atol = 1e-3
    f = getattr(color, fn)
    ref = _call(f, x, "keras")
    np.testing.assert_allclose(_call(f, x, "numpy"), ref, atol=atol)
    np.testing.assert_allclose(_call(f, x, "tnp"), ref, atol=atol)


def test_gray_lab_and_split():
    rgb = np.random.default_rng(4).uniform(0, 1, (4, 3)).astype(np.float32)
    lab = to_np(color.rgb_to_lab(rgb))
    gray = to_np(color.gray_lab(rgb))
    np.testing.assert_allclose(gray[:, 0], lab[:, 0], atol=1e-5)
    np.testing.assert_array_equal(gray[:, 1:], 0.0)
    L, ab = color.l_and_ab(lab)
    assert L.shape == (4, 1) and ab.shape == (4, 2)
    np.testing.assert_array_equal(np.concatenate([L, ab], -1), lab)
