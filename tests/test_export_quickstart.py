"""README's Deploy command, verbatim, right after the Quickstart install
(``pip install -e .``: no tensorflow-serving-api, no ai-edge-litert), and the
calibration photos that make it work without ``--representative_dir``."""

import fnmatch
import json
import os
import re
import shlex

import numpy as np
import pytest
from conftest import run_python
from PIL import Image

from export import command, warmup
from kcolor import presets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = ("float32", "float16", "dynamic_int8", "int8")

# What the Quickstart's `pip install -e .` does not install (the extras, and
# tensorflow-serving-api).
NOT_INSTALLED = ("tensorflow_serving", "ai_edge_litert", "jax", "apache_beam", "cv2", "playwright")
BLOCK = f"""
import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_INSTALLED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked in this test)")
sys.meta_path.insert(0, _NotInstalled())
"""


def readme_section(title):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_readme_deploy_command_works_after_the_quickstart_install(tmp_path):
    cmd = re.search(r"`(kcolor export [^`]*)`", readme_section("Deploy")).group(1)
    assert cmd == "kcolor export --output_dir=exported"  # what a new user copies
    code = BLOCK + f"""
import json
sys.argv = {shlex.split(cmd)!r}
from kcolor.cli import main
status = "returned without sys.exit"
try:
    main()
except SystemExit as e:
    status = e.code
print(json.dumps({{"status": status, "blocked_but_imported": sorted(
    m for m in sys.modules if m.split(".")[0] in {NOT_INSTALLED!r})}}))
"""
    proc = run_python(["-c", code], cwd=str(tmp_path))
    lines = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    assert lines[-1] == {"status": None, "blocked_but_imported": []}  # absl: None is exit 0
    written = {line["format"]: line for line in lines[:-1]}
    assert sorted(written) == sorted(command.FORMATS)
    out = tmp_path / "exported"
    saved = out / "kcolor" / "1"
    size = presets.config().get("size", 256)  # the shipped preset's working size
    assert written["saved_model"]["path"] == os.path.join("exported", "kcolor", "1")
    assert (saved / "saved_model.pb").is_file() and (saved / "variables").is_dir()
    for v in VARIANTS:
        assert (out / "tflite" / f"model_{v}.tflite").stat().st_size > 100_000, v
        sidecar = json.loads((out / "tflite" / f"model_{v}.json").read_text())
        assert sidecar["variant"] == v and sidecar["size"] == size
    # Warm-up records, written without tensorflow-serving-api.
    logs = warmup.read(str(saved))
    requests = [log.predict_log.request for log in logs]
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log"] * 2
    assert [(r.model_spec.name, r.model_spec.signature_name, sorted(r.inputs)) for r in requests] \
        == [("kcolor", "serving_default", ["L"]), ("kcolor", "colorize_image", ["image_bytes"])]
    import tensorflow as tf

    L = tf.make_ndarray(logs[0].predict_log.request.inputs["L"])
    assert L.shape == (1, size, size, 1) and 0 <= L.min() < L.max() <= 100


def test_warmup_records_are_tf_servings_own(tmp_path):
    """The records kcolor writes are, byte for byte, what tensorflow-serving-api's
    classes write for the same requests (where it is installed)."""
    apis = pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")
    for log in warmup.requests("kcolor", 16):
        data = log.SerializeToString(deterministic=True)
        theirs = apis.PredictionLog.FromString(data)
        assert theirs.WhichOneof("log_type") == "predict_log"
        request = theirs.predict_log.request
        assert request.model_spec.name == "kcolor"
        assert theirs.SerializeToString(deterministic=True) == data
        built = apis.PredictionLog()
        built.predict_log.request.model_spec.name = "kcolor"
        built.predict_log.request.model_spec.signature_name = request.model_spec.signature_name
        for key, tensor in request.inputs.items():
            built.predict_log.request.inputs[key].CopyFrom(tensor)
        assert built.SerializeToString(deterministic=True) == data


def test_bundled_calibration_photos():
    folder = command.CALIBRATION_DIR
    names = sorted(os.listdir(folder))
    photos = [n for n in names if n.endswith(".jpg")]
    assert set(names) == set(photos) | {"README.md"}
    assert 30 <= len(photos) <= 60
    assert sum(os.path.getsize(os.path.join(folder, n)) for n in photos) < 500_000
    sources = {n.split("_")[0] for n in photos}
    assert sources >= {"imagenette", "caltech101", "intel", "utkface", "stanfordcars"}
    spreads = []
    for n in photos:
        with Image.open(os.path.join(folder, n)) as im:
            assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (128, 128)), n
            rgb = np.asarray(im).astype(int)
        spreads.append((rgb.max(-1) - rgb.min(-1)).mean())
    assert min(spreads) > 3 and max(spreads) > 4 * min(spreads)  # colour, pale to vivid
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert all(n in readme for n in photos)  # each photo's origin is listed
    # Installed with the package (setup.cfg's package_data).
    with open(os.path.join(ROOT, "setup.cfg"), encoding="utf-8") as f:
        cfg = f.read()
    data = re.search(r"\[options.package_data\]\nkcolor = (.*)\n", cfg).group(1)
    globs = [g.strip() for g in data.split(",")]
    for n in names:
        assert any(fnmatch.fnmatch(f"assets/calibration/{n}", g) for g in globs), n
