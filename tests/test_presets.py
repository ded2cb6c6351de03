"""Presets: a recipe run becomes a small float16 preset that rebuilds the model."""

import json

import keras
import numpy as np
import pytest

from kcolor import colorize, presets, training
import recipes.binned_ce


@pytest.fixture
def preset_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "PRESET_DIR", str(tmp_path / "presets"))
    return tmp_path / "presets"


def test_from_run_round_trip(photo_dir, tmp_path, preset_dir):
    run = tmp_path / "run"
    cfg = training.TrainConfig(data_dir=str(photo_dir), output_dir=str(run), epochs=1,
                               steps_per_epoch=1, batch_size=2, crop_size=32, width=0.125,
                               val_size=32)
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(dict(logs)))
    training.train(recipes.binned_ce.RECIPE, cfg, extra_callbacks=[record])
    assert len(seen) == 1 and "val_psnr" in seen[0]  # after the validation callback
    written = presets.from_run(str(run), "tiny", temperature=0.5)
    assert written["head"] == "classification" and written["grid"] == "seed23"
    with pytest.raises(ValueError, match="needs calibration_dir"):
        presets.from_run(str(run), "tiny", target_colourfulness=0.8)
    assert written["size"] == 32 and written["temperature"] == 0.5
    assert json.loads((preset_dir / "tiny.json").read_text())["recipe"] == "binned_ce"
    assert presets.names() == ["tiny"]

    model, loaded_cfg = presets.load("tiny")
    original = keras.models.load_model(run / "best.keras", compile=False)
    L = np.random.default_rng(0).uniform(0, 100, (1, 32, 32, 1)).astype("float32")
    a, b = np.asarray(original(L)), np.asarray(model(L))
    assert a.shape == b.shape == (1, 8, 8, 529)
    # float16 weights: close to, not equal to, the float32 checkpoint.
    np.testing.assert_allclose(a, b, atol=0.05 * np.abs(a).max())
    with np.load(preset_dir / "tiny.npz") as f:
        assert all(f[k].dtype == np.float16 for k in f.files)

    # The same preset from its .json path, wherever it lies (a run made on
    # another machine, say): the same weights and configuration.
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for ext in ("json", "npz"):
        (moved / f"tiny.{ext}").write_bytes((preset_dir / f"tiny.{ext}").read_bytes())
    from_path, path_cfg = colorize.load_model(str(moved / "tiny.json"))
    assert path_cfg["temperature"] == 0.5 and path_cfg["recipe"] == "binned_ce"
    np.testing.assert_array_equal(np.asarray(from_path(L)), b)
    with pytest.raises(FileNotFoundError, match="nope.json: no such model file or preset"):
        colorize.load_model(str(moved / "nope.json"))
    # from_run writes to another folder when told, leaving the shipped ones alone
    presets.from_run(str(run), "tiny2", temperature=0.5, directory=str(tmp_path / "other"))
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["tiny2.json", "tiny2.npz"]
    assert presets.names() == ["tiny"]
    np.testing.assert_array_equal(
        np.asarray(colorize.load_model(str(tmp_path / "other" / "tiny2.json"))[0](L)), b)
    (moved / "tiny.npz").unlink()
    with pytest.raises(FileNotFoundError, match="tiny.npz"):
        colorize.load_model(str(moved / "tiny.json"))


def test_unknown_preset_names_the_shipped_ones(preset_dir):
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        presets.config("nope")


def test_lite_preset_round_trip(photo_dir, tmp_path, preset_dir):
    import recipes.lite_huber

    run = tmp_path / "lite_run"
    cfg = training.TrainConfig(data_dir=str(photo_dir), output_dir=str(run), epochs=1,
                               steps_per_epoch=1, batch_size=2, crop_size=32, val_size=32,
                               imagenet_weights=False)
    training.train(recipes.lite_huber.RECIPE, cfg)
    # One step from a zero-initialised head predicts almost gray: give the
    # head real weights so that the comparison below means something.
    trained = keras.models.load_model(run / "last.keras", compile=False)
    head = trained.get_layer("ab_normalized")
    rng = np.random.default_rng(1)
    head.set_weights([rng.normal(0, 1.0, w.shape).astype("float32") for w in head.get_weights()])
    trained.save(run / "last.keras")
    run_cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**run_cfg, "init_from": "lite"}))  # fine-tuned
    written = presets.from_run(str(run), "tiny_lite", checkpoint="last.keras", saturation=1.2,
                               mean_saturation=1.0)
    assert written["init_from"] == "lite"
    assert (written["trained_on"], written["checkpoint"]) == (run_cfg["data_dir"], "last.keras")
    assert written["arch"] == "unet_lite0" and written["head"] == "regression"
    assert written["saturation"] == 1.2 and written["size"] == 32
    # colorize and export decode with the preset's saturation, mean colour kept
    layer = colorize.Colorizer("tiny_lite").inference.get_layer("decode_ab")
    assert (layer.saturation, layer.mean_saturation) == (1.2, 1.0)
    model, loaded_cfg = presets.load("tiny_lite")
    original = keras.models.load_model(run / "last.keras", compile=False)
    L = np.random.default_rng(0).uniform(0, 100, (1, 64, 64, 1)).astype("float32")
    a, b = np.asarray(original(L)), np.asarray(model(L))
    assert a.shape == b.shape == (1, 16, 16, 2) and np.abs(a).max() > 5
    assert written["build"] == {"decoder": [96, 64, 48], "gray_stem": True}
    assert "width" not in written
    # float16 weights: close to, not equal to, the float32 checkpoint.
    np.testing.assert_allclose(a, b, atol=0.02 * np.abs(a).max())
