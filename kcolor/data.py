"""``tf.data`` pipelines from a folder of colour photos to (L, Lab target).

Training examples: decode (Pillow, in parallel; a file that fails is skipped
with a warning naming it), resize so the short side covers the crop (and,
with ``max_scale`` > 1, by a further random factor in [1, max_scale]: objects
seen larger than the photo holds them, as a model working at a larger size
than the photo's sees them), random crop and horizontal flip, sRGB → Lab (``kcolor.color`` run on tf ops), then

* input ``L`` [crop, crop, 1] (0-100),
* target Lab [crop/s, crop/s, 3]: the image's Lab average-pooled to the
  model's output resolution (``target_stride`` s: 4 for the Zhang-style
  net and the default U-Net).

Validation examples keep full resolution: (L [s, s, 1], RGB [s, s, 3]) from a
centre crop, for the metrics in ``kcolor.training``.

Both take a photo folder or TFRecord shards from ``kcolor prepare-data``
(``kcolor.shards``): a pattern such as ``data/train-*.tfrecord`` (any path
``tf.io.gfile.glob`` reads, ``gs://`` included), one ``.tfrecord`` file, or
a folder holding ``.tfrecord`` files and no photos. Shards are read with
``interleave`` over ``cycle_length`` files at once, a shuffle buffer of
``shuffle_buffer`` encoded records and ``tf.io.decode_image``; the crop and
Lab steps are the folder's. ``num_workers``/``worker_index`` (or a
``tf.distribute.InputContext``) give each worker its own part: whole shard
files when there are at least as many shards as workers, every
``num_workers``-th record otherwise.
"""

import glob
import os

import numpy as np
import tensorflow as tf
from absl import logging

from kcolor import color, imageio, models

tnp = tf.experimental.numpy
AUTOTUNE = tf.data.AUTOTUNE


list_images = imageio.list_images  # sorted image paths below a folder (recursive)


spread = imageio.spread  # ``limit`` paths spread evenly over a list


def _decode_or_empty(path):
    path = path.decode() if isinstance(path, bytes) else str(path)
    try:
        return imageio.read_rgb(path)
    except imageio.ImageReadError as e:
        logging.warning("skipping unreadable photo %s", e)
        return np.zeros((0, 0, 3), np.uint8)


def _decode(path):
    img = tf.numpy_function(_decode_or_empty, [path], tf.uint8, stateful=False)
    img.set_shape([None, None, 3])
    return img


def _is_valid(img):
    return tf.reduce_all(tf.shape(img)[:2] > 0)


def _cover(img, size, extra_scale=1.0):
    """Resizes so that both sides are >= size (keeps aspect), then by ``extra_scale``."""
    hw = tf.cast(tf.shape(img)[:2], tf.float32)
    scale = tf.maximum(1.0, tf.reduce_max(size / hw)) * extra_scale
    new = tf.cast(tf.math.ceil(hw * scale), tf.int32)
    return tf.image.resize(tf.cast(img, tf.float32) / 255.0, new, antialias=True)


def _lab(rgb):
    return color.rgb_to_lab(rgb, tnp)


def _train_example(img, crop, target_stride=models.OUTPUT_STRIDE, max_scale=1.0):
    extra = 1.0 if max_scale <= 1.0 else tf.random.uniform([], 1.0, max_scale)
    rgb = tf.image.random_crop(_cover(img, crop, extra), [crop, crop, 3])
    rgb = tf.image.random_flip_left_right(rgb)
    lab = _lab(tf.clip_by_value(rgb, 0.0, 1.0))
    s = target_stride
    target = tf.nn.avg_pool2d(lab[None], s, s, "VALID")[0]
    return lab[..., :1], target


def _val_example(img, size, squash=False):
    if squash:  # the colorization literature's protocol: resize to size x size
        img = tf.image.resize(tf.cast(img, tf.float32) / 255.0, [size, size], antialias=True)
    else:
        img = tf.image.resize_with_crop_or_pad(_cover(img, size), size, size)
    rgb = tf.clip_by_value(img, 0.0, 1.0)
    return _lab(rgb)[..., :1], rgb


def _check_size(size):
    if size % models.STRIDE_MULTIPLE:
        raise ValueError(f"crop size {size} must be divisible by {models.STRIDE_MULTIPLE}")


SHARD_SUFFIX = ".tfrecord"
_FEATURES = {"image/encoded": tf.io.FixedLenFeature([], tf.string)}


def resolve(source):
    """("photos", image paths) for a photo folder, ("shards", TFRecord files)
    for a shard pattern, a ``.tfrecord`` file or a folder of shards. Several
    sources of one kind may be joined with commas (``train,people_places/train``).

    Raises:
      FileNotFoundError: ``SOURCE: reason``.
    """
    source = os.fspath(source)
    if "," in source and not os.path.exists(source):
        parts = [resolve(part) for part in source.split(",") if part]
        kinds = {kind for kind, _ in parts}
        if len(kinds) > 1:
            raise ValueError(f"{source}: mixes photo folders and shards; use one kind")
        return kinds.pop(), sorted(f for _, files in parts for f in files)
    if os.path.isdir(source):
        try:
            return "photos", list_images(source)
        except FileNotFoundError:
            shards = sorted(glob.glob(os.path.join(glob.escape(source), "*" + SHARD_SUFFIX)))
            if shards:
                _check_shard(shards)
                return "shards", shards
            raise
    if any(c in source for c in "*?[") or source.endswith(SHARD_SUFFIX):
        files = sorted(tf.io.gfile.glob(source))
        if not files:
            raise FileNotFoundError(f"{source}: no shard files match")
        _check_shard(files)
        return "shards", files
    return "photos", list_images(source)  # raises "SOURCE: not a folder"


def _check_shard(files):
    """Raises ValueError naming the file when the first record of the shards
    is not a kcolor photo record (e.g. TFRecords of another program)."""
    for record in tf.data.TFRecordDataset(files[:8]).take(1):
        example = tf.train.Example.FromString(record.numpy())
        if "image/encoded" not in example.features.feature:
            raise ValueError(f"{files[0]}: not a kcolor shard (records have no "
                             "'image/encoded'; write shards with kcolor prepare-data)")


def _decode_named_record(record):
    """(uint8 RGB photo, its ``image/source``, empty where absent) of a shard record."""
    feats = tf.io.parse_single_example(record, {
        **_FEATURES, "image/source": tf.io.FixedLenFeature([], tf.string, default_value="")})
    img = tf.io.decode_image(feats["image/encoded"], channels=3, expand_animations=False)
    img.set_shape([None, None, 3])
    return img, feats["image/source"]


def _decode_record(record):
    return _decode_named_record(record)[0]


def _worker_part(num_workers, worker_index, input_context):
    if input_context is not None:
        num_workers, worker_index = (input_context.num_input_pipelines,
                                     input_context.input_pipeline_id)
    if not 0 <= worker_index < num_workers:
        raise ValueError(f"worker_index {worker_index} is not in [0, {num_workers})")
    return num_workers, worker_index


def _shard_images(files, shuffle, repeat, seed, num_workers, worker_index, shuffle_buffer,
                  cycle_length):
    """Decoded uint8 photos of TFRecord ``files``, this worker's part."""
    deterministic = seed is not None or not shuffle
    if num_workers > len(files):  # too few files to split: every num_workers-th record
        ds = tf.data.TFRecordDataset(files).shard(num_workers, worker_index)
        if repeat:
            ds = ds.repeat()
    else:
        files = files[worker_index::num_workers]
        ds = tf.data.Dataset.from_tensor_slices(files)
        if shuffle:
            ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(cycle_length, len(files)),
                           num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return ds.map(_decode_record, num_parallel_calls=AUTOTUNE,
                  deterministic=deterministic).ignore_errors(log_warning=True)


def training_dataset(source, batch_size=16, crop_size=128, shuffle=True, repeat=True, seed=None,
                     num_workers=1, worker_index=0, input_context=None, shuffle_buffer=2048,
                     cycle_length=8, target_stride=models.OUTPUT_STRIDE, max_scale=1.0):
    """Batched (L, Lab target) for ``model.fit``; see the module docstring.

    ``source`` is a photo folder or shards; ``batch_size`` is this worker's
    batch (under one-process ``tf.distribute`` or ``keras.distribution``,
    the global batch: they split it). With shards and ``seed=None`` the
    interleave is non-deterministic (faster); a seed makes it reproducible.
    ``target_stride`` is the model's output stride (4 for the Zhang-style
    net and the default U-Net; ``kcolor.models.output_stride``). ``max_scale``
    > 1: each photo is enlarged by a random factor in [1, max_scale] before
    the crop (scale augmentation).
    """
    _check_size(crop_size)
    if max_scale < 1.0:
        raise ValueError(f"max_scale must be >= 1, got {max_scale}")
    num_workers, worker_index = _worker_part(num_workers, worker_index, input_context)
    kind, files = resolve(source)
    if kind == "shards":
        ds = _shard_images(files, shuffle, repeat, seed, num_workers, worker_index,
                           shuffle_buffer, cycle_length)
    else:
        files = files[worker_index::num_workers]
        if not files:
            raise ValueError(f"{source}: fewer photos than the {num_workers} workers")
        ds = tf.data.Dataset.from_tensor_slices(files)
        if shuffle:
            ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.map(_decode, num_parallel_calls=AUTOTUNE)
    ds = ds.filter(_is_valid)
    ds = ds.map(lambda im: _train_example(im, crop_size, target_stride, max_scale),
                num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def _spread_records(ds, limit):
    """``limit`` records spread evenly over ``ds`` (as ``spread`` does paths)."""
    if not limit:
        return ds
    n = int(ds.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))
    if limit >= n:
        return ds
    keep = np.zeros(n, bool)
    keep[[i * n // limit for i in range(limit)]] = True
    keep = tf.constant(keep)
    return ds.enumerate().filter(lambda i, _: keep[i]).map(lambda _, record: record)


def validation_dataset(source, size=128, batch_size=32, limit=None, squash=False,
                       with_names=False):
    """Batched (L, RGB) at ``size`` x ``size`` (centre crop, or the whole photo
    resized when ``squash``), in file order (shards: sorted shard files, each
    in its order); ``limit`` photos spread evenly over the set.

    ``with_names``: batches of (L, RGB, name), name (bytes) the photo's path,
    or for shards the record's ``image/source`` (empty where it has none)."""
    _check_size(size)
    kind, files = resolve(source)
    if kind == "shards":
        records = _spread_records(tf.data.TFRecordDataset(files), limit)
        decode = _decode_named_record if with_names else _decode_record
        ds = records.map(decode, num_parallel_calls=AUTOTUNE).ignore_errors(log_warning=True)
    else:
        paths = spread(files, limit)
        decode = (lambda p: (_decode(p), p)) if with_names else _decode
        ds = tf.data.Dataset.from_tensor_slices(paths).map(decode, num_parallel_calls=AUTOTUNE)
    ds = ds.filter(lambda im, *name: _is_valid(im)).map(
        lambda im, *name: (*_val_example(im, size, squash), *name), num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size).prefetch(AUTOTUNE)
