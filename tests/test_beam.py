"""``kcolor beam``: the Apache Beam pipeline on the DirectRunner (skipped
without the ``beam`` extra)."""

import json
import os
import sys
import time

import numpy as np
import pytest
from PIL import Image

beam = pytest.importorskip("apache_beam")

from kcolor import beam as kbeam  # noqa: E402
from kcolor import beam_handler, cli, colorize, imageio  # noqa: E402


def _manifest(out):
    with open(os.path.join(out, "manifest.jsonl")) as f:
        return {row["input"]: row for row in map(json.loads, f)}


def _photo(path, h=48, w=40, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / float(h)
    c = rng.uniform(0, 1, (3, 3))
    img = np.stack([c[k, 0] + c[k, 1] * yy + c[k, 2] * xx for k in range(3)], -1)
    Image.fromarray((np.clip(img / img.max(), 0, 1) * 255).astype(np.uint8)).save(path)
    return str(path)


def _expected(model, paths, fmt_of, tmp_path, **kw):
    """What ``Colorizer(model).colorize`` gives for ``paths``, passed through
    the same encoder as the pipeline's outputs (JPEG stays JPEG)."""
    images = [imageio.read_rgb(p) for p in paths]
    out = {}
    for p, rgb in zip(paths, colorize.Colorizer(model, **kw).colorize(images)):
        ref = str(tmp_path / f"ref-{len(out)}{fmt_of(p)}")
        colorize.write_atomic(rgb, None, ref)
        out[p] = imageio.read_rgb(ref).astype(int)
    return out


def test_folder_through_cli_matches_colorizer(photo_dir, lively_model, tmp_path, monkeypatch):
    """``kcolor beam`` on a folder with a non-image and a truncated JPEG: one
    manifest row per input, outputs mirror the inputs' names and sizes and
    equal the Python API's colorization; bad files are error rows naming the
    file, and the exit status is 1."""
    good = sorted(str(p) for p in photo_dir.rglob("photo*"))
    whole = (photo_dir / "photo4.jpg").read_bytes()
    (photo_dir / "truncated.jpg").write_bytes(whole[:len(whole) // 2])
    out = str(tmp_path / "out")
    os.makedirs(out)
    stale = os.path.join(out, ".kcolor-0000beef-1-abcdefgh.png")  # a killed run's, 7 h old
    with open(stale, "wb") as f:
        f.write(b"half a photo")
    os.utime(stale, (time.time() - 7 * 3600,) * 2)
    monkeypatch.setattr(sys, "argv", [
        "kcolor", "beam", f"--input={photo_dir}", "--output_dir", out, f"--model={lively_model}",
        "--batch_size=4", "--runner", "DirectRunner"])  # the last two go to Beam
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1

    rows = _manifest(out)
    bad = [str(photo_dir / "broken.jpg"), str(photo_dir / "truncated.jpg")]
    assert sorted(rows) == sorted(good + bad)
    for path in bad:
        assert rows[path]["status"] == "error" and rows[path]["output"] is None
        assert rows[path]["error"].startswith(f"{path}: ")
        assert "\n" not in rows[path]["error"]
    assert not os.path.exists(os.path.join(out, "broken.jpg"))

    expected = _expected(lively_model, good, lambda p: os.path.splitext(p)[1], tmp_path)
    for path in good:
        row = rows[path]
        assert row["status"] == "ok" and row["error"] is None
        assert row["output"] == os.path.join(out, os.path.relpath(path, photo_dir))
        got = imageio.read_rgb(row["output"]).astype(int)
        assert got.shape == imageio.read_rgb(path).shape
        assert np.abs(got - expected[path]).max() <= 1, path
    # not a gray copy: the model's colours are there
    assert max(np.ptp(imageio.read_rgb(rows[p]["output"]).astype(int), -1).mean()
               for p in good) > 3
    assert not [f for f in os.listdir(out) if f.startswith(("beam-temp", ".kcolor-"))]


def _example(data, source=None):
    import tensorflow as tf

    feature = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))}
    if source:
        feature["image/source"] = tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[source.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_saved_model_on_tfrecord_shards(lively_model, tmp_path):
    """TFRecord shards (``image/encoded`` + ``image/source``, as ``kcolor
    prepare-data`` writes them) through a SavedModel from ``kcolor export``:
    outputs named after the sources relative to the shards' input folder,
    equal to the Colorizer's on the same SavedModel; a corrupt record is an
    error row naming its source and shard."""
    import keras
    import tensorflow as tf

    from export import saved_model

    saved = saved_model.export_saved_model(
        keras.models.load_model(lively_model, compile=False), str(tmp_path / "export"),
        size=32, warmup_requests=False)
    photos = tmp_path / "photos"
    (photos / "a").mkdir(parents=True)
    sources = [_photo(photos / "a" / "x.jpg", 40, 56, 1), _photo(photos / "y.png", 33, 47, 2)]
    shards = tmp_path / "shards"
    shards.mkdir()
    with tf.io.TFRecordWriter(str(shards / "val-00000-of-00002.tfrecord")) as w:
        w.write(_example(open(sources[0], "rb").read(), sources[0]))
        w.write(_example(b"\xff\xd8 not really a jpeg", str(photos / "bad.jpg")))
    with tf.io.TFRecordWriter(str(shards / "val-00001-of-00002.tfrecord")) as w:
        w.write(_example(open(sources[1], "rb").read(), sources[1]))
    (shards / "val.manifest.json").write_text(json.dumps({"input": str(photos)}))

    out = str(tmp_path / "out")
    summary = kbeam.run([str(shards / "val-*.tfrecord")], out, model=saved, size=32,
                        fmt="png", batch_size=2)
    assert (summary["colorized"], summary["failed"]) == (2, 1)
    rows = _manifest(out)
    assert sorted(rows) == sorted(sources + [str(photos / "bad.jpg")])
    bad = rows[str(photos / "bad.jpg")]
    assert bad["status"] == "error" and bad["error"].startswith(f"{photos / 'bad.jpg'}: ")
    assert bad["shard"].endswith("val-00000-of-00002.tfrecord")
    expected = _expected(saved, sources, lambda p: ".png", tmp_path, size=32)
    for src, rel in zip(sources, ["a/x.png", "y.png"]):
        assert rows[src]["output"] == os.path.join(out, rel)
        got = imageio.read_rgb(rows[src]["output"]).astype(int)
        assert np.abs(got - expected[src]).max() <= 1


def test_list_file_missing_photo_and_failed_batch(photo_dir, tiny_model, tmp_path, monkeypatch):
    """A list file (relative names kept, # comments, a missing photo) and a
    batch whose prediction raises: error rows, the other photos written."""
    (photo_dir / "list.txt").write_text("# photos\nsub/photo0.jpg\nphoto3.png\nmissing.png\n\n")
    odd = _photo(tmp_path / "odd.png", 24, 72)  # the only 24 x 72 photo: its batch fails

    def ab_at_sizes(self, Ls):
        if any(L.shape[:2] == (24, 72) for L in Ls):
            raise RuntimeError("out of cheese")
        return ab_at_sizes_orig(self, Ls)

    ab_at_sizes_orig = colorize.Colorizer._ab_at_sizes
    monkeypatch.setattr(colorize.Colorizer, "_ab_at_sizes", ab_at_sizes)
    out = str(tmp_path / "out")
    summary = kbeam.run([str(photo_dir / "list.txt"), odd], out, model=tiny_model, batch_size=1)
    assert (summary["colorized"], summary["failed"]) == (2, 2)
    rows = _manifest(out)
    assert rows[str(photo_dir / "sub/photo0.jpg")]["output"] == os.path.join(out, "sub/photo0.jpg")
    assert rows[str(photo_dir / "photo3.png")]["output"] == os.path.join(out, "photo3.png")
    missing = rows[str(photo_dir / "missing.png")]
    assert missing["status"] == "error"
    assert missing["error"].startswith(f"{photo_dir / 'missing.png'}: ")
    assert rows[odd]["status"] == "error"
    assert rows[odd]["error"] == f"{odd}: colorizing failed: RuntimeError: out of cheese"
    assert os.path.exists(os.path.join(out, "sub/photo0.jpg"))


def test_never_overwrites_inputs(photo_dir, tiny_model):
    """Output folder = input folder: every photo is refused, none is touched."""
    before = (photo_dir / "photo5.png").read_bytes()
    summary = kbeam.run([str(photo_dir / "photo5.png")], str(photo_dir), model=tiny_model)
    assert (summary["colorized"], summary["failed"]) == (0, 1)
    row = _manifest(str(photo_dir))[str(photo_dir / "photo5.png")]
    assert row["status"] == "error" and "would overwrite an input" in row["error"]
    assert (photo_dir / "photo5.png").read_bytes() == before


def test_bad_flags_fail_before_the_pipeline(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        kbeam.main(["--input", str(tmp_path / "nothing-*.jpg"), "--output_dir", str(tmp_path),
                    "--model", "no-such-model"])
    assert "no-such-model: no such model file" in str(exit_.value.code)
    with pytest.raises(SystemExit):
        kbeam.main(["--output_dir", str(tmp_path)])  # --input is required
    with pytest.raises(SystemExit) as exit_:
        kbeam.main(["--input", str(tmp_path), "--output_dir", str(tmp_path), "--format", "gif"])
    assert "unknown output format" in str(exit_.value.code)


def test_model_copy_through_beam_filesystems(tiny_model):
    """A model URI (gs://...) is copied through Beam's FileSystems before
    loading; the same code copies a local file."""
    local = beam_handler._local_copy(tiny_model)
    assert local != tiny_model and open(local, "rb").read() == open(tiny_model, "rb").read()
