"""A quiet command line: no TensorFlow start-up log on stderr unless
``--verbose`` (``kcolor.cli``).

Importing TensorFlow 2.21 prints, twice (when its core extension loads and
again when ``tensorflow.python.profiler.profiler_client``'s does: each
apparently links its own copy of absl logging), ::

  WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
  I0000 00:00:... port.cc:153] oneDNN custom operations are on. ...

and once ``cpu_feature_guard.cc ... This TensorFlow binary is optimized to
use ...`` plus its "To enable the following instructions" line. Measured
with ``kcolor colorize kcolor/samples``: TF_CPP_MIN_LOG_LEVEL=1 removes the
cpu_feature_guard lines (INFO); the absl banner and the oneDNN line come
out at every level, 0 to 3, because absl writes every message logged before
``absl::InitializeLog()`` to stderr whatever the threshold (abseil-cpp pull
requests 1718 and 1957, not merged). So ``quiet_tensorflow`` sets the level
to 1, which keeps TF's C++ WARNINGs and ERRORs, and captures the file
descriptor 2 while ``tensorflow`` is first imported: what was written there
goes back to stderr afterwards, less the absl banner and the absl-format
records below the level (the oneDNN line; at a level of 0 the user set,
nothing is dropped). Level 2 would hide nothing more at start-up, only TF's
C++ WARNINGs later on. ``--verbose`` does none of this: TensorFlow's own
default (level 0, every line). Python warnings, Python logging
(TF's and absl's loggers stay at their WARNING default) and kcolor's own
messages are not touched.
"""

import importlib.abc
import os
import re
import sys
import tempfile

ENV = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LEVEL = "1"  # hides C++ INFO only: WARNING, ERROR and FATAL records still show
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# absl's record prefix: severity letter, MMDD, time, thread id, file:line]
_RECORD = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# the continuation of cpu_feature_guard's two-line INFO record
_CONTINUATION = "To enable the following instructions:"


def verbose_requested(args):
    """Whether absl-style ``args`` turn ``--verbose`` on (``--verbose``,
    ``--verbose=true``, ``--noverbose``, ...; the last one wins; none after
    ``--``), read before absl parses the flags so it can act before
    TensorFlow is imported."""
    verbose = False
    for arg in args:
        if arg == "--":
            break
        name, sep, value = arg.lstrip("-").partition("=")
        if not arg.startswith("-"):
            continue
        if name == "verbose":
            verbose = not sep or value.lower() in ("true", "t", "1")
        elif name == "noverbose" and not sep:
            verbose = False
    return verbose


def strip_verbose(args):
    """``args`` without their ``--verbose`` flags (for ``kcolor beam``, whose
    unknown flags go to Beam)."""
    out = list(args)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        name = arg.lstrip("-").partition("=")[0]
        if arg.startswith("-") and name in ("verbose", "noverbose"):
            out.remove(arg)
    return out


def define_flag():
    """Defines the absl flag ``--verbose`` (once), so every subcommand takes
    it and ``--helpfull`` lists it; ``kcolor.cli`` acts on it earlier,
    through ``verbose_requested``."""
    from absl import flags

    if "verbose" not in flags.FLAGS:
        flags.DEFINE_bool("verbose", False, "Also print TensorFlow's start-up log and C++ INFO "
                          "messages on stderr (default: only warnings and errors).")


def quiet_tensorflow():
    """Sets TF_CPP_MIN_LOG_LEVEL to 1 unless the user set it, and filters
    TensorFlow's first import (``_QuietFinder``). Call before anything
    imports TensorFlow; does nothing to a TensorFlow already imported."""
    os.environ.setdefault(ENV, QUIET_LEVEL)
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFinder())


def keep(line, level):
    """Whether a ``line`` written to stderr while TensorFlow was imported
    goes on to stderr at TF_CPP_MIN_LOG_LEVEL ``level``."""
    if level <= 0:
        return True
    if line.rstrip("\n") == BANNER or line.startswith(_CONTINUATION):
        return False
    m = _RECORD.match(line)
    return not m or _SEVERITY[m.group(1)] >= level


def _level():
    try:
        return int(os.environ.get(ENV, "0"))
    except ValueError:
        return 0


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` through the other finders and gives its spec a
    loader that runs its ``__init__`` with stderr filtered; leaves
    ``sys.meta_path`` once TensorFlow is imported (not on a mere
    ``importlib.util.find_spec`` probe, which some libraries make first)."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None) if finder is not self else None
            spec = find(name, path, target) if find else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _QuietLoader(spec.loader, self)
                return spec
        return None


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader, finder):
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        module.__loader__ = module.__spec__.loader = self.loader  # as if never wrapped
        with _filtered_stderr():
            self.loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _filtered_stderr:
    """Captures file descriptor 2 (C++ and Python writes alike) into a
    temporary file; on exit restores it and writes back the lines ``keep``
    keeps. A crash inside loses what was captured: ``--verbose`` does not
    capture."""

    def __enter__(self):
        if sys.stderr:
            sys.stderr.flush()
        self.saved = os.dup(2)
        self.file = tempfile.TemporaryFile("w+b")
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        try:
            if sys.stderr:
                sys.stderr.flush()
        finally:
            os.dup2(self.saved, 2)
            os.close(self.saved)
        self.file.seek(0)
        text = self.file.read().decode("utf-8", "replace")
        self.file.close()
        level = _level()
        kept = "".join(line for line in text.splitlines(keepends=True) if keep(line, level))
        if kept and sys.stderr:
            sys.stderr.write(kept)
            sys.stderr.flush()
        return False
