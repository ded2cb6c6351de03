import os
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from kcolor import atomic


def test_write_text_replaces_the_file_whole(tmp_path):
    path = tmp_path / "new" / "page.html"
    atomic.write_text(str(path), "héllo")
    assert path.read_text(encoding="utf-8") == "héllo"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    atomic.write_text(str(path), "second")
    assert path.read_text() == "second"
    assert os.listdir(path.parent) == ["page.html"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "prior.npy"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic.open_atomic(str(path), "wb", ".npy") as f:
            f.write(b"half of the new")
            raise RuntimeError("killed")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["prior.npy"]


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _killed_writer(target):
    """Starts a process that writes ``target`` with ``open_atomic`` and kills
    it (SIGKILL) mid-write; returns the temporary file it left."""
    code = f"""
import time
from kcolor import atomic
with atomic.open_atomic({str(target)!r}, "wb", ".png") as f:
    f.write(b"half a photo")
    f.flush()
    print("writing", flush=True)
    time.sleep(600)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    assert proc.stdout.readline().strip() == "writing"
    proc.kill()
    proc.wait()
    proc.stdout.close()
    left = [p for p in target.parent.iterdir() if p.name.startswith(".kcolor-")]
    assert len(left) == 1 and f"-{proc.pid}-" in left[0].name, left
    return left[0]


def test_stale_temporaries_go_and_live_ones_stay(tmp_path):
    killed = _killed_writer(tmp_path / "photo.png")
    host = killed.name.split("-")[1]
    keep = {
        f".kcolor-{host}-{os.getppid()}-abcdefgh.png",  # a live writer on this host
        f".kcolor-0000beef-{killed.name.split('-')[2]}-abcdefgh.png",  # another host's: age only
        ".kcolor-abcd1234.png",  # an earlier kcolor's name, recent: its writer is unknown
        ".kcolor-notes.txt",  # not kcolor's temporary name
        "photo.png",
    }
    for name in keep | {".kcolor-old_1234.jpg"}:
        (tmp_path / name).write_bytes(b"x")
    seven_hours_ago = time.time() - 7 * 3600
    os.utime(tmp_path / ".kcolor-old_1234.jpg", (seven_hours_ago, seven_hours_ago))
    with atomic.open_atomic(str(tmp_path / "mine.png"), "wb", ".png") as f:
        f.write(b"being written")
        removed = atomic.remove_stale([str(tmp_path), str(tmp_path / "missing")])
        mine = [n for n in os.listdir(tmp_path) if n.startswith(f".kcolor-{host}-{os.getpid()}-")]
        assert len(mine) == 1  # this process's own write is left alone
    assert sorted(removed) == sorted([str(killed), str(tmp_path / ".kcolor-old_1234.jpg")])
    assert set(os.listdir(tmp_path)) == keep | {"mine.png"}


def test_colorize_removes_them_and_says_so(tiny_model, tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.png"):
        Image.fromarray(np.full((16, 24, 3), 90, np.uint8)).save(tmp_path / "in" / name)
    out = tmp_path / "out"
    killed = _killed_writer(out / "sub" / "b.png")
    r = subprocess.run([sys.executable, "-m", "kcolor", "colorize", f"--model={tiny_model}",
                        "--size=32", f"--output_dir={out}", str(tmp_path / "in")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines()[-1] == (
        "2 colorized, 0 failed, 1 stale temporary file of an interrupted run removed")
    assert not killed.exists()
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["a.png", "sub", "sub/b.png"]
