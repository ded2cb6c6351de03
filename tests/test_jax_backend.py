"""The same colorizer, loss and colour science under KERAS_BACKEND=jax (subprocess)."""

import importlib.util

import pytest
from conftest import KNOWN_COLOURS, last_json_line, run_python

SCRIPT = r"""
import json
import numpy as np
import keras
from kcolor import color, losses, models

assert keras.backend.backend() == "jax", keras.backend.backend()
rgb = np.array([[1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
lab = keras.ops.convert_to_numpy(color.rgb_to_lab(rgb))
back = keras.ops.convert_to_numpy(color.lab_to_rgb(lab))

model = models.build_colorizer("classification", 0.125, "seed23")
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses.CompositeLoss(grid="seed23"))
rng = np.random.default_rng(0)
L = rng.uniform(0, 100, (2, 16, 16, 1)).astype(np.float32)
target = np.concatenate(
    [rng.uniform(0, 100, (2, 4, 4, 1)), rng.uniform(-60, 60, (2, 4, 4, 2))], -1
).astype(np.float32)
out = keras.ops.convert_to_numpy(model(L))
loss = model.train_on_batch(L, target)
print(json.dumps({
    "backend": keras.backend.backend(),
    "lab": lab.tolist(),
    "round_trip": float(np.abs(back - rgb).max()),
    "out_shape": list(out.shape),
    "loss": float(np.asarray(loss).ravel()[0]),
    "iterations": int(model.optimizer.iterations),
}))
"""


def test_jax_backend_forward_train_step_and_colour():
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    proc = run_python(
        ["-c", SCRIPT], env={"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}, timeout=540
    )
    result = last_json_line(proc.stdout)
    assert result["backend"] == "jax"
    names = ["white", "black", "red", "green", "blue"]
    for name, lab in zip(names, result["lab"]):
        assert lab == pytest.approx(KNOWN_COLOURS[name][1], abs=0.01), name
    assert result["round_trip"] < 1e-4
    assert result["out_shape"] == [2, 4, 4, 529]
    assert result["loss"] == result["loss"] and 0 < result["loss"] < 1e4  # finite, positive
    assert result["iterations"] == 1
