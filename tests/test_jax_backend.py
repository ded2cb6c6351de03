"""The same colorizers (Zhang-style and U-Net), losses, optimizer and colour
science under KERAS_BACKEND=jax (subprocess)."""

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


UNET_SCRIPT = r"""
import json
import numpy as np
import keras
from kcolor import losses, optimizers
from kcolor.models import unet

assert keras.backend.backend() == "jax", keras.backend.backend()
rng = np.random.default_rng(0)
# The U-Net with MultiplierAdam: Adam's first step moves each weight by
# lr · sign(gradient), so encoder weights move 0.1 × as far as decoder ones.
net = unet.build_unet_colorizer(0, "regression", decoder=(16, 16, 16, 16))
net.compile(optimizer=optimizers.MultiplierAdam(1e-3, lr_multipliers={"lite_": 0.1},
                                                epsilon=1e-12), loss=losses.ColorfulHuber())
head = net.get_layer("ab_normalized")  # zero-initialised: no gradient would reach below it
head.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) for w in head.get_weights()])
before = {v.path: keras.ops.convert_to_numpy(v) for v in net.trainable_variables}
L32 = rng.uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
target32 = np.concatenate([rng.uniform(0, 100, (2, 16, 16, 1)),
                           rng.uniform(-60, 60, (2, 16, 16, 2))], -1).astype(np.float32)
unet_loss = net.train_on_batch(L32, target32)
steps = {}
for v in net.trainable_variables:
    d = np.abs(keras.ops.convert_to_numpy(v) - before[v.path])
    steps[v.path] = float(d.max())
print(json.dumps({
    "unet_loss": float(np.asarray(unet_loss).ravel()[0]),
    "encoder_step": steps["lite_stem_conv/kernel"],
    "decoder_step": steps["dec2_b_conv/kernel"],
    "unet_out_shape": list(keras.ops.convert_to_numpy(net(L32)).shape),
}))
"""


def test_jax_unet_train_step_with_encoder_lr_multiplier():
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    proc = run_python(
        ["-c", UNET_SCRIPT], env={"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}, timeout=540
    )
    result = last_json_line(proc.stdout)
    assert 0 < result["unet_loss"] < 10
    assert result["unet_out_shape"] == [2, 16, 16, 2]
    assert result["decoder_step"] == pytest.approx(1e-3, rel=1e-3)
    assert result["encoder_step"] == pytest.approx(1e-4, rel=1e-3)
