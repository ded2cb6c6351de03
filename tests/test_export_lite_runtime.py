"""kcolor.lite: ``kcolor colorize --model=model.tflite`` where TensorFlow,
Keras and JAX cannot be imported (numpy, Pillow and ai-edge-litert only)."""

import json
import os

import numpy as np
import pytest
from conftest import EXPORT_SIZE, run_python
from PIL import Image

from kcolor import colorize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "jax", "tf_keras"):
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, _Block())
"""


def photo(h=45, w=61):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    return np.round(np.stack([xx, yy, 1 - xx * yy], -1) * 255).astype(np.uint8)


def test_colorize_cli_without_tensorflow(exported, lively_model, tmp_path):
    Image.fromarray(photo()).save(tmp_path / "in.png")
    model = exported["tflite_float32"]
    code = BLOCK + f"""
import json
sys.argv = ["kcolor", "colorize", "--model={model}", "--output_dir={tmp_path / 'out'}",
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
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"status": 0, "heavy": []}
    assert "1 colorized, 0 failed" in proc.stdout
    with Image.open(tmp_path / "out" / "in.png") as im:
        out = np.asarray(im)
    assert out.shape == (45, 61, 3)
    # Same photo through the Keras colorizer: the same numpy pre- and
    # post-processing around a float32 network, so within a level or two.
    want = colorize.Colorizer(lively_model, size=EXPORT_SIZE).colorize([photo()])[0]
    assert np.abs(out.astype(int) - want).max() <= 2


def test_blocked_imports_really_fail():
    code = BLOCK + """
try:
    import tensorflow
except ImportError:
    print("blocked")
"""
    assert run_python(["-c", code]).stdout.strip() == "blocked"


def test_lite_colorizer_rules(exported):
    c = colorize.Colorizer(exported["tflite_int8"])
    assert c.size == EXPORT_SIZE and c.lite is not None
    out, = c.colorize([photo(20, 30)])
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError, match="works at 32 px"):
        colorize.Colorizer(exported["tflite_float32"], size=64)
    with pytest.raises(ValueError, match="temperature"):
        colorize.Colorizer(exported["tflite_float32"], temperature=0.5)
    with pytest.raises(FileNotFoundError):
        colorize.Colorizer("missing.tflite")
