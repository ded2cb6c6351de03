"""A photo whose EXIF block is garbage (an old scan's garbled APP1 segment)
is read as stored, with one warning, by every command that reads photos:
``kcolor.imageio`` (colorize, prior, beam, study), ``kcolor evaluate``
(``kcolor.data``), ``kcolor study make`` and ``kcolor prepare-data``
(``kcolor.shards``, which also checks EXIF to store JPEGs as they are).
``kcolor colorize`` is in tests/test_odd_inputs.py."""

import io
import json
import os
import shutil

import numpy as np
import pytest
from conftest import write_broken_exif_jpeg
from PIL import Image, ImageOps

from kcolor import imageio


def colourful(h=48, w=64):
    """A smooth colour photo, not symmetric (a rotation would show)."""
    yy, xx = np.mgrid[0:h, 0:w] / float(max(h, w))
    return np.round(np.stack([0.2 + 0.7 * xx, 0.8 - 0.6 * yy, 0.3 + 0.5 * xx * yy], -1)
                    * 255).astype(np.uint8)


@pytest.fixture
def broken(tmp_path):
    """(folder holding only broken.jpg, the same JPEG data without EXIF: plain.jpg elsewhere)."""
    folder = tmp_path / "broken"
    folder.mkdir()
    write_broken_exif_jpeg(folder / "broken.jpg", colourful())
    plain = tmp_path / "plain"
    plain.mkdir()
    Image.fromarray(colourful()).save(plain / "broken.jpg", "JPEG", quality=95)
    return folder, plain


def test_pillow_cannot_parse_it_and_imageio_reads_the_pixels(broken, capsys):
    folder, plain = broken
    path = folder / "broken.jpg"
    with Image.open(path) as im, pytest.raises(SyntaxError, match="not a TIFF file"):
        ImageOps.exif_transpose(im)  # what read_rgb did, and refused the photo
    rgb = imageio.read_rgb(str(path))
    np.testing.assert_array_equal(rgb, imageio.read_rgb(str(plain / "broken.jpg")))
    assert rgb.shape == (48, 64, 3)  # as stored: the garbled orientation is not applied
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {path}: EXIF data unreadable (")
    imageio.read_rgb(str(path))
    assert capsys.readouterr().err == ""  # once per photo (training reads it every epoch)
    with Image.open(path) as im:
        assert imageio.exif_orientation(im)[1].startswith("not a TIFF file")
    with Image.open(plain / "broken.jpg") as im:
        assert imageio.exif_orientation(im) == (1, None)


def test_good_exif_orientation_is_still_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(colourful()).save(tmp_path / "r.jpg", quality=95, exif=exif, dpi=(72, 72))
    with Image.open(tmp_path / "r.jpg") as im:
        want = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    got = imageio.read_rgb(str(tmp_path / "r.jpg"))
    assert got.shape == (64, 48, 3)
    np.testing.assert_array_equal(got, want)


def test_evaluate_scores_it(broken, tiny_model):
    from kcolor import evaluate

    folder, plain = broken
    # Before: the only photo was skipped as unreadable, "validation set is empty".
    assert evaluate.run(str(folder), tiny_model, size=32) == evaluate.run(
        str(plain), tiny_model, size=32)


def test_study_make_uses_it(broken, tiny_model, tmp_path):
    from kcolor.study import make

    folder, _ = broken
    logs = []
    key = make.make(str(folder), str(tmp_path / "study"), [tiny_model], count=1, checks=0,
                    log=logs.append)
    assert [p["photo"] for p in key["pairs"].values()] == ["broken.jpg"]
    assert not any("skipping" in line for line in logs)


def test_prepare_data_stores_it_without_the_broken_exif(broken, tmp_path):
    import tensorflow as tf

    from kcolor import shards

    folder, plain = broken
    manifest = shards.write_shards(str(folder), str(tmp_path / "s" / "train"), num_shards=1,
                                   size=0, min_side=32, progress=False)
    assert manifest["photos"] == 1 and not manifest["skipped"]
    record, = tf.data.TFRecordDataset(str(tmp_path / "s" / "train-00000-of-00001.tfrecord"))
    feature = tf.train.Example.FromString(record.numpy()).features.feature
    encoded = feature["image/encoded"].bytes_list.value[0]
    assert b"Exif" not in encoded  # re-encoded from the pixels, not stored as is
    stored = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB")).astype(int)
    original = imageio.read_rgb(str(plain / "broken.jpg")).astype(int)
    assert stored.shape == original.shape == (48, 64, 3)
    assert np.abs(stored - original).mean() < 2  # JPEG q95 of the same pixels


def test_beam_colorizes_it(broken, tiny_model, tmp_path):
    pytest.importorskip("apache_beam")
    from kcolor import beam

    folder, plain = broken
    shutil.copy(plain / "broken.jpg", folder / "plain.jpg")
    out = tmp_path / "out"
    summary = beam.run([str(folder)], str(out), model=tiny_model, size=32, batch_size=2)
    assert (summary["colorized"], summary["failed"]) == (2, 0)
    with open(out / "manifest.jsonl") as f:
        rows = {os.path.basename(r["input"]): r for r in map(json.loads, f)}
    assert rows["broken.jpg"]["status"] == "ok", rows["broken.jpg"]["error"]
    # Same pixels in, the same photo out (as stored: 48 x 64).
    got = imageio.read_rgb(str(out / "broken.jpg")).astype(int)
    assert got.shape == (48, 64, 3)
    assert np.abs(got - imageio.read_rgb(str(out / "plain.jpg"))).max() <= 1
