"""Shipped, trained models by name (as keras-hub presets).

A preset is ``assets/presets/<name>.json`` (architecture: arch, head, width
or, for a U-Net, ``build`` (decoder channels, gray stem), grid, working size, temperature, saturation, how it was trained) beside ``<name>.npz`` (weights
stored as float16 to keep the package small; loaded back as float32).
``save_preset`` writes one from a trained model; ``load`` rebuilds it.
"""

import json
import os
import tempfile

import numpy as np

from kcolor import imageio, kinds

PRESET_DIR = os.path.join(os.path.dirname(__file__), "assets", "presets")
DEFAULT = "lite"


def default_for(condition):
    """The preset a run with ``condition`` (a ``kcolor.kinds`` keyword such as
    "boxes" or "hints") and no model uses: its kind's ``default_preset``."""
    return kinds.conditions()[condition].default_preset


def __getattr__(name):  # DEFAULT_INSTANCES, as before the kinds registry
    if name == "DEFAULT_INSTANCES":
        return default_for("boxes")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def names():
    if not os.path.isdir(PRESET_DIR):
        return []
    return sorted(f[:-5] for f in os.listdir(PRESET_DIR) if f.endswith(".json"))


def config(name=DEFAULT, directory=None):
    """The preset's configuration: shipped, or ``<directory>/<name>.json``."""
    path = os.path.join(directory or PRESET_DIR, f"{name}.json")
    if not os.path.exists(path):
        if directory is not None:
            raise FileNotFoundError(f"{path}: no such preset file")
        raise ValueError(f"unknown preset {name!r}; shipped presets: {', '.join(names()) or 'none'}")
    with open(path) as f:
        return json.load(f)


def load(name=DEFAULT, directory=None):
    """The preset's training model (L → low-resolution prediction) and its
    config: a shipped preset, or (``directory``) one whose ``<name>.json``
    and ``<name>.npz`` lie there (``kcolor preset`` run elsewhere,
    ``studies/device_train.py``). The kind that owns the preset's ``arch``
    (``kcolor.kinds``) builds the network and sets its weights."""
    cfg = config(name, directory)
    arch = cfg.get("arch", "zhang")
    kind = kinds.for_arch(arch)
    model = kind.build(arch, cfg["head"], cfg.get("width", 0.25), cfg["grid"], name=name,
                       **cfg.get("build", {}))
    with np.load(os.path.join(directory or PRESET_DIR, f"{name}.npz")) as f:
        weights = [f[f"w{i}"].astype(np.float32) for i in range(len(f.files))]
    kind.load_preset_weights(model, cfg, weights, _loader(directory))
    return model, cfg


def _loader(directory):
    """``load`` for the presets a preset builds on (``base_from``,
    ``full_branch_from``): beside it in ``directory`` when there, else shipped."""
    def load_near(name):
        if directory and os.path.exists(os.path.join(directory, f"{name}.json")):
            return load(name, directory)
        return load(name)
    return load_near


def load_model(model=None):
    """(Keras training model, preset config or {}) from a preset name (None:
    the default preset), a preset's ``.json`` path (its ``.npz`` beside it),
    a ``.keras`` path or a model object."""
    import keras

    if model is None or (isinstance(model, str) and model in names()):
        return load(model or DEFAULT)
    if isinstance(model, str):
        if not os.path.exists(model):
            raise FileNotFoundError(f"{model}: no such model file or preset")
        if model.endswith(".json"):
            folder, name = os.path.split(model)
            return load(name[:-len(".json")], folder or ".")
        kinds.register_layers()  # every kind's layers: any .keras file loads
        return keras.models.load_model(model, compile=False), {}
    return model, {}


def _own_weights(model):
    """The weights a preset of ``model`` built on another preset stores
    (``full_branch_from``: the kind's ``own_weights``)."""
    return kinds.for_model(model).own_weights(model)


def save_preset(model, name, head, width, grid, size, temperature=0.38, arch="zhang",
                directory=None, **info):
    """Writes ``<name>.json`` and ``<name>.npz`` (float16) to ``directory``
    (default ``PRESET_DIR``, the shipped presets; ``load(name, directory)``
    reads them back).

    ``info["full_branch_from"]`` (an instance-aware model whose full-image
    branch holds that preset's weights, unchanged): only the other weights
    are stored, and ``load`` takes the full branch from that preset."""
    directory = directory or PRESET_DIR
    os.makedirs(directory, exist_ok=True)
    kind = kinds.for_model(model)
    arrays = kind.preset_arrays(model, name, info, _loader(directory))
    weights = {f"w{i}": np.asarray(w).astype(np.float16) for i, w in enumerate(arrays)}
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, **weights)
    os.chmod(tmp, imageio.umask_mode())
    os.replace(tmp, os.path.join(directory, f"{name}.npz"))
    cfg = dict(arch=arch, head=head, width=width, grid=grid, size=size, temperature=temperature,
               **info)
    build = kind.build_kwargs(model)
    if build is not None:  # the decoder, stem, ... it was built with; width is unused
        cfg["build"] = build
        cfg.pop("width")
    with open(os.path.join(directory, f"{name}.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    return cfg


def from_run(run_dir, name, checkpoint="best.keras", temperature=None, target_colourfulness=None,
             calibration_dir=None, calibration_limit=500, mean_saturation=None, size=None,
             max_boxes=None, directory=None, **info):
    """Makes preset ``name`` from a recipe run (its checkpoint and config.json).
    With ``target_colourfulness`` the saturation is chosen on
    ``calibration_dir`` (``kcolor.saturation.choose_for_model``, at
    ``mean_saturation``) instead of taken from ``info``; ``mean_saturation``
    (``kcolor.decode.saturate``) is recorded when given, and so are the run's
    training photos (``trained_on``, its ``--data_dir``) and the checkpoint;
    ``info`` overrides them. ``size``: the working size (default: the run's
    crop size); ``info`` may add ``min_size`` (``colorize.Colorizer``).
    ``max_boxes``: an instance-aware model is rebuilt to take this many boxes
    a photo (the weights do not depend on it; training may use fewer).
    ``directory``: where the preset goes (default: the shipped presets')."""
    import importlib

    import keras

    with open(os.path.join(run_dir, "config.json")) as f:
        run = json.load(f)
    recipe = importlib.import_module(f"recipes.{run['recipe']}").RECIPE
    kinds.register_layers()  # every kind's layers: the checkpoint loads
    model = keras.models.load_model(os.path.join(run_dir, checkpoint), compile=False)
    if max_boxes is not None:
        try:
            model = kinds.for_model(model).rebuilt(model, max_boxes=max_boxes)
        except ValueError as e:
            raise ValueError(f"{run_dir}: {e}") from None
    temperature = recipe.temperature if temperature is None else temperature
    if target_colourfulness is not None:
        if not calibration_dir:
            raise ValueError("target_colourfulness needs calibration_dir")
        from kcolor import saturation

        info["saturation"], info["saturation_chosen"] = saturation.choose_for_model(
            model, calibration_dir, target_colourfulness, run["crop_size"], calibration_limit,
            temperature, mean_saturation)
    if mean_saturation is not None:
        info["mean_saturation"] = mean_saturation
    cfg = {"recipe": recipe.name, "epochs": run["epochs"], "steps_per_epoch": run["steps_per_epoch"],
           "batch_size": run["batch_size"], "learning_rate": run["learning_rate"],
           "trained_on": run.get("data_dir"), "checkpoint": checkpoint, **info}
    if run.get("init_from"):  # a fine-tuning run: what it started from
        cfg["init_from"] = run["init_from"]
    if run.get("max_scale", 1.0) != 1.0:
        cfg["max_scale"] = run["max_scale"]
    return save_preset(model, name, recipe.head, run["width"], recipe.grid, size or run["crop_size"],
                       temperature, arch=run.get("arch") or recipe.arch, directory=directory,
                       **cfg)
