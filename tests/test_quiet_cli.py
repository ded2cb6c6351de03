"""A quiet command line (kcolor.quiet): no TensorFlow/absl start-up lines on
stderr unless ``--verbose``; real warnings and errors still there. The
subprocess tests run the real entry point (``python -m kcolor``) without the
TF_CPP_MIN_LOG_LEVEL that conftest.py sets for the test process."""

import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
from PIL import Image

from kcolor import quiet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What TensorFlow 2.21 prints on import without kcolor.quiet (see kcolor/quiet.py).
START_UP = ("oneDNN", "cpu_feature_guard", "absl::InitializeLog", "This TensorFlow binary",
            "To enable the following instructions")


def _kcolor(*args):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-m", "kcolor", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _gray_photo(path):
    yy, xx = np.mgrid[0:24, 0:32]
    Image.fromarray((40 + 4 * xx + 3 * yy).astype(np.uint8), "L").save(path)
    return path


def _truncated_clip(path, frames=8):
    """A tiny H.264 .mp4 cut to 60 % of its bytes (its index, at the end, lost)."""
    import av

    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=Fraction(24), options={"preset": "ultrafast"})
        v.height, v.width, v.pix_fmt = 32, 48, "yuv420p"
        for t in range(frames):
            rgb = np.full((32, 48, 3), (60 + 10 * t, 120, 200 - 10 * t), np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 6 // 10])
    return path


def test_colorize_is_quiet_and_a_truncated_clip_gets_one_line(tmp_path):
    photo = _gray_photo(tmp_path / "gray.png")
    clip = _truncated_clip(tmp_path / "cut.mp4")
    r = _kcolor("colorize", f"--output_dir={tmp_path / 'out'}", str(photo), str(clip))
    assert r.returncode == 1, r.stderr[-3000:]  # the clip failed
    for line in START_UP:
        assert line not in r.stderr, r.stderr[-3000:]
    # stderr: the clip's line and nothing else (colorize_files starts it with
    # a newline, to end a progress bar on the terminal)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{clip}: "), r.stderr[-3000:]
    assert "1 colorized, 1 failed" in r.stdout.splitlines()[-1]
    assert (tmp_path / "out" / "gray.png").exists()


def test_verbose_brings_the_start_up_log_back(tmp_path):
    photo = _gray_photo(tmp_path / "gray.png")
    r = _kcolor("colorize", "--verbose", f"--output_dir={tmp_path / 'out'}", str(photo))
    assert r.returncode == 0, r.stderr[-3000:]
    assert any(line in r.stderr for line in START_UP), r.stderr[-3000:]
    assert "1 colorized, 0 failed" in r.stdout.splitlines()[-1]


def test_verbose_requested_reads_absl_bool_flags():
    assert not quiet.verbose_requested(["--output_dir=o", "a.jpg"])
    assert quiet.verbose_requested(["a.jpg", "--verbose"])
    assert quiet.verbose_requested(["-verbose"])
    assert quiet.verbose_requested(["--verbose=true"])
    assert not quiet.verbose_requested(["--verbose=false"])
    assert not quiet.verbose_requested(["--verbose", "--noverbose"])
    assert not quiet.verbose_requested(["--", "--verbose"])  # a path, not a flag
    assert not quiet.verbose_requested(["--verbose_x"])
    assert quiet.strip_verbose(["--input=a", "--verbose", "--runner", "X", "--", "--verbose"]) == \
        ["--input=a", "--runner", "X", "--", "--verbose"]


def test_the_filter_drops_start_up_records_and_keeps_the_rest(capfd, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    lines = [
        quiet.BANNER,
        "I0000 00:00:1796675129.239124    4396 port.cc:153] oneDNN custom operations are on.",
        "W0000 00:00:1796675129.239124    4396 foo.cc:1] a real C++ warning",
        "E0000 00:00:1796675129.239124    4396 bar.cc:2] a real C++ error",
        "some.py:3: UserWarning: a Python warning",
    ]
    with quiet._filtered_stderr():
        os.write(2, ("\n".join(lines[:3]) + "\n").encode())  # as C++ writes it
        print("\n".join(lines[3:]), file=sys.stderr)  # (pytest's sys.stderr skips fd 2)
    assert sorted(capfd.readouterr().err.splitlines()) == sorted(lines[2:])
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's own setting: all of it
    with quiet._filtered_stderr():
        os.write(2, ("\n".join(lines) + "\n").encode())
    assert capfd.readouterr().err.splitlines() == lines
