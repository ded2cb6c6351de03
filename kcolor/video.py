"""Colorizing video clips: ``colorize_video(src, dst)``, the video half of
``kcolor colorize``.

Frames stream through: decoded (PyAV, whose wheel ships FFmpeg), gathered
into batches of ``batch_size``, colorized (the photo path's squash → predict →
upsample ab → join with the frame's own L), smoothed over time
(``kcolor.temporal``) and encoded at once; a clip is never held whole in
memory, so peak memory does not grow with its length. The output has the
input's container, size, frame count and timestamps (so its frame rate);
audio streams are copied packet by packet, not re-encoded. Video goes out
as H.264 (VP9 in .webm), near-transparent quality (CRF 17 / 24).

The file is written atomically (``kcolor.atomic``: a temporary file in the
output folder, renamed at the end): a run killed mid-clip leaves no partial
file under the final name, and ``atomic.remove_stale`` removes its leftover.
"""

import os
from fractions import Fraction

import numpy as np

from kcolor import atomic, colorize, temporal

EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm")
_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
# (codec, options): near-transparent quality, fast enough not to hold up the model.
_CODECS = {
    ".webm": ("libvpx-vp9", {"crf": "24", "b": "0", "deadline": "realtime", "cpu-used": "8",
                             "row-mt": "1"}),
}
_H264 = ("libx264", {"crf": "17", "preset": "veryfast"})
_CODECS[".avi"] = ("libx264", {**_H264[1], "bf": "0"})  # AVI keeps no B-frame timestamps


class VideoError(ValueError):
    """A clip that cannot be colorized; str() is ``PATH: reason``."""


class _NoFrames(Exception):
    pass


def is_video(path):
    return os.path.splitext(str(path))[1].lower() in EXTENSIONS


def frame_count(path):
    """The number of frames the container records for ``path``'s video, else
    an estimate from its duration and frame rate (Matroska records no count),
    or None (unknown or unreadable): for progress bars."""
    import av

    try:
        with av.open(str(path)) as f:
            s = f.streams.video[0]
            if s.frames:
                return s.frames
            rate = s.average_rate or s.guessed_rate
            seconds = s.duration * s.time_base if s.duration and s.time_base else (
                f.duration / av.time_base if f.duration else None)
            return round(seconds * rate) if seconds and rate else None
    except (av.FFmpegError, OSError, IndexError):
        return None


def colorize_video(src, dst, colorizer=None, batch_size=8, method="filter", progress=None,
                   model=None, chroma_hold=0.0, chroma_drift=0.0, encoder_options=None,
                   reference=None, **smoother_args):
    """Colorizes the clip ``src`` into ``dst`` (same container as ``dst``'s
    extension); returns the number of frames written.

    Args:
      colorizer: a ``kcolor.colorize.Colorizer`` (default: one built from ``model``).
      batch_size: frames per network batch (the frames in flight).
      method: ``kcolor.temporal`` method: "filter" (default), "flow" or "none"
        (frame by frame, as photos).
      progress: None, or a callable given the frames done so far after each batch.
      chroma_hold: 0 (default): frames go to the encoder as RGB, converted
        by libswscale. Above 0, with a temporal method: frames go to the
        encoder as YUV built here, and on still pixels (the smoother's
        ``hold_dl``) each chroma sample keeps the previous frame's value
        exactly until the new one is more than this many code values away
        (``_ChromaHold``; an experiment that did not pay, see there).
      chroma_drift: with ``chroma_hold``, also release a held chroma sample
        once its block's lightness has drifted more than this (L units,
        0-100) from its value when the sample was set; 0: no such bound
        (``chroma_hold=255, chroma_drift=3``: bounded by lightness alone).
      encoder_options: extra options for the video encoder (e.g.
        ``{"aq-mode": "0"}`` for x264), over the defaults.
      reference: a colour photo (uint8 RGB, a path or a
        ``kcolor.hints.reference.Reference``) whose matched colours every
        frame gets as hint points (a hint-aware colorizer; default without
        one: the hints' preset, lite_hints). Its features are computed once;
        each batch of frames goes through the encoder once at the matching size.
      smoother_args: ``kcolor.temporal.Smoother`` settings (strength, sigma, cut).

    Raises:
      VideoError: ``PATH: reason`` for a file that is not a readable clip
        (``PATH: no video stream`` for one without video); nothing is left
        under ``dst`` nor any temporary file.
    """
    import av

    ext = os.path.splitext(dst)[1].lower()
    if ext not in _FORMATS:
        raise VideoError(f"{dst}: unsupported video container {ext!r}")
    if reference is not None:  # before the clip is opened: a bad reference fails first
        from kcolor import kinds

        hints = kinds.conditions()["hints"]
        colorizer = colorizer or colorize.Colorizer(model or hints.default_preset)
        reference = hints.reference(reference, colorizer)
    colorizer = colorizer or colorize.Colorizer(model)
    smoother = temporal.Smoother(method, **smoother_args)
    try:
        inp = av.open(str(src))
    except (av.FFmpegError, OSError) as e:
        raise VideoError(f"{src}: {_reason(e)}") from None
    with inp:
        if not inp.streams.video:
            raise VideoError(f"{src}: no video stream")
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        audio = list(inp.streams.audio)
        try:
            with atomic.open_atomic(dst, "wb", ext) as f:
                with av.open(f, "w", format=_FORMATS[ext]) as out:
                    return _transcode(inp, vin, audio, out, ext, colorizer, smoother,
                                      batch_size, progress, chroma_hold, chroma_drift,
                                      encoder_options, reference)
        except (av.FFmpegError, _NoFrames) as e:
            raise VideoError(f"{src}: {_reason(e)}") from None


def parse_video_options(items, flag="--video_options"):
    """{key: value} of ``kcolor colorize --video_options`` items such as
    ``["crf=23", "aq-mode=0"]`` (encoder options over ``_CODECS``' defaults:
    x264's CRF 17, VP9's CRF 24 in .webm); None for none. Raises ValueError
    naming ``flag`` and an item that is not ``key=value``. A bad value fails the clip
    (``PATH: Invalid argument``); a name the encoder does not know is
    ignored by FFmpeg (PyAV lists no encoder options to check it against)."""
    if not items:
        return None
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{flag}: {item!r} is not key=value (e.g. crf=23)")
        options[key.strip()] = value.strip()
    return options


def _reason(e):
    return getattr(e, "strerror", None) or str(e)


def _transcode(inp, vin, audio, out, ext, colorizer, smoother, batch_size, progress,
               chroma_hold=0.0, chroma_drift=0.0, encoder_options=None, reference=None):
    """Decode → batch → colorize → encode, muxing audio packets as they come
    (those before the first video frame wait for it: the header names every
    stream, and the video's size is known from its first frame)."""
    vout = None
    aouts = {a.index: out.add_stream_from_template(a) for a in audio}
    pending, early_audio, written = [], [], [0]
    clock = _Clock(vin)
    hold = None

    def flush():
        nonlocal vout, hold
        if not pending:
            return
        if vout is None:
            vout = _add_video_stream(out, vin, pending[0], ext, clock.time_base,
                                     encoder_options)
            if chroma_hold > 0 and smoother.method != "none":
                hold = _ChromaHold(vout.pix_fmt, chroma_hold, smoother.hold_dl, chroma_drift)
            for packet in early_audio:
                out.mux(packet)
            early_audio.clear()
        size = (vout.width, vout.height)
        frames = [f if (f.width, f.height) == size else f.reformat(*size) for f in pending]
        for frame in _colorize_frames(colorizer, smoother, frames, clock, hold, reference):
            for packet in vout.encode(frame):
                out.mux(packet)
            written[0] += 1
        pending.clear()
        if progress:
            progress(written[0])

    for packet in inp.demux(vin, *audio):
        if packet.stream.type == "audio":
            if packet.dts is not None:  # None: the demuxer's end-of-stream marker
                packet.stream = aouts[packet.stream.index]
                (out.mux if vout is not None else early_audio.append)(packet)
            continue
        for frame in packet.decode():
            pending.append(frame)
            if len(pending) >= batch_size:
                flush()
    flush()
    if vout is None:
        raise _NoFrames("no readable video frames")
    for packet in vout.encode(None):
        out.mux(packet)
    return written[0]


def _add_video_stream(out, vin, first, ext, time_base, extra=None):
    codec, options = _CODECS.get(ext, _H264)
    rate = vin.average_rate or vin.guessed_rate or Fraction(30)
    s = out.add_stream(codec, rate=rate, options={**options, **(extra or {})})
    s.width, s.height = first.width, first.height
    s.pix_fmt = "yuv420p" if first.width % 2 == 0 and first.height % 2 == 0 else "yuv444p"
    s.codec_context.time_base = time_base  # the input's timestamps, kept (_Clock)
    if vin.sample_aspect_ratio:
        s.codec_context.sample_aspect_ratio = vin.sample_aspect_ratio
    return s


class _Clock:
    """Output timestamps: each input frame's own, in the input stream's time
    base, where they are known and increasing; else one frame after the
    previous one (broken or missing timestamps, as in some AVI files)."""

    def __init__(self, vin):
        rate = vin.average_rate or vin.guessed_rate or Fraction(30)
        self.time_base = vin.time_base or 1 / Fraction(rate)
        self.step = max(1, round(1 / (Fraction(rate) * self.time_base)))
        self.last = None

    def __call__(self, frame):
        pts = frame.pts
        if pts is None or (self.last is not None and pts <= self.last):
            pts = 0 if self.last is None else self.last + self.step
        self.last = pts
        return pts


def _colorize_frames(colorizer, smoother, frames, clock, hold=None, reference=None):
    """Yields colorized ``av.VideoFrame``s (timestamps from ``clock``) for
    ``frames``: RGB, or with ``hold`` (a ``_ChromaHold``) YUV built by it;
    with ``reference`` (a ``kcolor.hints.reference.Reference``) each frame
    gets its matched colours as hint points."""
    import av

    Ls = [colorize._lightness(f.to_ndarray(format="rgb24")) for f in frames]
    h, w = Ls[0].shape[:2]  # every frame of a clip has one size
    size = colorizer.working_size(h, w)
    small = np.stack([colorize._resize(L, size, size) for L in Ls])
    hints = None
    if reference is not None:
        from kcolor import kinds

        hints = kinds.conditions()["hints"].reference_maps(reference, Ls, size)
    predicted = (colorizer.predict_ab(small) if hints is None
                 else colorizer.predict_ab(small, hints=hints))
    for frame, L, L_small, ab in zip(frames, Ls, small, predicted):
        cuts = smoother.cuts
        ab = colorize._resize(smoother(L_small, ab), L.shape[0], L.shape[1])
        if hold is None:
            new = av.VideoFrame.from_ndarray(colorize._join(L, ab), format="rgb24")
        else:
            new = hold(L[..., 0], colorize._join(L, ab, as_float=True), smoother.cuts != cuts)
        new.pts, new.time_base = clock(frame), clock.time_base
        yield new


def _quad(x, op):
    """op over each 2x2 block of x [H, W, ...] (H, W even): [H/2, W/2, ...]."""
    return op(op(x[0::2, 0::2], x[0::2, 1::2]), op(x[1::2, 0::2], x[1::2, 1::2]))


# RGB in [0, 1] → Y'CbCr, BT.601 limited range ("tv"): what libswscale applies
# to untagged RGB frames on the way to a yuv420p/yuv444p encoder, and what it
# and players assume when decoding untagged SD video. Measured on PyAV 18.1 /
# FFmpeg 8.1 (4,096 flat colours): rounded, this gives libswscale's Y for 99.4 %
# of them; its U and V come out 0.17 lower on average (floor(x + 0.33) matches
# 97.8 %), a bias its own decoding expects, so the offsets take it (without it
# the decoded a* came out 0.17 high).
_YUV = np.array([[65.481, 128.553, 24.966],
                 [-37.797, -74.203, 112.0],
                 [112.0, -93.786, -18.214]], np.float32).T
_YUV_OFFSET = np.array([16.0, 128.0 - 0.17, 128.0 - 0.17], np.float32)


class _ChromaHold:
    """Builds the encoder's own frames (yuv420p, or yuv444p for odd sizes)
    from RGB, holding chroma still where the picture holds still.

    Y follows the frame (BT.601 of the RGB, like libswscale's). Each chroma
    sample (the mean of its 2x2 block for 4:2:0) keeps the previous frame's
    integer value exactly where its block's lightness holds still (3x3
    box-blurred |ΔL| under ``still_dl`` on every pixel of the block, the
    smoother's hold rule, on the input's L at full size) and the new value
    is within ``tol`` code values of it; elsewhere, on the first frame and
    after a cut, the new value rounded. Why: with the ab held still, the
    lightness noise of a real clip still moves the rounded U and V by a code
    value here and there, and the encoder spends bits on that chroma
    residual, which decodes as flicker; bit-identical chroma planes in still
    areas cost it nothing. Only the previous frame's L and chroma are kept.

    Measured, it does not pay, so it is off by default: on bottle-detection
    (first 60 frames, ``benchmarks/video.py --chroma_hold=1``) the still-pixel
    flicker goes from 4.98x the real video's to 4.92x. The premise is wrong
    there: the frames fed to the encoder flicker as much with it as without
    (2.18x against 2.23x the truth, decoded by libswscale without an
    encoder), because 97 % of their still-pixel |Δab| comes from changes of
    more than 1 ab unit (the smoother's own output moving: its hold
    releasing as the filtered colour drifts), not from rounding jitter. With
    the chroma planes fully frozen (every sample held all clip long) x264
    still makes the file 2.18x (1.09x with ``aq-mode=0``): the encoder turns
    any change into more. Holding until 8 code values away gives 2.03x,
    holding without bound 2.48x (1.42x with ``aq-mode=0``, which halves the
    file at CRF 17), but an unbounded hold would keep a slow fade from black
    gray. The conversion itself is right: decoded before encoding, its
    colours are 0.04 (bottle-detection) and 0.16 (asl bird, chroma filter
    differences at edges) mean |Δab| from the RGB path's, and closer to the
    intended Lab than it. It costs about 4 ms a frame more at 640x360
    (13 before the 2x2 means went to strided slices).

    ``drift`` (``colorize_video(chroma_drift=)``) bounds the hold by the
    lightness instead of the chroma distance: each sample remembers its
    block's mean L when it was set and is released once the block has
    drifted more than ``drift`` L units from it (or moves, or at a cut), so a
    fade too slow for the stillness test still takes new colour every few
    frames while zero-mean sensor noise keeps a still wall held. With
    ``tol=255`` (no chroma bound), ``drift=3`` (``benchmarks/video.py
    --chroma_hold=255 --chroma_drift=3``), bottle-detection, first 60 frames:
    the fed frames 2.55x -> 0.28x the truth's flicker, the file 4.98x ->
    2.48x, with x264 ``aq-mode=0`` 1.44x (drift 2: 1.47x, 5: 1.43x; plus a
    12-code chroma bound: 1.54x), colour 0.95x, speed 0.90x frame by frame's.
    But on all 1,189 frames it misses the floor: the current path is 2.54x
    there (fed frames 0.99x), the drift hold 2.92x (fed 0.45x) and 2.13x with
    ``aq-mode=0``, colour 1.00x, speed 0.89x; so it stays off by default.
    ``aq-mode=0`` costs 1.1 dB PSNR of the decoded file against the frames
    fed to it (43.76 -> 42.69 dB all clip; 46.34 -> 45.32 over 60 frames)
    and halves the file (2,614 -> 1,338 KB). A slow fade from black (an asl
    frame, 320x240, L ramped over 150 frames, at most 0.66 L a frame, then
    20 still): the last frames' colourfulness is 0.93x frame by frame's with
    drift 3 (0.92x drift 5; 0.97x the RGB path), 0.62x with the unbounded hold.
    """

    def __init__(self, pix_fmt, tol=1.0, still_dl=1.0, drift=0.0):
        self.sub = 2 if pix_fmt == "yuv420p" else 1
        self.tol, self.still_dl, self.drift = tol, still_dl, drift
        self._L = self._uv = self._ref = None

    def __call__(self, L, rgb, cut=False):
        """An ``av.VideoFrame`` of L [H, W] (0-100, the input's lightness) and
        float RGB [H, W, 3] in [0, 1]."""
        import av

        h, w = L.shape
        y = np.empty((h, w), np.uint8)
        np.rint(rgb @ _YUV[:, 0] + _YUV_OFFSET[0], out=y, casting="unsafe")
        s = self.sub
        if s == 2:  # 2x2 means by strided slices (a 5-D reshape mean is 10x slower)
            rgb = _quad(rgb, np.add) * 0.25
        uv = rgb @ _YUV[:, 1:] + _YUV_OFFSET[1:]
        new = np.clip(np.rint(uv), 0, 255).astype(np.uint8)
        # The block's lightness now (each chroma sample's own), remembered
        # where a sample is set: the drift bound's reference.
        Lb = _quad(L, np.add) * 0.25 if s == 2 else L
        ref = Lb
        if self._uv is not None and not cut and self._L.shape == L.shape:
            d = temporal._box3(np.abs(L - self._L))
            if s == 2:
                d = _quad(d, np.maximum)
            keep = d < self.still_dl
            if self.tol < 255:
                keep &= np.all(np.abs(uv - self._uv) <= self.tol, -1)
            if self.drift > 0:
                keep &= np.abs(Lb - self._ref) <= self.drift
            new = np.where(keep[..., None], self._uv, new)
            ref = np.where(keep, self._ref, Lb)
        self._L, self._uv, self._ref = L, new, ref
        if s == 2:
            planes = [y.reshape(-1), new[..., 0].reshape(-1), new[..., 1].reshape(-1)]
            return av.VideoFrame.from_ndarray(np.concatenate(planes).reshape(-1, w), "yuv420p")
        return av.VideoFrame.from_ndarray(np.stack([y, new[..., 0], new[..., 1]], -1),
                                          "yuv444p", channel_last=True)
