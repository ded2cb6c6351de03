"""``tf.data`` pipelines from a folder of colour photos to (L, Lab target).

Training examples: decode (Pillow, in parallel; a file that fails is skipped
with a warning naming it), resize so the short side covers the crop, random
crop and horizontal flip, sRGB → Lab (``kcolor.color`` run on tf ops), then

* input ``L`` [crop, crop, 1] (0-100),
* target Lab [crop/4, crop/4, 3]: the image's Lab average-pooled to the
  model's output resolution (``kcolor.models.OUTPUT_STRIDE``).

Validation examples keep full resolution: (L [s, s, 1], RGB [s, s, 3]) from a
centre crop, for the metrics in ``kcolor.training``.
"""

import os

import numpy as np
import tensorflow as tf
from absl import logging

from kcolor import color, imageio, models

tnp = tf.experimental.numpy
AUTOTUNE = tf.data.AUTOTUNE


def list_images(folder):
    """Sorted image paths below ``folder`` (recursive)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: not a folder")
    paths = []
    for root, _, files in os.walk(folder):
        paths += [os.path.join(root, f) for f in files if f.lower().endswith(imageio.EXTENSIONS)]
    if not paths:
        raise FileNotFoundError(f"{folder}: no images ({', '.join(imageio.EXTENSIONS)})")
    return sorted(paths)


def spread(paths, limit):
    """``limit`` paths spread evenly over ``paths`` (all of them if None)."""
    if not limit or limit >= len(paths):
        return paths
    return [paths[i * len(paths) // limit] for i in range(limit)]


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


def _cover(img, size):
    """Resizes so that both sides are >= size (keeps aspect)."""
    hw = tf.cast(tf.shape(img)[:2], tf.float32)
    scale = tf.maximum(1.0, tf.reduce_max(size / hw))
    new = tf.cast(tf.math.ceil(hw * scale), tf.int32)
    return tf.image.resize(tf.cast(img, tf.float32) / 255.0, new, antialias=True)


def _lab(rgb):
    return color.rgb_to_lab(rgb, tnp)


def _train_example(img, crop):
    rgb = tf.image.random_crop(_cover(img, crop), [crop, crop, 3])
    rgb = tf.image.random_flip_left_right(rgb)
    lab = _lab(tf.clip_by_value(rgb, 0.0, 1.0))
    s = models.OUTPUT_STRIDE
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


def training_dataset(folder, batch_size=16, crop_size=128, shuffle=True, repeat=True, seed=None):
    """Batched (L, Lab target) for ``model.fit``; see the module docstring."""
    _check_size(crop_size)
    paths = list_images(folder)
    ds = tf.data.Dataset.from_tensor_slices(paths)
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(_decode, num_parallel_calls=AUTOTUNE).filter(_is_valid)
    ds = ds.map(lambda im: _train_example(im, crop_size), num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def validation_dataset(folder, size=128, batch_size=32, limit=None, squash=False):
    """Batched (L, RGB) at ``size`` x ``size`` (centre crop, or the whole photo
    resized when ``squash``), in file order; ``limit`` photos spread evenly
    over the folder."""
    _check_size(size)
    paths = spread(list_images(folder), limit)
    ds = tf.data.Dataset.from_tensor_slices(paths).map(_decode, num_parallel_calls=AUTOTUNE)
    ds = ds.filter(_is_valid).map(lambda im: _val_example(im, size, squash),
                                  num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size).prefetch(AUTOTUNE)
