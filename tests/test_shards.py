"""kcolor prepare-data (``kcolor.shards``) and reading its TFRecord shards
with ``kcolor.data``."""

import glob
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kcolor import data, shards

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _smooth(h, w, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    c = rng.uniform(0, 1, (3, 3))
    img = np.stack([c[k, 0] + c[k, 1] * yy + c[k, 2] * xx for k in range(3)], -1)
    return (np.clip(img / img.max(), 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def mixed_dir(tmp_path):
    """4 good colour photos, and one of each reason to skip a file."""
    d = tmp_path / "mixed"
    (d / "sub").mkdir(parents=True)
    Image.fromarray(_smooth(200, 300, 1)).save(d / "big.jpg", quality=90)  # resized
    Image.fromarray(_smooth(72, 80, 2)).save(d / "sub" / "small.png")  # kept, re-encoded
    Image.fromarray(_smooth(96, 96, 3)).save(d / "plain.jpg", quality=90)  # stored as is
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(_smooth(64, 100, 4)).save(d / "rotated.jpg", exif=exif)
    Image.fromarray(np.full((80, 80, 3), 120, np.uint8)).save(d / "gray.jpg")
    Image.fromarray(_smooth(30, 40, 5)).save(d / "tiny.png")
    (d / "broken.jpg").write_bytes(b"not a photo")
    whole = (d / "plain.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    return d


def _records(pattern):
    out = {}
    for path in sorted(glob.glob(pattern)):
        for r in tf.data.TFRecordDataset(path):
            f = tf.train.Example.FromString(r.numpy()).features.feature
            src = f["image/source"].bytes_list.value[0].decode()
            out[os.path.basename(src)] = {
                "shard": os.path.basename(path),
                "bytes": f["image/encoded"].bytes_list.value[0],
                "hw": (f["image/height"].int64_list.value[0], f["image/width"].int64_list.value[0]),
                "format": f["image/format"].bytes_list.value[0].decode(),
            }
    return out


def _write(source, prefix, **kw):
    lines = []
    kw.setdefault("progress", False)
    manifest = shards.write_shards(str(source), str(prefix), report=lines.append, **kw)
    return manifest, lines


def test_write_shards_stores_good_photos_and_reports_the_rest(mixed_dir, tmp_path):
    prefix = tmp_path / "out" / "train"
    manifest, lines = _write(mixed_dir, prefix, num_shards=2, size=128)
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord",
                     "train.manifest.json"]  # no temporary file left
    assert json.loads((tmp_path / "out" / "train.manifest.json").read_text()) == manifest
    assert manifest["photos"] == 4 and manifest["input_photos"] == 8
    assert [s["photos"] for s in manifest["shards"]] and sum(
        s["photos"] for s in manifest["shards"]) == 4
    assert manifest["skipped_by_reason"] == {"nearly gray": 1, "too small": 1, "unreadable": 2}

    # One line per skipped file: "PATH: reason".
    by_file = {os.path.basename(line.split(": ")[0]): line for line in lines}
    assert sorted(by_file) == ["broken.jpg", "gray.jpg", "tiny.png", "truncated.jpg"]
    assert all(len(line.splitlines()) == 1 for line in lines)
    assert by_file["gray.jpg"] == f"{mixed_dir / 'gray.jpg'}: nearly gray (colourfulness 0.00 < 2)"
    assert by_file["tiny.png"] == (f"{mixed_dir / 'tiny.png'}: too small (40x30; short side "
                                   "under 64 px)")
    assert "truncated" in by_file["truncated.jpg"]
    assert by_file["broken.jpg"].startswith(f"{mixed_dir / 'broken.jpg'}: cannot identify")

    records = _records(f"{prefix}-*.tfrecord")
    assert sorted(records) == ["big.jpg", "plain.jpg", "rotated.jpg", "small.png"]
    decoded = {k: np.asarray(Image.open(io.BytesIO(r["bytes"])).convert("RGB"))
               for k, r in records.items()}
    for k, r in records.items():
        assert decoded[k].shape[:2] == r["hw"] and r["format"] == "jpeg", k
    assert records["big.jpg"]["hw"] == (128, 192)  # short side 200 -> 128, aspect kept
    assert records["small.png"]["hw"] == (72, 80)  # smaller than 128: kept
    assert records["rotated.jpg"]["hw"] == (100, 64)  # EXIF rotation applied
    # A JPEG needing no change is stored byte for byte; the rest re-encoded.
    assert records["plain.jpg"]["bytes"] == (mixed_dir / "plain.jpg").read_bytes()
    small = np.asarray(Image.open(mixed_dir / "sub" / "small.png"))
    assert np.abs(decoded["small.png"].astype(int) - small).mean() < 2.0  # JPEG quality 95


def test_png_shards_read_exactly_like_the_folder(photo_dir, tmp_path):
    prefix = tmp_path / "png" / "val"
    manifest, lines = _write(photo_dir, prefix, num_shards=3, size=0, min_side=32, fmt="png")
    assert manifest["photos"] == 10 and len(lines) == 1 and "broken.jpg: " in lines[0]
    pattern = f"{prefix}-*.tfrecord"

    def examples(source, **kw):
        out = []
        for L, rgb in data.validation_dataset(source, size=32, batch_size=4, **kw):
            out += list(zip(np.asarray(L), np.asarray(rgb)))
        return sorted(out, key=lambda e: float(e[1].sum()))

    from_folder, from_shards = examples(str(photo_dir)), examples(pattern)
    assert len(from_folder) == len(from_shards) == 10
    for (l1, rgb1), (l2, rgb2) in zip(from_folder, from_shards):  # lossless: the same pixels
        np.testing.assert_allclose(rgb2, rgb1, atol=1e-6)
        np.testing.assert_allclose(l2, l1, atol=1e-4)
    assert len(examples(pattern, limit=3)) == 3
    assert len(examples(str(tmp_path / "png"))) == 10  # a folder holding only shards

    batches = list(data.training_dataset(pattern, batch_size=2, crop_size=32, shuffle=False,
                                         repeat=False))
    assert len(batches) == 5  # each photo once
    for L, target in batches:
        L, target = np.asarray(L), np.asarray(target)
        assert L.shape == (2, 32, 32, 1) and target.shape == (2, 8, 8, 3)
        pooled = L[..., 0].reshape(2, 8, 4, 8, 4).mean(axis=(2, 4))
        np.testing.assert_allclose(target[..., 0], pooled, atol=1e-3)


def test_list_file_input(photo_dir, tmp_path):
    listing = tmp_path / "photos.txt"
    listing.write_text(f"# a comment\n{photo_dir.name}/photo3.png\n\n{photo_dir}/photo4.jpg\n"
                       f"{photo_dir.name}/missing.jpg\n")
    manifest, lines = _write(listing, tmp_path / "list" / "train", num_shards=4, min_side=32)
    assert manifest["photos"] == 2 and len(manifest["shards"]) == 3  # capped at the input count
    assert len(lines) == 1 and lines[0].startswith(f"{photo_dir / 'missing.jpg'}: ")
    assert "No such file" in lines[0]
    assert sorted(_records(str(tmp_path / "list" / "train-*.tfrecord"))) == ["photo3.png",
                                                                             "photo4.jpg"]


def test_existing_shards_need_overwrite_and_stale_ones_go(photo_dir, tmp_path):
    prefix = tmp_path / "o" / "train"
    _write(photo_dir, prefix, num_shards=3, min_side=32)
    with pytest.raises(FileExistsError, match="train-00000-of-00003.tfrecord.*--overwrite"):
        _write(photo_dir, prefix, num_shards=2, min_side=32)
    manifest, _ = _write(photo_dir, prefix, num_shards=2, min_side=32, overwrite=True)
    assert sorted(os.listdir(tmp_path / "o")) == [
        "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord", "train.manifest.json"]
    assert manifest["photos"] == 10


def test_killed_run_leaves_only_whole_shards(photo_dir, tmp_path, monkeypatch):
    real, calls = shards.prepare_photo, []

    def killed_at_8th_photo(path, **kw):
        calls.append(path)
        if len(calls) == 8:
            raise KeyboardInterrupt
        return real(path, **kw)

    monkeypatch.setattr(shards, "prepare_photo", killed_at_8th_photo)
    prefix = tmp_path / "k" / "train"
    with pytest.raises(KeyboardInterrupt):  # 11 files in 3 shards of 4, 4, 3
        _write(photo_dir, prefix, num_shards=3, min_side=32, workers=1)
    assert os.listdir(tmp_path / "k") == ["train-00000-of-00003.tfrecord"]  # no manifest either
    assert len(_records(f"{prefix}-*.tfrecord")) + ("broken.jpg" in calls[:4]) == 4


def test_worker_parts_are_disjoint_and_complete(photo_dir, tmp_path):
    prefix = tmp_path / "w" / "train"
    _write(photo_dir, prefix, num_shards=4, min_side=32)
    _, files = data.resolve(f"{prefix}-*.tfrecord")
    assert len(files) == 4

    def photos(workers, index):
        ds = data._shard_images(files, False, False, None, workers, index, 16, 8)
        return [np.asarray(im).tobytes() for im in ds]

    for workers in (2, 3, 5):  # whole files (2, 3 workers); every 5th record (5 > 4 files)
        parts = [photos(workers, i) for i in range(workers)]
        every = [p for part in parts for p in part]
        assert len(every) == len(set(every)) == 10, workers
        assert all(parts), workers


def test_seeded_shard_reading_repeats_itself(photo_dir, tmp_path):
    prefix = tmp_path / "s" / "train"
    _write(photo_dir, prefix, num_shards=3, min_side=32)
    _, files = data.resolve(f"{prefix}-*.tfrecord")

    def order(seed):  # the photos of 2 passes (a seed only fixes the shuffles)
        ds = data._shard_images(files, True, True, seed, 1, 0, 4, 2)
        return [np.asarray(im).tobytes() for im, _ in zip(ds, range(20))]

    first = order(7)
    assert order(7) == first
    assert len(set(first)) == 10  # every photo, repeated
    assert order(8) != first


def test_bad_sources_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-\\*.tfrecord: no shard files match"):
        data.training_dataset(str(tmp_path / "nothing-*.tfrecord"))
    other = tmp_path / "other.tfrecord"
    with tf.io.TFRecordWriter(str(other)) as w:
        w.write(tf.train.Example(features=tf.train.Features(feature={"label": tf.train.Feature(
            int64_list=tf.train.Int64List(value=[1]))})).SerializeToString())
    with pytest.raises(ValueError, match="other.tfrecord: not a kcolor shard"):
        data.validation_dataset(str(other))
    with pytest.raises(FileNotFoundError, match="nowhere: no such folder or list file"):
        shards.write_shards(str(tmp_path / "nowhere"), str(tmp_path / "x" / "t"))
    with pytest.raises(ValueError, match="is a folder; give a file prefix"):
        shards.write_shards(str(tmp_path), str(tmp_path))


def test_prepare_data_command(photo_dir, tmp_path):
    out = tmp_path / "cli" / "train"
    cmd = [sys.executable, "-m", "kcolor", "prepare-data", f"--input={photo_dir}",
           f"--output={out}", "--num_shards=2", "--min_side=32"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"10 photos in 2 shards {out}-*-of-00002.tfrecord" in r.stdout
    assert "skipped 1: 1 unreadable" in r.stdout
    assert f"{photo_dir / 'broken.jpg'}: cannot identify image file" in r.stderr
    r = subprocess.run([sys.executable, "-m", "kcolor", "prepare-data", "--input=/no/such/dir",
                        f"--output={out}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == ("kcolor prepare-data: /no/such/dir: no such "
                                                 "folder or list file")
