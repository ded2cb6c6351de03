"""Writing a file so that it is either whole or absent: a temporary file in
the same folder, renamed over the target only once it is complete.

Temporary files are named ``.kcolor-HOST-PID-XXXXXXXX.EXT`` (HOST: a hash of
the host name, PID: the writer's process id). A run killed mid-write leaves
one behind; ``remove_stale`` removes those whose writer is gone."""

import contextlib
import os
import re
import socket
import tempfile
import time
import zlib

from kcolor import imageio

PREFIX = ".kcolor-"
STALE_AFTER_HOURS = 6  # no write takes that long: older temporary files are stale
_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"
# mkstemp's random part is 8 of [a-z0-9_]; names without HOST-PID- come
# from earlier kcolor versions (their writer is unknown: judged by age only).
_NAME = re.compile(r"\.kcolor-(?:([0-9a-f]{8})-([0-9]+)-)?[a-z0-9_]{8}(?:\.\w+)?\Z")


@contextlib.contextmanager
def open_atomic(path, mode="w", suffix=""):
    """``with open_atomic(path) as f: f.write(...)`` writes ``path`` atomically.

    The folder is created if needed; the file gets the umask's usual
    permissions (not mkstemp's 0600); on any error the temporary file is
    removed and ``path`` is left as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{PREFIX}{_HOST}-{os.getpid()}-", suffix=suffix,
                               dir=folder)
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


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's live process
        return True
    return True


def is_stale(path, now=None, max_age_hours=STALE_AFTER_HOURS):
    """True for a temporary file of ``open_atomic`` whose writer is gone: its
    process (on this host) no longer runs, or the file is older than
    ``max_age_hours``. False for any other name."""
    m = _NAME.match(os.path.basename(path))
    if not m:
        return False
    try:
        age = (time.time() if now is None else now) - os.lstat(path).st_mtime
    except FileNotFoundError:
        return False
    if age > max_age_hours * 3600:
        return True
    host, pid = m.group(1), m.group(2)
    return host == _HOST and int(pid) != os.getpid() and not _alive(int(pid))


def remove_stale(folders, max_age_hours=STALE_AFTER_HOURS):
    """Removes the stale temporary files (``is_stale``) directly inside each
    existing folder of ``folders``; returns their paths."""
    removed, now = [], time.time()
    for folder in sorted(set(folders)):
        try:
            names = os.listdir(folder)
        except OSError:  # missing or unreadable: nothing of ours to remove
            continue
        for name in sorted(names):
            path = os.path.join(folder, name)
            if (name.startswith(PREFIX) and os.path.isfile(path) and not os.path.islink(path)
                    and is_stale(path, now, max_age_hours)):
                try:
                    os.remove(path)
                except FileNotFoundError:
                    continue  # removed meanwhile
                removed.append(path)
    return removed
