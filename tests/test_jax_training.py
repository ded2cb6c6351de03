"""A recipe trains end to end under KERAS_BACKEND=jax (tf.data input, fit,
validation callback, checkpoints), where jax is installed."""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_composite_recipe_under_jax(photo_dir, tmp_path):
    out = tmp_path / "jax_run"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, "-m", "recipes.composite", f"--data_dir={photo_dir}",
           f"--output_dir={out}", "--epochs=1", "--steps_per_epoch=2", "--batch_size=2",
           "--crop_size=32", "--val_size=32", "--width=0.125"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "best.keras").exists() and (out / "log.csv").exists()
    header, row = (out / "log.csv").read_text().splitlines()[:2]
    values = dict(zip(header.split(","), row.split(",")))
    assert float(values["gray_colorfulness"]) < 1e-3
    assert 0 < float(values["val_ssim"]) <= 1
