"""kcolor.packed: photos packed into .npz shards and read back without TensorFlow."""

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from conftest import KNOWN_COLOURS, ref_rgb_to_lab

from kcolor import data, imageio, packed


def test_pack_keeps_every_readable_photo_byte_for_byte(photo_dir, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    shards = packed.pack([str(photo_dir)], str(tmp_path / "shards"))
    assert [os.path.basename(s) for s in shards] == ["photos-00000.npz"]
    photos = packed.Photos(str(tmp_path / "shards"))
    good = [p for p in data.list_images(str(photo_dir)) if not p.endswith("broken.jpg")]
    assert len(photos) == len(good) == 10
    for i, path in enumerate(good):
        assert photos.name(i) == os.path.basename(path)
        np.testing.assert_array_equal(photos[i], imageio.read_rgb(path))
    assert any("broken.jpg" in r.getMessage() for r in caplog.records)


def test_names_survive_as_utf8_and_older_shards_still_read(tmp_path):
    (tmp_path / "p").mkdir()
    names = ["café_été.png", "東京.png", "plain.png"]
    for k, name in enumerate(names):
        Image.fromarray(np.full((8, 8, 3), 40 * k, np.uint8)).save(tmp_path / "p" / name)
    shard, = packed.pack([str(tmp_path / "p")], str(tmp_path / "s"))
    with np.load(shard) as z:
        stored = {k: z[k] for k in z.files}
    assert stored["names"].dtype == np.uint8
    assert stored["names"].tobytes().count(b"\0") == 3
    photos = packed.Photos(shard)
    assert sorted(photos.name(i) for i in range(3)) == sorted(names)
    # A shard written before names became bytes held them as NumPy text.
    old = str(tmp_path / "old.npz")
    np.savez(old, data=stored["data"], offsets=stored["offsets"],
             names=np.array([photos.name(i) for i in range(3)]))
    again = packed.Photos(old)
    assert [again.name(i) for i in range(3)] == [photos.name(i) for i in range(3)]
    np.testing.assert_array_equal(again[1], photos[1])
    np.savez(old, data=stored["data"], offsets=stored["offsets"], names=np.array(["one"]))
    with pytest.raises(ValueError, match="1 names for 3 photos"):
        packed.Photos(old)


def test_pack_splits_into_shards_under_the_size_limit_and_shuffles(photo_dir, tmp_path):
    sizes = [os.path.getsize(p) for p in data.list_images(str(photo_dir))
             if not p.endswith("broken.jpg")]
    limit_mb = 2.5 * max(sizes) / 1e6  # two or three photos a shard
    shards = packed.pack([str(photo_dir)], str(tmp_path / "s"), shard_mb=limit_mb,
                         shuffle_seed=3)
    assert len(shards) >= 4
    for s in shards:
        with np.load(s) as z:
            assert 1 <= len(z["offsets"]) - 1 <= 3
            assert len(z["data"]) <= limit_mb * 1e6
            assert z["offsets"][-1] == len(z["data"])
    together = packed.Photos(",".join(shards))
    listed = [os.path.basename(p) for p in data.list_images(str(photo_dir))
              if not p.endswith("broken.jpg")]
    names = [together.name(i) for i in range(len(together))]
    assert sorted(names) == sorted(listed)
    assert names != listed  # shuffled: shards sample the whole folder
    assert not [f for f in os.listdir(tmp_path / "s") if ".part" in f]


def test_pack_reencodes_at_a_quality_and_refuses_a_packed_folder(photo_dir, tmp_path):
    own = packed.pack([str(photo_dir)], str(tmp_path / "own"))
    small = packed.pack([str(photo_dir)], str(tmp_path / "q"), quality=20)
    assert os.path.getsize(small[0]) < os.path.getsize(own[0])
    a, b = packed.Photos(own[0]), packed.Photos(small[0])
    for i in range(len(a)):
        x, y = a[i].astype(np.float64), b[i].astype(np.float64)
        assert x.shape == y.shape
        assert 0 < np.abs(x - y).mean() < 12  # a JPEG of the same photo, coarser
    with pytest.raises(FileExistsError, match="already holds packed shards"):
        packed.pack([str(photo_dir)], str(tmp_path / "q"))


def test_pack_refuses_a_folder_without_photos(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: no images"):
        packed.pack([str(tmp_path / "empty")], str(tmp_path / "out"))
    with pytest.raises(FileNotFoundError, match="no packed photo shards"):
        packed.Photos(str(tmp_path / "empty"))


@pytest.mark.parametrize("name", ["red", "green", "blue"])
def test_training_target_of_a_flat_photo_is_its_lab(tmp_path, name):
    rgb, lab = KNOWN_COLOURS[name]
    img = np.tile(np.array(rgb, np.float64) * 255, (40, 60, 1)).astype(np.uint8)
    (tmp_path / "p").mkdir()
    Image.fromarray(img).save(tmp_path / "p" / "flat.png")
    packed.pack([str(tmp_path / "p")], str(tmp_path / "s"))
    ds = packed.PackedPhotos(str(tmp_path / "s"), batch_size=1, crop_size=32, target_stride=4,
                             max_scale=2.0, seed=1)
    L, target = ds[0]
    assert L.shape == (1, 32, 32, 1) and target.shape == (1, 8, 8, 3)
    np.testing.assert_allclose(L[..., 0], lab[0], atol=0.05)
    np.testing.assert_allclose(target[0], np.broadcast_to(lab, (8, 8, 3)), atol=0.1)


def test_training_example_matches_the_tf_data_pipeline(tmp_path):
    # A photo of exactly the crop size, flip-symmetric: crop and flip leave it
    # as it is, so both pipelines must give its Lab, pooled 4 x 4.
    rng = np.random.default_rng(0)
    half = rng.integers(0, 256, (32, 16, 3), dtype=np.uint8)
    img = np.concatenate([half, half[:, ::-1]], 1)
    L, target = packed.train_example(img, 32, 4, rng=np.random.default_rng(5))
    ref = ref_rgb_to_lab(img / 255.0)
    np.testing.assert_allclose(L[..., 0], ref[..., 0], atol=0.02)
    np.testing.assert_allclose(target, ref.reshape(8, 4, 8, 4, 3).mean(axis=(1, 3)), atol=0.05)
    (tmp_path / "p").mkdir()
    Image.fromarray(img).save(tmp_path / "p" / "sym.png")
    tf_L, tf_target = next(iter(data.training_dataset(str(tmp_path / "p"), batch_size=1,
                                                      crop_size=32, shuffle=False, repeat=False)))
    np.testing.assert_allclose(L, np.asarray(tf_L)[0], atol=0.02)
    np.testing.assert_allclose(target, np.asarray(tf_target)[0], atol=0.05)


def test_the_stream_is_reproducible_and_reshuffled_each_pass(photo_dir, tmp_path):
    packed.pack([str(photo_dir)], str(tmp_path / "s"))
    make = lambda: packed.PackedPhotos(str(tmp_path / "s"), batch_size=5, crop_size=32,  # noqa
                                       max_scale=2.0, seed=4)
    a, b = make(), make()
    assert a.num_batches is None and a.batches_per_pass == 2
    for i in range(4):
        np.testing.assert_array_equal(a[i][1], b[i][1])
    first, second = a.order(0), a.order(1)
    assert not np.array_equal(first, second)
    assert sorted(first) == sorted(second) == list(range(10))
    with pytest.raises(ValueError, match="workers must be at least 2"):
        packed.PackedPhotos(str(tmp_path / "s"), batch_size=5, workers=1)
    # A resumed run's stream goes on where the killed one left off.
    resumed = packed.PackedPhotos(str(tmp_path / "s"), batch_size=5, crop_size=32,
                                  max_scale=2.0, seed=4, start=3)
    np.testing.assert_array_equal(resumed[0][1], a[3][1])
    np.testing.assert_array_equal(resumed[0][0], a[3][0])


def test_fit_numbers_the_stream_across_epochs(photo_dir, tmp_path):
    # With an endless stream Keras keeps counting batches from one epoch to
    # the next: three epochs of two steps see batches 0 to 5, each once.
    import keras

    packed.pack([str(photo_dir)], str(tmp_path / "s"))
    seen = []

    class Recording(packed.PackedPhotos):
        def __getitem__(self, i):
            seen.append(int(i))
            return super().__getitem__(i)

    ds = Recording(str(tmp_path / "s"), batch_size=2, crop_size=32, seed=0, max_queue_size=1)
    model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.AveragePooling2D(4),
                              keras.layers.Conv2D(3, 1)])
    model.compile("sgd", "mse")
    model.fit(ds, epochs=3, steps_per_epoch=2, verbose=0)
    # (Keras looks at the first batches once before training: 0 and 1 may
    # come twice.) Restarted epochs would ask for 2 and 3 again.
    assert set(range(6)) <= set(seen), seen
    assert all(seen.count(i) == 1 for i in seen if i >= 2), seen


def test_validation_batches_are_centre_crops(tmp_path):
    img = np.zeros((48, 80, 3), np.uint8)
    img[:, 24:56] = (255, 0, 0)  # a red band, 32 px wide, in the middle
    (tmp_path / "v").mkdir()
    Image.fromarray(img).save(tmp_path / "v" / "band.png")
    packed.pack([str(tmp_path / "v")], str(tmp_path / "s"))
    (L, rgb), = packed.validation_batches(str(tmp_path / "s"), size=32)
    assert L.shape == (1, 32, 32, 1) and rgb.shape == (1, 32, 32, 3)
    np.testing.assert_allclose(rgb[0, :, 4:28], np.broadcast_to([1.0, 0, 0], (32, 24, 3)),
                               atol=1e-3)
    np.testing.assert_allclose(L[0, 16, 16, 0], KNOWN_COLOURS["red"][1][0], atol=0.05)


def test_packed_reader_imports_no_tensorflow():
    code = ("import sys; import kcolor.packed, kcolor.training; "
            "print('tensorflow' in sys.modules)")
    env = dict(os.environ, KERAS_BACKEND="jax")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
