"""tf.data pipelines on a folder of tiny photos (with one broken file)."""

import logging

import numpy as np
import pytest
from PIL import Image
from conftest import ref_rgb_to_lab

from kcolor import data, imageio


def _all(ds):
    return [tuple(np.asarray(t) for t in batch) for batch in ds]


def test_list_images_is_recursive_and_sorted(photo_dir):
    paths = data.list_images(str(photo_dir))
    assert len(paths) == 11  # 10 photos (3 in sub/) and broken.jpg
    assert paths == sorted(paths)
    assert sum("/sub/" in p for p in paths) == 3


def test_training_dataset_shapes_ranges_and_broken_file(photo_dir, caplog):
    caplog.set_level(logging.WARNING)
    ds = data.training_dataset(str(photo_dir), batch_size=2, crop_size=32, shuffle=False, repeat=False)
    batches = _all(ds)
    # All 10 good photos, once: 5 batches of 2; broken.jpg is skipped.
    assert len(batches) == 5
    for L, target in batches:
        assert L.shape == (2, 32, 32, 1) and L.dtype == np.float32
        assert target.shape == (2, 8, 8, 3)
        assert L.min() >= 0.0 and L.max() <= 100.0
        # The target's L is the 4 x 4 average of the input L.
        pooled = L[..., 0].reshape(2, 8, 4, 8, 4).mean(axis=(2, 4))
        np.testing.assert_allclose(target[..., 0], pooled, atol=1e-3)
        assert np.abs(target[..., 1:]).max() < 130
    # The photos are colourful: the targets carry colour.
    assert max(np.abs(t[..., 1:]).max() for _, t in batches) > 10
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("broken.jpg" in m for m in messages), messages
    assert not any(f"photo{i}." in m for m in messages for i in range(10)), messages


def test_training_dataset_target_matches_the_photo(tmp_path):
    # One photo exactly the crop size with a flip-symmetric pattern: the crop
    # and the flip leave it unchanged, so the target is its pooled Lab.
    rng = np.random.default_rng(0)
    half = rng.integers(0, 256, (32, 16, 3), dtype=np.uint8)
    img = np.concatenate([half, half[:, ::-1]], 1)
    folder = tmp_path / "one"
    folder.mkdir()
    Image.fromarray(img).save(folder / "a.png")
    (L, target), = _all(data.training_dataset(str(folder), batch_size=1, crop_size=32,
                                              shuffle=False, repeat=False))
    lab = ref_rgb_to_lab(img / 255.0)
    np.testing.assert_allclose(L[0, ..., 0], lab[..., 0], atol=2e-3)
    pooled = lab.reshape(8, 4, 8, 4, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(target[0], pooled, atol=2e-3)


def test_training_dataset_repeats(photo_dir):
    ds = data.training_dataset(str(photo_dir), batch_size=4, crop_size=16, seed=1)
    batches = [b for _, b in zip(range(4), ds)]  # 16 examples from 10 photos
    assert len(batches) == 4


def test_validation_dataset(photo_dir):
    ds = data.validation_dataset(str(photo_dir), size=16, batch_size=4)
    batches = _all(ds)
    assert [len(L) for L, _ in batches] == [4, 4, 2]  # 10 good photos, file order
    for L, rgb in batches:
        assert L.shape[1:] == (16, 16, 1) and rgb.shape[1:] == (16, 16, 3)
        assert rgb.min() >= 0.0 and rgb.max() <= 1.0
        np.testing.assert_allclose(L[..., 0], ref_rgb_to_lab(rgb)[..., 0], atol=2e-3)
    # The first good file in sorted order is photo3.png (48 x 40, no resize
    # needed): its 16 x 16 centre crop starts at row 16, column 12.
    photo = np.asarray(Image.open(photo_dir / "photo3.png").convert("RGB")) / 255.0
    np.testing.assert_allclose(batches[0][1][0], photo[16:32, 12:28], atol=1e-4)


def test_validation_dataset_upscales_small_photos(photo_dir):
    ((L, rgb),) = _all(data.validation_dataset(str(photo_dir), size=64, batch_size=16, limit=3))
    assert L.shape == (2, 64, 64, 1) and rgb.shape == (2, 64, 64, 3)  # broken.jpg among the 3


@pytest.mark.parametrize("size", [30, 12, 100])
def test_size_not_divisible_by_8_raises(photo_dir, size):
    with pytest.raises(ValueError, match="divisible by 8"):
        data.training_dataset(str(photo_dir), crop_size=size)
    with pytest.raises(ValueError, match="divisible by 8"):
        data.validation_dataset(str(photo_dir), size=size)


def test_empty_folder_raises_naming_it(tmp_path):
    empty = tmp_path / "empty_photos"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a photo")
    for make in (data.training_dataset, data.validation_dataset):
        with pytest.raises(FileNotFoundError, match="empty_photos"):
            make(str(empty))
    with pytest.raises(FileNotFoundError, match="missing_folder"):
        data.training_dataset(str(tmp_path / "missing_folder"))


def test_read_rgb(photo_dir):
    img = imageio.read_rgb(str(photo_dir / "photo4.jpg"))
    assert img.shape == (48, 40, 3) and img.dtype == np.uint8
    with pytest.raises(imageio.ImageReadError, match="broken.jpg"):
        imageio.read_rgb(str(photo_dir / "broken.jpg"))


def test_scale_augmentation_enlarges_before_the_crop(tmp_path):
    """A 32-px photo, left half red and right half blue, cropped at 32: without
    scale augmentation every crop is the whole photo (both colours, half each);
    with max_scale=4 the photo is enlarged first, so crops hold unequal parts
    and some only one colour."""
    folder = tmp_path / "halves"
    folder.mkdir()
    img = np.zeros((32, 32, 3), np.uint8)
    img[:, :16] = (220, 30, 30)
    img[:, 16:] = (30, 30, 220)
    Image.fromarray(img).save(folder / "halves.png")

    def red_fractions(max_scale):
        ds = data.training_dataset(str(folder), 1, 32, seed=1, target_stride=4,
                                   max_scale=max_scale)
        out = []
        for L, target in ds.take(24):
            b = target.numpy()[0, ..., 2]  # Lab b > 0: this red, b < 0: this blue
            out.append(float((b > 0).mean()))
        return np.array(out)

    plain = red_fractions(1.0)
    np.testing.assert_allclose(plain, 0.5, atol=1 / 8 + 1e-6)  # whole photo (one blurred column)
    scaled = red_fractions(4.0)
    assert scaled.std() > 0.2  # crops of an enlarged photo: unequal parts
    assert ((scaled == 0) | (scaled == 1)).any()  # and some of a single colour
    with pytest.raises(ValueError, match="max_scale must be >= 1"):
        data.training_dataset(str(folder), 1, 32, max_scale=0.5)
