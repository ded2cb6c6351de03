"""Colour that holds still from frame to frame: a per-pixel recursive filter
of the predicted ab over time, for ``kcolor.video``.

A colorizer run frame by frame flickers: each frame's ab is a fresh guess, and
on the shared clips the mean |Δab| between consecutive frames, on pixels whose
lightness holds still, is 2.4-3.5x the real colour video's. ``Smoother`` blends
each frame's prediction with the previous output::

    ab_t = w · ab_{t-1} + (1 - w) · prediction_t,   w = strength · exp(-(d / sigma)²)

per pixel, at the model's working size (cheap: 128² or 256² pixels, whatever
the clip's size), where d is how much the pixel's lightness changed since the
previous frame (3x3 box-blurred |ΔL|, L in 0-100). Where the scene holds still
the colour settles (w = strength: an exponential average over about
(1 + strength) / (1 - strength) frames); where something moves or the light
changes, the new prediction takes over within a frame or two, so a moving hand
does not smear the colour it leaves behind. At a cut (mean |ΔL| over the frame
above ``cut``) the filter restarts: the frame after a cut is exactly its own
prediction, so no colour is carried across cuts.

Measured (``benchmarks/video.py``, first 60 frames of each shared clip; the
default ``lite`` preset at 128 px): on the 18 sign-language clips (fixed
camera, a person signing) the still-pixel flicker frame by frame is
2.2-4.9x the real video's; with this filter at strength 0.9 it is
0.70-1.30x, the colourfulness 0.94-1.02x frame-by-frame's, the ab error on
moving pixels unchanged (0.98-1.01x: no colour smeared behind the hands),
the frames per second the same as frame by frame's (1.04x; the smoother
costs 0.38 ms a frame). Strength 0.7 left up to 1.7x (over the 1.5x floor),
0.85 up to 1.2x, 0.92 up to 0.93x (6 clips) at a little more colour lost;
sigma 6 instead of 3 changed little. The near-neutral bottle-detection clip
is the exception: its real video hardly flickers (0.06 mean |Δab| on still
pixels, a tenth of the others'), and 16.7x frame by frame becomes 5.4x
(0.33 |Δab|, less than the sign-language clips' real videos); strength 0.97
gives 3.5x and 0.995 still 2.2x; a finer encode (CRF 12), no box blur or
sigma 1.5 change nothing.

Where that residual comes from (bottle-detection, first 200 frames, truth
0.082): the smoothed ab at the working size 0.197, the full-size RGB frames
before encoding 0.237, the decoded file 0.379 (4.65x). So about half is the
filter's own drift (the predictions wander slowly, and a recursive filter
passes slow wander), a little the 8-bit rounding, and the rest (+0.14) the
H.264 encoder: our tinted frames lose the bit-identical still areas that
the encoder skips, while a near-neutral truth re-encoded the same way only
goes from 0.082 to 0.104 (luma noise does not move the ab of R = G = B).
Hence the hold (``hold``, 2 ab units): on a pixel whose lightness holds
still (box3 |ΔL| < ``hold_dl``, 1) the output keeps the previous output's
ab exactly until the filtered value is ``hold`` or more away, then jumps to
it; the filter itself runs on unheld, so the output is never more than
``hold`` from it (a bounded lag, on still pixels only; moving pixels and
cuts are as before). Measured: the smoothed ab 0.197 → 0.109, the frames
before encoding 0.237 → 0.117 (1.4x the truth), the decoded file 4.65x →
3.65x; the encoder's share stays (+0.18): x264 without psy-rd and AQ
gives 0.235 instead of 0.298 on the same frames, CRF 20 0.226, nr or
pbratio nothing more, so the bottle clip stays over the 1.5x floor, now
mostly for the encoder's chroma noise on a tinted near-static picture. On
three sign-language clips (bird, hungry, sorry; 60 frames) the hold takes
the flicker from 0.86/0.92/0.81x to 0.68/0.73/0.64x, colour (0.98-1.03x)
and moving-pixel error (0.99-1.01x) unchanged.

Why this and not optical flow (``method="flow"``: the previous ab carried
along OpenCV DIS flow first, then the same gate on the warped L's error):
on those clips flow was no better (flicker 0.85-1.05x, moving-pixel error
equal), and it costs an OpenCV dependency (its time, 0.85 ms a frame at 128
px against the filter's 0.38, is nothing next to the network's). Flow would help a
panning camera, where the gate sees most pixels change and the plain filter
falls back towards frame-by-frame colour (never worse than frame by frame,
only less smooth); it stays available as ``method="flow"`` with OpenCV
installed (``pip install 'kcolor[flow]'``). Cuts are found by the mean |ΔL|
alone (a histogram test was not tried); a cut between two shots of similar
lightness that slips under it still only carries colour where a pixel's own
lightness matches, since the per-pixel gate applies too.

Pure numpy (OpenCV only for ``method="flow"``): the model is not touched, so
it works with every backend and model format ``kcolor.colorize.Colorizer``
runs.
"""

import numpy as np

METHODS = ("filter", "flow", "none")


def _box3(x):
    """3x3 box mean of [H, W] (edges replicated)."""
    p = np.pad(x, 1, mode="edge")
    h, w = x.shape
    return sum(p[i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9.0


class Smoother:
    """Smooths ab over the frames of one clip, fed in order.

    Args:
      method: "filter" (default; see the module docstring), "flow" (carry the
        previous ab along DIS optical flow first; needs OpenCV) or "none"
        (frame by frame: returns each prediction as it is).
      strength: weight of the previous frame's ab on a still pixel, in [0, 1).
      sigma: lightness change (L units, 0-100) at which that weight has fallen
        to 1/e of ``strength``.
      cut: mean |ΔL| over the frame above which a new shot starts (no colour
        is carried over).
      hold: on a still pixel, keep the last output ab exactly until the
        filtered ab moves this far (ab units) from it; 0: no hold.
      hold_dl: the blurred |ΔL| under which a pixel counts as still for the hold.
    """

    def __init__(self, method="filter", strength=0.9, sigma=3.0, cut=10.0, hold=2.0,
                 hold_dl=1.0):
        if method not in METHODS:
            raise ValueError(f"unknown temporal method {method!r}: use one of {', '.join(METHODS)}")
        if not 0 <= strength < 1:
            raise ValueError(f"strength must be in [0, 1), not {strength}")
        if hold < 0:
            raise ValueError(f"hold must be >= 0, not {hold}")
        self.method, self.strength, self.sigma, self.cut = method, strength, sigma, cut
        self.hold, self.hold_dl = hold, hold_dl
        self._flow = None
        if method == "flow":
            try:
                import cv2  # only this method needs OpenCV
            except ImportError:
                raise ValueError("the flow method needs OpenCV: pip install 'kcolor[flow]'") \
                    from None

            self._cv2 = cv2
            self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.reset()

    def reset(self):
        """Forgets the previous frame (the next one starts a shot)."""
        self._L = self._ab = self._out = None
        self.cuts = 0  # cuts detected so far (the first frame is not one)

    def __call__(self, L, ab):
        """Smoothed ab [h, w, 2] for a frame's L [h, w] or [h, w, 1] (0-100) and
        its predicted ab [h, w, 2], both at the working size."""
        L = np.asarray(L, np.float32).reshape(np.shape(ab)[:2])
        ab = np.asarray(ab, np.float32)
        if self.method == "none":
            return ab
        prev_L, prev_ab = self._L, self._ab
        if prev_L is not None and prev_L.shape != L.shape:
            prev_L = None
        if prev_L is not None and float(np.mean(np.abs(L - prev_L))) > self.cut:
            self.cuts += 1
            prev_L = None
        if prev_L is None:
            out = filtered = ab
        else:
            still = _box3(np.abs(L - prev_L))  # before any warp: the pixel itself held still
            if self._flow is not None:
                prev_L, prev_ab = self._warp(prev_L, prev_ab, L)
                d = _box3(np.abs(L - prev_L))
            else:
                d = still
            w = (self.strength * np.exp(-np.square(d / self.sigma)))[..., None]
            filtered = w * prev_ab + (1.0 - w) * ab
            out = filtered
            if self.hold > 0:
                # The hold: where the lightness holds still and the filtered
                # colour is within ``hold`` of the last output, the last
                # output exactly (bit-identical frames that the encoder skips).
                near = np.sum(np.square(filtered - self._out), -1) < self.hold ** 2
                keep = (near & (still < self.hold_dl))[..., None]
                out = np.where(keep, self._out, filtered)
        self._L, self._ab, self._out = L, filtered, out
        return out

    def _warp(self, prev_L, prev_ab, L):
        """prev_L and prev_ab moved along the flow from the previous frame to this one."""
        cv2 = self._cv2
        u8 = lambda x: np.clip(x * 2.55, 0, 255).astype(np.uint8)  # noqa: E731
        flow = self._flow.calc(u8(L), u8(prev_L), None)  # this frame → where it was before
        h, w = L.shape
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        mx, my = gx + flow[..., 0], gy + flow[..., 1]
        warp = lambda x: cv2.remap(x, mx, my, cv2.INTER_LINEAR,  # noqa: E731
                                   borderMode=cv2.BORDER_REPLICATE)
        return warp(prev_L), warp(np.ascontiguousarray(prev_ab))
