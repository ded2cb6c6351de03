"""Choosing a preset's saturation gain for a target colourfulness."""

import numpy as np
import pytest
from keras import ops

from kcolor import callbacks, color, data, saturation


def test_choose_interpolates_between_swept_gains():
    rows = [{"gain": 1.0, "ratio": 0.5}, {"gain": 1.1, "ratio": 0.6},
            {"gain": 1.2, "ratio": 0.8}]
    assert saturation.choose(rows, 0.7) == pytest.approx(1.15)
    assert saturation.choose(rows, 0.6) == pytest.approx(1.1)
    assert saturation.choose(rows[::-1], 0.55) == pytest.approx(1.05)  # order does not matter
    assert saturation.choose(rows, 0.4) == 1.0  # already colourful enough without a gain
    with pytest.raises(ValueError, match="no gain up to 1.2 reaches 0.90x .* reaches 0.80x"):
        saturation.choose(rows, 0.9)


def test_sweep_of_a_half_chroma_oracle(photo_dir):
    """A 'model' that predicts the true ab at half strength: gain 2 gives back
    the truth (ratio 1, PSNR far above gray), gain 1 about half the colour;
    the chosen gain for 0.75 reaches 0.75 when scored on its own."""
    photos = list(data.validation_dataset(str(photo_dir), 32, batch_size=4, squash=True))
    true_ab = [ops.convert_to_numpy(color.rgb_to_lab(np.asarray(rgb)))[..., 1:] for _, rgb in photos]
    calls = iter(true_ab)
    rows = saturation.sweep(lambda L: 0.5 * next(calls), photos, gains=(1.0, 1.5, 2.0))
    assert [r["gain"] for r in rows] == [1.0, 1.5, 2.0]
    assert rows[2]["ratio"] == pytest.approx(1.0, abs=0.02)
    assert 0.4 < rows[0]["ratio"] < 0.6
    assert rows[2]["psnr"] > rows[2]["gray_psnr"] + 15
    assert rows[0]["ratio"] < rows[1]["ratio"] < rows[2]["ratio"]
    gain = saturation.choose(rows, 0.75)
    calls = iter(true_ab)
    model, gray = callbacks.evaluate_colorizer(lambda L: 0.5 * gain * next(calls), photos)
    assert model["colorfulness"] / gray["true_colorfulness"] == pytest.approx(0.75, abs=0.03)
    assert "| 2.0 |" in saturation.table(rows)


def test_sweep_with_the_mean_colour_kept(photo_dir):
    """An oracle with each photo's true mean colour but half its departures
    from it: with mean_saturation = 1, gain 2 gives the truth back exactly,
    while scaling ab itself by 2 doubles the mean too and scores lower."""
    photos = list(data.validation_dataset(str(photo_dir), 32, batch_size=4, squash=True))
    true_ab = [ops.convert_to_numpy(color.rgb_to_lab(np.asarray(rgb)))[..., 1:] for _, rgb in photos]
    halved = [m + 0.5 * (ab - m) for ab in true_ab for m in [ab.mean(axis=(1, 2), keepdims=True)]]
    calls = iter(halved * 2)
    kept = saturation.sweep(lambda L: next(calls), photos, gains=(2.0,), mean_saturation=1.0)
    plain = saturation.sweep(lambda L: next(calls), photos, gains=(2.0,))
    assert kept[0]["ratio"] == pytest.approx(1.0, abs=0.01)
    assert kept[0]["psnr"] > kept[0]["gray_psnr"] + 20
    assert plain[0]["psnr"] < kept[0]["psnr"] - 5
