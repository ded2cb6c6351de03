"""Full-int8 TFLite keeps the colour (issue #13).

Two tiny fixed-weight models L → ab whose strong colours int8 lost:

* ab stronger than any the calibration photos gave: the calibrated output
  range clipped it; the int8 graph now pins ab to [-128, 127];
* a conv-ReLU-BatchNorm block whose ReLU channels are small and whose BN gains
  are large (Zhang et al.'s blocks, the ``small`` preset): the one int8 scale
  of the ReLU output left them a few steps, the colour washed out;
  ``equalize_relu_batchnorm`` moves the gains into the convolution.

``benchmarks/int8_colour.py`` measures the real models.
"""

import json

import numpy as np
import pytest

from export import tflite
from kcolor import decode, lite

SIZE = 16


def smooth_L(seed, lo=0.0, hi=100.0, n=1):
    """n smooth L images [n, SIZE, SIZE, 1] between lo and hi."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    out = []
    for _ in range(n):
        c = rng.uniform(-1, 1, 4)
        f = c[0] * yy + c[1] * xx + c[2] * np.sin(3 * xx + c[3])
        f = (f - f.min()) / (np.ptp(f) + 1e-6)
        out.append(lo + (hi - lo) * f)
    return np.stack(out)[..., None].astype(np.float32)


def neighbourhood_model():
    """ab = (0.2, -0.2) · Σ over the 3x3 neighbourhood of relu(L - 50), at half
    resolution: up to (90, -90) where a whole neighbourhood is white, 10 where
    one pixel in it is."""
    import keras

    L = keras.Input((None, None, 1))
    kernel = np.zeros((3, 3, 1, 9), np.float32)
    for k in range(9):
        kernel[k // 3, k % 3, 0, k] = 1.0
    h = keras.layers.Conv2D(9, 3, strides=2, padding="same", activation="relu")(L)
    ab = keras.layers.Conv2D(2, 1)(h)
    model = keras.Model(L, ab)
    model.layers[1].set_weights([kernel, np.full(9, -50.0, np.float32)])
    model.layers[2].set_weights([np.tile([[0.2, -0.2]], (9, 1)).reshape(1, 1, 9, 2).astype(np.float32),
                                 np.zeros(2, np.float32)])
    return model


def relu_batchnorm_model():
    """A conv-ReLU-BN block as in Zhang et al.'s net: ReLU channel 0 is L
    (0..100, BN gain 0.001), channel 1 is 0.005·relu(L - 50) (0..0.25, BN gain
    400); ab = (1, -0.5) · BN channel 1 = (2, -1) · relu(L - 50)."""
    import keras

    L = keras.Input((None, None, 1))
    h = keras.layers.Conv2D(2, 1, strides=2, activation="relu")(L)
    bn = keras.layers.BatchNormalization()(h)
    ab = keras.layers.Conv2D(2, 1)(bn)
    model = keras.Model(L, ab)
    model.layers[1].set_weights([np.array([1.0, 0.005], np.float32).reshape(1, 1, 1, 2),
                                 np.array([0.0, -0.25], np.float32)])
    eps = model.layers[2].epsilon
    model.layers[2].set_weights([np.array([0.001, 400.0], np.float32), np.zeros(2, np.float32),
                                 np.zeros(2, np.float32), np.full(2, 1.0 - eps, np.float32)])
    model.layers[3].set_weights([np.array([[0.0, 0.0], [1.0, -0.5]], np.float32).reshape(1, 1, 2, 2),
                                 np.zeros(2, np.float32)])
    return model


def float_ab(model, L):
    return np.asarray(decode.build_inference_model(model, 0.38).predict_on_batch(L))


def int8(model, representative, tmp_path, int8_io=False):
    return tflite.export_tflite(model, str(tmp_path), ["int8"], SIZE, decode.Decoding(0.38),
                                representative, int8_io)["int8"]


def test_int8_keeps_ab_stronger_than_the_calibration_photos_gave(tmp_path):
    model = neighbourhood_model()
    # Calibration: isolated white pixels (a 3x3 neighbourhood holds at most
    # one) on black, dimmer copies and black: ab up to 10 at most.
    dots = np.zeros((1, SIZE, SIZE, 1), np.float32)
    dots[:, ::3, ::3] = 100.0
    calibration = [dots * f for f in (1.0, 0.8, 0.6, 0.0)]
    assert np.abs(float_ab(model, np.concatenate(calibration))).max() <= 10.5
    # Scored: bright smooth photos, ab up to 90 (interior; the zero padding
    # of the borders makes them weaker there).
    L = smooth_L(0, 60.0, 100.0, n=3)
    want = float_ab(model, L)
    assert np.abs(want).max() > 60
    path = int8(model, calibration, tmp_path, int8_io=True)
    got = lite.LiteRunner(path).predict_ab(L)
    err = np.abs(got - want)
    assert err.max() < 2.5, f"int8 ab off by up to {err.max():.1f} (clipped?)"
    assert np.abs(got).mean() > 0.97 * np.abs(want).mean()
    # The sidecar says what the file does: ab comes out at 1 Lab unit per
    # step, zero at 0; L goes in over 0..100.
    with open(path[:-len(".tflite")] + ".json") as f:
        info = json.load(f)
    out_q, in_q = info["output"]["quantization"], info["input"]["quantization"]
    assert (out_q["scale"], out_q["zero_point"]) == (1.0, 0)
    assert info["output"]["range"] == list(tflite.INT8_AB_RANGE)
    assert in_q["scale"] * (-128 - in_q["zero_point"]) == pytest.approx(0.0, abs=1e-6)
    assert in_q["scale"] * (127 - in_q["zero_point"]) == pytest.approx(100.0, abs=1e-4)


def test_int8_keeps_the_colour_of_relu_batchnorm_blocks(tmp_path):
    model = relu_batchnorm_model()
    calibration = list(smooth_L(1, n=8)) + [tflite.lightness_ramp(SIZE)[0]]
    calibration = [c[None] for c in calibration]
    L = smooth_L(2, 40.0, 100.0, n=3)
    want = float_ab(model, L)
    assert np.abs(want[..., 0]).max() > 80
    got = lite.LiteRunner(int8(model, calibration, tmp_path)).predict_ab(L)
    err = np.abs(got - want)
    assert err.mean() < 1.5 and err.max() < 6, f"int8 ab error mean {err.mean():.2f}, max {err.max():.2f}"
    assert np.abs(got).mean() == pytest.approx(np.abs(want).mean(), rel=0.05)


def test_equalized_model_computes_the_same_and_leaves_the_original_alone():
    model = relu_batchnorm_model()
    before = [w.copy() for w in model.get_weights()]
    same = tflite.equalize_relu_batchnorm(model)
    assert same is not model
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    L = smooth_L(3, n=2)
    np.testing.assert_allclose(float_ab(same, L), float_ab(model, L), atol=1e-3)
    # The ReLU output now carries the BN gains: channel 1 reaches ~100, not 0.25.
    import keras

    relu = keras.Model(same.inputs, same.layers[1].output)
    assert np.asarray(relu.predict_on_batch(L))[..., 1].max() > 50
    # Nothing to equalize: the model itself.
    plain = neighbourhood_model()
    assert tflite.equalize_relu_batchnorm(plain) is plain
