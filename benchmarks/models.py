"""The colorizer networks side by side: parameters, GFLOPs and Keras inference
time per image at 256² and at each model's working size.

    python benchmarks/models.py [--presets=small,lite] [--sizes=256,128] [--repeats=20]

Each preset's inference model (``kcolor.decode.build_inference_model``: the
network plus decoding to full-resolution ab) runs ``predict_on_batch`` on
batches of 1 and 8 random L images; the time is the median of ``--repeats``
calls after two warm-up calls, divided by the batch. All rows run in one
process, interleaved call by call, so load from other processes hits them
alike; the ``× small`` column is the ratio to the first preset.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_list("presets", ["small", "lite"], "Presets to compare (the first is the reference).")
flags.DEFINE_list("sizes", ["256", "128"], "Square input sides.")
flags.DEFINE_list("batches", ["1", "8"], "Batch sizes.")
flags.DEFINE_integer("repeats", 20, "Timed calls per row.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from kcolor import decode, flops, presets

    models = {}
    for name in FLAGS.presets:
        model, cfg = presets.load(name)
        decoding = decode.Decoding.from_config(cfg)  # the preset's, saturation included
        models[name] = (model, decode.build_inference_model(model, **decoding.as_dict()))
    rng = np.random.default_rng(0)
    print("| preset | parameters | GFLOPs at 256² | size | batch | ms / image | × first |")
    print("|---|---|---|---|---|---|---|")
    for size in (int(s) for s in FLAGS.sizes):
        for batch in (int(b) for b in FLAGS.batches):
            L = rng.uniform(0, 100, (batch, size, size, 1)).astype(np.float32)
            times = {name: [] for name in models}
            for name, (_, inference) in models.items():
                for _ in range(2):
                    inference.predict_on_batch(L)
            for _ in range(FLAGS.repeats):
                for name, (_, inference) in models.items():
                    t = time.perf_counter()
                    inference.predict_on_batch(L)
                    times[name].append(time.perf_counter() - t)
            first = None
            for name, (model, _) in models.items():
                ms = 1000 * float(np.median(times[name])) / batch
                first = first or ms
                print(f"| {name} | {model.count_params():,} | {flops.gflops(model, 256):.2f} | "
                      f"{size} | {batch} | {ms:.1f} | {ms / first:.2f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
