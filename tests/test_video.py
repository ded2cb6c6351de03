"""Video clips: ``kcolor.video.colorize_video``, ``kcolor.temporal`` and clips
in ``kcolor colorize`` batches. Tiny clips are made here with PyAV."""

import os
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest

from kcolor import color, colorize, colorize_files, temporal, video

RATE = Fraction(24)
SIZE = 32  # working size of the test model


def _scene(t, h=48, w=64, cut_at=None, seed=0):
    """uint8 RGB frame t: a still coloured background (with a little sensor
    noise) and a square moving right; after ``cut_at`` a different scene."""
    yy, xx = np.mgrid[0:h, 0:w] / float(max(h, w))
    second = cut_at is not None and t >= cut_at
    base = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.7 - 0.4 * xx], -1) if not second else \
        np.stack([0.9 - 0.7 * yy, 0.2 + 0.2 * xx, 0.1 + 0.3 * yy], -1)
    img = base * 255
    x0 = 4 + 3 * t
    img[16:32, x0:x0 + 12] = (230, 40, 40) if not second else (20, 20, 20)
    img += np.random.default_rng(seed * 1000 + t).normal(0, 0.6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_clip(path, frames, rate=RATE, audio=False, video_stream=True, pix_fmt="yuv420p"):
    """Writes RGB ``frames`` (H.264, near lossless) and, with ``audio``, an AAC
    sine tone as long as the clip; returns ``path``."""
    with av.open(str(path), "w") as out:
        if video_stream:
            v = out.add_stream("libx264", rate=rate, options={"crf": "1", "preset": "ultrafast"})
            v.height, v.width = frames[0].shape[:2]
            v.pix_fmt = pix_fmt
        if audio:
            a = out.add_stream("aac", rate=16000, layout="mono")
        if video_stream:
            for f in frames:
                for p in v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    out.mux(p)
            for p in v.encode(None):
                out.mux(p)
        if audio:
            n = int(16000 * len(frames) / rate)
            tone = (0.3 * np.sin(np.arange(n) * 2 * np.pi * 440 / 16000)).astype(np.float32)
            for i in range(0, n, 1024):
                frame = av.AudioFrame.from_ndarray(tone[None, i:i + 1024], format="fltp",
                                                   layout="mono")
                frame.sample_rate, frame.pts = 16000, i
                for p in a.encode(frame):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)
    return path


def read_clip(path):
    """(uint8 RGB frames, average rate, (width, height))."""
    with av.open(str(path)) as f:
        s = f.streams.video[0]
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(s)]
        return frames, s.average_rate, (s.width, s.height)


def audio_packets(path):
    with av.open(str(path)) as f:
        s = f.streams.audio[0]
        packets = [p for p in f.demux(s) if p.dts is not None]
        return s.codec_context.name, len(packets), sum(p.duration for p in packets) * s.time_base


def still_flicker(source, output):
    """Mean |Δab| of ``output`` between consecutive frames on the pixels whose
    L moves by less than 1 in ``source``."""
    total, count = 0.0, 0
    for t in range(1, len(source)):
        L0, L1 = (color.rgb_to_lab(source[k] / 255.0, np)[..., 0] for k in (t - 1, t))
        ab0, ab1 = (color.rgb_to_lab(output[k] / 255.0, np)[..., 1:] for k in (t - 1, t))
        still = np.abs(L1 - L0) < 1
        total += float(np.linalg.norm(ab1 - ab0, axis=-1)[still].sum())
        count += int(still.sum())
    return total / count


def leftovers(folder):
    return [p for p in folder.rglob(".kcolor-*")]


@pytest.fixture(scope="module")
def colorizer(lively_model):
    return colorize.Colorizer(lively_model, size=SIZE)


def test_moving_square_keeps_count_rate_size_and_flickers_less(colorizer, tmp_path):
    frames = [_scene(t) for t in range(14)]
    src = write_clip(tmp_path / "square.mp4", frames)
    outs = {}
    for method in ("none", "filter"):
        dst = tmp_path / method / "square.mp4"
        assert video.colorize_video(str(src), str(dst), colorizer, 4, method) == 14
        outs[method], rate, size = read_clip(dst)
        assert (len(outs[method]), rate, size) == (14, RATE, (64, 48))
    source = read_clip(src)[0]
    per_frame, smoothed = still_flicker(source, outs["none"]), still_flicker(source, outs["filter"])
    assert per_frame > 0.3, per_frame  # the frame-by-frame colour does move on still pixels
    assert smoothed < 0.6 * per_frame, (smoothed, per_frame)
    # Colour is not bought with gray: the smoothed clip is about as colourful.
    spread = lambda fs: np.mean([f.max(-1).astype(int) - f.min(-1) for f in fs])  # noqa: E731
    assert spread(outs["filter"]) > 0.8 * spread(outs["none"])


@pytest.mark.parametrize("ext", [".avi", ".mov"])
def test_odd_size_and_other_containers(colorizer, tmp_path, ext):
    src = write_clip(tmp_path / f"odd{ext}", [_scene(t, h=45, w=63) for t in range(7)],
                     pix_fmt="yuv444p")
    assert video.colorize_video(str(src), str(tmp_path / "out" / f"odd{ext}"), colorizer) == 7
    frames, rate, size = read_clip(tmp_path / "out" / f"odd{ext}")
    assert (len(frames), rate, size) == (7, RATE, (63, 45))


def test_smoother_settles_on_still_pixels_and_restarts_at_a_cut():
    rng = np.random.default_rng(0)
    L = np.full((16, 16), 50.0, np.float32)
    s = temporal.Smoother()
    outs = [s(L, 20 + rng.normal(0, 4, (16, 16, 2))) for _ in range(30)]
    jitter = np.mean([np.abs(b - a).mean() for a, b in zip(outs[10:], outs[11:])])
    assert jitter < 0.5 * 4 * 2 / np.sqrt(np.pi)  # under half of the predictions' mean |Δ|
    new = rng.normal(0, 30, (16, 16, 2)).astype(np.float32)
    assert np.array_equal(s(L + 40, new), new) and s.cuts == 1  # a cut: nothing carried over
    moved = L + 40
    moved[:4] += 20  # these pixels change: their prediction takes over
    pred = new + 10
    out = s(moved, pred)
    assert np.abs(out[:3] - pred[:3]).max() < 0.01 and np.abs(out[8:] - pred[8:]).min() > 1


def test_hold_keeps_still_colour_bit_identical_and_moving_colour_follows():
    """Still pixels with slightly noisy predictions: after the filter settles
    the output ab does not change at all (the encoder can skip them), while a
    moving square's colour follows its prediction and a step in the predicted
    colour of a still region is followed to within ``hold``."""
    rng = np.random.default_rng(1)
    h = w = 32
    s, plain = temporal.Smoother(), temporal.Smoother(hold=0)
    held_still, plain_still, square_err, steps, lag = [], [], [], [], []
    prev = prev_plain = None
    for t in range(60):
        L = np.full((h, w), 50.0, np.float32)
        x0 = 2 + (t % 10) * 2  # an 8x8 square moving right by 2 px a frame
        L[12:20, x0:x0 + 8] = 80.0
        pred = np.empty((h, w, 2), np.float32)
        pred[...] = (10.0, 6.0) if t < 25 else (15.0, 6.0)  # at 25 the still colour steps by 5
        pred += rng.normal(0, 0.15, pred.shape).astype(np.float32)
        pred[12:20, x0:x0 + 8] = (40.0, -20.0)
        out, out_plain = s(L, pred), plain(L, pred)
        if prev is not None and 10 <= t < 25:
            still = np.ones((h, w), bool)
            still[9:23] = False  # rows the square (and the 3x3 gate's blur) never reach
            held_still.append(np.abs(out - prev)[still].max())
            plain_still.append(np.abs(out_plain - prev_plain)[still].max())
            square_err.append(np.abs(out[12:20, x0 + 2:x0 + 6] - (40, -20)).max())
        lag.append(np.linalg.norm(out - out_plain, axis=-1).max())
        if t >= 55:
            steps.append(np.abs(out[:8, :, 0] - 15.0).max())
        prev, prev_plain = out, out_plain
    assert max(held_still) == 0.0, held_still  # bit-identical on still pixels
    assert min(plain_still) > 0.01, plain_still  # without the hold they do move
    assert max(square_err) < 2.0, square_err  # the moving square is its own colour
    assert max(lag) < s.hold, lag  # never more than ``hold`` from the plain filter
    assert max(steps) < s.hold + 0.3, steps  # a real change is followed
    assert s.cuts == 0
    new = rng.normal(0, 30, (h, w, 2)).astype(np.float32)
    assert np.array_equal(s(L + 40, new), new) and s.cuts == 1  # a cut still restarts


def test_cut_is_not_carried_over(colorizer, tmp_path, monkeypatch):
    frames = [_scene(t, cut_at=6) for t in range(10)]
    src = write_clip(tmp_path / "cut.mkv", frames)
    seen = []  # (prediction, output) of each frame at the working size

    class Recording(temporal.Smoother):
        def __call__(self, L, ab):
            out = super().__call__(L, ab)
            seen.append((np.array(ab), np.array(out)))
            return out

    monkeypatch.setattr(video.temporal, "Smoother", Recording)
    out = {}
    for method in ("none", "filter"):
        seen.clear()
        video.colorize_video(str(src), str(tmp_path / f"{method}.mkv"), colorizer, 4, method)
        out[method] = np.asarray(read_clip(tmp_path / f"{method}.mkv")[0], np.float32)
    assert len(seen) == 10
    pred, smoothed = zip(*seen)
    assert np.array_equal(smoothed[6], pred[6])  # the frame after the cut: its own prediction
    assert np.array_equal(smoothed[0], pred[0])
    assert all(np.abs(smoothed[t] - pred[t]).mean() > 0.5 for t in (2, 3, 4, 5, 8, 9))
    # The same in the written clips, up to the encoder's noise.
    diff = np.abs(out["filter"] - out["none"]).mean(axis=(1, 2, 3))
    assert diff[6] < 0.5 * min(diff[2:6]), diff


def test_audio_is_copied(colorizer, tmp_path):
    src = write_clip(tmp_path / "talk.mp4", [_scene(t) for t in range(12)], audio=True)
    dst = tmp_path / "out" / "talk.mp4"
    video.colorize_video(str(src), str(dst), colorizer, 4)
    assert audio_packets(dst) == audio_packets(src)
    assert audio_packets(src)[0] == "aac" and audio_packets(src)[1] > 5
    assert len(read_clip(dst)[0]) == 12


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_truncated_clip(colorizer, tmp_path, capsys, ext):
    src = write_clip(tmp_path / f"cut{ext}", [_scene(t) for t in range(16)])
    data = src.read_bytes()
    src.write_bytes(data[:len(data) * 6 // 10])
    out = tmp_path / "out"
    done, failed = _run(colorizer, [str(src)], out)
    err = capsys.readouterr().err.strip().splitlines()
    assert not leftovers(tmp_path)
    if failed:  # one line naming the file and why; nothing written
        assert (done, failed) == (0, 1) and len(err) == 1 and err[0].startswith(f"{src}: ")
        assert not (out / src.name).exists()
    else:  # the readable frames written
        frames = read_clip(out / src.name)[0]
        assert 0 < len(frames) < 16


def _run(colorizer, paths, out, **kw):
    """colorize_files.run with the module's Colorizer (no model reload)."""
    orig = colorize.Colorizer
    colorize.Colorizer = lambda *a, **k: colorizer
    try:
        return colorize_files.run(paths, str(out), progress=False, **kw)
    finally:
        colorize.Colorizer = orig


def test_garbage_and_audio_only_are_reported_and_the_batch_goes_on(colorizer, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_clip(folder / "a_song.mp4", [_scene(0)] * 10, audio=True, video_stream=False)
    (folder / "b_garbage.mkv").write_bytes(b"not a video at all" * 50)
    write_clip(folder / "c_good.mkv", [_scene(t) for t in range(5)])
    out = tmp_path / "out"
    assert _run(colorizer, [str(folder)], out) == (1, 2)
    err = capsys.readouterr().err
    assert f"{folder / 'a_song.mp4'}: no video stream" in err
    assert f"{folder / 'b_garbage.mkv'}: " in err
    assert len(read_clip(out / "c_good.mkv")[0]) == 5
    assert not leftovers(tmp_path)


def test_rerun_skips_and_overwrite_redoes(colorizer, tmp_path):
    src = write_clip(tmp_path / "clip.mov", [_scene(t) for t in range(6)])
    out = tmp_path / "out"
    assert _run(colorizer, [str(src)], out) == (1, 0)
    dst = out / "clip.mov"
    os.utime(dst, (1, 1))
    assert _run(colorizer, [str(src)], out) == (0, 0) and os.stat(dst).st_mtime == 1
    assert _run(colorizer, [str(src)], out, overwrite=True) == (1, 0)
    assert os.stat(dst).st_mtime > 1 and len(read_clip(dst)[0]) == 6


def test_killed_run_leaves_no_partial_file(colorizer, tmp_path):
    src = write_clip(tmp_path / "clip.mkv", [_scene(t) for t in range(12)])
    dst = tmp_path / "out" / "clip.mkv"

    def kill(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        video.colorize_video(str(src), str(dst), colorizer, 4, progress=kill)
    assert not dst.exists() and not leftovers(tmp_path)


def test_cli_exit_status_and_webm(lively_model, tmp_path):
    """``kcolor colorize`` on an audio-only file and a .webm clip: status 1, clip written."""
    write_clip(tmp_path / "song.mp4", [_scene(0)] * 6, audio=True, video_stream=False)
    frames = [_scene(t) for t in range(6)]
    with av.open(str(tmp_path / "clip.webm"), "w") as o:
        v = o.add_stream("libvpx-vp9", rate=RATE, options={"deadline": "realtime"})
        v.height, v.width, v.pix_fmt = 48, 64, "yuv420p"
        for f in frames + [None]:
            for p in v.encode(f if f is None else av.VideoFrame.from_ndarray(f, format="rgb24")):
                o.mux(p)
    proc = subprocess.run(
        [sys.executable, "-m", "kcolor", "colorize", f"--model={lively_model}", f"--size={SIZE}",
         f"--output_dir={tmp_path / 'out'}", str(tmp_path / "song.mp4"),
         str(tmp_path / "clip.webm")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"{tmp_path / 'song.mp4'}: no video stream" in proc.stderr
    assert "1 colorized, 1 failed" in proc.stdout
    frames_out, rate, size = read_clip(tmp_path / "out" / "clip.webm")
    assert (len(frames_out), rate, size) == (6, RATE, (64, 48))


def test_chroma_hold_builds_swscale_colours_and_holds_still_chroma(colorizer, tmp_path):
    """``_ChromaHold`` (opt-in, ``chroma_hold``): its YUV decodes to the colours
    libswscale's conversion of the same RGB gives; on a still scene with luma
    noise its chroma planes do not change at all, while under a moving
    square they follow; and a clip goes through with it."""
    rng = np.random.default_rng(2)
    h, w = 48, 64
    hold = video._ChromaHold("yuv420p", tol=1.0, still_dl=1.0)
    plain = video._ChromaHold("yuv420p", tol=1e-9, still_dl=1.0)
    prev, jitter = None, []
    for t in range(8):
        # A still tinted wall whose lightness has sensor noise, its ab fixed: U and
        # V move a little with L, and rounded they jitter (``plain``, nothing held).
        lab = np.empty((h, w, 3), np.float32)
        lab[..., 0] = 60 + rng.normal(0, 0.3, (h, w))
        lab[..., 1:] = (10.0, 25.0)
        rgb = color.lab_to_rgb(lab, np)
        x0 = 4 + 6 * t
        rgb[16:32, x0:x0 + 12] = (0.9, 0.15, 0.15)
        L = color.rgb_to_lab(rgb, np)[..., 0]
        frame, unheld = hold(L, rgb), plain(L, rgb).to_ndarray()[h:]
        planes = frame.to_ndarray()
        u, v = (planes[h:].reshape(2, h // 2, w // 2)[i] for i in range(2))
        if t == 0:  # decoded colours: as libswscale's own conversion of the rounded RGB
            ours = color.rgb_to_lab(frame.to_ndarray(format="rgb24") / 255.0, np)
            u8 = np.round(rgb * 255).astype(np.uint8)
            sws = av.VideoFrame.from_ndarray(u8, format="rgb24").reformat(format="yuv420p")
            theirs = color.rgb_to_lab(sws.to_ndarray(format="rgb24") / 255.0, np)
            flat = np.ones((h, w), bool)
            flat[14:34, :] = False  # away from the square's edges (chroma filters differ there)
            assert np.linalg.norm(ours[..., 1:] - theirs[..., 1:], axis=-1)[flat].mean() < 0.3
        else:
            still = np.ones((h // 2, w // 2), bool)
            still[6:18] = False  # rows the square (and the 3x3 blur) reach
            assert np.array_equal(u[still], prev[0][still]) and np.array_equal(v[still], prev[1][still])
            square = (slice(9, 15), slice((x0 + 2) // 2, (x0 + 10) // 2))
            assert v[square].min() > 170 and u[square].max() < 120  # red, where it is now
            jitter.append(np.mean(unheld != prev_unheld))
        prev, prev_unheld = (u, v), unheld
    assert min(jitter) > 0.05, jitter  # without the hold the chroma does move
    src = write_clip(tmp_path / "still.mp4", [_scene(t) for t in range(6)])
    dst = tmp_path / "out" / "still.mp4"
    assert video.colorize_video(str(src), str(dst), colorizer, 4, chroma_hold=1.0) == 6
    assert len(read_clip(dst)[0]) == 6


def _held_wall(hold, frames, lightness, rng, noise=0.3, ab=(10.0, 25.0), h=32, w=48):
    """U and V planes ``hold`` makes of a still tinted wall (ab, or ``ab(t)``)
    whose lightness is ``lightness(t)`` plus sensor noise, one pair a frame."""
    planes = []
    for t in range(frames):
        lab = np.empty((h, w, 3), np.float32)
        lab[..., 0] = lightness(t) + rng.normal(0, noise, (h, w))
        lab[..., 1:] = ab(t) if callable(ab) else ab
        rgb = color.lab_to_rgb(lab, np)
        L = color.rgb_to_lab(rgb, np)[..., 0]
        uv = hold(L, rgb).to_ndarray()[h:].reshape(2, h // 2, w // 2).astype(np.float32)
        planes.append(uv)
    return planes


def test_drift_bounded_chroma_hold_keeps_a_still_wall_and_releases_a_fade():
    """The drift bound (``chroma_drift``): a still wall with sensor noise keeps
    its chroma planes bit-identical for as long as it stays (zero-mean noise
    never drifts the block's lightness 3 units; unheld, its V sits on a
    rounding edge and jitters), while a fade too slow for the stillness test
    (0.3 L a frame) releases every few frames and ends in the colour of its
    last frame; held without the bound it keeps the first
    frame's (dark, nearly gray)."""
    def hold(drift):
        return video._ChromaHold("yuv420p", tol=255, still_dl=1.0, drift=drift)

    wall = _held_wall(hold(3.0), 40, lambda t: 60.0, np.random.default_rng(3))
    assert all(np.array_equal(p, wall[0]) for p in wall)
    fresh = _held_wall(hold(1e-6), 40, lambda t: 60.0, np.random.default_rng(3))
    assert np.mean([np.mean(p != fresh[0]) for p in fresh[1:]]) > 0.02  # unheld it jitters

    fade = lambda t: 2.0 + 0.3 * t  # noqa: E731
    tint = lambda t: (0.05 * t, 0.125 * t)  # colour grows as it brightens  # noqa: E731
    bounded, stuck, truth = (_held_wall(hold(d), 200, fade, np.random.default_rng(4), 0.1, tint)
                             for d in (3.0, 0.0, 1e-6))
    chroma = lambda uv: float(np.mean(np.hypot(uv[0] - 128, uv[1] - 128)))  # noqa: E731
    assert chroma(stuck[-1]) < 0.2 * chroma(truth[-1]), (chroma(stuck[-1]), chroma(truth[-1]))
    assert abs(chroma(bounded[-1]) - chroma(truth[-1])) < 0.1 * chroma(truth[-1])
    changes = [np.mean(b != a) for a, b in zip(bounded, bounded[1:])]
    assert 0.1 < np.mean(np.array(changes) > 0) < 0.7, changes  # released every few frames


def test_video_options_reach_the_encoder(colorizer, tmp_path):
    """``--video_options`` (``video.parse_video_options``) goes to the encoder:
    CRF 45 writes a much smaller file of the same frames than the default 17."""
    assert video.parse_video_options(["crf=45", " aq-mode = 0"]) == {"crf": "45",
                                                                      "aq-mode": "0"}
    assert video.parse_video_options([]) is None and video.parse_video_options(None) is None
    with pytest.raises(ValueError, match="'crf' is not key=value"):
        video.parse_video_options(["crf"])
    src = write_clip(tmp_path / "clip.mp4", [_scene(t) for t in range(12)])
    sizes = {}
    for crf in (None, "45"):
        out = tmp_path / f"out_{crf}"
        opts = video.parse_video_options([f"crf={crf}"] if crf else None)
        assert _run(colorizer, [str(src)], out, video_options=opts) == (1, 0)
        frames, rate, size = read_clip(out / "clip.mp4")
        assert (len(frames), rate, size) == (12, RATE, (64, 48))
        sizes[crf] = os.path.getsize(out / "clip.mp4")
    assert sizes["45"] < 0.7 * sizes[None], sizes
    proc = subprocess.run(
        [sys.executable, "-m", "kcolor", "colorize", "--video_options=crf",
         f"--output_dir={tmp_path / 'cli'}", str(src)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == (
        "kcolor colorize: --video_options: 'crf' is not key=value (e.g. crf=23)"), proc.stderr
    assert not (tmp_path / "cli").exists()
