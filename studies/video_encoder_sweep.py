"""How much of a colorized clip's still-pixel flicker is the encoder's, and
which encoder settings remove it: the frames ``kcolor.video`` feeds its
encoder are made once (cached on disk), then encoded with each setting,
decoded and scored against the real colour clip the way
``benchmarks/video.py`` scores them.

    nice -n 19 python studies/video_encoder_sweep.py --clip=bottle-detection.mp4 \\
        --max_frames=0 --configs='crf=17;crf=17:aq-mode=0;crf=28'

Each config is ``key=value:key=value`` x264 options on top of
``kcolor.video``'s (CRF 17, preset veryfast); ``pix_fmt=`` and ``codec=`` are
taken out of them, and ``hold=TOL`` (with ``drift=D``) feeds the encoder
YUV frames from ``kcolor.video``'s chroma hold instead of RGB.
``pixhold=T`` and ``blockhold=T`` put a dead band on the RGB frames first: a
pixel (or a whole 16 x 16 block) keeps the previous output's value exactly
until some channel of it (of any pixel in the block) moves more than ``T``
code values. ``--truth_configs`` encodes the real colour clip itself the same
ways (a control: what the encoder adds to a video that is not ours).
``--smoother_hold`` sets ``kcolor.temporal.Smoother``'s hold for the cached
frames (use a fresh ``--cache`` per value). Prints a table: still-pixel flicker over the real
video's (the floor: 1.5), colourfulness over the fed frames', PSNR of the
decoded file against the fed frames, size and encode speed. The row "fed"
is the frames themselves (no encoder).
"""

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import video as bench  # noqa: E402  (benchmarks/video.py: --model, --video_dir, --max_frames)

flags.DEFINE_string("clip", "bottle-detection.mp4", "Clip in --video_dir.")
flags.DEFINE_string("configs", "crf=17", "Semicolon-separated encoder configs.")
flags.DEFINE_string("cache", None, "Folder for the cached frames (default: a temporary one).")
flags.DEFINE_string("temporal", "filter", "kcolor.temporal method.")
flags.DEFINE_string("truth_configs", "", "Configs to encode the real colour clip with.")
flags.DEFINE_float("smoother_hold", 2.0, "kcolor.temporal.Smoother's hold (ab units).")
FLAGS = flags.FLAGS


def _fed_frames(gray, path, n):
    """Colorizes ``gray`` as ``kcolor.video`` does and stores the RGB frames it
    would hand the encoder in a [n, H, W, 3] uint8 memmap at ``path``."""
    import av

    from kcolor import colorize, temporal, video

    c = colorize.Colorizer(FLAGS.model)
    smoother = temporal.Smoother(FLAGS.temporal, hold=FLAGS.smoother_hold)
    out = None
    i = 0
    with av.open(gray) as f:
        vin = f.streams.video[0]
        clock = video._Clock(vin)
        batch = []

        def flush():
            nonlocal out, i
            for frame in video._colorize_frames(c, smoother, batch, clock):
                rgb = frame.to_ndarray(format="rgb24")
                if out is None:
                    out = np.lib.format.open_memmap(path, "w+", np.uint8, (n,) + rgb.shape)
                out[i] = rgb
                i += 1
            batch.clear()

        for frame in f.decode(video=0):
            batch.append(frame)
            if len(batch) == 8:
                flush()
        flush()
    out.flush()
    return i


class _BlockHold:
    """A dead band on RGB frames: each ``block`` x ``block`` tile keeps the
    previous output exactly while no sample of it has moved more than ``tol``
    code values from it (``block=1``: pixel by pixel), so what holds still
    reaches the encoder bit-identical."""

    def __init__(self, tol, block=16):
        self.tol, self.block, self.held = tol, block, None

    def __call__(self, rgb):
        if self.held is None:
            self.held = rgb.copy()
            return self.held
        b = self.block
        h, w = rgb.shape[:2]
        d = np.abs(rgb.astype(np.int16) - self.held.astype(np.int16)).max(axis=-1)
        ph, pw = -h % b, -w % b
        d = np.pad(d, ((0, ph), (0, pw)))
        m = d.reshape((h + ph) // b, b, (w + pw) // b, b).max(axis=(1, 3)) <= self.tol
        m = np.repeat(np.repeat(m, b, 0), b, 1)[:h, :w]
        self.held = np.where(m[..., None], self.held, rgb)
        return self.held


def _encode(frames, path, rate, options):
    import av

    from kcolor import colorize, video

    options = dict(options)
    codec = options.pop("codec", "libx264")
    pix_fmt = options.pop("pix_fmt", "yuv420p")
    hold = None
    block_tol = float(options.pop("blockhold", -1))
    pixel_tol = float(options.pop("pixhold", -1))
    if block_tol >= 0:
        hold = _BlockHold(block_tol, int(options.pop("block", 16)))
    elif pixel_tol >= 0:
        hold = _BlockHold(pixel_tol, 1)
    elif "hold" in options:  # kcolor.video's chroma hold: (tol, drift) as colorize_video's
        hold = video._ChromaHold(pix_fmt, tol=float(options.pop("hold")),
                                 drift=float(options.pop("drift", 0)))
    with av.open(path, "w") as out:
        s = out.add_stream(codec, rate=rate, options={"crf": "17", "preset": "veryfast",
                                                       **options})
        s.height, s.width = frames.shape[1:3]
        s.pix_fmt = pix_fmt
        for rgb in frames:
            if isinstance(hold, _BlockHold):
                frame = av.VideoFrame.from_ndarray(hold(np.asarray(rgb)), format="rgb24")
            elif hold is None:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            else:
                rgb = np.asarray(rgb, np.float32) / 255.0
                frame = hold(colorize._lightness(rgb * 255.0)[..., 0], rgb)
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def _decode(path):
    import av

    with av.open(path) as f:
        for frame in f.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def _score(frames, still, fed=None):
    """(mean still-pixel |Δab|, mean colourfulness, PSNR against ``fed``)."""
    total, count, colour, se, prev = 0.0, 0, [], 0.0, None
    for i, rgb in enumerate(frames):
        ab = bench._lab(rgb)[..., 1:]
        colour.append(bench.colourfulness(rgb))
        if fed is not None:
            se += float(np.mean(np.square(rgb.astype(np.float32) - fed[i])))
        if prev is not None:
            m = np.unpackbits(still[i - 1], count=ab.shape[0] * ab.shape[1]).astype(bool)
            d = np.linalg.norm(ab - prev, axis=-1).reshape(-1)
            total += float(d[m].sum())
            count += int(m.sum())
        prev = ab
    psnr = 10 * np.log10(255.0 ** 2 / (se / len(colour))) if fed is not None else float("nan")
    return total / max(count, 1), float(np.mean(colour)), psnr


def main(argv):
    from kcolor import colorize, video

    src = os.path.join(FLAGS.video_dir, FLAGS.clip)
    tmp = FLAGS.cache or tempfile.mkdtemp(prefix="kcolor_sweep_")
    os.makedirs(tmp, exist_ok=True)
    rate = bench._rate(src)
    fed_path = os.path.join(tmp, "fed.npy")
    still_path = os.path.join(tmp, "still.npy")
    if not os.path.exists(fed_path):
        gray = os.path.join(tmp, "gray.mkv")
        n = bench._write(gray, (colorize.gray_rgb(f) for f in bench._frames(src, FLAGS.max_frames)),
                         rate)
        t0 = time.perf_counter()
        _fed_frames(gray, fed_path + ".part.npy", n)
        os.replace(fed_path + ".part.npy", fed_path)
        print(f"fed frames: {n} in {time.perf_counter() - t0:.0f} s", flush=True)
    fed = np.load(fed_path, mmap_mode="r")
    if not os.path.exists(still_path):
        masks, total, count, prev = [], 0.0, 0, None
        for rgb in bench._frames(src, FLAGS.max_frames):
            lab = bench._lab(rgb)
            if prev is not None:
                m = np.abs(lab[..., 0] - prev[..., 0]) < 1.0
                d = np.linalg.norm(lab[..., 1:] - prev[..., 1:], axis=-1)
                total += float(d[m].sum())
                count += int(m.sum())
                masks.append(np.packbits(m.reshape(-1)))
            prev = lab
        np.save(still_path, np.stack(masks))
        np.save(os.path.join(tmp, "truth.npy"), np.array([total / count]))
    still = np.load(still_path)
    truth = float(np.load(os.path.join(tmp, "truth.npy"))[0])
    print(f"{FLAGS.clip}: {len(fed)} frames, truth still |Δab| {truth:.4f}, "
          f"still pixels {np.mean([np.unpackbits(s).mean() for s in still[::50]]):.2f}")
    fl, col_fed, _ = _score(fed, still)
    print("| config | flicker / truth | colour / fed | PSNR vs fed (dB) | KB | encode s |")
    print("|---|---|---|---|---|---|")
    print(f"| fed (no encoder) | {fl / truth:.2f} | 1.00 | | | |", flush=True)
    for config in FLAGS.configs.split(";"):
        opts = video.parse_video_options(config.split(":"), "--configs") or {}
        path = os.path.join(tmp, f"enc{os.getpid()}.mkv")
        t0 = time.perf_counter()
        _encode(fed, path, rate, opts)
        secs = time.perf_counter() - t0
        f, col, psnr = _score(_decode(path), still, fed)
        print(f"| {config} | {f / truth:.2f} | {col / col_fed:.2f} | {psnr:.2f} | "
              f"{os.path.getsize(path) / 1024:.0f} | {secs:.1f} |", flush=True)
        os.remove(path)  # only the scores are kept; the cache holds the fed frames
    if FLAGS.truth_configs:
        real = np.stack(list(bench._frames(src, FLAGS.max_frames)))
        for config in FLAGS.truth_configs.split(";"):
            opts = video.parse_video_options(config.split(":"), "--truth_configs") or {}
            path = os.path.join(tmp, f"enc{os.getpid()}.mkv")
            _encode(real, path, rate, opts)
            f, _, psnr = _score(_decode(path), still, real)
            print(f"| real clip, {config} | {f / truth:.2f} | | {psnr:.2f} (vs real) | "
                  f"{os.path.getsize(path) / 1024:.0f} | |", flush=True)
            os.remove(path)


if __name__ == "__main__":
    app.run(main)
