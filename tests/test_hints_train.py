"""kcolor.hints.train end to end on a few generated photos: one cache per
working size with its own count, the refiner with its propagation, a run
that resumes where it stopped, and the preset it writes."""

import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

from kcolor import presets
from kcolor.hints import model as hint_model
from kcolor.hints import train

REACH = {"sigma": 3.0, "lam_area": 0.8}


def _photos(folder, n=8):
    rng = np.random.default_rng(0)
    os.makedirs(folder)
    for i in range(n):
        rgb = np.zeros((96, 96, 3), np.uint8)
        rgb[:] = rng.integers(40, 220, 3)
        rgb[20:70, 30:80] = rng.integers(40, 220, 3)
        Image.fromarray(rgb).save(os.path.join(folder, f"p{i}.jpg"), quality=95)
    return folder


class _Killed(Exception):
    pass


class _KillAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise _Killed


def test_caches_resume_and_preset(tmp_path):
    data = _photos(str(tmp_path / "photos"))
    run = str(tmp_path / "run")
    kwargs = dict(data_dir=data, photos=[6, 4], crops=[64, 128], steps_per_epoch=2,
                  batch_size=2, channels=8, dilations=(1, 2), workers=1, reach=REACH)
    with pytest.raises(_Killed):  # killed after its first of two epochs
        train.train(run, epochs=2, callbacks=[_KillAfterFirstEpoch()], **kwargs)
    with np.load(os.path.join(run, "cache64.npz")) as f:
        assert f["rgb"].shape == (6, 64, 64, 3) and f["auto"].shape == (6, 16, 16, 2)
    with np.load(os.path.join(run, "cache.npz")) as f:  # 128 px
        assert f["rgb"].shape == (4, 128, 128, 3) and f["auto"].shape == (4, 32, 32, 2)
    with open(os.path.join(run, "log.csv")) as f:
        assert len(f.read().strip().splitlines()) == 2  # header and epoch 0
    first = os.path.getmtime(os.path.join(run, "cache64.npz"))

    refiner = train.train(run, epochs=2, **kwargs)  # goes on at epoch 1, the caches reused
    with open(os.path.join(run, "log.csv")) as f:
        rows = f.read().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1"]  # epoch 0 not run twice
    assert os.path.getmtime(os.path.join(run, "cache64.npz")) == first
    with open(os.path.join(run, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["reach"] == REACH and cfg["photos"] == 10 and cfg["crops"] == [64, 128]

    out = str(tmp_path / "presets")
    train.make_preset(run, "t_hints", directory=out)
    model, pcfg = presets.load("t_hints", out)
    assert pcfg["base_from"] == "lite" and pcfg["build"]["reach"] == REACH
    assert hint_model.propagation_of(model)["lam_area"] == 0.8
    for a, b in zip(refiner.get_weights(), hint_model.refiner_of(model).get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-4)  # float16 in the preset
    assert pcfg["build"]["channels"] == 8 and pcfg["build"]["dilations"] == [1, 2]
