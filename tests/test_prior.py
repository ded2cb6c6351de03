"""The colour prior: measured in-process and through the ``kcolor prior`` CLI."""

import numpy as np
import pytest
from PIL import Image
from conftest import brute_sq_dist, ref_rgb_to_lab, run_python

from kcolor import bins, prior


def _reference_prior(folder, grid):
    """Nearest-bin histogram of every pixel of the good photos (float64, brute force)."""
    counts = np.zeros(grid.num_bins)
    for path in sorted(folder.rglob("photo*")):
        rgb = np.asarray(Image.open(path).convert("RGB")) / 255.0
        ab = ref_rgb_to_lab(rgb)[..., 1:].reshape(-1, 2)
        counts += np.bincount(np.argmin(brute_sq_dist(ab, grid.centres), -1), minlength=grid.num_bins)
    return counts / counts.sum()


def test_measure_is_the_pixel_histogram(photo_dir):
    p = prior.measure(str(photo_dir), progress=False)
    assert p.shape == (261,)
    assert np.all(p >= 0) and p.sum() == pytest.approx(1.0, abs=1e-12)
    ref = _reference_prior(photo_dir, bins.get_grid("zhang"))
    # 10 photos of 48 x 40 pixels; a pixel on a bin border may go either way.
    np.testing.assert_allclose(p, ref, atol=5 / 19200)
    assert np.count_nonzero(p) > 5


def test_measure_seed23_and_limit(photo_dir):
    p = prior.measure(str(photo_dir), grid="seed23", limit=2, progress=False)
    assert p.shape == (529,) and p.sum() == pytest.approx(1.0)


def test_save_writes_float32(tmp_path):
    path = tmp_path / "deep" / "p.npy"
    prior.save([0.25, 0.75], str(path))
    got = np.load(path)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [0.25, 0.75])


def test_cli_writes_the_prior(photo_dir, tmp_path):
    out = tmp_path / "out" / "prior.npy"
    proc = run_python(
        ["-m", "kcolor", "prior", f"--data_dir={photo_dir}", f"--output={out}"],
        env={"KERAS_BACKEND": "tensorflow"}, cwd=str(tmp_path), timeout=300,
    )
    assert out.exists(), proc.stdout
    p = np.load(out)
    assert p.shape == (261,) and p.dtype == np.float32
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(p, prior.measure(str(photo_dir), progress=False), atol=1e-7)
    assert "261 bins" in proc.stdout
