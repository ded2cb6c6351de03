"""Temporal-consistency metrics for colorized clips, and the two taps that
``benchmarks/video.py`` scores with.

CDC, colour distribution consistency (Liu et al., TCVC, 2021; also reported by
ColorMNet and the NTIRE 2023 video colorization challenge): how much a clip's
colour histograms change over short spans, whatever moves in the picture.
Exactly, for a clip of N uint8 RGB frames:

* each frame's histogram per channel: 256 bins, one per code value, over all
  its pixels, divided by the pixel count (a probability per channel);
* JS(P, Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M), M = (P + Q) / 2, with the natural
  logarithm (so 0 ≤ JS ≤ ln 2 = 0.693, ln 2 for disjoint histograms) and
  0 · ln 0 = 0; a pair of frames scores the mean of its R, G and B JS;
* for each offset k in (1, 2, 4), the mean over every pair (i, i + k) that
  exists in the clip (i = 0 … N − 1 − k: each offset over its own valid
  range, N − k pairs);
* CDC = the mean of those three means (weights ⅓ each).

That is TCVC's own evaluation code (``compute_hist.py``: ``scipy.stats.entropy``,
natural log, per offset over its valid range, then the channels averaged). An
offset with no pair (a clip of at most 4 frames has no (i, i + 4)) is left out
of the mean; a clip of fewer than 2 frames scores NaN. Lower is steadier; 0
for a clip whose histograms never change. It sees global colour changes (a
frame turning greener) and not local ones that keep the histogram (two
regions swapping colours), so it complements the still-pixel flicker.

The taps: ``fed_frames`` hands a callback every RGB frame ``kcolor.video``
passes its encoder, and ``encode_like_kcolor`` puts a real colour clip
through ``kcolor.video``'s own encoder path (its codec, CRF 17 and options,
container, pixel format and timestamps), so the real clip's encoded
flicker can be the reference for ours.
"""

import collections
import contextlib

import numpy as np

OFFSETS = (1, 2, 4)


def rgb_histograms(rgb):
    """[3, 256] float64: the R, G and B histograms of uint8 ``rgb`` [..., 3],
    one bin per code value, each divided by the pixel count (sums to 1)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ValueError(f"need uint8 RGB [..., 3], got {rgb.dtype} {rgb.shape}")
    flat = rgb.reshape(-1, 3).astype(np.intp) + np.array([0, 256, 512])
    counts = np.bincount(flat.reshape(-1), minlength=768).reshape(3, 256)
    return counts / max(flat.shape[0], 1)


def js_divergence(p, q, axis=-1):
    """Jensen-Shannon divergence of distributions ``p`` and ``q`` along
    ``axis``, natural log (0 … ln 2). Each is divided by its sum first; terms
    with zero probability count 0."""
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    p = p / p.sum(axis, keepdims=True)
    q = q / q.sum(axis, keepdims=True)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kp = np.where(p > 0, p * np.log(p / m), 0.0)
        kq = np.where(q > 0, q * np.log(q / m), 0.0)
    return 0.5 * (kp.sum(axis) + kq.sum(axis))


class CDC:
    """Colour distribution consistency, streaming: ``add`` each frame in
    order (only the last ``max(offsets)`` histograms are kept), then
    ``value()``. See the module docstring for the definition."""

    def __init__(self, offsets=OFFSETS):
        self.offsets = tuple(offsets)
        self._hists = collections.deque(maxlen=max(self.offsets))
        self._sum = {k: 0.0 for k in self.offsets}
        self._n = {k: 0 for k in self.offsets}

    def add(self, rgb):
        h = rgb_histograms(rgb)
        for k in self.offsets:
            if len(self._hists) >= k:
                self._sum[k] += float(js_divergence(self._hists[-k], h).mean())
                self._n[k] += 1
        self._hists.append(h)

    def per_offset(self):
        """{k: mean JS over the pairs (i, i + k)} for offsets with a pair."""
        return {k: self._sum[k] / self._n[k] for k in self.offsets if self._n[k]}

    def value(self):
        means = list(self.per_offset().values())
        return float(np.mean(means)) if means else float("nan")


def cdc(frames, offsets=OFFSETS):
    """The CDC of an iterable of uint8 RGB frames."""
    acc = CDC(offsets)
    for rgb in frames:
        acc.add(rgb)
    return acc.value()


@contextlib.contextmanager
def fed_frames(sink):
    """While active, ``sink(rgb)`` gets each frame ``kcolor.video.colorize_video``
    hands its video encoder, as uint8 RGB [H, W, 3], in order, just before
    the encoder gets it (the exact array; with ``chroma_hold`` the frames are
    YUV, and libswscale's RGB of them). Patches ``kcolor.video``'s frame
    generator for the duration: not for concurrent use."""
    from kcolor import video

    inner = video._colorize_frames

    def tapped(*args, **kwargs):
        for frame in inner(*args, **kwargs):
            sink(frame.to_ndarray(format="rgb24"))
            yield frame

    video._colorize_frames = tapped
    try:
        yield
    finally:
        video._colorize_frames = inner


def encode_like_kcolor(src, dst, limit=0, encoder_options=None):
    """Encodes the clip ``src`` (its first ``limit`` frames; 0: all) into
    ``dst`` exactly as ``kcolor.video.colorize_video`` encodes its output:
    each frame decoded to uint8 RGB and handed to the same encoder (codec,
    CRF and options for ``dst``'s extension, plus ``encoder_options``), with
    the same container, pixel format and timestamps, no colorizer involved.
    Returns the number of frames written. Patches ``kcolor.video`` for the
    duration, as ``fed_frames``."""
    import av

    from kcolor import video

    done = [0]

    def identity(colorizer, smoother, frames, clock, hold=None, reference=None):
        for frame in frames:
            if limit and done[0] >= limit:
                return
            done[0] += 1
            new = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            new.pts, new.time_base = clock(frame), clock.time_base
            yield new

    inner = video._colorize_frames
    video._colorize_frames = identity
    try:
        # Any truthy colorizer: it is never called (and none is loaded).
        return video.colorize_video(src, dst, object(), method="none",
                                    encoder_options=encoder_options)
    finally:
        video._colorize_frames = inner
