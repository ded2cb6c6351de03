"""A hint-aware model's exports take its hint inputs (issue #30, item 4): the
SavedModel's ``colorize_with_hints`` and the .tflite files (float32 with the
propagation inside, int8 with ``propagate_float32.tflite`` beside it) give
the Keras model's colour for the same points; ``Colorizer`` and
``kcolor.lite`` run the .tflite with hints without Keras or TensorFlow.

A tiny model (an 8-channel stand-in for the U-Net base, the real refiner and
propagation) at a working size of 32 keeps this module quick; the figures
of the real model at 256 come from ``benchmarks/export_hints.py``.
"""

import json
import os
import shutil

import numpy as np
import pytest
from conftest import run_python
from PIL import Image

from export import tflite_ops
from kcolor import color, colorize, decode, lite

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
S = 32  # working size of the exports here
# Against the Keras model, over the 6 test photos with their 10 points.
# float32: the propagation is float32 CG steps on a problem that does not
# converge in float32 here (8 x 8 cells, 0.86 ab from the exact solve on one
# photo), so the order of the arithmetic shows: Keras itself differs by up
# to 1.7 ab between its eager and graph runs there. Measured: TFLite float32
# and float16 mean |Δab| 0.03, max 1.6 (that photo; the others < 0.01); the
# SavedModel up to 3 RGB levels on that photo, 0 on the others. int8 (refiner
# in float): mean |Δab| 0.31, max 2.3; the Colorizer's RGB 0.41 levels on
# average: an untrained stand-in calibrated on 12 photos at 32 px, so these
# bound regressions (the real model at 256: benchmarks/export_hints.py).
FLOAT_MEAN_AB_ERROR, FLOAT_MAX_AB_ERROR = 0.1, 4.0
FLOAT16_MEAN_AB_ERROR = 0.3
INT8_MEAN_AB_ERROR = 1.0
FLOAT_MAX_RGB_LEVELS = 6
INT8_MEAN_RGB_LEVELS = 1.5


BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "jax", "tf_keras"):
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, _Block())
"""


def tiny_hint_model():
    """The hint-aware model around a 3-convolution base (L → ab at stride 4)
    whose colour varies with L, and a refiner whose correction is not 0."""
    import keras
    from keras import layers

    from kcolor.hints import model as hint_model

    keras.utils.set_random_seed(3)
    L = keras.Input((None, None, 1), name="L")
    x = layers.Rescaling(1 / 50.0, offset=-1.0)(L)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(2, 3, padding="same", activation="tanh")(x)
    base = keras.Model(L, layers.Rescaling(60.0)(x), name="tiny_base")
    # the refiner the shipped lite_hints has: it reads a propagation with a
    # real decay (the original refiner stays tested in test_hints_kind)
    model = hint_model.build_hint_colorizer(base, channels=8,
                                            reach={"sigma": 3.0, "lam_area": 0.8})
    delta = hint_model.refiner_of(model).get_layer("delta")
    rng = np.random.default_rng(0)
    delta.set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32)
                       for w in delta.get_weights()])
    return model


def smooth_photo(rng, h=S, w=S):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    c = rng.uniform(0, 1, (3, 3))
    rgb = np.stack([c[k, 0] + c[k, 1] * yy + c[k, 2] * np.sin(4 * xx) for k in range(3)], -1)
    rgb = np.clip(rgb / rgb.max() + rng.normal(0, 0.03, rgb.shape), 0, 1)
    return np.round(rgb * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def hint_model():
    return tiny_hint_model()


@pytest.fixture(scope="module")
def exported(hint_model, tmp_path_factory):
    from export import command

    out = tmp_path_factory.mktemp("hints_export")
    paths = command.export(hint_model, str(out), formats=[
        "saved_model", "tflite_float32", "tflite_float16", "tflite_int8"],
        size=S, representative_count=12, warmup=False)
    return {"dir": str(out), **paths}


@pytest.fixture(scope="module")
def cases():
    """(photos at S x S, their L, hint_ab and mask from their true colour, and
    each photo's 10 points) for 6 photos, not the calibration ones."""
    from kcolor.hints import evaluate

    rng = np.random.default_rng(11)
    rgbs = [smooth_photo(rng) for _ in range(6)]
    Ls, hints, masks, pts = [], [], [], []
    for i, rgb in enumerate(rgbs):
        lab = color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np).astype(np.float32)
        p, hint, mask = evaluate.eval_points(lab[..., 1:], 10, seed=i)
        Ls.append(lab[..., :1])
        hints.append(hint)
        masks.append(mask)
        pts.append(p)
    return {"rgb": rgbs, "L": np.stack(Ls), "hint_ab": np.stack(hints),
            "mask": np.stack(masks), "points": pts}


@pytest.fixture(scope="module")
def keras_ab(hint_model, cases):
    from kcolor.hints import model as hint_model_lib

    inference = hint_model_lib.inference_model(hint_model, S, decode.Decoding())
    return np.asarray(inference.predict_on_batch([cases["L"], cases["hint_ab"], cases["mask"]]))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_files_and_sidecars(exported):
    folder = os.path.join(exported["dir"], "tflite")
    names = ["model_float32", "model_float16", "model_int8", "propagate_float32"]
    assert sorted(os.listdir(folder)) == sorted(n + e for n in names for e in (".tflite", ".json"))
    for name in names:
        assert tflite_ops.non_builtin(read(os.path.join(folder, name + ".tflite"))) == []
    # The propagation is a WHILE loop in the float32 file, not in the float16
    # and int8 ones: they take it from propagate_float32.tflite.
    assert "WHILE" in tflite_ops.operators(read(exported["tflite_float32"]))
    assert "WHILE" not in tflite_ops.operators(read(exported["tflite_float16"]))
    assert "WHILE" not in tflite_ops.operators(read(exported["tflite_int8"]))
    assert "WHILE" in tflite_ops.operators(read(os.path.join(folder, "propagate_float32.tflite")))
    assert "CONV_2D" in tflite_ops.operators(read(exported["tflite_int8"]))
    for variant, names in (("float32", ["L", "hint_ab", "mask"]),
                           ("float16", ["L", "hint_ab", "mask", "prop"]),
                           ("int8", ["L", "hint_ab", "mask", "prop"])):
        with open(os.path.join(folder, f"model_{variant}.json")) as f:
            info = json.load(f)
        assert info["condition"] == "hints" and info["size"] == S
        assert [lite.input_name(i) for i in info["inputs"]] == names
        shapes = {lite.input_name(i): i["shape"] for i in info["inputs"]}
        assert shapes["L"] == [1, S, S, 1] and shapes["hint_ab"] == [1, S, S, 2]
        assert shapes["mask"] == [1, S, S, 1]
        assert info["output"]["shape"] == [1, S, S, 2]
        assert all(i["dtype"] == "float32" for i in info["inputs"])
        assert info["app"]
    assert shapes["prop"] == [1, S // 4, S // 4, 3]
    assert info["propagation"]["file"] == "propagate_float32.tflite"
    with open(os.path.join(folder, "propagate_float32.json")) as f:
        prop_info = json.load(f)
    assert prop_info["output"]["shape"] == [1, S // 4, S // 4, 3]
    # The int8 file's base convolutions are int8, the refiner's float (its
    # 5 dilated convolutions, gate and delta).
    interp = lite.LiteRunner(exported["tflite_int8"]).interpreter
    convs = [interp._get_tensor_details(op["inputs"][0], 0)["dtype"]
             for op in interp._get_ops_details() if op["op_name"] == "CONV_2D"]
    assert convs.count(np.int8) == 3 and convs.count(np.float32) == 7


def test_saved_model_with_hints_matches_keras(exported, hint_model, cases):
    keras_c = colorize.Colorizer(hint_model, size=S)
    served = colorize.Colorizer(exported["saved_model"])
    assert served.condition == "hints" and served.size == S
    want = keras_c.colorize(cases["rgb"], hints=cases["points"])
    got = served.colorize(cases["rgb"], hints=cases["points"])
    diffs = [np.abs(a.astype(int) - b) for a, b in zip(got, want)]
    assert max(d.max() for d in diffs) <= FLOAT_MAX_RGB_LEVELS
    assert np.mean([d.mean() for d in diffs]) < 0.1
    # The points matter: without them the photos differ.
    plain = keras_c.colorize(cases["rgb"])
    assert np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(plain, want)]) > 1.0


@pytest.mark.parametrize("variant", ["float32", "float16", "int8"])
def test_tflite_with_hints_matches_keras(exported, variant, cases, keras_ab):
    runner = lite.LiteRunner(exported[f"tflite_{variant}"])
    assert runner.condition == "hints"
    assert keras_ab.std(axis=(1, 2)).min() > 2  # varied ab: the comparison bites
    ab = runner.predict_ab(cases["L"], cases["hint_ab"], cases["mask"])
    assert ab.shape == keras_ab.shape and ab.dtype == np.float32
    err = np.abs(ab - keras_ab)
    if variant == "float32":
        assert err.mean() < FLOAT_MEAN_AB_ERROR and err.max() < FLOAT_MAX_AB_ERROR
    elif variant == "float16":
        assert err.mean() < FLOAT16_MEAN_AB_ERROR and err.max() < FLOAT_MAX_AB_ERROR
    else:
        assert err.mean() < INT8_MEAN_AB_ERROR, f"int8: mean |ab error| {err.mean():.3f}"
    # Hinted pixels keep their hint (int8: within its quantization step).
    m = cases["mask"][..., 0] > 0.5
    assert np.abs(ab[m] - cases["hint_ab"][m]).max() < (1.5 if variant == "int8" else 0.01)
    # An empty mask is the same as no hints, and a number everywhere (a
    # float16 propagation gave NaN: 1e-30 is 0 in float16).
    none = runner.predict_ab(cases["L"][:2])
    zeros = runner.predict_ab(cases["L"][:2], np.zeros_like(cases["hint_ab"][:2]),
                              np.zeros_like(cases["mask"][:2]))
    assert np.isfinite(none).all()
    np.testing.assert_array_equal(none, zeros)


def test_colorizer_on_tflite_with_hints(exported, hint_model, cases):
    keras_c = colorize.Colorizer(hint_model, size=S)
    want = keras_c.colorize(cases["rgb"], hints=cases["points"])
    for variant in ("float32", "int8"):
        c = colorize.Colorizer(exported[f"tflite_{variant}"])
        assert c.condition == "hints" and c.size == S
        got = c.colorize(cases["rgb"], hints=cases["points"])
        diffs = [np.abs(a.astype(int) - b) for a, b in zip(got, want)]
        mean = np.mean([d.mean() for d in diffs])
        if variant == "float32":
            assert mean < 0.1 and max(d.max() for d in diffs) <= FLOAT_MAX_RGB_LEVELS
        else:
            assert mean < INT8_MEAN_RGB_LEVELS, f"int8: mean |RGB error| {mean:.2f} levels"
    # A photo without points runs with an empty mask.
    c = colorize.Colorizer(exported["tflite_float32"])
    got = c.predict_ab(cases["L"][:2], hints=[None, []])
    np.testing.assert_array_equal(got, c.lite.predict_ab(cases["L"][:2]))


def test_int8_io_is_refused_before_anything_is_written(hint_model, tmp_path):
    from export import command

    with pytest.raises(ValueError, match="int8_io"):
        command.export(hint_model, str(tmp_path), formats=["saved_model", "tflite_int8"],
                       size=S, int8_io=True)
    assert os.listdir(tmp_path) == []


def test_int8_needs_its_propagation_file(exported, tmp_path):
    alone = tmp_path / "model_int8.tflite"
    shutil.copy(exported["tflite_int8"], alone)
    with pytest.raises(FileNotFoundError, match="propagate_float32.tflite"):
        lite.LiteRunner(str(alone))
    folder = os.path.join(exported["dir"], "tflite")
    other = tmp_path / "elsewhere.tflite"
    shutil.copy(os.path.join(folder, "propagate_float32.tflite"), other)
    assert lite.LiteRunner(str(alone), propagation=str(other)).propagation == str(other)


def test_a_plain_file_refuses_hints(tmp_path):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 1], tf.float32, name="L")])
    def plain(L):
        return tf.concat([0.1 * L, -0.1 * L], -1)

    conv = tf.lite.TFLiteConverter.from_concrete_functions([plain.get_concrete_function()],
                                                           plain)
    path = tmp_path / "plain.tflite"
    path.write_bytes(conv.convert())
    runner = lite.LiteRunner(str(path))
    assert runner.condition is None and runner.size == 8
    L = np.full((1, 8, 8, 1), 50.0, np.float32)
    assert runner.predict_ab(L, mask=np.zeros((1, 8, 8, 1))).shape == (1, 8, 8, 2)
    with pytest.raises(ValueError, match="takes no hint points"):
        runner.predict_ab(L, np.ones((1, 8, 8, 2)), np.ones((1, 8, 8, 1)))
    assert colorize.LiteBackend(str(path), 1.0).condition is None


def test_lite_backend_with_hints_without_keras(exported, cases, tmp_path):
    """LiteBackend (kcolor.lite, kinds.condition("hints")) runs the int8 file
    and its propagation with hints in a process that cannot import Keras,
    TensorFlow or JAX, and gives what LiteRunner gives here."""
    np.save(tmp_path / "L.npy", cases["L"][:2])
    with open(tmp_path / "points.json", "w") as f:
        json.dump([[{"x": p.x, "y": p.y, "ab": list(p.ab), "size": p.size} for p in pts]
                   for pts in cases["points"][:2]], f)
    code = BLOCK + f"""
import json
import numpy as np
from kcolor import colorize
backend = colorize.LiteBackend({exported["tflite_int8"]!r}, 1.0)
points = json.load(open({str(tmp_path / "points.json")!r}))
values = [backend.condition.at_working_size(p, {S}, {S}, {S}) for p in points]
ab = backend.predict_conditioned(np.load({str(tmp_path / "L.npy")!r}), values)
np.save({str(tmp_path / "ab.npy")!r}, ab)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax"))
print(json.dumps({{"condition": backend.condition.name, "heavy": heavy}}))
"""
    proc = run_python(["-c", code], cwd=ROOT)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"condition": "hints",
                                                                "heavy": []}
    here = colorize.LiteBackend(exported["tflite_int8"], 1.0)
    values = [here.condition.at_working_size(p, S, S, S) for p in cases["points"][:2]]
    want = here.predict_conditioned(cases["L"][:2], values)
    assert np.abs(want).max() > 1  # not all gray
    np.testing.assert_allclose(np.load(tmp_path / "ab.npy"), want, atol=1e-3)


def test_colorize_cli_with_hints_without_tensorflow(exported, cases, tmp_path):
    Image.fromarray(cases["rgb"][0]).save(tmp_path / "in.png")
    pts = cases["points"][0]
    with open(tmp_path / "p.json", "w") as f:
        json.dump({"points": [{"x": p.x, "y": p.y, "ab": list(p.ab)} for p in pts]}, f)
    code = BLOCK + f"""
import json
sys.argv = ["kcolor", "colorize", "--model={exported['tflite_int8']}",
            "--hints={tmp_path / 'p.json'}", "--output_dir={tmp_path / 'out'}",
            "{tmp_path / 'in.png'}"]
from kcolor.cli import main
try:
    main()
except SystemExit as e:
    status = e.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax"))
print(json.dumps({{"status": status, "heavy": heavy}}))
"""
    proc = run_python(["-c", code], cwd=ROOT)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"status": 0, "heavy": []}
    assert os.path.exists(tmp_path / "out" / "in.png")
