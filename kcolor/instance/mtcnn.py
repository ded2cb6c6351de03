"""MTCNN face detector (Zhang et al. 2016, "Joint Face Detection and
Alignment using Multi-task Cascaded Convolutional Networks"), run by our own
code on weights read from the ``mtcnn`` wheel (PyPI, MIT, Iván de Paz
Centeno), without importing that package.

``pip install mtcnn`` (1.x, in the ``instances`` extra; it requires only
``joblib`` and ``lz4``) puts ``mtcnn/assets/weights/{pnet,rnet,onet}.lz4`` in
site-packages: each an LZ4 frame holding a ``joblib`` pickle of a list of
float32 arrays, the Keras weights of the network in layer order (conv kernels
[kh, kw, in, out], biases, PReLU slopes; dense kernels [in, out]). The
``mtcnn`` package itself imports TensorFlow and Keras models of its own; we
only locate its files (``importlib.metadata``) and read them with
``read_weights``: ``lz4.frame`` decompresses, and a restricted unpickler that
accepts only ``numpy.dtype``, ``numpy.ndarray`` and joblib's
``NumpyArrayWrapper`` (the raw array bytes follow each wrapper in the stream)
rebuilds the arrays, so a hostile file cannot run code.

The cascade (three small CNNs) is run with ``tf.nn`` ops:

1. P-Net, fully convolutional, over an image pyramid (factor 0.709, largest
   scale 12 / ``min_face`` px): a 12-px window every 2 px of each scale,
   score > 0.6, box regression, NMS per scale (IoU 0.5) and overall (0.7);
2. R-Net on 24 x 24 crops of the squared candidates: score > 0.7, regression,
   NMS 0.7;
3. O-Net on 48 x 48 crops: score > 0.8, regression, NMS 0.7 (``min``
   overlap: a box mostly inside another goes).

Boxes are face boxes (brows to chin) in pixels of the image given, best first.
"""

import importlib.metadata
import io
import pickle

import numpy as np

DIST = "mtcnn"
FILES = {net: f"mtcnn/assets/weights/{net}.lz4" for net in ("pnet", "rnet", "onet")}
HINT = ("the 'mtcnn' detector reads MTCNN's weights from the mtcnn wheel (1.x, MIT; "
        "requires joblib and lz4): pip install 'kcolor[instances]'")


class _ArrayWrapper:
    """Stands for ``joblib.numpy_pickle.NumpyArrayWrapper``: its state
    (shape, order, dtype, alignment) says how to read the bytes that follow."""


class _Unpickler(pickle._Unpickler):
    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module, name):
        if (module, name) == ("joblib.numpy_pickle", "NumpyArrayWrapper"):
            return _ArrayWrapper
        if module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray") and name in (
                "dtype", "ndarray"):
            return getattr(np, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def load_build(self):
        super().load_build()
        w = self.stack[-1]
        if isinstance(w, _ArrayWrapper):
            self.stack[-1] = self._read_array(w.__dict__)

    dispatch[pickle.BUILD[0]] = load_build

    def _read_array(self, state):
        dtype = np.dtype(state["dtype"])
        if dtype.hasobject:
            raise pickle.UnpicklingError("refusing an object array")
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = self._file.read(1)[0]
            self._file.read(pad)
        shape = tuple(int(s) for s in state["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        data = self._file.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise pickle.UnpicklingError("array data cut short")
        a = np.frombuffer(data, dtype, count)
        a = a.reshape(shape[::-1]).T if state.get("order") == "F" else a.reshape(shape)
        return a.astype(dtype.newbyteorder("="), copy=True)

    def __init__(self, f):
        super().__init__(f)
        self._file = f


def read_weights(path_or_bytes):
    """The list of arrays in one of the wheel's ``.lz4`` files (or its bytes)."""
    raw = path_or_bytes
    if not isinstance(raw, (bytes, bytearray)):
        with open(raw, "rb") as f:
            raw = f.read()
    if raw[:4] == b"\x04\x22\x4d\x18":  # LZ4 frame magic
        try:
            import lz4.frame
        except ImportError:
            raise ImportError("reading MTCNN's weights needs lz4: " + HINT) from None
        raw = lz4.frame.decompress(raw)
    out = _Unpickler(io.BytesIO(raw)).load()
    if not isinstance(out, list) or not all(isinstance(a, np.ndarray) for a in out):
        raise pickle.UnpicklingError("expected a list of arrays")
    return out


def weights_path(net):
    """Where the installed ``mtcnn`` distribution keeps ``net``'s weights."""
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        raise ImportError(HINT) from None
    path = dist.locate_file(FILES[net])
    if not path.exists():
        raise ImportError(f"{path} is missing (mtcnn {dist.version}): " + HINT)
    return str(path)


# Shapes of each network's weights, in the files' order.
SHAPES = {
    "pnet": [(3, 3, 3, 10), (10,), (1, 1, 10), (3, 3, 10, 16), (16,), (1, 1, 16),
             (3, 3, 16, 32), (32,), (1, 1, 32), (1, 1, 32, 4), (4,), (1, 1, 32, 2), (2,)],
    "rnet": [(3, 3, 3, 28), (28,), (1, 1, 28), (3, 3, 28, 48), (48,), (1, 1, 48),
             (2, 2, 48, 64), (64,), (1, 1, 64), (576, 128), (128,), (128,),
             (128, 4), (4,), (128, 2), (2,)],
    "onet": [(3, 3, 3, 32), (32,), (1, 1, 32), (3, 3, 32, 64), (64,), (1, 1, 64),
             (3, 3, 64, 64), (64,), (1, 1, 64), (2, 2, 64, 128), (128,), (1, 1, 128),
             (1152, 256), (256,), (256,), (256, 4), (4,), (256, 10), (10,), (256, 2), (2,)],
}


def _prelu(x, a):
    import tensorflow as tf
    return tf.maximum(x, 0.0) + a * tf.minimum(x, 0.0)


def _conv(x, w, b, a):
    import tensorflow as tf
    return _prelu(tf.nn.conv2d(x, w, 1, "VALID") + b, a)


def _pool(x, k, s, pad):
    import tensorflow as tf
    return tf.nn.max_pool2d(x, k, s, pad)


def _flatten_wh(x):
    """Flatten in (width, height, channel) order, as the Caffe-born weights expect."""
    import tensorflow as tf
    x = tf.transpose(x, (0, 2, 1, 3))
    return tf.reshape(x, (x.shape[0], -1))


def pnet(w, x):
    x = _pool(_conv(x, *w[0:3]), 2, 2, "SAME")
    x = _conv(_conv(x, *w[3:6]), *w[6:9])
    import tensorflow as tf
    reg = tf.nn.conv2d(x, w[9], 1, "VALID") + w[10]
    prob = tf.nn.softmax(tf.nn.conv2d(x, w[11], 1, "VALID") + w[12])
    return reg.numpy()[0], prob.numpy()[0, ..., 1]


def rnet(w, x):
    x = _pool(_conv(x, *w[0:3]), 3, 2, "SAME")
    x = _pool(_conv(x, *w[3:6]), 3, 2, "VALID")
    x = _flatten_wh(_conv(x, *w[6:9]))
    x = _prelu(x @ w[9] + w[10], w[11])
    import tensorflow as tf
    return (x @ w[12] + w[13]).numpy(), tf.nn.softmax(x @ w[14] + w[15]).numpy()[:, 1]


def onet(w, x):
    x = _pool(_conv(x, *w[0:3]), 3, 2, "SAME")
    x = _pool(_conv(x, *w[3:6]), 3, 2, "VALID")
    x = _pool(_conv(x, *w[6:9]), 2, 2, "SAME")
    x = _flatten_wh(_conv(x, *w[9:12]))
    x = _prelu(x @ w[12] + w[13], w[14])
    import tensorflow as tf
    return (x @ w[15] + w[16]).numpy(), tf.nn.softmax(x @ w[19] + w[20]).numpy()[:, 1]


NETS = {"pnet": pnet, "rnet": rnet, "onet": onet}


def scales(short_side, min_face, factor=0.709, cell=12):
    """Pyramid scales: the first maps a ``min_face``-px face to the 12-px
    cell, each next one is ``factor`` times smaller, while the shorter side
    stays at least 12 px."""
    out, s = [], cell / min_face
    while short_side * s >= cell:
        out.append(s)
        s *= factor
    return out


def pnet_boxes(reg, prob, scale, threshold, stride=2, cell=12):
    """P-Net output map → candidate boxes [n, 5] (x0, y0, x1, y1, score) in
    pixels of the unscaled image: cell (row i, column j) is the window
    [stride*j, stride*i] + [0, cell] at this scale, moved by ``reg`` (in units
    of the window's size)."""
    i, j = np.nonzero(prob > threshold)
    x0, y0 = stride * j, stride * i
    box = np.stack([x0, y0, x0 + cell, y0 + cell], -1).astype(np.float64)
    box = box + reg[i, j] * cell
    return np.concatenate([box / scale, prob[i, j, None]], -1).reshape(-1, 5)


def regress(boxes, reg):
    """Moves each box's corners by ``reg`` [n, 4] times its width/height."""
    b = boxes.copy()
    wh = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]] * 2, -1)
    b[:, :4] += reg * wh
    return b


def square(boxes):
    """Each box grown to a square of its longer side about its centre."""
    b = boxes.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    side = np.maximum(w, h)
    b[:, 0] += (w - side) / 2
    b[:, 1] += (h - side) / 2
    b[:, 2], b[:, 3] = b[:, 0] + side, b[:, 1] + side
    return b


def nms(boxes, iou, mode="union"):
    """Indices kept by greedy NMS over ``boxes`` [n, 5] (score last), best
    first; ``mode`` "min" divides the overlap by the smaller box."""
    b = np.asarray(boxes, np.float64).reshape(-1, 5)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    order = np.argsort(-b[:, 4], kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        ix = np.clip(np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0]), 0, None)
        iy = np.clip(np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1]), 0, None)
        inter = ix * iy
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / np.maximum(denom, 1e-9) <= iou]
    return keep


class MTCNN:
    """``detect(rgb float or uint8 [H, W, 3], min_face)`` → face boxes [n, 4]
    (x0, y0, x1, y1) pixels and scores [n], best first.

    ``weights``: dict net → list of arrays (default: read from the installed
    ``mtcnn`` wheel)."""

    def __init__(self, weights=None, thresholds=(0.6, 0.7, 0.8), factor=0.709):
        if weights is None:
            weights = {net: read_weights(weights_path(net)) for net in NETS}
        for net, shapes in SHAPES.items():
            got = [tuple(a.shape) for a in weights[net]]
            if got != [tuple(s) for s in shapes]:
                raise ValueError(f"MTCNN {net}: weight shapes {got}, expected {shapes}")
        import tensorflow as tf
        self.w = {n: [tf.constant(a, tf.float32) for a in ws] for n, ws in weights.items()}
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)

    def _crops(self, img, boxes, size):
        import tensorflow as tf
        H, W = img.shape[1:3]
        yx = boxes[:, [1, 0, 3, 2]] / np.array([H, W, H, W], np.float64)
        return tf.image.crop_and_resize(img, yx.astype(np.float32), np.zeros(len(boxes), np.int32),
                                        (size, size))

    def detect(self, rgb, min_face=20):
        import tensorflow as tf
        rgb = np.asarray(rgb, np.float32)
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[..., None], 3, -1)
        H, W = rgb.shape[:2]
        img = tf.constant((rgb[None, ..., :3] - 127.5) / 128.0)
        t1, t2, t3 = self.thresholds
        found = []
        for s in scales(min(H, W), min_face, self.factor):
            h, w = int(np.ceil(H * s)), int(np.ceil(W * s))
            reg, prob = pnet(self.w["pnet"], tf.image.resize(img, (h, w), "area"))
            b = pnet_boxes(reg, prob, s, t1)
            found.append(b[nms(b, 0.5)])
        b = np.concatenate(found) if found else np.zeros((0, 5))
        b = square(b[nms(b, 0.7)])
        if len(b):
            reg, p = rnet(self.w["rnet"], self._crops(img, b, 24))
            ok = p > t2
            b = np.concatenate([b[ok, :4], p[ok, None]], -1)
            keep = nms(b, 0.7)
            b = square(regress(b[keep], reg[ok][keep]))
        if len(b):
            reg, p = onet(self.w["onet"], self._crops(img, b, 48))
            ok = p > t3
            b = regress(np.concatenate([b[ok, :4], p[ok, None]], -1), reg[ok])
            b = b[nms(b, 0.7, "min")]
        return b[:, :4].astype(np.float32), b[:, 4].astype(np.float32)
