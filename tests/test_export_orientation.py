"""EXIF orientation in the SavedModel's ``colorize_image`` (export/orientation.py):
the tag read with TensorFlow string ops as Pillow reads it, the photo turned
as ``ImageOps.exif_transpose`` turns it, and a phone photo sent as bytes
colorized upright, as ``kcolor colorize`` writes it."""

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import EXPORT_SIZE, write_broken_exif_jpeg

tf = pytest.importorskip("tensorflow")

from export import orientation  # noqa: E402


def photo(h=30, w=44):
    """Not symmetric in any way: every turn and flip gives another image."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 5, yy * 8, (xx * yy) % 256], -1).astype(np.uint8)


def jpeg(rgb, orientation_tag=None, endian=None, **kw):
    exif = Image.Exif()
    if endian:
        exif.endian = endian  # Pillow writes big-endian ("MM") EXIF by default
    if orientation_tag is not None:
        exif[0x0112] = orientation_tag
    exif[0x010F] = "kcolor test camera"  # another tag in IFD0 before the orientation
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, "JPEG", quality=95, exif=exif, **kw)
    return b.getvalue()


_read_all = tf.function(lambda data: tf.map_fn(
    orientation.jpeg_orientation, data, fn_output_signature=tf.int32))


def read(data):
    return int(_read_all(tf.constant([data]))[0])


@pytest.mark.parametrize("endian", ["<", ">"])
def test_orientation_tag_is_read_as_pillow_reads_it(endian):
    for o in range(1, 9):
        data = jpeg(photo(), o, endian)
        with Image.open(io.BytesIO(data)) as im:
            assert im.getexif()[0x0112] == o
        assert read(data) == o, o
    # Behind a comment, a fill byte and an APP2 segment as well.
    data = jpeg(photo(), 8, endian)
    jfif_end = 4 + int.from_bytes(data[4:6], "big")
    extra = (b"\xff\xfe\x00\x0eScanned 1931" + b"\xff"
             + b"\xff\xe2\x01\x02" + bytes(256))
    data = data[:jfif_end] + extra + data[jfif_end:]
    with Image.open(io.BytesIO(data)) as im:
        assert im.getexif()[0x0112] == 8
    assert read(data) == 8


def test_anything_else_is_orientation_1(tmp_path):
    png = io.BytesIO()
    Image.fromarray(photo()).save(png, "PNG")
    assert read(png.getvalue()) == 1
    assert read(jpeg(photo())) == 1  # EXIF without an orientation
    plain = io.BytesIO()
    Image.fromarray(photo()).save(plain, "JPEG")
    assert read(plain.getvalue()) == 1  # no EXIF
    assert read(jpeg(photo(), 9)) == 1  # out of range
    assert read(b"") == 1 and read(b"\xff\xd8") == 1 and read(b"not an image") == 1
    write_broken_exif_jpeg(tmp_path / "broken.jpg", photo())
    assert read((tmp_path / "broken.jpg").read_bytes()) == 1  # garbled EXIF: as stored
    # Cut anywhere: never an error; the tag once its entry is whole, else 1.
    data = jpeg(photo(), 6)
    start = data.index(b"Exif")
    found = _read_all(tf.constant([data[:n] for n in range(start + 80)])).numpy()
    assert set(found[:start + 40]) == {1} and set(found[start + 40:]) == {6}
    # Any byte of the EXIF block changed: never an error, always 1-8.
    rng = np.random.default_rng(0)
    changed = []
    for i in range(start - 4, start + 80):
        for value in (0, 255, int(rng.integers(0, 256))):
            d = bytearray(data)
            d[i] = value
            changed.append(bytes(d))
    found = _read_all(tf.constant(changed)).numpy()
    assert set(found) <= set(range(1, 9)) and (found == 6).mean() > 0.5


def test_turns_like_pillow():
    rgb = photo()
    for o in range(1, 9):
        with Image.open(io.BytesIO(jpeg(rgb, o))) as im:
            stored = np.asarray(im)
            want = np.asarray(ImageOps.exif_transpose(im))
        got = orientation.apply_orientation(tf.constant(stored), tf.constant(o)).numpy()
        np.testing.assert_array_equal(got, want, err_msg=str(o))


@pytest.mark.parametrize("tag", [6, 3, 8])
def test_colorize_image_sends_back_what_kcolor_colorize_writes(exported, lively_model, tmp_path,
                                                               tag):
    from kcolor import colorize_files, imageio

    yy, xx = np.mgrid[0:37, 0:52] / 52.0  # smooth, as photos are, and lopsided
    rgb = np.round(np.stack([0.2 + 0.7 * xx, 0.8 - 0.6 * yy, 0.3 + 0.5 * xx * yy], -1) * 255)
    data = jpeg(rgb.astype(np.uint8), tag)
    (tmp_path / "phone.jpg").write_bytes(data)
    colorize_files.run([str(tmp_path / "phone.jpg")], str(tmp_path / "out"), lively_model,
                       size=EXPORT_SIZE, progress=False, fmt="png")
    want = imageio.read_rgb(str(tmp_path / "out" / "phone.png")).astype(int)

    signature = tf.saved_model.load(exported["saved_model"]).signatures["colorize_image"]

    def served(encoded):
        png = signature(image_bytes=tf.constant([encoded]))["png_bytes"].numpy()[0]
        return np.asarray(Image.open(io.BytesIO(png))).astype(int)

    got = served(data)
    # kcolor colorize's orientation: its size, and its picture rather than the
    # picture turned round (TensorFlow's and Pillow's JPEG decoders differ by
    # about a level, which this deliberately lively test model makes a few).
    assert got.shape == want.shape == ((52, 37, 3) if tag in (6, 8) else (37, 52, 3))
    assert np.abs(got - want).mean() < min(10, np.abs(got - want[::-1, ::-1]).mean() / 3)
    # Exactly the colorization of the decoded pixels turned upright by Pillow.
    stored = Image.fromarray(tf.io.decode_jpeg(data).numpy())
    upright = io.BytesIO()
    stored.transpose(imageio._TRANSPOSE[tag]).save(upright, "PNG")
    assert np.abs(got - served(upright.getvalue())).max() <= 1
