import keras
import pytest

from kcolor import flops, models


def test_conv_macs_match_hand_count():
    L = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="a")(L)  # 16x16 out
    x = keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same", name="b")(x)  # 32x32 out
    model = keras.Model(L, x)
    macs = flops.conv_macs(model, 32)
    assert macs == {"a": 16 * 16 * 3 * 3 * 1 * 8, "b": 16 * 16 * 4 * 4 * 8 * 4}
    assert flops.gflops(model, 32) == pytest.approx(2 * (18432 + 131072) / 1e9)


def test_nested_backbone_is_counted_and_scales_with_area():
    model = models.build_colorizer("regression", width=0.125)
    macs = flops.conv_macs(model, 64)
    assert "conv1_1" in macs and "ab_normalized" in macs
    # conv1_1: 64x64 output, 3x3x1 kernel, 8 filters at width 0.125
    assert macs["conv1_1"] == 64 * 64 * 9 * 1 * 8
    assert flops.gflops(model, 128) == pytest.approx(4 * flops.gflops(model, 64))
