import os
import stat

import pytest

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
