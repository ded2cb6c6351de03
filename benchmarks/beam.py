"""Photos/s of ``kcolor beam`` (Apache Beam, DirectRunner) beside ``kcolor
colorize`` (the Python API ``colorize_files.run``) on the same photos, with the
same model and batch size, measured side by side in one run.

    python benchmarks/beam.py [--data_dir=../shared/data/val] [--photos=150]

Each measurement runs in a fresh subprocess (this script with ``--one``) and
times the work after ``import kcolor``: model loading, reading, colorizing,
writing and, for Beam, building and running the pipeline and writing the
manifest. Modes:

* ``colorize``: ``colorize_files.run(paths, batch_size=8)``;
* ``beam``: ``kcolor.beam.run`` on the DirectRunner's default (in-process);
* ``beam_mp``: the same with ``--direct_num_workers=N
  --direct_running_mode=multi_processing`` (N: the CPU count).

``--rounds`` repeats the modes in turn (a, b, c, a, b, c) so that a change in
the machine's load hits each mode alike; the table gives every round. The
load average is printed before and after: say how busy the machine was.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("colorize", "beam", "beam_mp")

flags.DEFINE_string("data_dir", os.path.join(HERE, "..", "..", "shared", "data", "val"),
                    "Folder of photos.")
flags.DEFINE_integer("photos", 150, "Use this many photos, spread evenly over the folder.")
flags.DEFINE_integer("batch_size", 8, "Photos per prediction (kcolor colorize's default).")
flags.DEFINE_string("model", None, "Model (default: the shipped preset).")
flags.DEFINE_list("modes", list(MODES), f"Of {', '.join(MODES)}.")
flags.DEFINE_integer("rounds", 2, "Measure every mode this many times, in turn.")
flags.DEFINE_string("one", None, "Internal: measure one mode in this process, print JSON.")
flags.DEFINE_string("list_file", None, "Internal: the photos for --one.")
FLAGS = flags.FLAGS


def measure(mode, list_file):
    """Runs in the subprocess: {"mode", "n", "failed", "seconds"}."""
    with open(list_file) as f:
        paths = f.read().split()
    out = tempfile.mkdtemp(prefix=f"kcolor-bench-{mode}-")
    t0 = time.perf_counter()
    if mode == "colorize":
        from kcolor import colorize_files

        done, failed = colorize_files.run(paths, out, FLAGS.model, batch_size=FLAGS.batch_size,
                                          progress=False)
    else:
        from kcolor import beam

        args = ([f"--direct_num_workers={os.cpu_count()}",
                 "--direct_running_mode=multi_processing"] if mode == "beam_mp" else [])
        summary = beam.run([list_file], out, FLAGS.model, batch_size=FLAGS.batch_size,
                           beam_args=args)
        done, failed = summary["colorized"], summary["failed"]
    return {"mode": mode, "n": done, "failed": failed, "seconds": time.perf_counter() - t0,
            "out": out}


def run_one(mode, list_file):
    cmd = [sys.executable, os.path.abspath(__file__), f"--one={mode}", f"--list_file={list_file}",
           f"--batch_size={FLAGS.batch_size}"] + ([f"--model={FLAGS.model}"] if FLAGS.model else [])
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"{mode}: subprocess failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _same_outputs(a, b):
    """Largest pixel difference between two runs' outputs (same names)."""
    import numpy as np

    from kcolor import imageio

    worst = 0
    for name in sorted(os.listdir(a)):
        if name.lower().endswith(imageio.EXTENSIONS):
            x = imageio.read_rgb(os.path.join(a, name)).astype(int)
            y = imageio.read_rgb(os.path.join(b, name)).astype(int)
            worst = max(worst, int(np.abs(x - y).max()))
    return worst


def main(argv):
    if FLAGS.one:
        print(json.dumps(measure(FLAGS.one, FLAGS.list_file)), flush=True)
        return
    unknown = set(FLAGS.modes) - set(MODES)
    if unknown:
        sys.exit(f"unknown --modes {sorted(unknown)}: use {', '.join(MODES)}")
    from PIL import Image

    from kcolor import data

    paths = data.spread(data.list_images(FLAGS.data_dir), FLAGS.photos)
    fd, list_file = tempfile.mkstemp(prefix="kcolor-bench-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(os.path.abspath(p) for p in paths) + "\n")
    sizes = sorted({Image.open(p).size for p in paths})
    print(f"{len(paths)} photos of {FLAGS.data_dir} ({len(sizes)} sizes, e.g. {sizes[0]}), "
          f"batch {FLAGS.batch_size}, model {FLAGS.model or 'default preset'}, "
          f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}", flush=True)
    print("| round | mode | photos | seconds | photos/s |\n|---|---|---|---|---|", flush=True)
    results = {}
    for r in range(FLAGS.rounds):
        for mode in FLAGS.modes:
            res = run_one(mode, list_file)
            results.setdefault(mode, []).append(res)
            print(f"| {r + 1} | {mode} | {res['n']} (+{res['failed']} failed) "
                  f"| {res['seconds']:.1f} | {res['n'] / res['seconds']:.2f} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if "colorize" in results:
        ref = results["colorize"][0]["out"]
        for mode in results:
            if mode != "colorize":
                print(f"{mode} vs colorize: largest pixel difference "
                      f"{_same_outputs(ref, results[mode][0]['out'])} levels (JPEG outputs)")


if __name__ == "__main__":
    app.run(main)
