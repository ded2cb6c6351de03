"""``tf.data`` pipelines with boxes, for the instance-aware recipes.

Boxes of the training photos come from a boxes file (``kcolor.instance.boxes``
format, usually written by ``python -m kcolor.instance.detect_folder`` with
``--units=normalized``), keyed by the photo's path relative to the folder;
photos it does not list have no detected boxes. Random boxes (sides 20-70 %
of the photo) augment them.

* ``fusion_dataset``: ((L [c, c, 1], boxes [K, 4], valid [K]), Lab [c/4, c/4, 3])
  for stage 3: a random crop and flip of the photo as ``kcolor.data``, the
  detected boxes moved with it (a box left with under 30 % of its area, or
  thinner than 4 % of the crop, is dropped), then each free slot gets a
  random box with probability ``random_prob``.
* ``crops_dataset``: (L [c, c, 1], Lab [c/4, c/4, 3]) for stage 2: one box
  a photo (a detected one with probability ``detected_prob`` when the photo
  has any, else a random one), cropped and resized to ``c`` x ``c`` exactly
  as the model's ``CropBoxes`` does (antialiased bilinear).
* ``validation_dataset``: ((L, boxes, valid), RGB) of centre crops, detected
  boxes only.
"""

import os

import numpy as np
import tensorflow as tf

from kcolor import data, models
from kcolor.instance import boxes as boxes_lib

AUTOTUNE = tf.data.AUTOTUNE
MAX_DETECTED = 16  # detected boxes kept a photo before cropping


def load_boxes(path, folder, paths, max_boxes=MAX_DETECTED):
    """(boxes [n, max_boxes, 4] normalised, valid [n, max_boxes]) for ``paths``
    (photos below ``folder``) from boxes file ``path``; None → no boxes.
    Pixel units are converted with each photo's upright size (read from its
    header, sides swapped when its EXIF orientation turns it by 90°, as the
    decoded pixels are)."""
    n = len(paths)
    out = np.zeros((n, max_boxes, 4), np.float32)
    valid = np.zeros((n, max_boxes), np.float32)
    if not path:
        return out, valid
    f = boxes_lib.BoxesFile(path)
    for i, p in enumerate(paths):
        rel = os.path.relpath(p, folder)
        key, items = f.lookup(rel, os.path.basename(p))
        if not items:
            continue
        if f.units == "pixels":
            from kcolor import imageio

            w, h = imageio.upright_size(p)
        else:
            w = h = 1
        b, s = f.for_photo(w, h, key)
        out[i], valid[i] = boxes_lib.pad(b, max_boxes, s)
    return out, valid


def interpolation_matrix(start, end, n_out, n_in):
    """TensorFlow twin of ``fusion.interpolation_matrix`` (crop direction)
    for ``tf.data`` maps, which must not depend on the Keras backend."""
    start = tf.cast(start, tf.float32)[..., None]
    end = tf.cast(end, tf.float32)[..., None]
    n_out_f, n_in_f = tf.cast(n_out, tf.float32), tf.cast(n_in, tf.float32)
    o = tf.range(n_out_f)
    span = tf.maximum(end - start, 1e-6)
    p = (start + (o + 0.5) / n_out_f * span) * n_in_f - 0.5
    scale = tf.maximum(span * n_in_f / n_out_f, 1.0)
    i = tf.range(n_in_f)
    w = tf.nn.relu(1.0 - tf.abs(p[..., None] - i) / scale[..., None])
    return w / tf.maximum(tf.reduce_sum(w, -1, keepdims=True), 1e-12)


def crop_box(image, box, size):
    """[H, W, C] and a normalised (x0, y0, x1, y1) box → [size, size, C]."""
    shape = tf.shape(image)
    ry = interpolation_matrix(box[1], box[3], size, shape[0])  # [s, H]
    rx = interpolation_matrix(box[0], box[2], size, shape[1])  # [s, W]
    return tf.einsum("py,yxc,qx->pqc", ry, image, rx)


def _random_boxes(n, lo=0.2, hi=0.7):
    wh = tf.random.uniform([n, 2], lo, hi)
    xy = tf.random.uniform([n, 2]) * (1.0 - wh)
    return tf.concat([xy, xy + wh], -1)


def _target(lab):
    s = models.OUTPUT_STRIDE
    return tf.nn.avg_pool2d(lab[None], s, s, "VALID")[0]


def _crop_and_move(img, det, det_valid, crop, offset=None):
    """Cover-resize, crop (random, or centre when ``offset == "centre"``) and
    random flip; boxes follow. Returns (rgb [crop, crop, 3], boxes, valid)."""
    rgb = data._cover(img, crop)
    hw = tf.shape(rgb)[:2]
    if offset == "centre":
        oy, ox = (hw[0] - crop) // 2, (hw[1] - crop) // 2
        flip = tf.constant(False)
    else:
        oy = tf.random.uniform([], 0, hw[0] - crop + 1, tf.int32)
        ox = tf.random.uniform([], 0, hw[1] - crop + 1, tf.int32)
        flip = tf.random.uniform([]) < 0.5
    rgb = rgb[oy:oy + crop, ox:ox + crop]
    W, H = tf.cast(hw[1], tf.float32), tf.cast(hw[0], tf.float32)
    c = float(crop)
    x0 = (det[:, 0] * W - tf.cast(ox, tf.float32)) / c
    x1 = (det[:, 2] * W - tf.cast(ox, tf.float32)) / c
    y0 = (det[:, 1] * H - tf.cast(oy, tf.float32)) / c
    y1 = (det[:, 3] * H - tf.cast(oy, tf.float32)) / c
    before = tf.maximum(x1 - x0, 0.0) * tf.maximum(y1 - y0, 0.0)
    x0, x1, y0, y1 = (tf.clip_by_value(v, 0.0, 1.0) for v in (x0, x1, y0, y1))
    after = (x1 - x0) * (y1 - y0)
    keep = (det_valid > 0.5) & (after >= 0.3 * tf.maximum(before, 1e-9)) \
        & (x1 - x0 >= 0.04) & (y1 - y0 >= 0.04)
    boxes = tf.stack([x0, y0, x1, y1], -1)
    flipped = tf.stack([1.0 - x1, y0, 1.0 - x0, y1], -1)
    rgb = tf.cond(flip, lambda: rgb[:, ::-1], lambda: rgb)
    boxes = tf.where(flip, flipped, boxes)
    return tf.clip_by_value(rgb, 0.0, 1.0), boxes, tf.cast(keep, tf.float32)


def _first_k(boxes, valid, k):
    """Valid boxes first (stable), cut to ``k``; padding zeroed."""
    order = tf.argsort(-valid, stable=True)
    boxes, valid = tf.gather(boxes, order)[:k], tf.gather(valid, order)[:k]
    pad = k - tf.shape(boxes)[0]
    boxes = tf.pad(boxes, [[0, pad], [0, 0]])
    valid = tf.pad(valid, [[0, pad]])
    return boxes * valid[:, None], valid


def _fusion_example(img, det, det_valid, crop, max_boxes, random_prob):
    rgb, boxes, valid = _crop_and_move(img, det, det_valid, crop)
    boxes, valid = _first_k(boxes, valid, max_boxes)
    rand = _random_boxes(max_boxes)
    fill = (valid < 0.5) & (tf.random.uniform([max_boxes]) < random_prob)
    boxes = tf.where(fill[:, None], rand, boxes)
    valid = tf.maximum(valid, tf.cast(fill, tf.float32))
    boxes, valid = _first_k(boxes, valid, max_boxes)
    lab = data._lab(rgb)
    L = lab[..., :1]
    L.set_shape([crop, crop, 1])
    boxes.set_shape([max_boxes, 4])
    valid.set_shape([max_boxes])
    target = _target(lab)
    target.set_shape([crop // models.OUTPUT_STRIDE, crop // models.OUTPUT_STRIDE, 3])  # static:
    return (L, boxes, valid), target  # losses that resize it (PerceptualLoss) need its shape


def _crop_example(img, det, det_valid, size, detected_prob):
    rgb = tf.clip_by_value(data._cover(img, size), 0.0, 1.0)
    n = tf.reduce_sum(tf.cast(det_valid > 0.5, tf.int32))
    use_det = (n > 0) & (tf.random.uniform([]) < detected_prob)
    pick = tf.random.uniform([], 0, tf.maximum(n, 1), tf.int32)
    det_sorted = tf.gather(det, tf.argsort(-det_valid, stable=True))
    box = tf.where(use_det, det_sorted[pick], _random_boxes(1)[0])
    crop = crop_box(rgb, box, size)
    crop = tf.image.random_flip_left_right(tf.clip_by_value(crop, 0.0, 1.0))
    crop.set_shape([size, size, 3])
    lab = data._lab(crop)
    return lab[..., :1], _target(lab)


def _source(folder, boxes_path, shuffle, repeat, seed, limit=None):
    paths = data.spread(data.list_images(folder), limit)
    det, det_valid = load_boxes(boxes_path, folder, paths)
    ds = tf.data.Dataset.from_tensor_slices((paths, det, det_valid))
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(lambda p, b, v: (data._decode(p), b, v), num_parallel_calls=AUTOTUNE)
    return ds.filter(lambda im, b, v: data._is_valid(im))


def fusion_dataset(folder, boxes_path=None, batch_size=16, crop_size=128, max_boxes=4,
                   random_prob=0.5, shuffle=True, repeat=True, seed=None):
    """Batches of ((L, boxes, valid), Lab target) for stage 3 (module docstring)."""
    data._check_size(crop_size)
    ds = _source(folder, boxes_path, shuffle, repeat, seed)
    ds = ds.map(lambda im, b, v: _fusion_example(im, b, v, crop_size, max_boxes, random_prob),
                num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def crops_dataset(folder, boxes_path=None, batch_size=16, crop_size=64, detected_prob=0.8,
                  shuffle=True, repeat=True, seed=None):
    """Batches of (L, Lab target) of box crops for stage 2 (module docstring)."""
    data._check_size(crop_size)
    ds = _source(folder, boxes_path, shuffle, repeat, seed)
    ds = ds.map(lambda im, b, v: _crop_example(im, b, v, crop_size, detected_prob),
                num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def validation_dataset(folder, boxes_path=None, size=128, max_boxes=4, batch_size=32,
                       limit=None):
    """Batches of ((L, boxes, valid), RGB) of centre crops, in file order."""
    data._check_size(size)
    ds = _source(folder, boxes_path, False, False, None, limit)

    def example(im, b, v):
        rgb, boxes, valid = _crop_and_move(im, b, v, size, offset="centre")
        boxes, valid = _first_k(boxes, valid, max_boxes)
        L = data._lab(rgb)[..., :1]
        return (L, boxes, valid), rgb

    return ds.map(example, num_parallel_calls=AUTOTUNE).batch(batch_size).prefetch(AUTOTUNE)
