"""The Python colorize API and ``kcolor colorize`` / ``kcolor evaluate``."""

import hashlib
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from kcolor import color, colorize, colorize_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_output_keeps_size_and_lightness(tiny_model):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (37, 53, 3), np.uint8)
    out, = colorize.Colorizer(tiny_model, size=32).colorize([photo])
    assert out.shape == photo.shape and out.dtype == np.uint8
    L_in = color.rgb_to_lab(photo / 255.0, np)[..., 0]
    L_out = color.rgb_to_lab(out / 255.0, np)[..., 0]
    # Same lightness up to 8-bit rounding and gamut clipping.
    assert np.median(np.abs(L_in - L_out)) < 1.0


def test_colorize_folder(tiny_model, photo_dir, tmp_path):
    before = {p: sha(p) for p in photo_dir.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    done, failed = colorize_files.run([str(photo_dir)], str(out), tiny_model, size=32,
                                      progress=False)
    assert (done, failed) == (10, 1)  # broken.jpg fails, the rest go on
    assert (out / "sub" / "photo0.jpg").exists() and (out / "photo3.png").exists()
    with Image.open(out / "photo3.png") as im, Image.open(photo_dir / "photo3.png") as src:
        assert im.size == src.size and im.mode == "RGB"
    assert before == {p: sha(p) for p in photo_dir.rglob("*") if p.is_file()}
    assert not list(out.rglob(".kcolor-*"))  # no temporary files left
    # A second run skips finished outputs.
    assert colorize_files.run([str(photo_dir)], str(out), tiny_model, size=32,
                              progress=False) == (0, 1)


def test_refuses_to_overwrite_an_input(tiny_model, photo_dir):
    before = sha(photo_dir / "photo3.png")
    done, failed = colorize_files.run([str(photo_dir / "photo3.png")], str(photo_dir),
                                      tiny_model, size=32, progress=False, overwrite=True)
    assert (done, failed) == (0, 1)
    assert sha(photo_dir / "photo3.png") == before


def test_alpha_is_kept(tiny_model, tmp_path):
    rgba = np.zeros((16, 24, 4), np.uint8)
    rgba[..., :3] = 120
    rgba[..., 3] = np.arange(24, dtype=np.uint8)[None] * 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    colorize_files.run([str(tmp_path / "a.png")], str(tmp_path / "o"), tiny_model, size=32,
                       progress=False)
    with Image.open(tmp_path / "o" / "a.png") as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im)[..., 3], rgba[..., 3])


def test_cli_reports_bad_file_and_exit_status(tiny_model, photo_dir, tmp_path):
    cmd = [sys.executable, "-m", "kcolor", "colorize", f"--model={tiny_model}", "--size=32",
           f"--output_dir={tmp_path / 'o'}", str(photo_dir)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert f"{photo_dir / 'broken.jpg'}: cannot identify image file" in r.stderr
    assert "10 colorized, 1 failed" in r.stdout


def test_cli_evaluate_prints_model_and_gray(tiny_model, photo_dir, tmp_path):
    cmd = [sys.executable, "-m", "kcolor", "evaluate", f"--model={tiny_model}", "--size=32",
           f"--markdown={tmp_path / 't.md'}", f"--html={tmp_path / 'r.html'}", str(photo_dir)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    table = (tmp_path / "t.md").read_text()
    assert "| model |" in table and "| gray (ab = 0) |" in table
    gray_row = [l for l in table.splitlines() if l.startswith("| gray")][0]
    assert float(gray_row.split("|")[5]) < 0.01  # gray colourfulness is 0
    report = (tmp_path / "r.html").read_text()
    assert "The 4 worst photos" in report and "The 4 best photos" in report
    assert report.count("data:image/png;base64,") == 16  # 8 photos, result and truth each


def test_outputs_are_readable_by_others(tiny_model, photo_dir, tmp_path):
    out = tmp_path / "perm"
    colorize_files.run([str(photo_dir / "photo3.png")], str(out), tiny_model, size=32,
                       progress=False)
    mode = (out / "photo3.png").stat().st_mode & 0o777
    assert mode == 0o666 & ~_umask()


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_html_contact_sheet(tiny_model, tmp_path):
    import re
    import urllib.parse

    src = tmp_path / "in, with spaces"
    src.mkdir()
    Image.fromarray(np.full((16, 24, 3), 90, np.uint8)).save(src / "a photo, 1931.png")
    Image.fromarray(np.full((16, 24, 3), 150, np.uint8)).save(src / "b.jpg")
    out = tmp_path / "out"
    colorize_files.run([str(src)], str(out), tiny_model, size=32, progress=False, html=True)
    page = (out / "index.html").read_text()
    links = [urllib.parse.unquote(h) for h in re.findall(r'src="([^"]+)"', page)]
    assert len(links) == 4  # input and output of each photo
    for link in links:  # every link resolves, relative to the page
        assert (out / link).resolve().is_file(), link
    assert "a photo, 1931.png" in page and "kcolor: 2 photos" in page


def test_working_size_follows_a_smaller_photo_between_min_size_and_size(tiny_model):
    """A preset with min_size works at the photo's own short side (down to the
    input multiple) between min_size and size; photos of each working size go
    through the network as one batch, and each ab comes back to its photo."""
    c = colorize.Colorizer(tiny_model, size=32)
    assert c.working_size(100, 300) == 32  # a fixed size: no min_size
    c.size, c.min_size, c._multiple = 128, 64, 32
    assert [c.working_size(*hw) for hw in [(100, 300), (40, 40), (500, 600), (128, 90)]] == [
        96, 64, 128, 64]
    seen = []

    def predict_ab(small, boxes=None):  # ab = the working size, to trace it back
        seen.append(small.shape[1:3])
        return np.full(small.shape[:3] + (2,), float(small.shape[1]), np.float32)

    c.predict_ab = predict_ab
    Ls = [np.full((h, w, 1), 50.0, np.float32) for h, w in [(100, 300), (500, 600), (70, 99),
                                                            (200, 130)]]
    out = list(c._ab_at_sizes(Ls))
    assert sorted(seen) == [(64, 64), (96, 96), (128, 128)]  # one batch per working size
    assert [o.shape[:2] for o in out] == [(100, 300), (500, 600), (70, 99), (200, 130)]
    assert [float(o.mean()) for o in out] == [96.0, 128.0, 64.0, 128.0]
