"""Metrics: known values and agreement with tf.image."""

import math

import numpy as np
import pytest
import tensorflow as tf
from conftest import to_np

from kcolor import metrics


def _images(seed, shape=(2, 16, 16, 3)):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, shape).astype(np.float32)


def test_psnr_of_a_known_pair():
    a = np.full((1, 8, 8, 3), 0.5, np.float32)
    b = np.full((1, 8, 8, 3), 0.6, np.float32)
    # mse = 0.01 -> 10 log10(1 / 0.01) = 20 dB.
    assert float(to_np(metrics.psnr(a, b))[0]) == pytest.approx(20.0, abs=1e-4)
    # max_val = 2: 10 log10(4 / 0.01) = 20 + 20 log10(2).
    assert float(to_np(metrics.psnr(a, b, max_val=2.0))[0]) == pytest.approx(
        20.0 + 20.0 * math.log10(2.0), abs=1e-4
    )


def test_psnr_is_per_image():
    a = np.zeros((2, 4, 4, 3), np.float32)
    b = np.stack([np.full((4, 4, 3), 0.1), np.full((4, 4, 3), 0.01)]).astype(np.float32)
    np.testing.assert_allclose(to_np(metrics.psnr(a, b)), [20.0, 40.0], atol=1e-3)


def test_psnr_and_ssim_agree_with_tf_image():
    x = _images(0)
    y = np.clip(x + np.random.default_rng(1).normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
    np.testing.assert_allclose(
        to_np(metrics.psnr(x, y)), tf.image.psnr(x, y, max_val=1.0).numpy(), atol=1e-4
    )
    np.testing.assert_allclose(
        to_np(metrics.ssim(x, y)), tf.image.ssim(x, y, max_val=1.0).numpy(), atol=1e-4
    )
    # A structurally different pair too (independent images).
    z = _images(2)
    np.testing.assert_allclose(
        to_np(metrics.ssim(x, z)), tf.image.ssim(x, z, max_val=1.0).numpy(), atol=1e-4
    )


def test_ssim_of_identical_images_is_one():
    x = _images(3)
    np.testing.assert_allclose(to_np(metrics.ssim(x, x)), [1.0, 1.0], atol=1e-6)


def test_keras_metric_wrappers():
    x, y = _images(4), _images(5)
    for metric, fn in ((metrics.PSNR(), metrics.psnr), (metrics.SSIM(), metrics.ssim)):
        metric.update_state(x, y)
        assert float(metric.result()) == pytest.approx(float(np.mean(to_np(fn(x, y)))), rel=1e-5)
        clone = type(metric).from_config(metric.get_config())
        assert clone.name == metric.name


def _ab_pair(errors):
    """ab_true = 0, ab_pred at distance ``errors`` [n] along a diagonal."""
    e = np.asarray(errors, np.float64)
    pred = np.stack([e * 0.6, e * 0.8], -1)  # |(0.6, 0.8)| = 1
    return np.zeros((1, 1, len(e), 2), np.float32), pred[None, None].astype(np.float32)


def test_auc_zero_error_is_100():
    true, _ = _ab_pair([0.0] * 4)
    assert float(to_np(metrics.auc(true, true))[0]) == pytest.approx(100.0)


@pytest.mark.parametrize(
    "err, hits",
    [
        (50.5, 150 - 51 + 1),  # thresholds t = 51 .. 150
        (50.0, 150 - 50 + 1),  # t = 50 counts: err <= t
        (0.25, 150),  # t = 1 .. 150
        (150.0, 1),  # only t = 150
        (151.0, 0),
        (400.0, 0),
    ],
)
def test_auc_constant_error(err, hits):
    true = np.zeros((1, 2, 3, 2), np.float32)
    pred = np.broadcast_to(np.float32([err, 0.0]), (1, 2, 3, 2))
    assert float(to_np(metrics.auc(true, pred))[0]) == pytest.approx(100.0 * hits / 151, abs=1e-4)


def test_auc_averages_over_pixels():
    # Errors 0 (151 hits), 50.5 (100 hits), 10 (141 hits), 200 (0 hits).
    true, pred = _ab_pair([0.0, 50.5, 10.0, 200.0])
    expected = 100.0 * (151 + 100 + 141 + 0) / (4 * 151)
    assert float(to_np(metrics.auc(true, pred))[0]) == pytest.approx(expected, abs=1e-3)


def test_colorfulness_of_gray_is_zero():
    gray = np.broadcast_to(np.linspace(0, 1, 16, dtype=np.float32)[None, :, None, None], (1, 16, 4, 3))
    assert float(to_np(metrics.colorfulness(gray))[0]) == pytest.approx(0.0, abs=1e-4)


def test_colorfulness_of_red_and_blue_halves():
    img = np.zeros((1, 4, 4, 3), np.float32)
    img[:, :2, :, 0] = 1.0  # top: red (255, 0, 0)
    img[:, 2:, :, 2] = 1.0  # bottom: blue (0, 0, 255)
    # On 0-255: rg = 255 | 0, yb = 127.5 | -255 (half the pixels each).
    std_rg, mean_rg = 127.5, 127.5
    std_yb, mean_yb = (127.5 + 255) / 2, (127.5 - 255) / 2  # 191.25, -63.75
    expected = math.hypot(std_rg, std_yb) + 0.3 * math.hypot(mean_rg, mean_yb)
    assert expected == pytest.approx(229.8539 + 0.3 * 142.5493, abs=1e-3)
    assert float(to_np(metrics.colorfulness(img))[0]) == pytest.approx(expected, rel=1e-5)


def test_colorfulness_of_a_constant_colour():
    # One colour: no spread, only the mean term: 0.3 * |(rg, yb)|.
    img = np.broadcast_to(np.float32([0.8, 0.4, 0.2]), (1, 3, 3, 3))
    rg, yb = 255 * (0.8 - 0.4), 255 * (0.6 - 0.2)
    assert float(to_np(metrics.colorfulness(img))[0]) == pytest.approx(
        0.3 * math.hypot(rg, yb), rel=1e-4
    )


def test_all_metrics():
    rgb = _images(6)
    lab = np.concatenate([np.full((2, 16, 16, 1), 50.0), np.zeros((2, 16, 16, 2))], -1)
    out = metrics.all_metrics(rgb, lab, rgb, lab)
    assert sorted(out) == sorted(metrics.NAMES)
    for v in out.values():
        assert isinstance(v, np.ndarray) and v.shape == (2,)
    np.testing.assert_allclose(out["ssim"], 1.0, atol=1e-6)
    np.testing.assert_allclose(out["auc"], 100.0)
    assert np.all(out["psnr"] > 100)  # identical images: mse clamped at 1e-12
