"""Training the hint-aware colorizer's refiner (``kcolor.hints.model``).

    python -m kcolor.hints.train --output_dir=runs/hints [--preset=lite_hints]

The base network (``--base``, the default ``lite``) stays frozen, so its
automatic colour is computed once per photo and cached; only the refiner
learns, on simulated hints (``kcolor.hints.sampler``: SIGGRAPH 2017's
training points) propagated exactly (SciPy) over each photo's lightness:

1. ``cache.npz``: ``--photos`` training photos, spread over the folders of
   ``--data_dir`` (the base preset's own training photos; never a val folder
   or imagenet_samples), centre-cropped to ``--crop`` px, with the base
   network's ab at 1/4 (written once, atomically; a rerun reuses it).
2. ``fit``: batches of (L4, automatic ab, hint cells, mask cells,
   propagation) → the true ab averaged over each 4 × 4 cell; Huber loss;
   Adam with the study's schedule (40 % constant, then linear to 0); a
   checkpoint every epoch (``last.keras``) and ``BackupAndRestore``, so a
   killed run picks up at its last finished epoch when run again.
3. ``--preset=NAME``: the refiner joins the base network in a preset that
   stores only the refiner (``base_from``), in kcolor's shipped presets
   (``--preset_dir`` for another folder).
"""

import json
import os
import sys
import time

import numpy as np

from kcolor import atomic, color, imageio
from kcolor.hints import model as hint_model
from kcolor.hints import propagate, sampler

DATA = ("../shared/data/train,../shared/data/people_places/train,"
        "../shared/data/diverse/train")


def _centre_crop(rgb, size):
    from PIL import Image

    h, w = rgb.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    rgb = rgb[y:y + side, x:x + side]
    if side != size:
        rgb = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BICUBIC))
    return rgb


def build_cache(path, data_dir, photos, crop, base, batch=64, progress=True):
    """Reads ``photos`` photos of ``data_dir`` (comma-joined folders, spread
    evenly over each) and writes ``path``: rgb uint8 [N, crop, crop, 3], auto
    float16 [N, crop/4, crop/4, 2] (the base preset's ab), names."""
    from kcolor import decode, presets

    folders = [f for f in data_dir.split(",") if f]
    per = -(-photos // len(folders))
    files = []
    for folder in folders:
        files += imageio.spread(imageio.list_images(folder), per)
    files = files[:photos]
    model, cfg = presets.load(base)
    decoding = decode.Decoding.from_config(cfg)
    rgbs, names, autos = [], [], []
    t0 = time.perf_counter()
    for start in range(0, len(files), batch):
        part = []
        for f in files[start:start + batch]:
            try:
                part.append(_centre_crop(imageio.read_rgb(f), crop))
                names.append(os.path.relpath(f))
            except (imageio.ImageReadError, OSError) as e:
                print(f"warning: {e}", file=sys.stderr)
        if not part:
            continue
        rgb = np.stack(part)
        L = color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)[..., :1]
        ab = np.asarray(model.predict_on_batch(L))
        ab = np.asarray(decode.saturate(ab, decoding.saturation, decoding.mean_saturation, np))
        rgbs.append(rgb)
        autos.append(ab.astype(np.float16))
        if progress:
            done = start + len(part)
            print(f"\rcache: {done}/{len(files)} photos, "
                  f"{done / (time.perf_counter() - t0):.1f}/s", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    with atomic.open_atomic(path, "wb", ".npz") as f:
        np.savez(f, rgb=np.concatenate(rgbs), auto=np.concatenate(autos),
                 names=np.array(names))


def example(rgb, auto, rng, flip=True, reach=None):
    """One training example from a cached photo: ((L4, auto, hint4, mask4,
    prop), target ab4), with simulated hints and a random horizontal flip;
    ``reach``: the propagation's {"sigma", "lam_area"} (None: the original
    one, σ = 5 and a decay of 1e-6)."""
    if flip and rng.random() < 0.5:
        rgb, auto = rgb[:, ::-1], auto[:, ::-1]
    lab = color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)
    L, ab = lab[..., :1], lab[..., 1:]
    hint, mask = sampler.sample_training(ab, rng)
    L4, hint4, mask4 = propagate.downsample(L, hint, mask)
    prop = hint_model.propagate_numpy(L4, hint4, mask4, **(reach or {}))
    target = propagate.downsample(L, ab, np.ones_like(L))[1]
    f32 = np.float32
    return ((L4.astype(f32), np.asarray(auto, f32), hint4.astype(f32), mask4.astype(f32),
             prop.astype(f32)), target.astype(f32))


def _batches_class():
    import keras

    class HintBatches(keras.utils.PyDataset):
        """An epoch of ``steps`` batches of ``example``s from the caches, new
        ones each epoch (``epoch``: where a resumed run goes on from); batch
        i comes from cache i mod len(caches) (working sizes take turns)."""

        def __init__(self, caches, batch_size, steps, seed=0, epoch=0, reach=None, **kwargs):
            super().__init__(**kwargs)
            self.caches, self.batch_size, self.reach = caches, batch_size, reach
            self.steps, self.seed, self.epoch = steps, seed, epoch

        def __len__(self):
            return self.steps

        def on_epoch_end(self):
            self.epoch += 1

        def __getitem__(self, i):
            rng = np.random.default_rng([self.seed, self.epoch, i])
            rgb, auto = self.caches[i % len(self.caches)]
            idx = rng.integers(0, len(rgb), self.batch_size)
            xs, ys = zip(*(example(rgb[j], auto[j], rng, reach=self.reach) for j in idx))
            return tuple(np.stack(c) for c in zip(*xs)), np.stack(ys)

    return HintBatches


def train(output_dir, data_dir=DATA, photos=8000, crop=128, base="lite", epochs=10,
          steps_per_epoch=400, batch_size=32, learning_rate=1e-3, channels=32,
          dilations=(1, 2, 4, 8, 1), workers=2, seed=0, crops=None, init_from=None,
          reach=None, callbacks=()):
    """Trains the refiner in ``output_dir`` (caches, checkpoints, log);
    returns the refiner (last epoch's weights). ``crops``: several working
    sizes, taking turns batch by batch (each its own cache,
    ``cache.npz`` for 128 and ``cache<size>.npz`` for others; a photo
    smaller than the size is enlarged; ``photos``: one count, or a list with
    one for each size); ``init_from``: a refiner ``.keras``
    file to start from (a fine-tuning run); ``reach``: {"sigma",
    "lam_area"}, the propagation with a real decay and the refiner that reads
    it (``model.build_refiner``); None: the original refiner; ``callbacks``:
    more Keras callbacks, after the checkpoints."""
    import keras

    from kcolor import schedules, training

    os.makedirs(output_dir, exist_ok=True)
    caches = []
    sizes = list(crops or [crop])
    counts = list(photos) if isinstance(photos, (list, tuple)) else [photos] * len(sizes)
    if len(counts) != len(sizes):
        raise ValueError(f"photos {counts}: one count, or one for each of the sizes {sizes}")
    loaded = {}
    for size, count in zip(sizes, counts):  # a size given twice gets twice the batches
        cache = os.path.join(output_dir, "cache.npz" if size == 128 else f"cache{size}.npz")
        if size not in loaded:
            if not os.path.exists(cache):
                build_cache(cache, data_dir, int(count), size, base)
            with np.load(cache) as f:
                loaded[size] = (f["rgb"], f["auto"].astype(np.float32))
        caches.append(loaded[size])
    run = dict(data_dir=data_dir, photos=int(sum(len(c[0]) for c in loaded.values())),
               crops=list(crops or [crop]), base=base, epochs=epochs,
               steps_per_epoch=steps_per_epoch, batch_size=batch_size,
               learning_rate=learning_rate, channels=channels, dilations=list(dilations),
               seed=seed, init_from=init_from, reach=reach)
    atomic.write_text(os.path.join(output_dir, "config.json"), json.dumps(run, indent=1))
    refiner = hint_model.build_refiner(channels, tuple(dilations), reach)
    if init_from:
        from kcolor import kinds

        kinds.register_layers()
        refiner.set_weights(keras.models.load_model(init_from, compile=False).get_weights())
    total = epochs * steps_per_epoch
    lr = schedules.ConstantThenLinearDecay.scaled_to(learning_rate, total)
    refiner.compile(optimizer=keras.optimizers.Adam(lr), loss=keras.losses.Huber(delta=5.0))
    done = training.finished_epochs(output_dir)
    batches = _batches_class()(caches, batch_size, steps_per_epoch, seed, epoch=done,
                               reach=reach, workers=workers)
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ModelCheckpoint(os.path.join(output_dir, "last.keras")),
        keras.callbacks.CSVLogger(os.path.join(output_dir, "log.csv"), append=True),
        keras.callbacks.BackupAndRestore(os.path.join(output_dir, "backup")),
        *callbacks,
    ]
    refiner.fit(batches, epochs=epochs, callbacks=callbacks, verbose=2)
    return refiner


def make_preset(output_dir, name, base="lite", directory=None):
    """Preset ``name``: the base preset's network with the trained refiner
    (``output_dir/last.keras``); stores the refiner only (``base_from``)."""
    import keras

    from kcolor import kinds, presets

    kinds.register_layers()
    with open(os.path.join(output_dir, "config.json")) as f:
        run = json.load(f)
    refiner = keras.models.load_model(os.path.join(output_dir, "last.keras"), compile=False)
    base_model, base_cfg = presets.load(base)
    model = hint_model.build_hint_colorizer(base_model, run["channels"],
                                            tuple(run["dilations"]), name=name,
                                            reach=run.get("reach"))
    hint_model.refiner_of(model).set_weights(refiner.get_weights())
    info = {k: base_cfg[k] for k in ("min_size", "saturation", "mean_saturation")
            if k in base_cfg}
    info.update({k: run[k] for k in ("crops", "init_from") if run.get(k)})
    return presets.save_preset(
        model, name, "regression", None, base_cfg.get("grid", "zhang"), base_cfg["size"],
        base_cfg.get("temperature", 0.38), arch="hint_" + base_cfg["arch"], directory=directory,
        base_from=base, recipe="kcolor.hints.train", trained_on=run["data_dir"],
        photos=run["photos"], epochs=run["epochs"], steps_per_epoch=run["steps_per_epoch"],
        batch_size=run["batch_size"], learning_rate=run["learning_rate"],
        hints="SIGGRAPH 2017 simulation: geometric count (p = 1/8, mean 7), 1-9 px patches, "
              "Gaussian-placed, the truth's patch mean", **info)


def main(argv=None):
    from absl import app, flags

    flags.DEFINE_string("output_dir", "runs/hints", "Run folder (cache, checkpoints, log).")
    flags.DEFINE_string("data_dir", DATA, "Training photos: comma-joined folders.")
    flags.DEFINE_list("photos", ["8000"], "Photos in the cache: one count, or one for each of "
                      "--crops.")
    flags.DEFINE_string("base", "lite", "Base preset (frozen).")
    flags.DEFINE_integer("epochs", 10, "Epochs.")
    flags.DEFINE_integer("steps_per_epoch", 400, "Steps an epoch.")
    flags.DEFINE_integer("batch_size", 32, "Photos a batch.")
    flags.DEFINE_float("learning_rate", 1e-3, "Adam's learning rate before the decay.")
    flags.DEFINE_integer("workers", 2, "Threads making batches.")
    flags.DEFINE_list("crops", ["128"], "Working sizes, taking turns batch by batch (photos "
                      "smaller than a size are enlarged to it).")
    flags.DEFINE_string("init_from", None, "A refiner .keras file to start from.")
    flags.DEFINE_integer("channels", 32, "The refiner's width.")
    flags.DEFINE_list("dilations", ["1", "2", "4", "8", "1"], "The refiner's 3 x 3 "
                      "convolutions' dilations.")
    flags.DEFINE_float("sigma", hint_model.SIGMA, "The propagation's affinity width (L units).")
    flags.DEFINE_float("lam_area", hint_model.LAM_AREA, "The propagation's decay times the "
                       "cells it solves for; 0: the original refiner (decay 1e-6, sigma 5).")
    flags.DEFINE_string("preset", None, "Write this preset from the finished run.")
    flags.DEFINE_string("preset_dir", None, "Where the preset goes (default: kcolor's).")
    F = flags.FLAGS

    def run(argv):
        photos = [int(p) for p in F.photos]
        train(F.output_dir, F.data_dir, photos if len(photos) > 1 else photos[0], 128, F.base, F.epochs, F.steps_per_epoch,
              F.batch_size, F.learning_rate, channels=F.channels,
              dilations=tuple(int(d) for d in F.dilations), workers=F.workers,
              crops=[int(c) for c in F.crops], init_from=F.init_from,
              reach={"sigma": F.sigma, "lam_area": F.lam_area} if F.lam_area else None)
        if F.preset:
            cfg = make_preset(F.output_dir, F.preset, F.base, F.preset_dir)
            print(f"preset {F.preset}: {json.dumps(cfg)}")

    app.run(run, argv)


if __name__ == "__main__":
    main()
