"""Training photos packed into a few ``.npz`` shards, and read back without
TensorFlow: the input for a machine that has Keras and JAX but no
TensorFlow, such as the GPU machine the ``device`` tool lends
(``studies/device_train.py``; ``docs/DEVICE_TRAINING.md``).

* ``pack(sources, out_dir)`` copies every photo's file bytes (or a JPEG
  re-encoding at ``quality``, smaller) into shards of at most ``shard_mb``
  MB: ``photos-00000.npz`` holding ``data`` (the bytes, concatenated),
  ``offsets`` ([n + 1]) and ``names`` (the file names, UTF-8, each ended
  by a NUL byte: a tenth of the room NumPy's fixed-width text would take).
  A photo Pillow cannot read is skipped with a warning naming it.
* ``PackedPhotos`` is a ``keras.utils.PyDataset`` of training batches made as
  ``kcolor.data.training_dataset`` makes them: resize so the short side
  covers the crop (then by a random factor in [1, ``max_scale``]), random
  crop, random horizontal flip, sRGB → Lab; input L [crop, crop, 1], target
  Lab average-pooled by the model's output stride.
* ``validation_batches`` gives (L, RGB) batches of centre crops, as
  ``kcolor.data.validation_dataset`` does, for
  ``kcolor.callbacks.ValidationMetrics``.

Only NumPy, Pillow and Keras are used, so the same code runs under any
Keras backend.
"""

import glob
import io
import os

import keras
import numpy as np
from absl import logging
from PIL import Image

from kcolor import color, imageio, models

SHARD_PATTERN = "photos-{:05d}.npz"


def _encoded(path, quality):
    """The bytes to store for ``path``: its own, or (``quality``) a JPEG of it."""
    rgb = imageio.read_rgb(path)  # raises ImageReadError naming the file
    if quality is None:
        with open(path, "rb") as f:
            return f.read()
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=int(quality))
    return buf.getvalue()


def pack(sources, out_dir, shard_mb=30.0, quality=None, shuffle_seed=None):
    """Packs the photos of the folders ``sources`` into shards in ``out_dir``.

    With ``shuffle_seed`` the photos are shuffled first, so that every shard
    is a sample of all the sources (a run may then take only some shards).
    Returns the shard paths. Each shard is written to a temporary name and
    renamed when complete, so a killed run leaves no partial shard. A folder
    that already holds shards is refused (they would be read with the new
    ones)."""
    if glob.glob(os.path.join(out_dir, "photos-*.npz")):
        raise FileExistsError(f"{out_dir}: already holds packed shards; remove them or pack "
                              "into another folder")
    paths = []
    for src in sources:
        paths += imageio.list_images(src)
    if shuffle_seed is not None:
        paths = [paths[i] for i in np.random.default_rng(shuffle_seed).permutation(len(paths))]
    os.makedirs(out_dir, exist_ok=True)
    limit = int(shard_mb * 1e6)
    shards, chunks, names, size = [], [], [], 0

    def flush():
        nonlocal chunks, names, size
        if not chunks:
            return
        path = os.path.join(out_dir, SHARD_PATTERN.format(len(shards)))
        offsets = np.cumsum([0] + [len(c) for c in chunks]).astype(np.int64)
        data = np.frombuffer(b"".join(chunks), np.uint8)
        tmp = path + ".part.npz"
        np.savez(tmp, data=data, offsets=offsets, names=_pack_names(names))
        os.replace(tmp, path)
        shards.append(path)
        chunks, names, size = [], [], 0

    for path in paths:
        try:
            blob = _encoded(path, quality)
        except imageio.ImageReadError as e:
            logging.warning("skipping unreadable photo %s", e)
            continue
        if chunks and size + len(blob) > limit:
            flush()
        chunks.append(blob)
        names.append(os.path.basename(path))
        size += len(blob)
    flush()
    if not shards:
        raise ValueError(f"no readable photos in {', '.join(sources)}")
    return shards


def _pack_names(names):
    """File names as one uint8 array: UTF-8, each ended by a NUL byte (no file
    name holds one)."""
    return np.frombuffer("".join(n + "\0" for n in names).encode("utf-8"), np.uint8)


def _unpack_names(array):
    """``_pack_names``' inverse; also reads the NumPy text arrays of older shards."""
    if array.dtype == np.uint8:
        return array.tobytes().decode("utf-8").split("\0")[:-1]
    return [str(n) for n in array]


def shard_paths(source):
    """Shard files of ``source``: a folder of shards, one shard, a comma-separated
    list of either, or a glob pattern."""
    paths = []
    for part in str(source).split(","):
        if os.path.isdir(part):
            found = sorted(glob.glob(os.path.join(part, "*.npz")))
        else:
            found = sorted(glob.glob(part))
        found = [p for p in found if not p.endswith(".part.npz")]
        if not found:
            raise FileNotFoundError(f"{part}: no packed photo shards (.npz)")
        paths += found
    return paths


class Photos:
    """Every photo of some shards, decoded on demand: ``len``, ``photos[i]``
    (uint8 RGB [h, w, 3]) and ``photos.name(i)``."""

    def __init__(self, source):
        self._blobs, self._names = [], []
        for path in shard_paths(source):
            with np.load(path) as z:
                data, offsets = z["data"], z["offsets"]
                names = _unpack_names(z["names"])
            if len(names) != len(offsets) - 1:
                raise ValueError(f"{path}: {len(names)} names for {len(offsets) - 1} photos")
            self._blobs += [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
            self._names += names

    def __len__(self):
        return len(self._blobs)

    def name(self, i):
        return self._names[i]

    def __getitem__(self, i):
        try:
            return imageio.read_rgb(io.BytesIO(self._blobs[i].tobytes()))
        except imageio.ImageReadError as e:
            reason = str(e).split(": ", 1)[-1]
            raise imageio.ImageReadError(f"{self._names[i]} (packed): {reason}") from None


def _resize(rgb, h, w):
    """uint8 [H, W, 3] → float32 [h, w, 3] in [0, 1], bilinear (antialiased when shrinking)."""
    img = Image.fromarray(rgb).resize((w, h), Image.BILINEAR)
    return np.asarray(img, np.float32) / 255.0


def _cover(rgb, size, extra_scale=1.0):
    """As ``kcolor.data._cover``: both sides >= ``size``, then × ``extra_scale``."""
    hw = np.array(rgb.shape[:2], np.float64)
    scale = max(1.0, float(np.max(size / hw))) * extra_scale
    h, w = np.ceil(hw * scale).astype(int)
    return _resize(rgb, int(h), int(w))


def train_example(rgb, crop, target_stride, max_scale=1.0, rng=None):
    """(L [crop, crop, 1], Lab target [crop/s, crop/s, 3]) from uint8 RGB, as
    ``kcolor.data._train_example`` makes them."""
    rng = rng if rng is not None else np.random.default_rng()
    extra = 1.0 if max_scale <= 1.0 else float(rng.uniform(1.0, max_scale))
    big = _cover(rgb, crop, extra)
    y = int(rng.integers(0, big.shape[0] - crop + 1))
    x = int(rng.integers(0, big.shape[1] - crop + 1))
    img = big[y:y + crop, x:x + crop]
    if rng.random() < 0.5:
        img = img[:, ::-1]
    lab = np.asarray(color.rgb_to_lab(img, np), np.float32)
    s = target_stride
    target = lab.reshape(crop // s, s, crop // s, s, 3).mean(axis=(1, 3))
    return lab[..., :1], target


def val_example(rgb, size):
    """(L [size, size, 1], RGB [size, size, 3]) from a centre crop, as
    ``kcolor.data._val_example`` (without ``squash``)."""
    img = _cover(rgb, size)
    y, x = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
    img = img[y:y + size, x:x + size]
    return np.asarray(color.rgb_to_lab(img, np), np.float32)[..., :1], img


def validation_batches(source, size=128, batch_size=32, limit=None):
    """A list of (L, RGB) numpy batches of ``limit`` photos spread over the shards."""
    photos = Photos(source)
    examples = [val_example(photos[i], size) for i in imageio.spread(range(len(photos)), limit)]
    return [tuple(np.stack(x) for x in zip(*examples[i:i + batch_size]))
            for i in range(0, len(examples), batch_size)]


class PackedPhotos(keras.utils.PyDataset):
    """An endless stream of training batches (L, Lab target) from packed
    shards, for ``fit(..., steps_per_epoch=N)``. Batch ``i`` of the stream
    comes from pass ``i // batches_per_pass`` over the photos, each pass in
    its own shuffled order, and depends only on (``seed``, i): two streams
    with the same seed are the same. A resumed run passes ``start``, the
    batches its finished epochs took, to go on where the stream left off.

    Args:
      source: shards (see ``shard_paths``).
      batch_size, crop_size, target_stride, max_scale: as
        ``kcolor.data.training_dataset``.
      seed: the shuffle's and the augmentation's seed.
      start: the stream's first batch (``stream[i]`` is batch ``start + i``).
      workers: threads preparing batches ahead (at least 2: Keras then
        numbers the batches of an endless stream across epochs).
    """

    def __init__(self, source, batch_size=16, crop_size=128, target_stride=models.OUTPUT_STRIDE,
                 max_scale=1.0, seed=0, workers=2, max_queue_size=10, start=0):
        if workers < 2:
            raise ValueError(f"workers must be at least 2, not {workers}")
        super().__init__(workers=workers, use_multiprocessing=False,
                         max_queue_size=max_queue_size)
        if crop_size % target_stride:
            raise ValueError(f"crop size {crop_size} must be divisible by the stride "
                             f"{target_stride}")
        self.photos = Photos(source)
        if len(self.photos) < batch_size:
            raise ValueError(f"{source}: {len(self.photos)} photos, fewer than one batch "
                             f"of {batch_size}")
        self.batch_size, self.crop, self.stride = batch_size, crop_size, target_stride
        self.max_scale, self.seed, self.start = max_scale, seed, int(start)
        self.batches_per_pass = len(self.photos) // batch_size

    @property
    def num_batches(self):
        return None  # endless

    def order(self, pass_index):
        """The photos' order in pass ``pass_index``."""
        return np.random.default_rng((self.seed, pass_index)).permutation(len(self.photos))

    def __getitem__(self, i):
        i = int(i) + self.start
        pass_index, j = divmod(i, self.batches_per_pass)
        idx = self.order(pass_index)[j * self.batch_size:(j + 1) * self.batch_size]
        rng = np.random.default_rng((self.seed, i, 1))
        pairs = [train_example(self.photos[int(k)], self.crop, self.stride, self.max_scale, rng)
                 for k in idx]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
