"""Colorizer networks and the decoding into full-resolution ab."""

import numpy as np
import pytest
from conftest import KNOWN_COLOURS, keras_roundtrip, np_softmax, to_np

from kcolor import bins, decode, models

WIDTH = 0.125


@pytest.fixture(scope="module")
def L_batch():
    return np.random.default_rng(0).uniform(0, 100, (2, 32, 48, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def classifier():
    return models.build_colorizer("classification", WIDTH, "zhang")


@pytest.mark.parametrize("grid", ["zhang", "seed23"])
@pytest.mark.parametrize("head", models.HEADS)
def test_output_shapes(head, grid, L_batch):
    model = models.build_colorizer(head, WIDTH, grid)
    out = to_np(model(L_batch))
    channels = bins.get_grid(grid).num_bins if head == "classification" else 2
    assert out.shape == (2, 32 // 4, 48 // 4, channels)
    assert np.all(np.isfinite(out))
    assert model.name == f"colorizer_{head}"


def test_parameter_count_at_width_025():
    model = models.build_colorizer("classification", 0.25, "zhang")
    assert model.count_params() == 2_030_453  # measured; a regression guard


def test_unknown_head_raises():
    with pytest.raises(ValueError, match="unknown head"):
        models.build_colorizer("segmentation", WIDTH)


def test_keras_file_round_trip_gives_identical_outputs(classifier, L_batch, tmp_path):
    loaded = keras_roundtrip(classifier, tmp_path)
    np.testing.assert_array_equal(to_np(loaded(L_batch)), to_np(classifier(L_batch)))


def _constant_head(model, layer, bias):
    """Sets a 1x1 head to output ``bias`` everywhere (kernel zero)."""
    kernel, b = model.get_layer(layer).get_weights()
    model.get_layer(layer).set_weights([np.zeros_like(kernel), np.asarray(bias, b.dtype)])


def test_regression_head_outputs_ab_units(L_batch):
    model = models.build_colorizer("regression", WIDTH)
    _constant_head(model, "ab_normalized", [0.5, -0.25])
    out = to_np(model(L_batch))
    np.testing.assert_allclose(out[..., 0], 55.0, rtol=1e-6)  # 0.5 * 110
    np.testing.assert_allclose(out[..., 1], -27.5, rtol=1e-6)  # -0.25 * 110


def test_inference_model_decodes_a_sure_bin_at_full_size(L_batch):
    model = models.build_colorizer("classification", WIDTH, "zhang")
    grid = bins.get_grid("zhang")
    q = int(np.flatnonzero(np.all(grid.centres == np.float32([40, -30]), -1))[0])
    bias = np.zeros(grid.num_bins)
    bias[q] = 30.0  # softmax(logits / 0.38) is one-hot on q
    _constant_head(model, "logits", bias)
    inference = decode.build_inference_model(model)
    ab = to_np(inference(L_batch))
    assert ab.shape == (2, 32, 48, 2)
    np.testing.assert_allclose(ab, np.broadcast_to([40.0, -30.0], ab.shape), atol=1e-3)
    # Saturation multiplies ab.
    ab = to_np(decode.build_inference_model(model, saturation=1.5)(L_batch))
    np.testing.assert_allclose(ab, np.broadcast_to([60.0, -45.0], ab.shape), atol=1e-3)


def test_inference_model_on_a_regression_head(L_batch):
    model = models.build_colorizer("regression", WIDTH)
    _constant_head(model, "ab_normalized", [0.5, -0.25])
    ab = to_np(decode.build_inference_model(model, temperature=0.01)(L_batch))
    assert ab.shape == (2, 32, 48, 2)
    np.testing.assert_allclose(ab, np.broadcast_to([55.0, -27.5], ab.shape), rtol=1e-5)


def test_decode_ab_upsamples_bilinearly():
    # A 1x2 ab map upsampled to 1x4 (half-pixel centres): 0, 0.25, 0.75, 1 of the step.
    prediction = np.float32([[[[0.0, 0.0], [40.0, -40.0]]]])
    L = np.zeros((1, 1, 4, 1), np.float32)
    ab = to_np(decode.DecodeAb()(prediction, L))
    np.testing.assert_allclose(ab[0, 0, :, 0], [0.0, 10.0, 30.0, 40.0], atol=1e-4)
    np.testing.assert_allclose(ab[0, 0, :, 1], [0.0, -10.0, -30.0, -40.0], atol=1e-4)


def test_saturate_scales_departures_from_the_mean_colour():
    # One photo, two pixels: ab (10, 0) and (30, 20); mean (20, 10).
    ab = np.float32([[[[10.0, 0.0], [30.0, 20.0]]]])
    np.testing.assert_allclose(to_np(decode.saturate(ab, 1.5)), [[[[15, 0], [45, 30]]]])
    # mean x1, departures (-10, -10), (10, 10) x1.5 -> (5, -5), (35, 25)
    got = to_np(decode.saturate(ab, 1.5, mean_saturation=1.0))
    np.testing.assert_allclose(got, [[[[5, -5], [35, 25]]]], atol=1e-5)
    # mean x2 -> (40, 20) + departures x1.5 -> (25, 5), (55, 35); numpy gives the same
    got = decode.saturate(ab, 1.5, mean_saturation=2.0, xp=np)
    np.testing.assert_allclose(got, [[[[25, 5], [55, 35]]]], atol=1e-5)
    # Each photo of a batch has its own mean: a second, flat photo is only scaled by the mean gain.
    two = np.concatenate([ab, np.float32([[[[4.0, -2.0], [4.0, -2.0]]]])])
    got = to_np(decode.saturate(two, 3.0, mean_saturation=1.0))
    np.testing.assert_allclose(got[1], [[[4, -2], [4, -2]]], atol=1e-5)
    np.testing.assert_allclose(got[0], [[[-10, -20], [50, 40]]], atol=1e-5)


def test_decoding_comes_from_a_preset_config_with_overrides():
    """One value carries a preset's decoding to the inference model and the
    exports; a given temperature or saturation overrides the preset's, and
    the preset's mean gain stays with the saturation."""
    cfg = {"temperature": 0.2, "saturation": 1.6, "mean_saturation": 1, "size": 128}
    assert decode.Decoding.from_config(cfg) == decode.Decoding(0.2, 1.6, 1.0)
    assert decode.Decoding.from_config(cfg, saturation=1.2) == decode.Decoding(0.2, 1.2, 1.0)
    assert decode.Decoding.from_config(cfg, temperature=0.5).as_dict() == {
        "temperature": 0.5, "saturation": 1.6, "mean_saturation": 1.0}
    assert decode.Decoding.from_config({}) == decode.Decoding(0.38, 1.0, None)
    assert isinstance(decode.Decoding(1, 2).saturation, float)


def test_decode_ab_mean_saturation_survives_keras_file(L_batch, tmp_path):
    model = models.build_colorizer("regression", WIDTH)
    inference = decode.build_inference_model(model, saturation=1.4, mean_saturation=1.0)
    loaded = keras_roundtrip(inference, tmp_path)
    layer = loaded.get_layer("decode_ab")
    assert (layer.saturation, layer.mean_saturation) == (1.4, 1.0)
    got, want = to_np(loaded(L_batch)), to_np(inference(L_batch))
    np.testing.assert_allclose(got, want, atol=1e-4)
    plain = to_np(decode.build_inference_model(model)(L_batch))
    # The photo's mean colour is kept (to the bilinear resize's rounding); its departures grow.
    np.testing.assert_allclose(got.mean(axis=(1, 2)), plain.mean(axis=(1, 2)), atol=0.05)
    assert got.std(axis=(1, 2)).min() > 1.3 * plain.std(axis=(1, 2)).min()


def test_decode_ab_temperature_survives_keras_file(L_batch, tmp_path):
    model = models.build_colorizer("classification", WIDTH, "zhang")
    bias = np.random.default_rng(1).normal(0, 1, 261).astype(np.float32)
    _constant_head(model, "logits", bias)
    inference = decode.build_inference_model(model, temperature=0.2, saturation=1.3)
    loaded = keras_roundtrip(inference, tmp_path)
    layer = loaded.get_layer("decode_ab")
    assert isinstance(layer, decode.DecodeAb)
    assert (layer.temperature, layer.saturation) == (0.2, 1.3)
    got = to_np(loaded(L_batch))
    np.testing.assert_allclose(got, to_np(inference(L_batch)), atol=1e-5)
    # The loaded layer really decodes at T = 0.2: 1.3 * softmax(bias / 0.2) . centres.
    expected = 1.3 * np_softmax(bias / 0.2) @ bins.get_grid("zhang").centres.astype(np.float64)
    np.testing.assert_allclose(got, np.broadcast_to(expected, got.shape), atol=1e-3)
    default = to_np(decode.build_inference_model(model, saturation=1.3)(L_batch))  # T = 0.38
    assert np.abs(default - got).max() > 1.0


def test_rgb_from_L_ab():
    rgb, lab = KNOWN_COLOURS["red"]
    L = np.float32([[[[lab[0]]]]])
    ab = np.float32([[[lab[1:]]]])
    np.testing.assert_allclose(to_np(decode.rgb_from_L_ab(L, ab))[0, 0, 0], rgb, atol=1e-3)
    np.testing.assert_array_equal(to_np(decode.lab_from_L_ab(L, ab))[0, 0, 0], np.float32(lab))
