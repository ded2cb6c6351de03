"""Training-free hint propagation (kcolor.hints.propagate): the exact sparse
solve, the stride-4 variant and the keras.ops multigrid-CG version."""

import math
import os

import numpy as np
import pytest

from kcolor.hints import propagate as prop

SAMPLES = "/work/shared/data/imagenet_samples"


def _batch(*arrays):
    return [np.asarray(a, np.float32)[None] for a in arrays]


def _ops_np(L, hint, mask, **kw):
    """propagate_ops through keras.ops (the test backend, eagerly), one image."""
    return _to_numpy(prop.propagate_ops(*_batch(L, hint, mask), **kw))[0]


def _mg_np(L, hint, mask, **kw):
    """propagate_ops on numpy (the same code as keras.ops, much faster eagerly)."""
    return prop.propagate_ops(*_batch(L, hint, mask), xp=np, **kw)[0]


def _to_numpy(x):
    from keras import ops

    return np.asarray(ops.convert_to_numpy(x))


def _compiled(fn):
    """fn as one graph: tf.function or jax.jit (eager keras.ops runs the
    loop op by op: seconds per call)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    return tf.function(fn)


# --- closed forms ----------------------------------------------------------


def test_two_pixels_closed_form():
    # L = 50, 60: w = exp(-10^2 / (2 * 5^2)) = e^-2. The free pixel minimises
    # w (x - h)^2 + lam x^2: x = w h / (w + lam).
    L = np.array([[50.0, 60.0]])
    hint = np.array([[[30.0, -20.0], [0.0, 0.0]]])
    mask = np.array([[[1.0], [0.0]]])
    w = math.exp(-2.0)
    for lam in (0.5, 1e-6):
        want = np.array([30.0, -20.0]) * w / (w + lam)
        ab = prop.propagate(L, hint, mask, lam=lam)
        np.testing.assert_allclose(ab[0, 1], want, rtol=1e-5)
        np.testing.assert_array_equal(ab[0, 0], [30.0, -20.0])
        np.testing.assert_allclose(_ops_np(L[..., None], hint, mask, lam=lam, iterations=3)[0, 1],
                                   want, rtol=1e-4)


def test_chain_of_three_closed_form():
    # flat L (w = 1), lam = 1, hint h on the left: x2 = x1 / 2 and
    # (x1 - h) + (x1 - x2) + x1 = 0, so x1 = 0.4 h and x2 = 0.2 h.
    L = np.full((1, 3, 1), 40.0)
    hint = np.zeros((1, 3, 2))
    hint[0, 0] = [10.0, 50.0]
    mask = np.zeros((1, 3, 1))
    mask[0, 0] = 1
    want = [[10.0, 50.0], [4.0, 20.0], [2.0, 10.0]]
    np.testing.assert_allclose(prop.propagate(L, hint, mask, lam=1.0)[0], want, rtol=1e-5)
    for xp in (np, None):
        out = prop.propagate_ops(*_batch(L, hint, mask), iterations=3, lam=1.0, xp=xp)
        np.testing.assert_allclose(np.asarray(out)[0, 0], want, rtol=1e-4)


def test_weights_are_the_gaussian_of_the_lightness_step():
    L = np.array([[0.0, 5.0], [10.0, 10.0]])
    right, down = prop.weights(L)
    np.testing.assert_allclose(right, [[math.exp(-0.5), 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(down, [[math.exp(-2.0), math.exp(-0.5)], [0.0, 0.0]])


# --- a flat square behind a strong edge ------------------------------------


def _square(n=32, lo=8, hi=24):
    """L = 50 on the square [lo, hi)^2, 80 around it (|dL| = 30: w = e^-18);
    a 2 x 2 hint (30, -40) in the square's middle."""
    L = np.full((n, n, 1), 80.0, np.float32)
    L[lo:hi, lo:hi] = 50.0
    hint = np.zeros((n, n, 2), np.float32)
    mask = np.zeros((n, n, 1), np.float32)
    c = (lo + hi) // 2
    hint[c - 1:c + 1, c - 1:c + 1] = [30.0, -40.0]
    mask[c - 1:c + 1, c - 1:c + 1] = 1.0
    inside = np.zeros((n, n), bool)
    inside[lo:hi, lo:hi] = True
    return L, hint, mask, inside


def _check_square(ab, inside, hint, mask, margin=0):
    inner = np.zeros_like(inside)
    lo, hi = np.nonzero(inside)[0].min(), np.nonzero(inside)[0].max() + 1
    inner[lo + margin:hi - margin, lo + margin:hi - margin] = True
    outer = np.ones_like(inside)
    outer[max(lo - margin, 0):hi + margin, max(lo - margin, 0):hi + margin] = False
    # the whole square takes the hint's colour (within 5 ab units) ...
    assert np.abs(ab[inner] - [30.0, -40.0]).max() < 5.0
    # ... and none of it crosses the edge
    assert np.abs(ab[outer]).max() < 1.0
    on = mask[..., 0] > 0.5
    np.testing.assert_array_equal(ab[on], hint[on])  # hinted pixels hold the hint


def test_square_exact():
    L, hint, mask, inside = _square()
    _check_square(prop.propagate(L, hint, mask), inside, hint, mask)


def test_square_multigrid():
    L, hint, mask, inside = _square()
    _check_square(_mg_np(L, hint, mask), inside, hint, mask)


def test_square_at_stride_both_versions():
    # 64 x 64 working size, square on 4 x 4 cells: solved at 16 x 16. Bilinear
    # upsampling blends 2 px either side of the edge.
    L, hint, mask, inside = _square(64, 16, 48)
    _check_square(prop.propagate_at_stride(L, hint, mask), inside, hint, mask, margin=2)
    from keras import ops

    ab = prop.propagate_ops_at_stride(*_batch(L, hint, mask), iterations=16)
    _check_square(np.asarray(ops.convert_to_numpy(ab))[0], inside, hint, mask, margin=2)


def test_no_hints_gives_zeros():
    L = np.random.default_rng(0).uniform(0, 100, (16, 16, 1)).astype(np.float32)
    zero_h, zero_m = np.zeros((16, 16, 2), np.float32), np.zeros((16, 16, 1), np.float32)
    for ab in (prop.propagate(L, zero_h, zero_m), prop.propagate_at_stride(L, zero_h, zero_m),
               _ops_np(L, zero_h, zero_m, iterations=2), _mg_np(L, zero_h, zero_m)):
        assert ab.shape == (16, 16, 2) and not np.asarray(ab).any()


def test_hinted_pixels_hold_the_hint():
    rng = np.random.default_rng(1)
    L = rng.uniform(0, 100, (16, 16, 1)).astype(np.float32)
    hint = rng.uniform(-60, 60, (16, 16, 2)).astype(np.float32)
    mask = (rng.random((16, 16, 1)) < 0.1).astype(np.float32)
    on = mask[..., 0] > 0
    for ab in (prop.propagate(L, hint, mask), prop.propagate_at_stride(L, hint, mask),
               _mg_np(L, hint, mask), _ops_np(L, hint, mask, iterations=2)):
        np.testing.assert_array_equal(np.asarray(ab)[on], hint[on])
    off = prop.propagate_at_stride(L, hint, mask, keep_hints=False)
    assert not np.array_equal(off[on], hint[on])


def test_keras_ops_and_numpy_run_the_same_solver():
    # smooth lightness with a strong edge (on noise-like lightness, float32
    # rounding at pixels tied to nothing is amplified by 1 / lam)
    yy, xx = np.mgrid[0:16, 0:16]
    L = np.stack([30 + 2 * yy + xx * (xx < 9) + 40 * (xx >= 9), 60 - 3 * xx + yy])[..., None]
    rng = np.random.default_rng(5)
    hint = rng.uniform(-50, 50, (2, 16, 16, 2)).astype(np.float32)
    mask = (rng.random((2, 16, 16, 1)) < 0.05).astype(np.float32)
    L = L.astype(np.float32)
    want = prop.propagate_ops(L, hint, mask, iterations=4, xp=np)
    np.testing.assert_allclose(_to_numpy(prop.propagate_ops(L, hint, mask, iterations=4)),
                               want, atol=1e-3)
    exact = np.stack([prop.propagate(L[i], hint[i], mask[i]) for i in range(2)])
    assert np.abs(prop.propagate_ops(L, hint, mask, xp=np) - exact).max() < 0.01


# --- stride: pooling and upsampling ----------------------------------------


def test_downsample_by_hand():
    L = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    hint = np.zeros((4, 4, 2), np.float32)
    mask = np.zeros((4, 4, 1), np.float32)
    hint[0, 0], mask[0, 0] = [10, 20], 1  # cell (0, 0): two hinted pixels
    hint[1, 1], mask[1, 1] = [30, 0], 1
    hint[0, 3] = [99, 99]  # not hinted: ignored
    L_c, hint_c, m_c = prop.downsample(L, hint, mask, 2)
    np.testing.assert_allclose(L_c[..., 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(m_c[..., 0], [[1, 0], [0, 0]])
    np.testing.assert_allclose(hint_c[0, 0], [20, 10])
    assert not hint_c[m_c[..., 0] == 0].any()
    with pytest.raises(ValueError, match="not divisible by the stride 3"):
        prop.downsample(L, hint, mask, 3)


def test_upsample_bilinear_matches_keras_resize():
    from keras import ops

    x = np.random.default_rng(2).normal(size=(5, 7, 2)).astype(np.float32)
    ours = prop.upsample_bilinear(x, 20, 28)
    ref = ops.convert_to_numpy(ops.image.resize(x[None], (20, 28), interpolation="bilinear"))[0]
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    # half-pixel centres: output pixel 0 of a 4x upsampling sits at input -0.375,
    # clamped to input pixel 0; output pixel 2 at 0.125
    np.testing.assert_allclose(ours[0, 0], x[0, 0], atol=1e-6)
    np.testing.assert_allclose(ours[2, 0], 0.875 * x[0, 0] + 0.125 * x[1, 0], atol=1e-5)


# --- the multigrid's parts (numpy) -------------------------------------------


def _matrix(fn, shape_in):
    n = int(np.prod(shape_in))
    return np.stack([np.ravel(fn(np.eye(n)[i].reshape(shape_in))) for i in range(n)], 1)


def test_multigrid_restriction_is_the_transpose_and_coarse_operator_galerkin():
    rng = np.random.default_rng(0)
    L = rng.uniform(0, 100, (1, 8, 8, 1))
    L[:, :, :4] = 50 + rng.normal(0, 3, (1, 8, 4, 1))  # a smooth half, a rough half
    m = np.zeros((1, 8, 8, 1))
    m[0, 2, 5] = m[0, 6, 2] = 1
    st, _ = prop._fine_stencil(L, m, 5.0, 1e-6, np)
    st = prop._prepare(st, np)
    A = _matrix(lambda x: prop._apply(st, x, np), (1, 8, 8, 1))
    # the fine matrix: D + lam I - W on free pixels, hinted rows empty
    free = (1 - m).ravel() > 0
    right, down = prop.weights(L[0])
    assert A[0, 1] == pytest.approx(-right[0, 0]) and A[0, 8] == pytest.approx(-down[0, 0])
    assert A[0, 0] == pytest.approx(right[0, 0] + down[0, 0] + 1e-6)
    assert not A[~free].any() and np.allclose(A, A.T)
    taps = prop._interpolation(st, np)
    P = _matrix(lambda x: prop._prolong(taps, x, np), (1, 4, 4, 1))
    R = _matrix(lambda x: prop._restrict(taps, x, np), (1, 8, 8, 1))
    np.testing.assert_allclose(R, P.T, atol=1e-12)
    assert P.min() >= 0 and P.sum(1).max() <= 1 + 1e-9 and not P[~free].any()
    coarse, _ = prop._coarsen(st, np)
    Ac = _matrix(lambda x: prop._apply(prop._prepare(coarse, np), x, np), (1, 4, 4, 1))
    keep = coarse["f"].ravel() > 0
    np.testing.assert_allclose(Ac[np.ix_(keep, keep)], (P.T @ A @ P)[np.ix_(keep, keep)],
                               atol=1e-12)


# --- keras.ops against SciPy on real photos --------------------------------


def _photos(names, size=256):
    from PIL import Image

    from kcolor import color, imageio

    out = []
    for name in names:
        rgb = imageio.read_rgb(os.path.join(SAMPLES, name))
        small = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR))
        out.append(color.rgb_to_lab(small.astype(np.float32) / 255.0, np))
    return out


@pytest.mark.skipif(not os.path.isdir(SAMPLES), reason="no ImageNet samples")
def test_keras_ops_matches_scipy_on_photos():
    # Measured (python -m kcolor.hints.agreement: 96 photos, 40 iterations):
    # mean |d ab| 0.02-0.05, mean PSNR within 0.02 dB of the exact solve's,
    # 94 of 96 photos within 0.1 dB. Here two easy photos (|d ab| 0.006 at
    # most) and two hard ones (0.07 and 0.04: regions tied to every hint
    # only by weak links; PSNR within 0.041 dB).
    from kcolor import color
    from kcolor.hints import sampler

    names = ["n01443537.jpg", "n02088238.jpg", "n03016953.jpg", "n03782006.jpg"]
    labs = _photos(names)
    solve = _compiled(prop.propagate_ops)

    def rgb8(lab):
        return np.round(color.lab_to_rgb(lab, np) * 255.0)

    def psnr(a, b):
        return 10 * np.log10(255.0**2 / np.mean((a - b) ** 2))

    for n_points in (1, 5, 10):
        batch, exact, hints = [], [], []
        for name, lab in zip(names, labs):
            hint, mask = sampler.sample_eval(lab[..., 1:], n_points, sampler.seed_for(name))
            lc, hc, mc = prop.downsample(lab[..., :1], hint, mask)
            batch.append((lc, hc, mc))
            exact.append(prop.propagate(lc, hc, mc))
            hints.append((hint, mask))
        arrays = [np.stack([b[k] for b in batch]).astype(np.float32) for k in range(3)]
        ops_ab = _to_numpy(solve(*arrays))
        for i, lab in enumerate(labs):
            d = np.abs(ops_ab[i] - exact[i])
            assert d.mean() < 0.2, (names[i], n_points, d.mean())

            def photo(ab_c):
                ab = prop.upsample_bilinear(ab_c, 256, 256)
                ab = np.where(hints[i][1] > 0.5, hints[i][0], ab)  # keep_hints
                return rgb8(np.concatenate([lab[..., :1], ab], -1))

            truth = rgb8(lab)
            dpsnr = psnr(photo(ops_ab[i]), truth) - psnr(photo(exact[i]), truth)
            assert abs(dpsnr) < 0.1, (names[i], n_points, dpsnr)
        easy = np.abs(ops_ab[:2] - np.stack(exact[:2])).mean()
        assert easy < 0.02, (n_points, easy)


# --- backends and export -------------------------------------------------------


def test_runs_under_jax():
    from conftest import run_jax_script

    script = """
import json, numpy as np
from kcolor.hints import propagate as prop
rng = np.random.default_rng(3)
L = (50 + 20 * np.sign(rng.normal(size=(2, 4, 4, 1)))).astype(np.float32)
hint = rng.uniform(-50, 50, (2, 4, 4, 2)).astype(np.float32)
mask = np.zeros((2, 4, 4, 1), np.float32)
mask[:, 1, 2] = 1
ops_ab = np.asarray(prop.propagate_ops(L, hint, mask, iterations=8))
exact = np.stack([prop.propagate(L[i], hint[i], mask[i]) for i in range(2)])
print(json.dumps({"max": float(np.abs(ops_ab - exact).max()),
                  "scale": float(np.abs(exact).max())}))
"""
    out = run_jax_script(script)
    assert out["scale"] > 10 and out["max"] < 0.05


def test_exports_to_tflite_builtin_ops():
    import tensorflow as tf

    s = 4
    rng = np.random.default_rng(4)
    L = rng.uniform(0, 100, (1, s, s, 1)).astype(np.float32)
    hint = rng.uniform(-50, 50, (1, s, s, 2)).astype(np.float32)
    mask = (rng.random((1, s, s, 1)) < 0.2).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, s, s, 1]), tf.TensorSpec([1, s, s, 2]),
                                  tf.TensorSpec([1, s, s, 1])])
    def solve(L, hint, mask):
        return prop.propagate_ops(L, hint, mask, iterations=8)

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [solve.get_concrete_function()], solve)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex ops
    model = converter.convert()
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), (L, hint, mask)):
        interp.set_tensor(detail["index"], value)
    interp.invoke()
    got = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, solve(L, hint, mask).numpy(), atol=1e-3)


def test_cg_breakdown_keeps_the_iterate_instead_of_nan(monkeypatch):
    """A preconditioner that stops being positive in float32 (seen on one
    imagenet_samples photo with sigma 3: rz < 0 after 24 steps, then NaN
    in a and b) must not turn the solve into NaN: a channel whose step would
    divide by a non-positive number stops (here, with the preconditioner
    -I, at once: the free pixels stay 0, the hints hold)."""
    rng = np.random.default_rng(0)
    L = (rng.random((1, 16, 16, 1)) * 100).astype(np.float32)
    hint = np.zeros((1, 16, 16, 2), np.float32)
    mask = np.zeros((1, 16, 16, 1), np.float32)
    hint[0, 3, 4], mask[0, 3, 4] = (30.0, -20.0), 1
    monkeypatch.setattr(prop, "_v_cycle", lambda levels, weights, r, xp, k=0: -r)
    out = np.asarray(prop.propagate_ops(L, hint, mask, 10, xp=np))
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0, 3, 4], (30.0, -20.0))
    assert np.abs(np.delete(out.reshape(-1, 2), 3 * 16 + 4, axis=0)).max() == 0
