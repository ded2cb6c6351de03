"""``kcolor evaluate`` takes every model form ``kcolor colorize`` takes: a
``.keras`` file, a SavedModel folder and a ``.tflite`` file from ``kcolor
export`` (also where ai-edge-litert is not installed, as after the
Quickstart's ``pip install -e .``: TensorFlow's own interpreter runs it)."""

import sys

import numpy as np
import pytest
from conftest import EXPORT_SIZE, run_python, write_photos

from kcolor import evaluate


def numbers(table):
    """{row name: its figures} of an evaluate table."""
    lines = [line for line in table.strip().splitlines() if line.startswith("|")]
    rows = [line.split("|")[1:-1] for line in lines[2:]]
    return {row[0].strip(): [float(x) for x in row[1:] if x.strip()] for row in rows}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return str(write_photos(tmp_path_factory.mktemp("eval") / "photos"))


@pytest.fixture(scope="module")
def keras_table(lively_model, photos):
    return photos, evaluate.run(photos, lively_model, size=64, working_size=EXPORT_SIZE)


@pytest.mark.parametrize("form", ["tflite_float32", "saved_model"])
def test_evaluate_matches_keras(exported, keras_table, form, monkeypatch):
    folder, want = keras_table
    # As after `pip install -e .`: no ai-edge-litert.
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    got = evaluate.run(folder, exported[form], size=64, working_size=EXPORT_SIZE)
    got, want = numbers(got), numbers(want)
    assert sorted(got) == ["gray (ab = 0)", "ground truth", "model"]
    np.testing.assert_allclose(got["model"], want["model"], atol=0.02)
    assert got["gray (ab = 0)"] == want["gray (ab = 0)"]  # the same photos
    assert got["ground truth"] == want["ground truth"]


def test_evaluate_cli_takes_a_tflite_file(exported, photos, tmp_path):
    want = evaluate.run(photos, exported["tflite_float32"], size=64)  # ai-edge-litert here
    code = f"""
import sys
sys.modules["ai_edge_litert"] = None  # not installed
sys.argv = ["kcolor", "evaluate", "--model={exported['tflite_float32']}", "--size=64",
            "--natural_colour=false",  # the judge's figures: tests/test_natural_colour.py
            "--markdown={tmp_path / 't.md'}", {photos!r}]
from kcolor.cli import main
main()
"""
    run_python(["-c", code])
    got, want = numbers((tmp_path / "t.md").read_text()), numbers(want)
    assert sorted(got) == sorted(want)
    for row in want:
        np.testing.assert_allclose(got[row], want[row], atol=0.02)
