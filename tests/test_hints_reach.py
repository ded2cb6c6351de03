"""The refiner that reads a propagation with a real decay
(kcolor.hints.model.ReachGate): the decay per area, its untrained output
computed by hand, and a preset that records its propagation."""

import keras
import numpy as np
import pytest

from kcolor import color, colorize, models, presets
from kcolor.hints import model as hint_model
from kcolor.hints import points
from kcolor.hints import propagate as prop_lib

REACH = {"sigma": 3.0, "lam_area": 0.8}


def test_decay_per_area_and_the_original_decay():
    assert hint_model.decay(64, 64, lam_area=0.8) == pytest.approx(0.8 / 4096)
    assert hint_model.decay(32, 16, lam_area=0.8) == pytest.approx(0.8 / 512)
    assert hint_model.decay(64, 64) == prop_lib.LAM == 1e-6
    with pytest.raises(ValueError, match="height and width"):
        hint_model.decay(None, 64, lam_area=0.8)


def test_untrained_refiner_is_the_hints_colour_where_they_reach_and_autos_where_not():
    """With u = d = 0: ab = g · x / r + (1 − g) · auto, g = r clipped to
    [1e-3, 1 − 1e-3]: for r = 1, 0.5, 0.25, 0 and x = r · (20, 40)."""
    refiner = hint_model.build_refiner(8, (1, 2), REACH)
    r = np.array([1.0, 0.5, 0.25, 0.0], np.float32).reshape(1, 2, 2, 1)
    x = r * np.array([20.0, 40.0], np.float32)
    prop = np.concatenate([x, r], -1)
    auto = np.full((1, 2, 2, 2), -10.0, np.float32)
    L4 = np.full((1, 2, 2, 1), 50.0, np.float32)
    zeros2, zeros1 = np.zeros_like(auto), np.zeros_like(L4)
    # the convolutions' random weights reach only u and d, which start at 0
    out = np.asarray(refiner.predict_on_batch([L4, auto, zeros2, zeros1, prop]))
    want = np.array([[20 * 0.999 - 10 * 0.001, 40 * 0.999 - 10 * 0.001],
                     [20 * 0.5 - 10 * 0.5, 40 * 0.5 - 10 * 0.5],
                     [20 * 0.25 - 10 * 0.75, 40 * 0.25 - 10 * 0.75],
                     [-10 * 0.999 + 0.001 * 0.0, -10 * 0.999]], np.float32).reshape(1, 2, 2, 2)
    np.testing.assert_allclose(out, want, atol=1e-3)


def test_propagation_with_decay_gives_r_times_a_weighted_mean_of_the_hints():
    """x / r is a convex mixture of the hints (here two: (30, 0) and
    (0, -30)); r is 1 at a hint and falls away from both."""
    L4 = np.full((16, 16, 1), 50.0)
    hint4 = np.zeros((16, 16, 2))
    mask4 = np.zeros((16, 16, 1))
    hint4[2, 2], mask4[2, 2] = (30.0, 0.0), 1
    hint4[13, 13], mask4[13, 13] = (0.0, -30.0), 1
    p = hint_model.propagate_numpy(L4, hint4, mask4, **REACH)
    r = p[..., 2]
    assert r[2, 2] == 1 and r[13, 13] == 1
    assert 0.2 < r[8, 8] < r[4, 4] < r[3, 3] < 1 and r[15, 0] < r[8, 8]
    colour = p[..., :2] / r[..., None]
    # each cell's colour lies on the segment between the two hints
    t = colour[..., 0] / 30.0
    np.testing.assert_allclose(colour[..., 1], (t - 1.0) * 30.0, atol=1e-3)
    # nearer the first hint, more of its colour; symmetric about the diagonal
    assert 1 >= t[3, 3] > t[5, 5] > t[7, 7] > 0.5 > t[8, 8] > t[12, 12] >= 0
    assert t[3, 3] > 0.75 and abs(t[0, 15] - 0.5) < 1e-3
    np.testing.assert_allclose(t[3, 3], 1 - t[12, 12], atol=1e-4)


def test_a_reach_preset_records_its_propagation_and_exports_the_same_solve(tmp_path):
    keras.utils.set_random_seed(3)
    base = models.build("unet_lite0", "regression", decoder=(16, 16, 16), name="rbase")
    presets.save_preset(base, "rbase", "regression", None, "zhang", 64, arch="unet_lite0",
                        directory=str(tmp_path))
    loaded, _ = presets.load("rbase", str(tmp_path))
    m = hint_model.build_hint_colorizer(loaded, channels=8, name="rhints", reach=REACH)
    rng = np.random.default_rng(0)
    refiner = hint_model.refiner_of(m)
    refiner.set_weights([w + rng.normal(0, 0.05, w.shape) for w in refiner.get_weights()])
    presets.save_preset(m, "rhints", "regression", None, "zhang", 64, arch="hint_unet_lite0",
                        directory=str(tmp_path), base_from="rbase")
    again, cfg = presets.load("rhints", str(tmp_path))
    assert cfg["build"]["reach"] == REACH
    assert hint_model.propagation_of(again) == {"sigma": 3.0, "lam": 1e-6, "lam_area": 0.8}
    for a, b in zip(refiner.get_weights(), hint_model.refiner_of(again).get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-4)  # stored as float16

    # the Python path (SciPy, outside) and the exported graph (multigrid CG) agree
    photo = (rng.random((64, 64, 3)) * 40 + 100).astype(np.uint8)
    photo[:, 32:] += 80
    pts = [points.Point(x=10, y=20, ab=(25.0, 30.0), size=4),
           points.Point(x=50, y=40, ab=(-20.0, 10.0), size=4)]
    c = colorize.Colorizer(str(tmp_path / "rhints.json"))
    hinted, plain = c.colorize([photo, photo], hints=[pts, []])
    assert np.abs(hinted.astype(int) - plain).max() > 20  # the points took effect
    L = color.rgb_to_lab(photo.astype(np.float32)[None] / 255.0, np)[..., :1].astype(np.float32)
    hint = np.zeros((1, 64, 64, 2), np.float32)
    mask = np.zeros((1, 64, 64, 1), np.float32)
    for p in pts:
        y0, x0 = int(p.y) - 2, int(p.x) - 2
        hint[0, y0:y0 + 4, x0:x0 + 4] = p.ab
        mask[0, y0:y0 + 4, x0:x0 + 4] = 1
    graph = hint_model.inference_model(again, 64)
    outside = hint_model.inference_model_outside(again)
    prop = hint_model.propagate_batch(L, hint, mask, settings=hint_model.propagation_of(again))
    a = np.asarray(graph.predict_on_batch([L, hint, mask]))
    b = np.asarray(outside.predict_on_batch([L, hint, mask, prop]))
    assert np.abs(a - b).mean() < 0.05 and np.abs(a - b).max() < 1.0
