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
                   model=None, **smoother_args):
    """Colorizes the clip ``src`` into ``dst`` (same container as ``dst``'s
    extension); returns the number of frames written.

    Args:
      colorizer: a ``kcolor.colorize.Colorizer`` (default: one built from ``model``).
      batch_size: frames per network batch (the frames in flight).
      method: ``kcolor.temporal`` method: "filter" (default), "flow" or "none"
        (frame by frame, as photos).
      progress: None, or a callable given the frames done so far after each batch.
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
                                      batch_size, progress)
        except (av.FFmpegError, _NoFrames) as e:
            raise VideoError(f"{src}: {_reason(e)}") from None


def _reason(e):
    return getattr(e, "strerror", None) or str(e)


def _transcode(inp, vin, audio, out, ext, colorizer, smoother, batch_size, progress):
    """Decode → batch → colorize → encode, muxing audio packets as they come
    (those before the first video frame wait for it: the header names every
    stream, and the video's size is known from its first frame)."""
    vout = None
    aouts = {a.index: out.add_stream_from_template(a) for a in audio}
    pending, early_audio, written = [], [], [0]
    clock = _Clock(vin)

    def flush():
        nonlocal vout
        if not pending:
            return
        if vout is None:
            vout = _add_video_stream(out, vin, pending[0], ext, clock.time_base)
            for packet in early_audio:
                out.mux(packet)
            early_audio.clear()
        size = (vout.width, vout.height)
        frames = [f if (f.width, f.height) == size else f.reformat(*size) for f in pending]
        for frame in _colorize_frames(colorizer, smoother, frames, clock):
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


def _add_video_stream(out, vin, first, ext, time_base):
    codec, options = _CODECS.get(ext, _H264)
    rate = vin.average_rate or vin.guessed_rate or Fraction(30)
    s = out.add_stream(codec, rate=rate, options=dict(options))
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


def _colorize_frames(colorizer, smoother, frames, clock):
    """Yields colorized ``av.VideoFrame``s (timestamps from ``clock``) for ``frames``."""
    import av

    Ls = [colorize._lightness(f.to_ndarray(format="rgb24")) for f in frames]
    h, w = Ls[0].shape[:2]  # every frame of a clip has one size
    size = colorizer.working_size(h, w)
    small = np.stack([colorize._resize(L, size, size) for L in Ls])
    for frame, L, L_small, ab in zip(frames, Ls, small, colorizer.predict_ab(small)):
        ab = smoother(L_small, ab)
        rgb = colorize._join(L, colorize._resize(ab, L.shape[0], L.shape[1]))
        new = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        new.pts, new.time_base = clock(frame), clock.time_base
        yield new
