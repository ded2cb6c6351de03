"""Writing a file so that it is either whole or absent: a temporary file in
the same folder, renamed over the target only once it is complete."""

import contextlib
import os
import tempfile

from kcolor import imageio


@contextlib.contextmanager
def open_atomic(path, mode="w", suffix=""):
    """``with open_atomic(path) as f: f.write(...)`` writes ``path`` atomically.

    The folder is created if needed; the file gets the umask's usual
    permissions (not mkstemp's 0600); on any error the temporary file is
    removed and ``path`` is left as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kcolor-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
        os.chmod(tmp, imageio.umask_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text(path, text):
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    with open_atomic(path, "w", os.path.splitext(path)[1]) as f:
        f.write(text)
