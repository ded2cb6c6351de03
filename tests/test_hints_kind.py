"""The hint-aware kind (kcolor.hints.kind, kcolor.hints.model): presets that
store only the refiner, no points = the base model's colour, points in the
photo's pixels through Colorizer and `kcolor colorize --hints`."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kcolor import color, colorize, kinds, models, presets
from kcolor.hints import model as hint_model
from kcolor.hints import points

SIZE = 64


@pytest.fixture(scope="module")
def preset_dir(tmp_path_factory):
    """A tiny U-Net preset "tinybase" and a hint-aware preset "tinyhints"
    built on it (base_from), with a random refiner."""
    folder = tmp_path_factory.mktemp("presets")
    keras.utils.set_random_seed(1)
    base = models.build("unet_lite0", "regression", decoder=(16, 16, 16), name="tinybase")
    rng = np.random.default_rng(0)
    base.set_weights([w + rng.normal(0, 0.05, w.shape) for w in base.get_weights()])
    presets.save_preset(base, "tinybase", "regression", None, "zhang", SIZE, arch="unet_lite0",
                        directory=str(folder))
    loaded, _ = presets.load("tinybase", str(folder))
    m = hint_model.build_hint_colorizer(loaded, channels=8, name="tinyhints")
    refiner = hint_model.refiner_of(m)
    refiner.set_weights([w + rng.normal(0, 0.1, w.shape) for w in refiner.get_weights()])
    presets.save_preset(m, "tinyhints", "regression", None, "zhang", SIZE,
                        arch="hint_unet_lite0", directory=str(folder), base_from="tinybase")
    return folder


def _photo(h=64, w=80, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = (200, 200, 200)
    img[:, w // 2:] = (40, 40, 40)
    return np.clip(img + rng.integers(0, 8, img.shape), 0, 255).astype(np.uint8)


def test_the_preset_stores_the_refiner_only_and_loads_whole(preset_dir):
    cfg = json.loads((preset_dir / "tinyhints.json").read_text())
    assert cfg["arch"] == "hint_unet_lite0" and cfg["base_from"] == "tinybase"
    assert cfg["build"]["channels"] == 8 and cfg["build"]["base"]["decoder"] == [16, 16, 16]
    model, _ = presets.load("tinyhints", str(preset_dir))
    assert kinds.for_model(model).name == "hints"
    refiner = hint_model.refiner_of(model)
    with np.load(preset_dir / "tinyhints.npz") as f:
        assert len(f.files) == len(refiner.weights) < len(model.weights)
        np.testing.assert_array_equal(f["w0"].astype(np.float32), refiner.get_weights()[0])
    base, _ = presets.load("tinybase", str(preset_dir))
    for a, b in zip(hint_model.base_of(model).get_weights(), base.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_no_points_gives_the_base_models_colour_exactly(preset_dir):
    photos = [_photo(), _photo(48, 48, 1)]
    c = colorize.Colorizer(str(preset_dir / "tinyhints.json"))
    plain = colorize.Colorizer(str(preset_dir / "tinybase.json"))
    assert c.condition == "hints" and plain.condition is None
    want = plain.colorize(photos)
    for got in (c.colorize(photos), c.colorize(photos, hints=[[], None])):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="takes no hint points"):
        plain.colorize(photos[:1], hints=[[points.Point(3, 3, (10.0, 10.0), None)]])


def test_points_in_photo_pixels_mix_with_photos_without(preset_dir):
    """Photo 0 gets a point (the file format's dict form works too), photo 1
    none: photo 1 is the automatic colour, photo 0 is changed, and its
    hinted pixels hold the hint's ab (the model keeps hints exactly)."""
    photos = [_photo(), _photo(64, 80, 2)]
    c = colorize.Colorizer(str(preset_dir / "tinyhints.json"))
    auto = c.colorize(photos)
    # a colour of the bright half's lightness (L 81), so that it is in gamut there
    hint = {"x": 10, "y": 30, "color": "#e7c5a5", "size": 8}
    out = c.colorize(photos, hints=[[hint], None])
    np.testing.assert_array_equal(out[1], auto[1])
    assert np.abs(out[0].astype(int) - auto[0]).max() > 0
    lab_out = color.rgb_to_lab(out[0][28:33, 8:13].astype(np.float32) / 255, np)
    want = points.hex_to_ab("#e7c5a5")
    assert want[1] > 15  # a clear warm colour: a, b about (4, 18)
    # within 5 ab units of the hint on the hinted patch (rounding to uint8 RGB)
    assert np.abs(lab_out[..., 1:].mean((0, 1)) - want).max() < 5


def test_cli_hints_file_folder_and_bad_files(preset_dir, tmp_path):
    from PIL import Image

    src = tmp_path / "in"
    src.mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray(_photo(seed=ord(name))).save(src / f"{name}.png")
    hints = tmp_path / "hints"
    hints.mkdir()
    (hints / "a.json").write_text(json.dumps(
        {"points": [{"x": 12, "y": 20, "ab": [-5.0, -30.0]}]}))
    (hints / "b.json").write_text('{"points": [{"x": 500, "y": 20, "color": "#00ff00"}]}')
    # c has no file: automatic
    model = str(preset_dir / "tinyhints.json")
    r = subprocess.run([sys.executable, "-m", "kcolor", "colorize", str(src),
                        f"--output_dir={tmp_path / 'out'}", f"--model={model}",
                        f"--hints={hints}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    # one line for the bad file (and the one-time note that the inputs have colour)
    lines = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith("note: ")]
    assert len(lines) == 1, r.stderr
    assert "b.png" in lines[0] and "b.json" in lines[0] and "outside" in lines[0]
    assert "2 colorized, 1 failed" in r.stdout
    c = colorize.Colorizer(model)
    a = np.asarray(Image.open(src / "a.png"))
    want = c.colorize([a], hints=[points.load(str(hints / "a.json"), a.shape[1], a.shape[0])])
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "a.png")), want[0])
    cc = np.asarray(Image.open(src / "c.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "c.png")),
                                  c.colorize([cc])[0])
    # a missing hints file or folder fails before any work, in one line
    r = subprocess.run([sys.executable, "-m", "kcolor", "colorize", str(src),
                        f"--output_dir={tmp_path / 'out2'}", f"--model={model}",
                        f"--hints={tmp_path / 'nope.json'}"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode != 0 and "nope.json: no such hints file or folder" in r.stderr
    assert not os.path.exists(tmp_path / "out2")


def test_hints_need_a_hint_aware_model(preset_dir, tmp_path):
    from kcolor import colorize_files
    from PIL import Image

    Image.fromarray(_photo()).save(tmp_path / "a.png")
    f = tmp_path / "a.json"
    f.write_text('{"points": []}')
    with pytest.raises(ValueError, match="needs a hint-aware model"):
        colorize_files.run([str(tmp_path / "a.png")], str(tmp_path / "out"),
                           str(preset_dir / "tinybase.json"), progress=False, hints=str(f))


# --- the shipped lite_hints preset -------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    return colorize.Colorizer("lite_hints")


def test_shipped_preset_without_points_is_lite(shipped):
    photo = _photo(96, 128, 3)
    np.testing.assert_array_equal(shipped.colorize([photo])[0],
                                  colorize.Colorizer("lite").colorize([photo])[0])
    cfg = presets.config("lite_hints")
    assert cfg["base_from"] == "lite" and cfg["arch"] == "hint_unet_lite0"
    assert os.path.getsize(os.path.join(presets.PRESET_DIR, "lite_hints.npz")) < 10e6


def test_a_point_on_a_flat_square_colours_the_square_and_stops_at_its_edge(shipped):
    """A flat gray square (L 75) on a darker ground (L 35): one point in the
    square turns the whole square the hint's colour (within 5 ab units, away
    from the blur of its border), and the ground keeps well away from it."""
    s = 256
    L = np.full((s, s, 1), 35.0, np.float32)
    L[64:192, 64:192] = 75.0
    rgb = np.round(color.lab_to_rgb(np.concatenate([L, np.zeros((s, s, 2), np.float32)], -1),
                                    np) * 255).astype(np.uint8)
    want = (20.0, 45.0)  # an orange, in gamut at L 75
    out = shipped.colorize([rgb], hints=[[points.Point(x=100, y=110, ab=want, size=6)]])[0]
    ab = color.rgb_to_lab(out.astype(np.float32) / 255.0, np)[..., 1:]
    inner = ab[76:180, 76:180].reshape(-1, 2)
    dist = np.linalg.norm(inner - want, axis=-1)
    assert dist.mean() < 5 and np.percentile(dist, 95) < 8, (dist.mean(), np.percentile(dist, 95))
    ground = np.concatenate([ab[:48].reshape(-1, 2), ab[208:].reshape(-1, 2)])
    assert np.linalg.norm(ground - want, axis=-1).min() > 15
