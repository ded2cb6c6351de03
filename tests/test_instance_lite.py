"""The instance-aware U-Net (kcolor.instance.lite_model), its recipe
(kcolor.instance.lite_stage), presets on top of another preset, and the
paths that take it: Colorizer, kcolor evaluate --instances."""

import dataclasses
import json
import os

import numpy as np
import pytest

from kcolor.instance import lite_model

CROP = 64  # instance crops: the smallest the Lite encoder takes twice over


def _randomize_head(colorizer, seed=0):
    """A U-Net's head starts at zero (gray); give it weights so outputs differ."""
    rng = np.random.default_rng(seed)
    layer = colorizer.get_layer("ab_normalized")
    layer.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in layer.get_weights()])


@pytest.fixture(scope="module")
def unet():
    from kcolor.models import unet as unet_lib

    m = unet_lib.build_unet_colorizer(0, "regression")
    _randomize_head(m)
    return m


def _instance_model(unet):
    m = lite_model.build_lite_instance_colorizer(max_boxes=2, crop_size=CROP)
    lite_model.load_branch(m, "full", unet)
    lite_model.load_branch(m, "instance", unet)
    # an instance branch that has learnt something else: boxes change colours
    bn = m.get_layer("instance_dec4").get_layer("dec4_b_bn")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([gamma, np.random.default_rng(5).normal(0, 3, beta.shape).astype("float32"),
                    mean, var])
    # ... and a fusion that trusts it inside its boxes at stride 4
    conv = m.get_layer("fuse_dec4").instance_weight.conv3
    conv.set_weights([conv.get_weights()[0], np.full_like(conv.get_weights()[1], 10.0)])
    return m


@pytest.fixture(scope="module")
def inst(unet):
    return _instance_model(unet)


def _L(n=2, side=64, seed=1):
    return np.random.default_rng(seed).uniform(0, 100, (n, side, side, 1)).astype("float32")


def _no_boxes(n, k=2):
    return np.zeros((n, k, 4), "float32"), np.zeros((n, k), "float32")


def test_no_box_is_the_unet_colorizer_bit_for_bit(inst, unet):
    L = _L()
    b, v = _no_boxes(2)
    np.testing.assert_array_equal(inst.predict([L, b, v], verbose=0), unet.predict(L, verbose=0))
    np.testing.assert_array_equal(lite_model.full_branch(inst).predict(L, verbose=0),
                                  unet.predict(L, verbose=0))


def test_a_box_changes_only_its_own_photo(inst, unet):
    L = _L()
    b, v = _no_boxes(2)
    b[0, 0], v[0, 0] = [0.25, 0.25, 0.75, 0.75], 1.0
    out, ref = inst.predict([L, b, v], verbose=0), unet.predict(L, verbose=0)
    np.testing.assert_array_equal(out[1], ref[1])
    assert np.abs(out[0] - ref[0]).max() > 1e-3  # fusion weights are random: it blends


def test_build_kwargs_rebuild_the_same_network_by_name(inst, tmp_path):
    from kcolor import models

    kw = lite_model.build_kwargs(inst)
    assert kw == {"decoder": [96, 64, 48], "gray_stem": True, "max_boxes": 2, "crop_size": CROP,
                  "fusion_points": ["dec16", "dec8", "dec4"], "fusion_hidden": 16}
    again = models.build("instance_unet_lite0", **kw)
    assert [w.shape for w in again.weights] == [w.shape for w in inst.weights]
    some = lite_model.build_lite_instance_colorizer(fusion_points=("dec4",), max_boxes=3)
    assert lite_model.build_kwargs(some)["fusion_points"] == ["dec4"]
    assert lite_model.build_kwargs(some)["max_boxes"] == 3


def test_saves_and_loads_as_keras(inst, tmp_path):
    import keras

    path = str(tmp_path / "inst.keras")
    inst.save(path)
    back = keras.models.load_model(path, compile=False)
    L = _L(1)
    b, v = _no_boxes(1)
    b[0, 0], v[0, 0] = [0.1, 0.2, 0.6, 0.9], 1.0
    np.testing.assert_allclose(back.predict([L, b, v], verbose=0),
                               inst.predict([L, b, v], verbose=0), atol=1e-5)
    assert lite_model.is_lite_instance_model(back)


def test_bad_arguments(unet):
    with pytest.raises(ValueError, match="divisible by 32"):
        lite_model.build_lite_instance_colorizer(crop_size=48)
    with pytest.raises(ValueError, match="fusion_points"):
        lite_model.build_lite_instance_colorizer(fusion_points=("dec2",))
    with pytest.raises(ValueError, match="3 stages"):
        lite_model.build_lite_instance_colorizer(decoder=(96, 64))
    other = lite_model.build_lite_instance_colorizer(decoder=(32, 32, 32), crop_size=CROP)
    with pytest.raises(ValueError, match="shapes"):
        lite_model.load_branch(other, "full", unet)


def test_training_moves_the_instance_branch_and_fusion_only(unet):
    import keras

    m = lite_model.build_lite_instance_colorizer(max_boxes=2, crop_size=CROP)
    lite_model.load_branch(m, "full", unet)
    lite_model.load_branch(m, "instance", unet)
    lite_model.set_trainable(m, full=False, instance=True)
    full_before = [np.array(w) for w in m.get_layer("full_dec8").weights]
    full_before += [np.array(w) for w in m.get_layer("full_encoder").weights[:4]]
    inst_before = [np.array(w) for w in m.get_layer("instance_dec8").weights]
    fuse_before = [np.array(w) for w in m.get_layer("fuse_dec4").weights]
    m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    L = _L()
    b, v = _no_boxes(2)
    b[:, 0], v[:, 0] = [0.0, 0.0, 0.5, 1.0], 1.0
    m.train_on_batch([L, b, v], np.ones((2, 16, 16, 2), "float32") * 20)
    full_after = [np.array(w) for w in m.get_layer("full_dec8").weights]
    full_after += [np.array(w) for w in m.get_layer("full_encoder").weights[:4]]
    for a, c in zip(full_before, full_after):  # frozen, batch-norm statistics included
        np.testing.assert_array_equal(a, c)
    assert any(np.abs(a - np.array(w)).max() > 0
               for a, w in zip(inst_before, m.get_layer("instance_dec8").weights))
    assert any(np.abs(a - np.array(w)).max() > 0
               for a, w in zip(fuse_before, m.get_layer("fuse_dec4").weights))


@pytest.fixture
def preset_dir(tmp_path, monkeypatch):
    from kcolor import presets

    monkeypatch.setattr(presets, "PRESET_DIR", str(tmp_path / "presets"))
    return tmp_path / "presets"


def test_preset_on_top_of_another_stores_only_its_own_weights(unet, inst, preset_dir):
    from kcolor import presets

    presets.save_preset(unet, "base", "regression", 0.25, "zhang", 128, arch="unet_lite0")
    # the full branch as stored in float16, so that it equals the base preset's
    lite_model.load_branch(inst, "full", presets.load("base")[0])
    presets.save_preset(inst, "people", "regression", 0.25, "zhang", 128,
                        arch="instance_unet_lite0", full_branch_from="base")
    cfg = json.loads((preset_dir / "people.json").read_text())
    assert cfg["full_branch_from"] == "base" and cfg["build"]["max_boxes"] == 2
    with np.load(preset_dir / "people.npz") as f:
        stored = len(f.files)
    assert stored == len(presets._own_weights(inst)) < len(inst.weights)
    back, _ = presets.load("people")
    L = _L(1)
    b, v = _no_boxes(1)
    b[0, 0], v[0, 0] = [0.2, 0.2, 0.9, 0.8], 1.0
    np.testing.assert_allclose(back.predict([L, b, v], verbose=0),
                               inst.predict([L, b, v], verbose=0), atol=0.05)
    base, _ = presets.load("base")
    np.testing.assert_array_equal(back.predict([L, *_no_boxes(1)], verbose=0),
                                  base.predict(L, verbose=0))


def test_preset_refuses_a_full_branch_that_is_not_the_base(unet, preset_dir):
    from kcolor import presets

    presets.save_preset(unet, "base", "regression", 0.25, "zhang", 128, arch="unet_lite0")
    other = lite_model.build_lite_instance_colorizer(max_boxes=2, crop_size=CROP)  # random
    with pytest.raises(ValueError, match="differs from preset 'base'"):
        presets.save_preset(other, "people", "regression", 0.25, "zhang", 128,
                            arch="instance_unet_lite0", full_branch_from="base")


def _photo(h=64, w=96, seed=3):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 255, (h, w, 3))).astype(np.uint8)


def test_colorizer_photo_without_boxes_takes_the_full_branch(unet):
    from kcolor import colorize

    inst = _instance_model(unet)  # its own: other tests reload the shared one's full branch
    ci, cu = colorize.Colorizer(inst, size=64), colorize.Colorizer(unet, size=64)
    assert ci.instance_aware and not cu.instance_aware
    photos = [_photo(), _photo(seed=4)]
    plain = cu.colorize(photos)
    mixed = ci.colorize(photos, boxes=[np.array([[0.1, 0.1, 0.6, 0.9]]), None])
    # (photo 1 went through the network alone: compare with a batch of one,
    # since a batch's size may change the last bit of a float sum)
    np.testing.assert_array_equal(mixed[1], cu.colorize([photos[1]])[0])
    assert np.abs(mixed[0].astype(int) - plain[0]).max() > 3
    for a, c in zip(ci.colorize(photos, boxes=[None, np.zeros((0, 4))]), plain):
        np.testing.assert_array_equal(a, c)


class _FixedDetector:
    """Finds one box (the left half) on photos whose mean gray is above 100."""

    def detect(self, rgb):
        h, w = rgb.shape[:2]
        if rgb.mean() > 100:
            return np.array([[0, 0, w / 2, h]], np.float32), np.ones(1), ["face"]
        return np.zeros((0, 4), np.float32), np.zeros(0), []


def test_evaluate_with_detected_boxes(inst, unet, tmp_path):
    from PIL import Image

    from kcolor import evaluate

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, level in enumerate((40, 200)):  # a dark photo (no box) and a light one
        rgb = np.clip(rng.normal(level, 30, (64, 64, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(rgb).save(folder / f"p{i}.png")
    plain = evaluate.run(str(folder), unet, size=64, working_size=64)
    table = evaluate.run(str(folder), inst, size=64, working_size=64,
                         instances=_FixedDetector())
    assert "1 of 2 photos had a detection" in table
    none_found = evaluate.run(str(folder), inst, size=64, working_size=64,
                              instances=type("D", (), {"detect": lambda s, rgb: (
                                  np.zeros((0, 4)), np.zeros(0), [])})())
    row = lambda t: next(l for l in t.splitlines() if l.startswith("| model"))  # noqa: E731
    assert row(none_found) == row(plain)  # no detection: exactly the full-image model
    assert row(table) != row(plain)
    with pytest.raises(ValueError, match="needs an instance-aware model"):
        evaluate.run(str(folder), unet, size=64, working_size=64, instances=_FixedDetector())


def test_recipe_trains_with_a_frozen_full_branch(unet, tmp_path):
    import keras
    from PIL import Image

    from kcolor import perceptual, training
    from kcolor.instance import lite_stage

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (tmp_path / "boxes.json").write_text(json.dumps(
        {"units": "normalized", "images": {"0.png": [[0.1, 0.1, 0.6, 0.7]]}}))
    base = str(tmp_path / "base.keras")
    unet.save(base)
    recipe = lite_stage.make_recipe(boxes=str(tmp_path / "boxes.json"),
                                    val_boxes=str(tmp_path / "boxes.json"),
                                    branches_from=base, instance_crop=CROP)
    recipe = dataclasses.replace(recipe, loss=lambda: perceptual.PerceptualLoss(
        weight=0.02, imagenet_weights=False))
    config = training.TrainConfig(data_dir=str(folder), output_dir=str(tmp_path / "run"),
                                  epochs=1, steps_per_epoch=2, batch_size=2, crop_size=64,
                                  val_size=64, learning_rate=1e-3, seed=0)
    history = training.train(recipe, config)
    assert history.history["loss"][0] > 0
    assert "val_psnr" in open(tmp_path / "run" / "log.csv").read().splitlines()[0]
    trained = keras.models.load_model(tmp_path / "run" / "last.keras", compile=False)
    np.testing.assert_array_equal(trained.get_layer("full_dec4").get_weights()[0],
                                  unet.get_layer("dec4_a_conv").get_weights()[0])
    assert json.loads((tmp_path / "run" / "stage.json").read_text())["branches_from"] == base
    with pytest.raises(ValueError, match="unknown options"):
        lite_stage.make_recipe(full_model="x")


def test_skin_mask_and_skin_error_inside_boxes():
    from kcolor import color
    from kcolor.instance import evaluate

    skin, blue, dark = (224, 172, 140), (60, 90, 200), (30, 20, 15)
    # skin: Cb = 128 - 37.80 - 56.98 + 70 = 103.2, Cr = 128 + 112 - 72.01 - 11.38 = 156.6
    np.testing.assert_array_equal(evaluate.skin_mask(np.array([skin, blue, dark]) / 255.0),
                                  [True, False, False])
    rgb = np.zeros((1, 16, 16, 3), np.float32)
    rgb[0, :, :8], rgb[0, :, 8:] = np.array(skin) / 255, np.array(blue) / 255
    lab = np.asarray(color.rgb_to_lab(rgb, np), np.float32)
    ab = lab[..., 1:] + np.array([3.0, 4.0], np.float32)  # off by 5 everywhere
    r, _ = evaluate.score(rgb, lab, ab, [np.array([[0.0, 0.0, 1.0, 1.0]])], 16)
    assert r["inside_boxes"]["skin_pixels"] == 16 * 8
    assert r["inside_boxes"]["skin_dab"] == pytest.approx(5.0, abs=1e-4)
    table = evaluate.format_table({"m": r})
    assert "skin: 128 pixels" in table and "| 5.00 |" in table


def test_shipped_preset_no_box_is_lite_and_tflite_export_names_it(tmp_path):
    """The shipped lite_instances: its full-image branch is the lite preset's,
    so a photo without boxes gets lite's colours; TFLite refuses it with the
    preset to export instead."""
    from export import command
    from kcolor import colorize, presets

    if "lite_instances" not in presets.names():
        pytest.skip("no lite_instances preset")
    cfg = presets.config("lite_instances")
    assert cfg["full_branch_from"] == "lite" and cfg["build"]["max_boxes"] == 4
    photo = _photo(128, 160, seed=7)
    inst, lite = colorize.Colorizer("lite_instances"), colorize.Colorizer("lite")
    np.testing.assert_array_equal(inst.colorize([photo])[0], lite.colorize([photo])[0])
    with pytest.raises(ValueError, match="export --model=lite"):
        command.export("lite_instances", str(tmp_path / "x"), formats=("tflite_float32",))


def test_saved_model_colorize_with_boxes_matches_keras(inst, tmp_path):
    """colorize_with_boxes, called as TF Serving's REST predict would (named
    inputs, a batch), gives the Keras model's colours for a photo whose
    sides are not multiples of 32 (padded inside the graph)."""
    import tensorflow as tf

    from export import saved_model
    from kcolor import colorize, decode

    path = saved_model.export_saved_model(inst, str(tmp_path / "sm"), "kcolor", 1, 64,
                                          decode.Decoding(), warmup_requests=False)
    sig = tf.saved_model.load(path).signatures["colorize_with_boxes"]
    L = _L(1, 64)[:, :, :56]  # 64 x 56: padded to 64 x 64 inside
    boxes = np.array([[[0.1, 0.2, 0.6, 0.9], [0, 0, 0, 0]]], np.float32)
    valid = np.array([[1, 0]], np.float32)
    out = sig(L=tf.constant(L), boxes=tf.constant(boxes), valid=tf.constant(valid))
    assert out["ab"].shape == (1, 64, 56, 2) and out["rgb"].dtype == tf.uint8
    c = colorize.Colorizer(inst, size=64)
    want = c.predict_ab_at_size(np.pad(L, ((0, 0), (0, 0), (0, 8), (0, 0)), mode="edge"),
                                [boxes[0, :1] * [56 / 64, 1, 56 / 64, 1]])[:, :, :56]
    np.testing.assert_allclose(out["ab"].numpy(), want, atol=0.05)


JAX_SCRIPT = r"""
import json
import numpy as np
import keras
from kcolor.instance import lite_model
from kcolor.models import unet
base = unet.build_unet_colorizer(0, "regression")
head = base.get_layer("ab_normalized")
head.set_weights([np.full(w.shape, 0.01, "float32") for w in head.get_weights()])
m = lite_model.build_lite_instance_colorizer(max_boxes=2, crop_size=64)
lite_model.load_branch(m, "full", base)
lite_model.load_branch(m, "instance", base)
lite_model.set_trainable(m, full=False)
L = np.random.default_rng(0).uniform(0, 100, (2, 64, 64, 1)).astype("float32")
b = np.zeros((2, 2, 4), "float32"); v = np.zeros((2, 2), "float32")
none = m.predict([L, b, v], verbose=0)
ref = base.predict(L, verbose=0)
b[0, 0], v[0, 0] = [0.2, 0.2, 0.8, 0.8], 1.0
m.compile(optimizer="adam", loss="mse")
loss = m.train_on_batch([L, b, v], np.ones((2, 16, 16, 2), "float32"))
print(json.dumps({"backend": keras.backend.backend(), "shape": list(none.shape),
                  "none_is_full": float(np.abs(none - ref).max()), "loss": float(loss)}))
"""


def test_jax_backend_forward_and_train_step():
    from conftest import run_jax_script

    r = run_jax_script(JAX_SCRIPT)
    assert r["backend"] == "jax" and r["shape"] == [2, 16, 16, 2]
    assert r["none_is_full"] == 0.0
    assert 0 < r["loss"] < 1e4


def test_instances_without_a_model_use_the_instance_preset(tmp_path, monkeypatch):
    from PIL import Image

    from kcolor import colorize, colorize_files, presets

    seen = []

    class Recording(colorize.Colorizer):
        def __init__(self, model=None, *a, **k):
            seen.append(model)
            super().__init__(model, *a, **k)

    monkeypatch.setattr(colorize, "Colorizer", Recording)
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_photo(128, 128)).save(src / "a.png")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"images": {"a.png": [[10, 10, 90, 120]]}}))
    done, failed = colorize_files.run([str(src)], str(tmp_path / "out"), None, progress=False,
                                      instances=str(boxes))
    assert (done, failed) == (1, 0)
    assert seen == [presets.DEFAULT_INSTANCES] == ["lite_instances"]
    seen.clear()
    colorize_files.run([str(src)], str(tmp_path / "plain"), None, progress=False)
    assert seen == [None]  # no --instances: the default model
