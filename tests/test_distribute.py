"""Multi-device training on one CPU split into two devices (subprocesses: the
split must happen before the backend starts its devices).

* ``tf.distribute.MirroredStrategy`` over 2 logical CPU devices: one ``fit``
  step at global batch 4 (2 a replica) gives the loss and the weight update
  of one step on one device at batch 4. The optimizer is plain SGD, so a
  loss or gradient reduced wrongly across replicas (summed instead of
  averaged, or averaged twice) would show as an update off by a factor 2.
  Without synchronized batch norm the step differs (each replica would
  normalise by its own 2 photos): the comparison is sensitive enough.
* ``keras.distribution.DataParallel`` (JAX) over 2 XLA host devices: the
  same comparison. Then two JAX processes of 2 devices each, joined as the
  multi-host launch joins them, train one recipe together.
* A recipe trains under ``--strategy=mirrored --cpu_devices=2`` on TFRecord
  shards and writes checkpoints that load on any backend.

Float32 sets the precision of "the same": the one-device step is also run on
the batch in another order (the same sum, rounded differently), and the
multi-device step may differ from it by no more than twice that difference.
Measured here, as fractions of the update (classification, regression):
re-ordered 1.6e-6 and 1.4e-5, mirrored 2.1e-6 and 1.2e-5 for TensorFlow;
under JAX re-ordered 1.0e-2 and 1.3e-5, DataParallel 1.0e-2 and 1.3e-5 (the
JAX classification step at these weights is that sensitive to rounding). A
wrongly reduced gradient would be off by 0.5 or more.
"""

import csv
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import zipfile

import numpy as np

import pytest
from conftest import last_json_line, run_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAS_JAX = importlib.util.find_spec("jax") is not None
HEADS = ("classification", "regression")
TIMEOUT = 1800  # seconds; about 40 s of CPU each, but CI machines may be busy

# Shared by both backends: one fit step of each head with its recipe's loss
# and plain SGD, on a fixed batch of 4 from fixed weights.
COMMON = r"""
import contextlib, json
import numpy as np
import keras
import tensorflow as tf
from kcolor import models
import recipes.classification, recipes.huber

RECIPES = {"classification": recipes.classification.RECIPE, "regression": recipes.huber.RECIPE}
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:32, 0:32] / 32.0
L = np.stack([rng.uniform(20, 80) + rng.uniform(-20, 20) * yy + 10 * np.sin(xx * rng.uniform(3, 9))
              for _ in range(4)])[..., None].astype("float32")
target = np.concatenate([L.reshape(4, 8, 4, 8, 4, 1).mean((2, 4)),
                         rng.uniform(-50, 50, (4, 8, 8, 2))], -1).astype("float32")
keras.utils.set_random_seed(0)
START = {h: models.build_colorizer(h, 0.125).get_weights() for h in RECIPES}


def step(head, context=contextlib.nullcontext(), prepare=lambda model: None, order=(0, 1, 2, 3)):
    '''(logged loss, update of each trainable weight, batch sizes the loss saw)'''
    loss_fn, seen = RECIPES[head].loss(), []
    call = loss_fn.call
    def recording_call(y_true, y_pred):  # the batch size each trace sees
        seen.append(int(y_true.shape[0]))
        return call(y_true, y_pred)
    loss_fn.call = recording_call
    with context:
        model = models.build_colorizer(head, 0.125)
        model.set_weights(START[head])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss_fn)
    prepare(model)
    order = list(order)
    batch = tf.data.Dataset.from_tensors((L[order], target[order]))
    history = model.fit(batch, epochs=1, verbose=0)
    trainable = {id(v) for v in model.trainable_weights}
    update = [np.asarray(v.numpy()) - w0 for v, w0 in zip(model.weights, START[head])
              if id(v) in trainable]
    return history.history["loss"][0], update, seen


def rel_diff(up1, up2):
    '''|update difference| / |update| over all trainable weights'''
    return float(np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(up1, up2))
                         / sum(np.sum(a ** 2) for a in up1)))


def compare(head, many, **kwargs):
    loss1, up1, seen1 = ONE[head]
    loss2, up2, seen2 = many
    return {"loss_one": loss1, "loss_many": loss2, "batches_one": seen1, "batches_many": seen2,
            "update_scale": max(float(np.abs(u).max()) for u in up1),
            "update_rel_diff": rel_diff(up1, up2),
            "rounding_rel_diff": rel_diff(up1, REORDERED[head][1]), **kwargs}


def one_device_steps():
    # each head's step on one device, in order and reordered
    return ({head: step(head) for head in RECIPES},
            {head: step(head, order=(1, 0, 3, 2)) for head in RECIPES})
"""

TF_SCRIPT = r"""
from kcolor import training

training.configure_devices(2)  # before the first tensor
""" + COMMON + r"""
strategy = training._strategy("mirrored")
out = {"replicas": strategy.num_replicas_in_sync, "devices": list(strategy.extended.worker_devices)}
ONE, REORDERED = one_device_steps()
for head in RECIPES:
    unsynchronized = step(head, strategy.scope())
    out[head] = compare(head, step(head, strategy.scope(), training.synchronize_batchnorm),
                        unsynchronized_rel_diff=rel_diff(ONE[head][1], unsynchronized[1]))
print(json.dumps(out))
"""

JAX_SCRIPT = COMMON + r"""
import jax
from keras import distribution

out = {"devices": [str(d) for d in jax.devices()]}
ONE, REORDERED = one_device_steps()
dp = distribution.DataParallel(devices=distribution.list_devices())
layout = dp.get_data_layout(L.shape).backend_layout
out["per_device_batch"] = [s.data.shape[0] for s in jax.device_put(L, layout).addressable_shards]
distribution.set_distribution(dp)
for head in RECIPES:
    out[head] = compare(head, step(head))
kernel = models.build_colorizer("regression", 0.125).weights[1].value
out["weights_replicated"] = (kernel.sharding.is_fully_replicated
                             and len(kernel.sharding.device_set) == 2)
print(json.dumps(out))
"""


def _check_same_step(r):
    assert r["loss_many"] == pytest.approx(r["loss_one"], rel=1e-5), r
    assert r["update_scale"] > 1e-3, r  # the step did move the weights
    assert r["rounding_rel_diff"] < 0.05, r  # rounding alone: small
    assert r["update_rel_diff"] <= max(1e-4, 2 * r["rounding_rel_diff"]), r


@pytest.fixture
def photo_shards(photo_dir, tmp_path):
    """``photo_dir`` (10 photos 48 x 40, one broken file) as 2 shards."""
    from kcolor import shards

    prefix = tmp_path / "shards" / "train"
    shards.write_shards(str(photo_dir), str(prefix), num_shards=2, min_side=32, progress=False,
                        report=lambda line: None)
    return f"{prefix}-*.tfrecord"


def _check_run(out):
    for f in ("best.keras", "last.keras", "log.csv", "config.json"):
        assert (out / f).stat().st_size > 0, f
    with open(out / "log.csv") as f:
        row = next(csv.DictReader(f))
    assert 0 < float(row["loss"]) < 1e4 and 0 < float(row["val_ssim"]) <= 1
    assert float(row["true_colorfulness"]) > 10  # validation read the colour photos
    with zipfile.ZipFile(out / "best.keras") as z:
        config = json.loads(z.read("config.json"))
    backbone = next(lay for lay in config["config"]["layers"] if lay["class_name"] == "Functional")
    bn = [lay for lay in backbone["config"]["layers"] if lay["class_name"] == "BatchNormalization"]
    # Saved unsynchronized: the checkpoint loads on any backend.
    assert len(bn) == 7 and not any(lay["config"]["synchronized"] for lay in bn)


def test_mirrored_two_replicas_step_equals_one_device():
    proc = run_python(["-c", TF_SCRIPT], env={"KERAS_BACKEND": "tensorflow"}, cwd=ROOT,
                      timeout=TIMEOUT)
    result = last_json_line(proc.stdout)
    assert result["replicas"] == 2
    assert [d.rsplit(":", 2)[-2:] for d in result["devices"]] == [["CPU", "0"], ["CPU", "1"]]
    for head in HEADS:
        r = result[head]
        _check_same_step(r)
        # The loss is traced with the whole batch on one device and with half
        # of it on each replica (TensorFlow traces once or more a replica).
        assert set(r["batches_one"]) == {4}
        assert set(r["batches_many"]) == {2} and len(r["batches_many"]) >= 2
        # Batch norm over each replica's 2 photos alone: another step.
        assert r["unsynchronized_rel_diff"] > 0.1, r


def test_recipe_trains_mirrored_on_two_cpu_devices(photo_dir, photo_shards, tmp_path):
    out = tmp_path / "mirrored"
    proc = run_python(
        ["-m", "recipes.composite", f"--data_dir={photo_shards}", f"--val_dir={photo_dir}",
         f"--output_dir={out}", "--epochs=1", "--steps_per_epoch=2", "--batch_size=4",
         "--crop_size=32", "--val_size=32", "--width=0.125", "--strategy=mirrored",
         "--cpu_devices=2", "--seed=0"], env={"KERAS_BACKEND": "tensorflow"}, cwd=ROOT,
        timeout=TIMEOUT)
    assert "Using MirroredStrategy with devices" in proc.stderr
    assert "device:CPU:1" in proc.stderr
    _check_run(out)


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")
def test_jax_data_parallel_step_equals_one_device():
    env = {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = last_json_line(run_python(["-c", JAX_SCRIPT], env=env, cwd=ROOT,
                                       timeout=TIMEOUT).stdout)
    assert len(result["devices"]) == 2, result
    assert result["per_device_batch"] == [2, 2]  # the global batch of 4, split
    assert result["weights_replicated"]
    for head in HEADS:
        _check_same_step(result[head])


def _weights(keras_file):
    import h5py

    with zipfile.ZipFile(keras_file) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as f:
        arrays = {}
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return arrays


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")
def test_two_jax_processes_train_as_one(photo_dir, photo_shards, tmp_path):
    """The multi-host launch of docs/SCALING.md, on this host: two processes
    of 2 CPU devices each (--cpu_devices) join through
    keras.distribution.initialize (flags
    for process 0, KERAS_DISTRIBUTION_* variables for process 1), each reads
    its own shard file, and they train one model on 4 devices."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        address = f"localhost:{s.getsockname()[1]}"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = []
    for i in (0, 1):
        cmd = [sys.executable, "-m", "recipes.huber", f"--data_dir={photo_shards}",
               f"--val_dir={photo_dir}", f"--output_dir={tmp_path / f'p{i}'}", "--epochs=1",
               "--steps_per_epoch=2", "--batch_size=4", "--crop_size=32", "--val_size=32",
               "--width=0.125", "--seed=0", "--strategy=data_parallel", "--cpu_devices=2"]
        if i == 0:
            cmd += [f"--job_addresses={address}", "--num_processes=2", "--process_id=0"]
            penv = env
        else:
            penv = {**env, "KERAS_DISTRIBUTION_JOB_ADDRESSES": address,
                    "KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "1"}
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=penv, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    try:
        outputs = [p.communicate(timeout=TIMEOUT) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
        assert f"Connecting to JAX distributed service on {address}" in err
    for i in (0, 1):
        _check_run(tmp_path / f"p{i}")
    logs = [(tmp_path / f"p{i}" / "log.csv").read_text() for i in (0, 1)]
    assert logs[0] == logs[1]  # one global loss and one model
    w0, w1 = (_weights(tmp_path / f"p{i}" / "last.keras") for i in (0, 1))
    assert w0.keys() == w1.keys() and len(w0) > 40
    for name in w0:
        np.testing.assert_array_equal(w0[name], w1[name], err_msg=name)


def test_strategy_needs_its_backend():
    from kcolor import training

    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        training._strategy("data_parallel")
    with pytest.raises(ValueError, match="unknown strategy 'ring'"):
        training._strategy("ring")
