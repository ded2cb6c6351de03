"""``kcolor colorize`` on photos as people have them, and on broken files.

Every file here is generated in the test. Each either gives a correct output
(right size and mode) or a one-line ``PATH: reason`` error while the batch goes
on, and no input changes by a byte.
"""

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from conftest import write_broken_exif_jpeg
from kcolor import colorize_files


def gradient(h, w):
    y, x = np.mgrid[0:h, 0:w]
    return ((x * 7 + y * 3) % 256).astype(np.uint8)


def jpeg_bytes(img, **kw):
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


@pytest.fixture
def odd_dir(tmp_path):
    d = tmp_path / "odd"
    d.mkdir()
    g = gradient(30, 44)
    Image.fromarray(g).save(d / "gray8.png")
    Image.fromarray(g.astype("<u2") * 257).save(d / "gray16.png")  # mode I;16
    Image.fromarray(np.stack([g, g, g], -1)).save(d / "rgb_but_gray.jpg")
    sepia = np.stack([g, (g * 0.85).astype(np.uint8), (g * 0.65).astype(np.uint8)], -1)
    Image.fromarray(sepia).save(d / "sepia.tif")
    Image.fromarray(g).convert("CMYK").save(d / "cmyk.jpg")
    Image.fromarray(g).convert("P").save(d / "palette.bmp")
    la = Image.merge("LA", [Image.fromarray(g), Image.fromarray(255 - g)])
    la.save(d / "with_alpha.png")
    Image.fromarray(g).save(d / "lossless.webp", lossless=True)
    # EXIF orientation 6: stored 44 wide x 30 high, shown rotated (30 wide x 44 high).
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(g).save(d / "rotated.jpg", exif=exif)
    # An old photo's garbled EXIF block: colorized as stored, with a warning.
    write_broken_exif_jpeg(d / "broken_exif.jpg", np.stack([g, g, g], -1))
    # Bad files.
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("hello, I am not a photo\n")
    (d / "truncated.jpg").write_bytes(jpeg_bytes(Image.fromarray(g))[:200])
    return d


GOOD = {  # output name: (width, height, mode)
    "gray8.png": (44, 30, "RGB"),
    "gray16.png": (44, 30, "RGB"),
    "rgb_but_gray.jpg": (44, 30, "RGB"),
    "sepia.tif": (44, 30, "RGB"),
    "cmyk.jpg": (44, 30, "RGB"),
    "palette.bmp": (44, 30, "RGB"),
    "with_alpha.png": (44, 30, "RGBA"),
    "lossless.webp": (44, 30, "RGB"),
    "rotated.jpg": (30, 44, "RGB"),
    "broken_exif.jpg": (44, 30, "RGB"),  # orientation unknown: as stored
}
BAD = {"empty.jpg", "text.jpg", "truncated.jpg"}


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_every_odd_input(odd_dir, tmp_path, tiny_model, capsys):
    before = digests(odd_dir)
    out = tmp_path / "out"
    done, failed = colorize_files.run([str(odd_dir)], str(out), tiny_model, size=32,
                                      progress=False)
    assert (done, failed) == (len(GOOD), len(BAD))
    for name, (w, h, mode) in GOOD.items():
        with Image.open(out / name) as im:
            assert (im.size, im.mode) == ((w, h), mode), name
    # 16-bit gray (g * 257) is read as the same 8-bit gray: identical output.
    np.testing.assert_array_equal(np.asarray(Image.open(out / "gray16.png")),
                                  np.asarray(Image.open(out / "gray8.png")))
    with Image.open(out / "with_alpha.png") as im:
        np.testing.assert_array_equal(np.asarray(im)[..., 3], 255 - gradient(30, 44))
    errors = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    warnings = [l for l in errors if l.startswith("warning: ")]
    assert len(warnings) == 1, errors
    assert warnings[0].startswith(f"warning: {odd_dir / 'broken_exif.jpg'}: EXIF data unreadable "
                                  "(not a TIFF file (header b'\\xff\\xff\\xbeZ")
    assert warnings[0].endswith("; using the pixels as stored")
    for name in BAD:
        line = [l for l in errors if l.startswith(str(odd_dir / name) + ": ")]
        assert len(line) == 1, (name, errors)
        assert not (out / name).exists()
    assert digests(odd_dir) == before  # inputs untouched


def test_colour_photo_is_noted_once(tmp_path, tiny_model, capsys):
    d = tmp_path / "colour"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), np.uint8)).save(d / f"c{i}.png")
    colorize_files.run([str(d)], str(tmp_path / "o"), tiny_model, size=32, progress=False)
    assert capsys.readouterr().err.count("is a colour photo") == 1


def test_decompression_bomb_is_refused(tmp_path, tiny_model, monkeypatch, capsys):
    Image.fromarray(gradient(64, 64)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4096 px > 2 x the limit
    done, failed = colorize_files.run([str(tmp_path / "bomb.png")], str(tmp_path / "o"),
                                      tiny_model, size=32, progress=False)
    assert (done, failed) == (0, 1)
    assert f"{tmp_path / 'bomb.png'}: Image size (4096 pixels) exceeds limit" in capsys.readouterr().err


def test_unwritable_output_folder_fails_per_file(odd_dir, tmp_path, tiny_model, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    done, failed = colorize_files.run([str(odd_dir / "gray8.png")], str(blocker / "out"),
                                      tiny_model, size=32, progress=False)
    assert (done, failed) == (0, 1)
    assert f"{odd_dir / 'gray8.png'}: cannot write" in capsys.readouterr().err


def test_format_and_side_by_side(odd_dir, tmp_path, tiny_model):
    out = tmp_path / "pairs"
    colorize_files.run([str(odd_dir / "gray8.png")], str(out), tiny_model, size=32,
                       progress=False, fmt="jpg", pairs=True)
    with Image.open(out / "gray8.jpg") as im:
        assert im.format == "JPEG" and im.size == (44 * 2 + 8, 30)
    with pytest.raises(ValueError, match="unknown output format 'gif'"):
        colorize_files.run([str(odd_dir)], str(out), tiny_model, fmt="gif", progress=False)
