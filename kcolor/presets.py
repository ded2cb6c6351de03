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

from kcolor import imageio, models

PRESET_DIR = os.path.join(os.path.dirname(__file__), "assets", "presets")
DEFAULT = "lite"
DEFAULT_INSTANCES = "lite_instances"  # kcolor colorize --instances=auto (or a boxes file)


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
    ``studies/device_train.py``)."""
    cfg = config(name, directory)
    model = models.build(cfg.get("arch", "zhang"), cfg["head"], cfg.get("width", 0.25),
                         cfg["grid"], name=name, **cfg.get("build", {}))
    with np.load(os.path.join(directory or PRESET_DIR, f"{name}.npz")) as f:
        weights = [f[f"w{i}"].astype(np.float32) for i in range(len(f.files))]
    if cfg.get("full_branch_from"):  # an instance-aware preset on top of another preset
        from kcolor.instance import lite_model

        lite_model.load_branch(model, "full", load(cfg["full_branch_from"])[0])
        own = _own_weights(model)
        if len(own) != len(weights):
            raise ValueError(f"preset {name}: {len(weights)} arrays for {len(own)} weights")
        for variable, value in zip(own, weights):
            variable.assign(value)
    else:
        model.set_weights(weights)
    return model, cfg


def _own_weights(model):
    """The weights of an instance-aware model outside its full-image branch
    (what a preset with ``full_branch_from`` stores), in ``model.weights`` order."""
    from kcolor.instance import lite_model

    full = {id(w) for layer in lite_model.branch_layers(model, "full").values()
            for w in layer.weights}
    return [w for w in model.weights if id(w) not in full]


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
    arrays = model.get_weights()
    if info.get("full_branch_from"):
        from kcolor.instance import lite_model

        base = lite_model.colorizer_layers(load(info["full_branch_from"])[0])
        for layer_name, layer in lite_model.branch_layers(model, "full").items():
            if not all(np.array_equal(np.asarray(a, np.float16), np.asarray(b, np.float16))
                       for a, b in zip(layer.get_weights(), base[layer_name].get_weights())):
                raise ValueError(f"{name}: layer {layer_name} of the full-image branch differs "
                                 f"from preset {info['full_branch_from']!r}'s")
        arrays = [np.asarray(w) for w in _own_weights(model)]
    weights = {f"w{i}": w.astype(np.float16) for i, w in enumerate(arrays)}
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, **weights)
    os.chmod(tmp, imageio.umask_mode())
    os.replace(tmp, os.path.join(directory, f"{name}.npz"))
    cfg = dict(arch=arch, head=head, width=width, grid=grid, size=size, temperature=temperature,
               **info)
    if arch.startswith("instance_unet"):  # the instance-aware U-Net (kcolor.instance.lite_model)
        from kcolor.instance import lite_model

        cfg["build"] = lite_model.build_kwargs(model)
        cfg.pop("width")
    elif arch.startswith("unet"):  # the decoder and stem it was built with; width is unused
        from kcolor.models import unet

        cfg["build"] = unet.build_kwargs(model)
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
    model = keras.models.load_model(os.path.join(run_dir, checkpoint), compile=False)
    if max_boxes is not None:
        from kcolor.instance import lite_model

        if not lite_model.is_lite_instance_model(model):
            raise ValueError(f"{run_dir}: max_boxes is for the instance-aware U-Net "
                             "(recipes/lite_instances.py)")
        kw = lite_model.build_kwargs(model) | {"max_boxes": int(max_boxes)}
        rebuilt = lite_model.build_lite_instance_colorizer(name=model.name, **kw)
        rebuilt.set_weights(model.get_weights())
        model = rebuilt
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
