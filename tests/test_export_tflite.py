"""TFLite exports: builtin ops only, output close to Keras, sidecars that
describe the files, int8 input/output with its quantization parameters."""

import json
import os

import numpy as np
import pytest
from conftest import EXPORT_SIZE

from export import tflite, tflite_ops
from kcolor import color, decode, lite

VARIANTS = ["float32", "float16", "dynamic_int8", "int8"]
# Largest mean |ab error| (Lab units) and mean |sRGB error| (0-1) against the
# Keras float model allowed per variant. Measured on this test model (ab std
# ~20, range about -60..90): 0.0001 / 0.47 / 3.2 / 11.4 ab and 7e-7 / 0.002 /
# 0.015 / 0.052 sRGB; an untrained model calibrated on 6 photos is a hard case
# for int8, so these bound regressions, not the shipped model's quality
# (benchmarks/export.py measures that).
MEAN_AB_ERROR = {"float32": 0.01, "float16": 1.0, "dynamic_int8": 6.0, "int8": 20.0}
MEAN_RGB_ERROR = {"float32": 1e-4, "float16": 0.01, "dynamic_int8": 0.03, "int8": 0.1}


@pytest.fixture(scope="module")
def L_batch():
    """L of 6 smooth, noisy photos (not the int8 calibration photos) and of a ramp."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:EXPORT_SIZE, 0:EXPORT_SIZE] / EXPORT_SIZE
    Ls = []
    for _ in range(6):
        c = rng.uniform(0, 1, (3, 3))
        rgb = np.stack([c[k, 0] + c[k, 1] * yy + c[k, 2] * np.sin(4 * xx) for k in range(3)], -1)
        rgb = np.clip(rgb / rgb.max() + rng.normal(0, 0.03, rgb.shape), 0, 1)
        Ls.append(color.rgb_to_lab(rgb, np)[None, ..., :1])
    return np.concatenate(Ls + [tflite.lightness_ramp(EXPORT_SIZE)]).astype(np.float32)


@pytest.fixture(scope="module")
def keras_ab(lively_model, L_batch):
    import keras

    model = keras.models.load_model(lively_model, compile=False)
    return np.asarray(decode.build_inference_model(model, 0.38).predict_on_batch(L_batch))


def read(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("variant", VARIANTS)
def test_only_builtin_ops(exported, variant):
    path = exported[f"tflite_{variant}"]
    assert path == os.path.join(exported["dir"], "tflite", f"model_{variant}.tflite")
    ops = tflite_ops.operators(read(path))
    assert "CONV_2D" in ops and "SOFTMAX" in ops and "RESIZE_BILINEAR" in ops
    assert tflite_ops.non_builtin(read(path)) == []
    # The interpreter's own view agrees: every op is a builtin name.
    from ai_edge_litert import schema_py_generated as schema

    builtin = {k for k in vars(schema.BuiltinOperator) if not k.startswith("_")} - {"CUSTOM"}
    interp = lite.LiteRunner(path).interpreter
    assert {d["op_name"] for d in interp._get_ops_details()} <= builtin


def test_custom_ops_are_detected(tmp_path):
    """The checker is not vacuous: a model converted with Flex ops fails it."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([2, 2], tf.float32)])
    def inverse(x):
        return tf.linalg.inv(x)

    conv = tf.lite.TFLiteConverter.from_concrete_functions([inverse.get_concrete_function()],
                                                           inverse)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    flex = tflite_ops.non_builtin(conv.convert())
    assert flex and all(op.startswith("CUSTOM:Flex") for op in flex)


@pytest.mark.parametrize("variant", VARIANTS)
def test_close_to_keras(exported, variant, L_batch, keras_ab):
    ab = lite.LiteRunner(exported[f"tflite_{variant}"]).predict_ab(L_batch)
    assert keras_ab.std(axis=(1, 2)).min() > 5  # varied ab: the comparison bites
    assert ab.shape == keras_ab.shape == (len(L_batch), EXPORT_SIZE, EXPORT_SIZE, 2)
    assert ab.dtype == np.float32
    err = np.abs(ab - keras_ab).mean()
    assert err < MEAN_AB_ERROR[variant], f"{variant}: mean |ab error| {err:.3f}"
    if variant == "float32":
        assert np.abs(ab - keras_ab).max() < 0.05
    # Colour from the quantized model still tracks the float one.
    rgb = color.lab_to_rgb(np.concatenate([L_batch, ab], -1), np)
    want = color.lab_to_rgb(np.concatenate([L_batch, keras_ab], -1), np)
    assert np.abs(rgb - want).mean() < MEAN_RGB_ERROR[variant]


@pytest.mark.parametrize("variant", VARIANTS)
def test_sidecar_describes_the_file(exported, variant):
    path = exported[f"tflite_{variant}"]
    with open(path[:-len(".tflite")] + ".json") as f:
        info = json.load(f)
    runner = lite.LiteRunner(path)
    assert info["variant"] == variant and info["size"] == EXPORT_SIZE
    assert info["input"]["shape"] == [1, EXPORT_SIZE, EXPORT_SIZE, 1]
    assert info["output"]["shape"] == [1, EXPORT_SIZE, EXPORT_SIZE, 2]
    assert info["input"]["dtype"] == info["output"]["dtype"] == "float32"
    assert info["input"]["name"] == runner.input["name"]
    assert info["input"]["range"] == [0.0, 100.0]
    assert info["operators"] == tflite_ops.operators(read(path))
    assert "quantization" not in info["input"]  # float I/O unless --int8_io


def test_int8_input_and_output(lively_model, exported, tmp_path, L_batch, keras_ab):
    from export import command

    path = command.export(lively_model, str(tmp_path), formats=["tflite_int8"], size=EXPORT_SIZE,
                          representative_dir=exported["representative_dir"],
                          int8_io=True)["tflite_int8"]
    with open(path[:-len(".tflite")] + ".json") as f:
        info = json.load(f)
    runner = lite.LiteRunner(path)
    for side, detail in (("input", runner.input), ("output", runner.output)):
        assert info[side]["dtype"] == "int8" and detail["dtype"] == np.int8
        q = info[side]["quantization"]
        assert q["scale"] > 0 and (q["scale"], q["zero_point"]) == tuple(detail["quantization"])
    # L 0..100 must fit the int8 input range.
    q = info["input"]["quantization"]
    assert q["scale"] * (-128 - q["zero_point"]) <= 0.5
    assert q["scale"] * (127 - q["zero_point"]) >= 99.5
    # LiteRunner (de)quantizes: same ab as the float-I/O int8 model, within a step or two.
    ab = runner.predict_ab(L_batch)
    ab_float_io = lite.LiteRunner(exported["tflite_int8"]).predict_ab(L_batch)
    assert np.abs(ab - ab_float_io).mean() < 2 * info["output"]["quantization"]["scale"] + 0.5
    assert np.abs(ab - keras_ab).mean() < MEAN_AB_ERROR["int8"]


def test_int8_calibrates_on_the_bundled_photos_by_default(lively_model, tmp_path, monkeypatch):
    from export import command

    folders = []
    real = tflite.representative_L
    monkeypatch.setattr(tflite, "representative_L", lambda folder, *a: folders.append(folder)
                        or real(folder, *a))
    paths = command.export(lively_model, str(tmp_path / "a"), formats=["tflite_int8"],
                           size=EXPORT_SIZE, representative_count=8)
    assert folders == [command.CALIBRATION_DIR] and os.path.getsize(paths["tflite_int8"]) > 1000
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no readable photos"):
        command.export(lively_model, str(tmp_path / "b"), formats=["tflite_int8"],
                       size=EXPORT_SIZE, representative_dir=str(tmp_path / "empty"))


def test_mean_kept_saturation_is_baked_into_the_file(lively_model, L_batch, tmp_path):
    """A preset's ``mean_saturation`` (kcolor.decode.saturate) goes into the
    .tflite graph with builtin ops (MEAN) and is recorded in its sidecar."""
    import keras

    model = keras.models.load_model(lively_model, compile=False)
    paths = tflite.export_tflite(model, str(tmp_path), ["float32"], EXPORT_SIZE,
                                 decode.Decoding(0.38, saturation=1.5, mean_saturation=1.0))
    content = read(paths["float32"])
    assert "MEAN" in tflite_ops.operators(content) and tflite_ops.non_builtin(content) == []
    with open(paths["float32"][:-len(".tflite")] + ".json") as f:
        info = json.load(f)
    assert (info["saturation"], info["mean_saturation"]) == (1.5, 1.0)
    runner = lite.LiteRunner(paths["float32"])
    got = np.concatenate([runner.predict_ab(L[None]) for L in L_batch])
    want = np.asarray(decode.build_inference_model(model, 0.38, 1.5, 1.0).predict_on_batch(L_batch))
    np.testing.assert_allclose(got, want, atol=0.01)
    plain = np.asarray(decode.build_inference_model(model, 0.38, 1.5).predict_on_batch(L_batch))
    assert np.abs(plain - want).mean() > 1.0  # not the uniform gain
