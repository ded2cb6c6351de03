"""``kcolor.video_metrics``: CDC (colour distribution consistency) against
values worked out by hand, and the taps ``benchmarks/video.py`` scores with
(the frames ``kcolor.video`` hands its encoder; a clip through its encoder).
Tiny clips are made here; no model is loaded (a stub colorizer)."""

import math
from fractions import Fraction

import av
import numpy as np
import pytest

from kcolor import colorize, video, video_metrics

LN2 = math.log(2.0)


def _flat(rgb, h=4, w=6):
    return np.broadcast_to(np.array(rgb, np.uint8), (h, w, 3)).copy()


BLACK, WHITE, RED = _flat((0, 0, 0)), _flat((255, 255, 255)), _flat((255, 0, 0))


# --- Jensen-Shannon divergence and histograms ---------------------------------------------


def test_js_of_known_histograms():
    assert video_metrics.js_divergence([0.3, 0.7], [0.3, 0.7]) == pytest.approx(0.0, abs=1e-15)
    assert video_metrics.js_divergence([1, 0, 0], [0, 0, 1]) == pytest.approx(LN2)  # disjoint
    # p = (1, 0), q = (½, ½): M = (¾, ¼); KL(p‖M) = ln(4/3), KL(q‖M) = ½ ln(2/3) + ½ ln 2
    # = ½ ln(4/3); JS = ½ (ln(4/3) + ½ ln(4/3)) = ¾ ln(4/3) = 0.21576.
    assert video_metrics.js_divergence([1, 0], [0.5, 0.5]) == pytest.approx(0.75 * math.log(4 / 3))
    assert video_metrics.js_divergence([0.5, 0.5], [1, 0]) == pytest.approx(0.75 * math.log(4 / 3))
    # Counts are normalised first; rows along the last axis are separate distributions.
    got = video_metrics.js_divergence([[2, 0], [5, 5]], [[0, 7], [5, 5]])
    np.testing.assert_allclose(got, [LN2, 0.0], atol=1e-15)


def test_js_matches_scipy_on_random_histograms():
    spatial = pytest.importorskip("scipy.spatial")
    rng = np.random.default_rng(0)
    p, q = rng.random(256), rng.random(256)
    p[:40] = 0  # empty bins on one side only
    # scipy's jensenshannon is the square root of the divergence (natural log by default).
    assert video_metrics.js_divergence(p, q) == pytest.approx(
        spatial.distance.jensenshannon(p, q) ** 2, rel=1e-9)


def test_rgb_histograms_one_bin_per_code_value():
    rgb = np.array([[[0, 10, 255], [0, 10, 254]], [[3, 10, 255], [0, 11, 255]]], np.uint8)
    h = video_metrics.rgb_histograms(rgb)
    assert h.shape == (3, 256)
    np.testing.assert_allclose(h.sum(1), 1.0)
    assert (h[0, 0], h[0, 3]) == (0.75, 0.25)
    assert (h[1, 10], h[1, 11]) == (0.75, 0.25)
    assert (h[2, 255], h[2, 254]) == (0.75, 0.25)
    assert np.count_nonzero(h) == 6
    with pytest.raises(ValueError):
        video_metrics.rgb_histograms(rgb.astype(np.float32))


# --- CDC ------------------------------------------------------------------------------------


def test_cdc_of_identical_frames_is_zero():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert video_metrics.cdc([frame] * 7) == 0.0


def test_cdc_of_a_disjoint_pair_is_ln2():
    # Two frames: only the offset 1 has a pair; every channel's histograms are disjoint.
    assert video_metrics.cdc([BLACK, WHITE]) == pytest.approx(LN2)
    # One channel of three disjoint: the pair scores the channels' mean.
    assert video_metrics.cdc([BLACK, RED]) == pytest.approx(LN2 / 3)
    # Moving pixels about without changing the histogram scores 0.
    half = np.concatenate([BLACK[:2], WHITE[2:]])
    assert video_metrics.cdc([half, half[::-1]]) == pytest.approx(0.0, abs=1e-15)


def test_cdc_weights_offsets_1_2_4_each_over_its_own_range():
    # Alternating disjoint frames: every (i, i+1) pair scores ln 2, every (i, i+2)
    # and (i, i+4) pair 0; CDC = (ln 2 + 0 + 0) / 3.
    assert video_metrics.cdc([BLACK, WHITE] * 3) == pytest.approx(LN2 / 3)
    # A A A A B (N = 5): offset 1, pairs 0-1 … 3-4, one of 4 disjoint: ln2/4; offset 2,
    # pairs 0-2, 1-3, 2-4: ln2/3; offset 4, pair 0-4: ln 2. CDC = ln2 (1/4 + 1/3 + 1) / 3
    # = 19/36 ln 2 (with all offsets over i = 0 … N-5 instead it would be ln 2 / 3).
    acc = video_metrics.CDC()
    for f in [BLACK] * 4 + [WHITE]:
        acc.add(f)
    assert acc.per_offset() == pytest.approx({1: LN2 / 4, 2: LN2 / 3, 4: LN2})
    assert acc.value() == pytest.approx(19 / 36 * LN2)
    # Half the pixels turning white: p = (1, 0), q = (½, ½) on bins 0 and 255 in each
    # channel, ¾ ln(4/3) (as above) for that pair.
    half = np.concatenate([BLACK[:2], WHITE[2:]])
    assert video_metrics.cdc([BLACK, half]) == pytest.approx(0.75 * math.log(4 / 3))


def test_cdc_of_too_short_clips():
    assert math.isnan(video_metrics.cdc([]))
    assert math.isnan(video_metrics.cdc([BLACK]))
    assert video_metrics.cdc([BLACK, WHITE, BLACK]) == pytest.approx((LN2 + 0.0) / 2)


# --- the taps -------------------------------------------------------------------------------


class _StubColorizer:
    """The two things kcolor.video asks of a colorizer, without a model: a
    working size and ab for each frame (constant, so the result is known)."""

    size = 16
    AB = (18.0, -25.0)

    def working_size(self, h, w):
        return self.size

    def predict_ab(self, L):
        return np.broadcast_to(np.array(self.AB, np.float32), L.shape[:3] + (2,)).copy()


def _write(path, frames, rate=Fraction(24)):
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=rate, options={"crf": "1", "preset": "ultrafast"})
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return str(path)


def _read(path):
    with av.open(str(path)) as f:
        s = f.streams.video[0]
        return [fr.to_ndarray(format="rgb24") for fr in f.decode(s)], s.average_rate


def _scene(t, h=32, w=48):
    yy, xx = np.mgrid[0:h, 0:w] / float(w)
    img = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.7 - 0.4 * xx], -1) * 255
    img[8:20, 4 + 3 * t:14 + 3 * t] = (220, 50, 40)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_fed_frames_are_exactly_what_the_encoder_gets(tmp_path):
    src = _write(tmp_path / "gray.mkv", [colorize.gray_rgb(_scene(t)) for t in range(9)])
    fed = []
    inner = video._colorize_frames
    with video_metrics.fed_frames(fed.append):
        n = video.colorize_video(src, str(tmp_path / "out.mkv"), _StubColorizer(), 4, "none")
    assert video._colorize_frames is inner  # restored
    assert n == len(fed) == 9
    # Frame by frame with a constant ab: the source's own L joined with that ab.
    inputs, _ = _read(src)
    for got, rgb in zip(fed, inputs):
        L = colorize._lightness(rgb)
        ab = np.broadcast_to(np.array(_StubColorizer.AB, np.float32), L.shape[:2] + (2,))
        np.testing.assert_array_equal(got, colorize._join(L, ab))
    # And the file decodes close to them (CRF 17 and 4:2:0 apart).
    out, _ = _read(tmp_path / "out.mkv")
    assert len(out) == 9
    assert np.mean([np.abs(a.astype(int) - b) for a, b in zip(out, fed)]) < 4


def test_fed_frames_restores_kcolor_video_on_error(tmp_path):
    inner = video._colorize_frames
    with pytest.raises(video.VideoError):
        with video_metrics.fed_frames(lambda rgb: None):
            video.colorize_video(str(tmp_path / "missing.mkv"), str(tmp_path / "o.mkv"),
                                 _StubColorizer())
    assert video._colorize_frames is inner


def test_encode_like_kcolor_uses_kcolors_encoder_settings(tmp_path):
    frames = [_scene(t) for t in range(8)]
    src = _write(tmp_path / "real.mkv", frames, rate=Fraction(30))
    inner = video._colorize_frames
    dst = tmp_path / "real_enc.mkv"
    assert video_metrics.encode_like_kcolor(src, str(dst)) == 8
    assert video._colorize_frames is inner
    got, rate = _read(dst)
    source, _ = _read(src)
    assert (len(got), rate, got[0].shape) == (8, Fraction(30), source[0].shape)
    assert np.mean([np.abs(a.astype(int) - b) for a, b in zip(got, source)]) < 4
    # x264 writes its settings into the stream: kcolor's CRF 17, then the options given.
    assert b"crf=17.0" in dst.read_bytes()
    dst23 = tmp_path / "real_crf23.mkv"
    assert video_metrics.encode_like_kcolor(src, str(dst23), limit=5,
                                            encoder_options={"crf": "23"}) == 5
    assert b"crf=23.0" in dst23.read_bytes()
    assert len(_read(dst23)[0]) == 5
