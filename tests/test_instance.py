"""Instance-aware colorization (kcolor.instance): sampling, fusion, the model,
the boxes format, the detector, the CLI and the export signature."""

import json
import os

import numpy as np
import pytest
from conftest import keras_roundtrip, to_np

from kcolor import models
from kcolor.instance import boxes as boxes_lib
from kcolor.instance import fusion
from kcolor.instance import model as imodel

WIDTH = 0.0625
K = 3
CROP = 16


def _L(n=3, h=32, w=40, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    return np.stack([
        rng.uniform(20, 80) + rng.uniform(-30, 30) * yy + 15 * np.sin(xx * rng.uniform(4, 12))
        for _ in range(n)])[..., None].clip(0, 100).astype(np.float32)


BOXES = np.array([  # image 0: no box; image 1: one; image 2: three
    [[0.0, 0.0, 0.0, 0.0]] * 3,
    [[0.1, 0.2, 0.6, 0.9], [0, 0, 0, 0], [0, 0, 0, 0]],
    [[0.0, 0.0, 0.5, 0.5], [0.4, 0.3, 1.0, 1.0], [0.25, 0.5, 0.75, 0.75]],
], np.float32)
VALID = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 1]], np.float32)


def _lively(model, L):
    """Sets every batch norm of ``model``'s blocks to the statistics of ``L``
    (so the fresh network's outputs vary across pixels, as a trained one's)."""
    import keras

    def fix(block, x):
        for layer in block.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                a = np.asarray(keras.Model(block.inputs, layer.input).predict_on_batch(x))
                layer.moving_mean.assign(a.mean((0, 1, 2)))
                layer.moving_variance.assign(a.var((0, 1, 2)) + 1e-6)
        return np.asarray(block.predict_on_batch(x))

    f = L
    i = np.asarray(fusion.crop_boxes(L, np.tile([[[0.1, 0.1, 0.9, 0.9]]], (len(L), K, 1)),
                                     imodel.crop_size(model))).reshape(-1, CROP, CROP, 1)
    for block in imodel.BLOCK_NAMES:
        f = fix(model.get_layer(f"full_{block}"), f)
        i = fix(model.get_layer(f"instance_{block}"), i)


@pytest.fixture(scope="module")
def inst_model():
    import keras

    keras.utils.set_random_seed(0)
    m = imodel.build_instance_colorizer(width=WIDTH, max_boxes=K, crop_size=CROP)
    _lively(m, _L(4, 32, 32, seed=5))
    logits = m.get_layer("full_logits")
    none = np.zeros((3, K), np.float32)
    logits.kernel.assign(logits.kernel * (2.0 / to_np(m([_L(), BOXES, none])).std()))
    for block in imodel.BLOCK_NAMES:  # instances win inside their boxes
        conv3 = m.get_layer(f"fuse_{block}").instance_weight.conv3
        conv3.bias.assign(np.full((1,), 4.0, np.float32))
    return m


# --- sampling ---------------------------------------------------------------

def test_crop_of_a_pixel_aligned_box_is_the_sub_image():
    img = np.arange(16 * 24 * 2, dtype=np.float32).reshape(1, 16, 24, 2)
    box = np.array([[[6 / 24, 4 / 16, 14 / 24, 12 / 16]]], np.float32)  # x 6:14, y 4:12
    crop = to_np(fusion.crop_boxes(img, box, 8))
    np.testing.assert_allclose(crop[0, 0], img[0, 4:12, 6:14], atol=1e-4)


def test_crop_downscales_with_antialiasing():
    img = np.zeros((1, 16, 16, 1), np.float32)
    img[0, :, 7] = 1.0  # a one-pixel line that point sampling at x = 3.5, 11.5 misses
    crop = to_np(fusion.crop_boxes(img, np.array([[[0, 0, 1, 1]]], np.float32), 2))[0, 0, ..., 0]
    weights = np.array([1 - 3.5 / 8, 1 - 4.5 / 8])  # triangle kernel 8 px wide
    # Rows: each output averages 8 input columns with triangle weights.
    cols = np.arange(16)
    norm = [np.clip(1 - np.abs(cols - p) / 8, 0, None).sum() for p in (3.5, 11.5)]
    np.testing.assert_allclose(crop, np.broadcast_to(weights / norm, (2, 2)), rtol=1e-5)


def test_paste_puts_a_crop_back_into_its_box_and_mask_marks_it():
    crop = np.random.default_rng(0).uniform(size=(1, 1, 4, 4, 3)).astype(np.float32)
    box = np.array([[[0.25, 0.5, 0.75, 1.0]]], np.float32)  # x 2:6, y 4:8 of an 8 x 8 grid
    pasted = to_np(fusion.paste_boxes(crop, box, 8, 8))
    np.testing.assert_allclose(pasted[0, 0, 4:8, 2:6], crop[0, 0], atol=1e-5)
    mask = to_np(fusion.box_masks(box, np.ones((1, 1), np.float32), 8, 8))[0, 0]
    expected = np.zeros((8, 8), bool)
    expected[4:8, 2:6] = True
    np.testing.assert_array_equal(mask, expected)
    invalid = to_np(fusion.box_masks(box, np.zeros((1, 1), np.float32), 8, 8))
    assert not invalid.any()


def test_interpolation_rows_sum_to_one():
    m = to_np(fusion.interpolation_matrix(np.float32([0.0, 0.3, 0.9]), np.float32([1.0, 0.35, 1.0]),
                                          7, 13))
    np.testing.assert_allclose(m.sum(-1), 1.0, atol=1e-6)
    assert (m >= 0).all()


# --- fusion -----------------------------------------------------------------

def test_fusion_weights_sum_to_one_and_stay_in_their_boxes():
    rng = np.random.default_rng(1)
    layer = fusion.FuseInstances(hidden=4)
    full = rng.normal(size=(3, 8, 10, 5)).astype(np.float32)
    inst = rng.normal(size=(3 * K, 4, 4, 5)).astype(np.float32)
    out, w = layer(full, inst, BOXES, VALID, return_weights=True)
    out, w = to_np(out), to_np(w)
    assert w.shape == (3, 1 + K, 8, 10)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-6)
    mask = to_np(fusion.box_masks(BOXES, VALID, 8, 10))
    assert np.all(w[:, 1:][~mask] == 0.0)  # outside a box, or padding: exactly 0
    assert np.all(w[:, 1:][mask] > 0.0)
    np.testing.assert_array_equal(w[0, 0], 1.0)  # no valid box: the full image only
    np.testing.assert_array_equal(out[0], full[0])
    assert np.abs(out[2] - full[2]).max() > 0.1  # boxes change the features


# --- the model --------------------------------------------------------------

def test_no_valid_box_gives_the_full_image_models_output(inst_model):
    L = _L()
    colorizer = models.build_colorizer("classification", WIDTH, "seed23")
    dst = imodel.colorizer_layers(colorizer)
    for name, layer in imodel.branch_layers(inst_model, "full").items():
        dst[name].set_weights(layer.get_weights())
    expected = to_np(colorizer(L))
    assert expected.std() > 1.0  # a lively output, so the comparison tests something
    out = to_np(inst_model([L, BOXES, np.zeros_like(VALID)]))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out, to_np(imodel.full_branch(inst_model)(L)))


def test_load_branch_copies_an_ordinary_colorizer(inst_model):
    import keras

    keras.utils.set_random_seed(3)
    m = imodel.build_instance_colorizer(width=WIDTH, max_boxes=K, crop_size=CROP)
    colorizer = models.build_colorizer("classification", WIDTH, "seed23")
    imodel.load_branch(m, "full", colorizer)
    imodel.load_branch(m, "instance", colorizer)
    L = _L()
    np.testing.assert_array_equal(to_np(imodel.full_branch(m)(L)), to_np(colorizer(L)))
    np.testing.assert_array_equal(
        m.get_layer("instance_conv3").get_layer("conv3_2").get_weights()[0],
        colorizer.get_layer("backbone").get_layer("conv3_2").get_weights()[0])
    with pytest.raises(ValueError, match="shapes"):
        imodel.load_branch(m, "full", models.build_colorizer("classification", 0.25, "seed23"))


def test_a_batch_with_different_box_counts(inst_model):
    L = _L()
    out = to_np(inst_model([L, BOXES, VALID]))
    assert out.shape == (3, 8, 10, 529) and np.all(np.isfinite(out))
    full = to_np(imodel.full_branch(inst_model)(L))
    np.testing.assert_array_equal(out[0], full[0])  # no box
    assert np.abs(out[1] - full[1]).max() > 1e-3 and np.abs(out[2] - full[2]).max() > 1e-3
    for i in range(3):  # each image as if alone
        alone = to_np(inst_model([L[i:i + 1], BOXES[i:i + 1], VALID[i:i + 1]]))
        np.testing.assert_allclose(alone[0], out[i], rtol=1e-4, atol=1e-4)
    # A padded box's coordinates do not matter.
    junk = BOXES.copy()
    junk[1, 1:] = [0.3, 0.3, 0.9, 0.6]
    np.testing.assert_array_equal(to_np(inst_model([L, junk, VALID]))[1], out[1])


def test_saves_and_loads_as_keras(inst_model, tmp_path):
    loaded = keras_roundtrip(inst_model, tmp_path, "instance.keras")
    L = _L()
    np.testing.assert_array_equal(to_np(loaded([L, BOXES, VALID])),
                                  to_np(inst_model([L, BOXES, VALID])))
    assert imodel.is_instance_model(loaded) and imodel.max_boxes(loaded) == K
    assert imodel.crop_size(loaded) == CROP


def test_inference_model_decodes_at_full_size(inst_model):
    ab = to_np(imodel.build_inference_model(inst_model)([_L(), BOXES, VALID]))
    assert ab.shape == (3, 32, 40, 2) and np.all(np.isfinite(ab))


def test_frozen_branches_leave_fusion_trainable(inst_model):
    import keras

    keras.utils.set_random_seed(4)
    m = imodel.build_instance_colorizer(width=WIDTH, max_boxes=K, crop_size=CROP)
    imodel.set_branches_trainable(m, False)
    names = {w.path.split("/")[0] for w in m.trainable_weights}
    assert names == {f"fuse_{b}" for b in imodel.BLOCK_NAMES}


def test_bad_arguments():
    with pytest.raises(ValueError, match="fusion_blocks"):
        imodel.build_instance_colorizer(width=WIDTH, fusion_blocks=("conv9",))
    with pytest.raises(ValueError, match="divisible"):
        imodel.build_instance_colorizer(width=WIDTH, crop_size=20)


# --- boxes file -------------------------------------------------------------

def test_boxes_file_pixels_and_normalised(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"images": {
        "a.jpg": [[10, 20, 50, 60], {"box": [0, 0, 200, 100], "score": 0.5, "label": "person"}],
        "sub/b.png": [],
    }}))
    f = boxes_lib.BoxesFile(str(path))
    b, s = f.for_photo(100, 80, "/x/a.jpg", "a.jpg")
    np.testing.assert_allclose(b, [[0.1, 0.25, 0.5, 0.75], [0, 0, 1, 1]])  # clipped
    assert np.isnan(s[0]) and s[1] == 0.5
    assert f.for_photo(10, 10, "missing.jpg")[0].shape == (0, 4)
    assert f.for_photo(10, 10, "in/sub/b.png", "sub/b.png")[0].shape == (0, 4)
    g = boxes_lib.BoxesFile(obj={"units": "normalized",
                                 "images": {"a.jpg": [[0.1, 0.2, 0.3, 0.4]]}})
    np.testing.assert_allclose(g.for_photo(640, 480, "a.jpg")[0], [[0.1, 0.2, 0.3, 0.4]])


@pytest.mark.parametrize("obj, message", [
    ([], "top level"),
    ({"images": {}, "colour": 1}, "unknown top-level"),
    ({"units": "inches", "images": {}}, "units"),
    ({"boxes": {}}, "unknown top-level"),
    ({"images": []}, "images"),
    ({"images": {"a.jpg": {"box": [0, 0, 1, 1]}}}, "must be a list"),
    ({"images": {"a.jpg": [[0, 0, 1]]}}, "4 numbers"),
    ({"images": {"a.jpg": [["0", 0, 1, 1]]}}, "4 numbers"),
    ({"images": {"a.jpg": [[5, 0, 1, 1]]}}, "x0 < x1"),
    ({"images": {"a.jpg": [{"bbox": [0, 0, 1, 1]}]}}, "unknown keys"),
    ({"images": {"a.jpg": [{"score": 1}]}}, "needs a"),
    ({"images": {"a.jpg": [{"box": [0, 0, 1, 1], "score": "high"}]}}, "score"),
    ({"units": "normalized", "images": {"a.jpg": [[0, 0, 30, 40]]}}, "not normalised"),
])
def test_boxes_file_errors(obj, message):
    with pytest.raises(boxes_lib.BoxesError, match=message):
        boxes_lib.BoxesFile(obj=obj)


def test_boxes_file_unreadable(tmp_path):
    with pytest.raises(boxes_lib.BoxesError, match="no such"):
        boxes_lib.BoxesFile(str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(boxes_lib.BoxesError, match="not JSON"):
        boxes_lib.BoxesFile(str(tmp_path / "bad.json"))
    f = boxes_lib.BoxesFile(obj={"images": {"a.jpg": [[200, 0, 300, 10]]}})
    with pytest.raises(boxes_lib.BoxesError, match="outside"):
        f.for_photo(100, 100, "a.jpg")


def test_pad_keeps_the_best_boxes():
    b = np.array([[0, 0, 0.1, 0.1], [0, 0, 0.9, 0.9], [0, 0, 0.5, 0.5]], np.float32)
    out, valid = boxes_lib.pad(b, 2)
    np.testing.assert_allclose(out, b[1:3])  # the two largest, in their order
    np.testing.assert_array_equal(valid, [1, 1])
    out, valid = boxes_lib.pad(b, 2, scores=[0.9, 0.1, 0.5])
    np.testing.assert_allclose(out, b[[0, 2]])  # the two best scores
    out, valid = boxes_lib.pad(b[:1], 3)
    np.testing.assert_array_equal(valid, [1, 0, 0])
    np.testing.assert_array_equal(out[1:], 0)


def test_random_boxes_are_inside_and_sized():
    r = boxes_lib.random_boxes(np.random.default_rng(0), 500, 0.2, 0.6)
    w, h = r[:, 2] - r[:, 0], r[:, 3] - r[:, 1]
    assert (r >= 0).all() and (r <= 1 + 1e-6).all()
    assert w.min() >= 0.2 - 1e-6 and w.max() <= 0.6 + 1e-6 and h.min() >= 0.2 - 1e-6


# --- training data and the three stages -------------------------------------

def test_tf_crop_matches_the_models_crop():
    import tensorflow as tf

    from kcolor.instance import data as idata

    img = np.random.default_rng(2).uniform(size=(20, 28, 3)).astype(np.float32)
    box = np.array([0.1, 0.25, 0.8, 0.9], np.float32)
    ours = idata.crop_box(tf.constant(img), tf.constant(box), 8).numpy()
    model = to_np(fusion.crop_boxes(img[None], box[None, None], 8))[0, 0]
    np.testing.assert_allclose(ours, model, atol=1e-5)


def _boxes_file(photo_dir, tmp_path):
    """Normalised boxes for some photos of ``photo_dir`` (others have none)."""
    images = {"photo3.png": [{"box": [0.1, 0.1, 0.6, 0.7], "score": 1.0, "label": "person"}],
              "sub/photo0.jpg": [[0.5, 0.2, 0.9, 0.95], [0.0, 0.0, 0.3, 0.3]],
              "photo5.png": []}
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(boxes_lib.to_json(images, "normalized")))
    return str(path)


def test_fusion_dataset_moves_boxes_with_the_crop(photo_dir, tmp_path):
    from kcolor.instance import data as idata

    path = _boxes_file(photo_dir, tmp_path)
    ds = idata.fusion_dataset(str(photo_dir), path, batch_size=4, crop_size=32, max_boxes=3,
                              random_prob=0.0, seed=0)
    (L, b, v), target = next(iter(ds))
    assert L.shape == (4, 32, 32, 1) and b.shape == (4, 3, 4) and v.shape == (4, 3)
    assert target.shape == (4, 8, 8, 3)
    b, v = b.numpy(), v.numpy()
    assert set(np.unique(v)) <= {0.0, 1.0}
    assert np.all(b[v == 0] == 0) and np.all((b >= 0) & (b <= 1))
    assert np.all(b[v == 1][:, 2] > b[v == 1][:, 0])
    val = idata.validation_dataset(str(photo_dir), path, size=32, max_boxes=3)
    batches = list(val)
    (L, b, v), rgb = batches[0]
    from kcolor import data

    names = [os.path.relpath(p, photo_dir) for p in data.list_images(str(photo_dir))]
    i = [n for n in names if n != "broken.jpg"].index("photo3.png")
    # photo3 is 40 x 48 (w x h), not resized; the centre crop starts at x 4, y 8.
    np.testing.assert_array_equal(v.numpy()[i], [1, 0, 0])
    expected = np.clip([(0.1 * 40 - 4) / 32, (0.1 * 48 - 8) / 32, (0.6 * 40 - 4) / 32,
                        (0.7 * 48 - 8) / 32], 0, 1)
    np.testing.assert_allclose(b.numpy()[i, 0], expected, atol=1e-5)
    assert rgb.shape[1:] == (32, 32, 3)


def test_crops_dataset_shapes(photo_dir, tmp_path):
    from kcolor.instance import data as idata

    ds = idata.crops_dataset(str(photo_dir), _boxes_file(photo_dir, tmp_path), batch_size=3,
                             crop_size=16, seed=0)
    L, target = next(iter(ds))
    assert L.shape == (3, 16, 16, 1) and target.shape == (3, 4, 4, 3)
    assert 0 <= float(np.min(L)) and float(np.max(L)) <= 100


def test_three_stages_train_and_fusion_leaves_branches_frozen(photo_dir, tmp_path):
    import keras

    from kcolor import training
    from kcolor.instance import stages

    boxes_path = _boxes_file(photo_dir, tmp_path)

    def config(name, crop):
        return training.TrainConfig(data_dir=str(photo_dir), output_dir=str(tmp_path / name),
                                    epochs=1, steps_per_epoch=2, batch_size=2, crop_size=crop,
                                    width=WIDTH, val_size=32, seed=0)

    training.train(stages.make_recipe("full"), config("full", 32))
    full = str(tmp_path / "full" / "best.keras")
    training.train(stages.make_recipe("crops", boxes=boxes_path, init_from=full),
                   config("crops", CROP))
    inst = str(tmp_path / "crops" / "best.keras")
    history = training.train(
        stages.make_recipe("fusion", boxes=boxes_path, val_boxes=boxes_path, full_model=full,
                           instance_model=inst, max_boxes=2, instance_crop=CROP),
        config("fusion", 32))
    assert history.history["loss"][0] > 0
    row = open(tmp_path / "fusion" / "log.csv").read().splitlines()
    assert "val_psnr" in row[0]
    fused = keras.models.load_model(tmp_path / "fusion" / "last.keras", compile=False)
    assert imodel.is_instance_model(fused) and imodel.max_boxes(fused) == 2
    stage1 = keras.models.load_model(full, compile=False)
    np.testing.assert_array_equal(  # frozen: exactly stage 1's weights
        fused.get_layer("full_conv2").get_layer("conv2_1").get_weights()[0],
        stage1.get_layer("backbone").get_layer("conv2_1").get_weights()[0])
    stage = json.loads((tmp_path / "fusion" / "stage.json").read_text())
    assert stage["stage"] == "fusion" and stage["max_boxes"] == 2
    with pytest.raises(ValueError, match="unknown options"):
        stages.make_recipe("full", boxes=boxes_path)


# --- colorize API, CLI, export ------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def inst_path(inst_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("instance") / "instance.keras"
    inst_model.save(path)
    return str(path)


def _photo(h=40, w=56, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([rng.uniform(0.2, 0.8) + 0.3 * np.sin(xx * rng.uniform(3, 9) + k)
                    + 0.2 * yy for k in range(3)], -1)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def test_colorizer_takes_boxes(inst_model, inst_path):
    from kcolor import colorize

    c = colorize.Colorizer(inst_path, size=32)
    assert c.instance_aware and c.max_boxes == K
    photos = [_photo(seed=1), _photo(48, 32, seed=2)]
    none = c.colorize(photos)
    boxed = c.colorize(photos, boxes=[np.array([[0.1, 0.1, 0.7, 0.9]]), None])
    assert np.abs(boxed[0].astype(int) - none[0]).max() > 2  # the box changes photo 0
    # photo 1 had no box: the full-image branch alone, in a batch of one
    # (a batch's size may change the last bit of a float sum, so compare alike)
    np.testing.assert_array_equal(boxed[1], c.colorize([photos[1]])[0])
    full = colorize.Colorizer(imodel.full_branch(inst_model), size=32)
    np.testing.assert_array_equal(full.colorize(photos)[0], none[0])
    with pytest.raises(ValueError, match="not instance-aware"):
        full.colorize(photos, boxes=[np.array([[0.1, 0.1, 0.7, 0.9]]), None])


def test_colorize_files_with_a_boxes_file(inst_path, tiny_model, tmp_path):
    from PIL import Image

    from kcolor import colorize_files

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(_photo(seed=1)).save(src / "a.png")
    Image.fromarray(_photo(seed=2)).save(src / "sub" / "b.png")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"images": {"sub/b.png": [[5, 4, 40, 36]]}}))
    for name, inst in (("none", "none"), ("file", str(boxes))):
        done, failed = colorize_files.run([str(src)], str(tmp_path / name), inst_path, size=32,
                                          progress=False, instances=inst)
        assert (done, failed) == (2, 0)
    read = lambda *p: np.asarray(Image.open(tmp_path.joinpath(*p)))  # noqa: E731
    # a.png has no box: the same network, in a batch of two here and of one
    # there (which may move a float sum's last bit: at most one level)
    assert np.abs(read("none", "a.png").astype(int) - read("file", "a.png")).max() <= 1
    assert np.abs(read("none", "sub", "b.png").astype(int) - read("file", "sub", "b.png")).max() > 2
    with pytest.raises(ValueError, match="needs an instance-aware model"):
        colorize_files.run([str(src)], str(tmp_path / "x"), tiny_model, size=32,
                           progress=False, instances=str(boxes))
    boxes.write_text(json.dumps({"images": {"a.png": [[500, 4, 600, 36]]}}))
    done, failed = colorize_files.run([str(src)], str(tmp_path / "y"), inst_path, size=32,
                                      progress=False, instances=str(boxes))
    assert (done, failed) == (1, 1)  # a box outside its photo fails that photo only


def test_cli_instances_flag(inst_path, tiny_model, tmp_path):
    import subprocess
    import sys

    from PIL import Image

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_photo(seed=3)).save(src / "c.png")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"units": "normalized",
                                 "images": {"c.png": [[0.2, 0.1, 0.8, 0.9]]}}))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def kcolor(*args):
        return subprocess.run([sys.executable, "-m", "kcolor", "colorize", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300, env=env)

    r = kcolor(f"--model={inst_path}", "--size=32", f"--instances={boxes}",
               f"--output_dir={tmp_path / 'o'}", str(src))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "1 colorized, 0 failed" in r.stdout and (tmp_path / "o" / "c.png").exists()
    r = kcolor(f"--model={tiny_model}", "--size=32", f"--instances={boxes}",
               f"--output_dir={tmp_path / 'p'}", str(src))
    assert r.returncode != 0 and "needs an instance-aware model" in r.stderr
    boxes.write_text(json.dumps({"images": {"c.png": [[1, 2, 3]]}}))
    r = kcolor(f"--model={inst_path}", "--size=32", f"--instances={boxes}",
               f"--output_dir={tmp_path / 'q'}", str(src))
    assert r.returncode != 0 and "4 numbers" in r.stderr


def test_saved_model_signature_with_boxes(inst_model, inst_path, tmp_path):
    import tensorflow as tf

    from export import command
    from kcolor import colorize

    paths = command.export(inst_path, str(tmp_path / "exp"), formats=["saved_model"], size=32,
                           warmup=False)
    loaded = tf.saved_model.load(paths["saved_model"])
    sig = loaded.signatures["colorize_with_boxes"]
    L = _L()
    inference = imodel.build_inference_model(inst_model)
    expected = to_np(inference([L, BOXES, VALID]))
    out = sig(L=tf.constant(L), boxes=tf.constant(BOXES), valid=tf.constant(VALID))
    np.testing.assert_allclose(out["ab"].numpy(), expected, atol=2e-3)
    assert out["rgb"].dtype == tf.uint8 and out["rgb"].shape == (3, 32, 40, 3)
    plain = loaded.signatures["serving_default"](L=tf.constant(L))["ab"].numpy()
    np.testing.assert_allclose(plain, to_np(inference([L, BOXES, 0 * VALID])), atol=2e-3)
    # Odd sizes are padded inside the graph; the boxes follow the unpadded image.
    odd = sig(L=tf.constant(L[:, :30, :37]), boxes=tf.constant(BOXES), valid=tf.constant(VALID))
    assert odd["ab"].shape == (3, 30, 37, 2) and np.isfinite(odd["ab"].numpy()).all()
    c = colorize.Colorizer(paths["saved_model"], size=32)
    assert c.instance_aware and c.max_boxes == K
    photo = _photo(seed=4)
    box = [np.array([[0.1, 0.1, 0.7, 0.9]])]
    a = c.colorize([photo], boxes=box)[0]
    b = colorize.Colorizer(inst_path, size=32).colorize([photo], boxes=box)[0]
    assert np.abs(a.astype(int) - b).max() <= 2
    with pytest.raises(ValueError, match="SavedModel only"):
        command.export(inst_path, str(tmp_path / "exp2"), formats=["tflite_float32"], size=32)


# --- detector -----------------------------------------------------------------

def test_nms_and_face_expansion():
    from kcolor.instance import detector

    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 5, 5]], float)
    assert detector.nms(b, [0.5, 0.9, 0.1, 0.3]) == [1, 2]  # 0 overlaps 1; 3 lies inside 1
    np.testing.assert_allclose(detector._expand([10, 10, 20, 20], 2.0, 2.0), [5, 7.5, 25, 27.5])


def test_detector_smoke():
    pytest.importorskip("cv2")
    from kcolor import imageio
    from kcolor.instance import detector

    d = detector.Detector(kinds=detector.KINDS)
    b, s, labels = d.detect(np.full((120, 90, 3), 128, np.uint8))
    assert b.shape == (0, 4) and len(s) == 0 and labels == []
    sample = os.path.join(ROOT, "kcolor", "samples", "louis_armstrong_1946.jpg")
    rgb = imageio.read_rgb(sample)
    b, s, labels = d.detect(rgb)
    h, w = rgb.shape[:2]
    assert b.dtype == np.float32 and b.shape == (len(s), 4) and len(labels) == len(s)
    assert np.all((b >= 0) & (b <= [w, h, w, h])) and np.all(b[:, 2:] > b[:, :2])
    with pytest.raises(ValueError, match="unknown detector kinds"):
        detector.Detector(kinds=("cats",))


def test_auto_without_opencv_is_a_clear_error(monkeypatch):
    import sys

    from kcolor import colorize_files

    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 → ImportError
    with pytest.raises(ValueError, match=r"pip install 'kcolor\[instances\]'"):
        colorize_files._boxes_source("auto")


# --- JAX ------------------------------------------------------------------------

JAX_SCRIPT = r"""
import json
import numpy as np
import keras
from kcolor import losses
from kcolor.instance import model as imodel

assert keras.backend.backend() == "jax"
keras.utils.set_random_seed(0)
m = imodel.build_instance_colorizer(width=0.0625, max_boxes=2, crop_size=16)
rng = np.random.default_rng(0)
L = rng.uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
boxes = np.array([[[0.1, 0.1, 0.6, 0.8], [0, 0, 0, 0]], [[0, 0, 1, 1], [0.5, 0.5, 1, 1]]],
                 np.float32)
valid = np.array([[1, 0], [1, 1]], np.float32)
out = keras.ops.convert_to_numpy(m([L, boxes, valid]))
none = keras.ops.convert_to_numpy(m([L, boxes, 0 * valid]))
full = keras.ops.convert_to_numpy(imodel.full_branch(m)(L))
m.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses.CompositeLoss(grid="seed23"))
target = np.concatenate([rng.uniform(0, 100, (2, 8, 8, 1)), rng.uniform(-60, 60, (2, 8, 8, 2))],
                        -1).astype(np.float32)
loss = m.train_on_batch([L, boxes, valid], target)
print(json.dumps({"shape": list(out.shape), "finite": bool(np.isfinite(out).all()),
                  "none_is_full": float(np.abs(none - full).max()),
                  "loss": float(np.asarray(loss).ravel()[0])}))
"""


def test_jax_backend_forward_and_train_step():
    from conftest import run_jax_script

    r = run_jax_script(JAX_SCRIPT)
    assert r["shape"] == [2, 8, 8, 529] and r["finite"]
    assert r["none_is_full"] == 0.0
    assert 0 < r["loss"] < 1e4


# --- the study's evaluation -------------------------------------------------------

def test_evaluate_whole_image_and_inside_boxes(inst_path, tiny_model, photo_dir, tmp_path):
    from kcolor.instance import evaluate

    boxes = _boxes_file(photo_dir, tmp_path)
    table, results = evaluate.run(str(photo_dir), {"full": tiny_model, "instance": inst_path},
                                  boxes, size=48, pictures=str(tmp_path / "pics"))
    r = results["instance"]
    assert r["photos"] == 10 and r["photos_with_boxes"] == 2
    assert r["boxes"] == 3  # photo3's box and both of sub/photo0's are over 11 px at 48
    for part in ("all", "with_boxes", "inside_boxes"):
        for k in ("psnr", "ssim", "auc", "colorfulness"):
            assert np.isfinite(r[part][k]), (part, k)
    assert results["gray (ab = 0)"]["inside_boxes"]["colorfulness"] < 1e-3
    assert "inside their 3 boxes" in table and "| instance |" in table
    assert len(list((tmp_path / "pics").glob("*.jpg"))) == 2


def test_pixel_boxes_use_the_upright_size_of_a_rotated_photo(tmp_path):
    """A photo stored 40 wide x 20 high with EXIF orientation 6 is decoded
    20 wide x 40 high; a box in pixels of that upright photo is normalised by
    20 and 40, not by the stored 40 and 20."""
    from PIL import Image

    from kcolor import imageio
    from kcolor.instance import data as idata

    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(tmp_path / "r.jpg", exif=exif)
    assert imageio.read_rgb(str(tmp_path / "r.jpg")).shape[:2] == (40, 20)
    assert imageio.upright_size(str(tmp_path / "r.jpg")) == (20, 40)
    (tmp_path / "boxes.json").write_text(json.dumps({"images": {"r.jpg": [[0, 0, 10, 20]]}}))
    boxes, valid = idata.load_boxes(str(tmp_path / "boxes.json"), str(tmp_path),
                                    [str(tmp_path / "r.jpg")], max_boxes=2)
    np.testing.assert_allclose(boxes[0, 0], [0, 0, 0.5, 0.5])
    np.testing.assert_array_equal(valid[0], [1, 0])
