"""The TF Serving SavedModel: both signatures answered from REST JSON bodies
(row and columnar forms, b64 bytes) by the SavedModel alone, in a fresh
process, compared with the Keras model; warm-up records."""

import base64
import io
import json
import os
import sys

import numpy as np
import pytest
from conftest import EXPORT_SIZE, run_python
from PIL import Image

from kcolor import color, colorize, decode

HERE = os.path.dirname(os.path.abspath(__file__))


def png_bytes(rgb):
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, format="PNG")
    return b.getvalue()


def jpeg_bytes(rgb):
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, format="JPEG", quality=95)
    return b.getvalue()


def b64(data):
    return {"b64": base64.b64encode(data).decode()}


def test_photo(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    c = rng.uniform(0, 1, (3, 3))
    img = np.stack([c[k, 0] + c[k, 1] * yy + c[k, 2] * xx for k in range(3)], -1)
    img = img / img.max() + rng.normal(0, 0.05, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


test_photo.__test__ = False  # a helper, not a test


def L_of(rgb):
    return color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)[..., :1].astype(np.float32)


@pytest.fixture(scope="module")
def keras_ab(lively_model):
    """ab at L's size from the Keras inference model (sides divisible by 8)."""
    import keras

    model = keras.models.load_model(lively_model, compile=False)
    inference = decode.build_inference_model(model, 0.38)
    return lambda L: np.asarray(inference.predict_on_batch(np.asarray(L, np.float32)))


@pytest.fixture(scope="module")
def served(exported, tmp_path_factory):
    """Asks the SavedModel every request below in one fresh process; returns
    {request name: parsed answer}."""
    photos = {"a": test_photo(37, 45, 1), "b": test_photo(24, 40, 2)}
    La = L_of(photos["a"])
    L8 = np.stack([L_of(test_photo(32, 48, 3)), L_of(test_photo(32, 48, 4))])
    bodies = {
        # serving_default, row form: one instance per image.
        "rows_L8": {"instances": L8.tolist()},
        # serving_default, columnar form, named input, sides not multiples of 8.
        "columns_L_odd": {"signature_name": "serving_default", "inputs": {"L": La[None].tolist()}},
        # colorize_image, row form: bare b64 values (the signature has one input).
        "rows_images": {"signature_name": "colorize_image",
                        "instances": [b64(png_bytes(photos["a"])), b64(jpeg_bytes(photos["b"]))]},
        # colorize_image, row form with named objects.
        "rows_named_image": {"signature_name": "colorize_image",
                             "instances": [{"image_bytes": b64(jpeg_bytes(photos["b"]))}]},
        # colorize_image, columnar form.
        "columns_images": {"signature_name": "colorize_image",
                           "inputs": {"image_bytes": [b64(png_bytes(photos["a"]))]}},
        "malformed": {"signature_name": "colorize_image",
                      "instances": [b64(b"\x89PNG\r\n\x1a\n this is no image")]},
        "after_malformed": {"signature_name": "colorize_image",
                            "inputs": [b64(png_bytes(photos["b"]))]},
    }
    tmp = tmp_path_factory.mktemp("served")
    (tmp / "bodies.json").write_text(json.dumps([json.dumps(b) for b in bodies.values()]))
    run_python([os.path.join(HERE, "tf_serving_json.py"), exported["saved_model"],
                str(tmp / "bodies.json"), str(tmp / "answers.json")])
    answers = [json.loads(a) for a in json.loads((tmp / "answers.json").read_text())]
    return {"answers": dict(zip(bodies, answers)), "photos": photos, "L8": L8, "La": La}


def test_tf_serving_layout(exported):
    sm = exported["saved_model"]
    assert sm == os.path.join(exported["dir"], "kcolor", "1")
    assert os.path.exists(os.path.join(sm, "saved_model.pb"))
    assert os.path.isdir(os.path.join(sm, "variables"))
    with open(os.path.join(sm, "assets.extra", "kcolor.json")) as f:
        assert json.load(f) == {"working_size": EXPORT_SIZE}


def test_serving_default_rows_match_keras(served, keras_ab):
    preds = served["answers"]["rows_L8"]["predictions"]
    assert len(preds) == 2 and sorted(preds[0]) == ["ab", "rgb"]
    ab = np.array([p["ab"] for p in preds], np.float32)
    rgb = np.array([p["rgb"] for p in preds])
    expected = keras_ab(served["L8"])
    assert ab.shape == (2, 32, 48, 2) and rgb.shape == (2, 32, 48, 3)
    assert expected.std() > 0.5  # the untrained model still varies, so the check bites
    np.testing.assert_allclose(ab, expected, atol=1e-2)
    want = np.round(color.lab_to_rgb(np.concatenate([served["L8"], expected], -1), np) * 255)
    assert np.abs(rgb - want).max() <= 1
    assert rgb.min() >= 0 and rgb.max() <= 255


def test_serving_default_pads_odd_sizes(served, keras_ab):
    out = served["answers"]["columns_L_odd"]["outputs"]
    ab = np.array(out["ab"], np.float32)
    La = served["La"]
    assert ab.shape == (1, 37, 45, 2) and np.array(out["rgb"]).shape == (1, 37, 45, 3)
    # As the Keras model on L edge-padded to 40 x 48, cropped back.
    padded = np.pad(La, ((0, 3), (0, 3), (0, 0)), mode="edge")[None]
    np.testing.assert_allclose(ab, keras_ab(padded)[:, :37, :45], atol=1e-2)


def _decode_png(answer_value):
    data = base64.b64decode(answer_value["b64"])
    assert data.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "RGB"
        return np.asarray(im)


def _reference_colorize(keras_ab, rgb):
    """The colorize_image pipeline in TensorFlow ops around the Keras model."""
    import tensorflow as tf

    L = L_of(rgb)
    small = tf.image.resize(L[None], (EXPORT_SIZE, EXPORT_SIZE), antialias=True).numpy()
    ab = tf.image.resize(keras_ab(small), L.shape[:2]).numpy()[0]
    return np.round(color.lab_to_rgb(np.concatenate([L, ab], -1), np) * 255)


def test_colorize_image_all_request_forms(served, keras_ab, lively_model):
    answers, photos = served["answers"], served["photos"]
    preds = answers["rows_images"]["predictions"]
    assert len(preds) == 2
    out_a, out_b = _decode_png(preds[0]), _decode_png(preds[1])
    assert out_a.shape == photos["a"].shape and out_b.shape == photos["b"].shape
    # Named objects and columns give the same images as bare rows.
    np.testing.assert_array_equal(
        _decode_png(answers["rows_named_image"]["predictions"][0]), out_b)
    np.testing.assert_array_equal(_decode_png(answers["columns_images"]["outputs"][0]), out_a)
    # Same as the pipeline built around the Keras model.
    assert np.abs(out_a - _reference_colorize(keras_ab, photos["a"])).max() <= 2
    # Close to the Python Colorizer (Pillow resizes there, TensorFlow here).
    want = colorize.Colorizer(lively_model, size=EXPORT_SIZE).colorize([photos["a"]])[0]
    assert np.abs(out_a.astype(int) - want).mean() < 2.0
    # The photo's own lightness is kept.
    assert np.median(np.abs(L_of(out_a) - L_of(photos["a"]))) < 1.0


def test_malformed_image_is_an_error_not_a_crash(served):
    bad = served["answers"]["malformed"]
    assert bad["type"] == "InvalidArgumentError"
    assert "image" in bad["error"].lower()
    # The same process answers the next request.
    ok = served["answers"]["after_malformed"]
    assert _decode_png(ok["outputs"][0]).shape == served["photos"]["b"].shape


def test_warmup_requests_parse_and_run(exported, tmp_path):
    """TF Serving's own classes read kcolor's warm-up records, and they run
    (kcolor writes them without tensorflow-serving-api)."""
    pytest.importorskip("tensorflow_serving")
    code = f"""
import json, os, sys
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2
sm = {exported["saved_model"]!r}
path = os.path.join(sm, "assets.extra", "tf_serving_warmup_requests")
model = tf.saved_model.load(sm)
out = []
for record in tf.data.TFRecordDataset(path):
    log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
    req = log.predict_log.request
    sig = model.signatures[req.model_spec.signature_name]
    result = sig(**{{k: tf.constant(tf.make_ndarray(v)) for k, v in req.inputs.items()}})
    out.append(dict(kind=log.WhichOneof("log_type"), model=req.model_spec.name,
                    signature=req.model_spec.signature_name, inputs=sorted(req.inputs),
                    outputs={{k: list(v.shape) for k, v in result.items()}}))
print(json.dumps(out))
"""
    proc = run_python(["-c", code])
    records = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [r["signature"] for r in records] == ["serving_default", "colorize_image"]
    assert all(r["kind"] == "predict_log" and r["model"] == "kcolor" for r in records)
    assert records[0]["inputs"] == ["L"]
    assert records[0]["outputs"] == {"ab": [1, EXPORT_SIZE, EXPORT_SIZE, 2],
                                     "rgb": [1, EXPORT_SIZE, EXPORT_SIZE, 3]}
    assert records[1]["inputs"] == ["image_bytes"] and records[1]["outputs"] == {"png_bytes": [1]}


def test_other_backends_are_refused(lively_model, tmp_path):
    code = f"""
import sys
from export import command
try:
    command.export({lively_model!r}, {str(tmp_path)!r}, formats=["saved_model"], size=32)
except RuntimeError as e:
    print("refused:", e)
    sys.exit(0)
sys.exit("exported under jax")
"""
    proc = run_python(["-c", code], env={"KERAS_BACKEND": "jax"})
    assert "needs the TensorFlow Keras backend" in proc.stdout and "'jax'" in proc.stdout
    assert not os.listdir(tmp_path)


def test_cli_export_one_format(lively_model, tmp_path):
    proc = run_python(["-m", "kcolor", "export", f"--model={lively_model}",
                       f"--output_dir={tmp_path}", "--formats=tflite_float32", "--size=32"],
                      cwd=os.path.dirname(HERE))
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["format"] == "tflite_float32" and line["bytes"] > 1000
    assert sorted(os.listdir(tmp_path / "tflite")) == ["model_float32.json", "model_float32.tflite"]
    bad = run_python_fails(["-m", "kcolor", "export", f"--model={lively_model}",
                            f"--output_dir={tmp_path}", "--formats=onnx"])
    assert "unknown formats ['onnx']" in bad


def run_python_fails(args):
    import subprocess

    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          cwd=os.path.dirname(HERE))
    assert proc.returncode != 0
    return proc.stderr


def test_an_existing_version_is_not_overwritten(exported, lively_model):
    from export import command

    before = sorted(os.listdir(exported["saved_model"]))
    with pytest.raises(ValueError, match="already exists: export a new --version"):
        command.export(lively_model, exported["dir"], formats=["saved_model"], size=EXPORT_SIZE)
    assert sorted(os.listdir(exported["saved_model"])) == before


def test_inference_model_takes_changing_sizes(tiny_model):
    """DecodeAb upsamples to a size known only when the graph runs (predict()
    relaxes the traced shape after a change of size; exported graphs)."""
    import keras

    inference = decode.build_inference_model(keras.models.load_model(tiny_model, compile=False))
    for h, w in ((16, 24), (32, 16), (24, 40), (8, 8)):
        ab = inference.predict_on_batch(np.zeros((1, h, w, 1), np.float32))
        assert ab.shape == (1, h, w, 2)


def test_colorize_with_a_saved_model_matches_keras(exported, lively_model):
    """``Colorizer(SavedModel directory)`` gives the Keras model's output."""
    from kcolor import colorize

    photo = test_photo(40, 56, 3)
    # The export recorded its working size (EXPORT_SIZE = 32); no size needed.
    recorded = colorize.Colorizer(exported["saved_model"])
    assert recorded.size == EXPORT_SIZE
    via_saved_model, = recorded.colorize([photo])
    via_keras, = colorize.Colorizer(lively_model, size=32).colorize([photo])
    assert via_saved_model.shape == photo.shape
    assert np.abs(via_saved_model.astype(int) - via_keras.astype(int)).max() <= 2
    with pytest.raises(ValueError, match="temperature of a SavedModel is fixed"):
        colorize.Colorizer(exported["saved_model"], temperature=0.5)
