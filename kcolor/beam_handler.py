"""A Beam ``ModelHandler`` for ``RunInference``: kcolor's ``Colorizer``.

``ColorizerModelHandler`` loads a ``kcolor.colorize.Colorizer`` (a preset
name, a ``.keras`` file, a ``.tflite`` file or a SavedModel folder from
``kcolor export``; a ``gs://``-style path is first copied to the worker
through Beam's ``FileSystems``) and runs it on batches of lightness images:

* example: L float32 [H, W, 1] (0–100) of one photo at its own size;
* inference: ab float32 [H, W, 2] at that size — the Colorizer's own path:
  every L squashed to the model's working size, one batched prediction, each
  ab resized back bilinearly.

Beam's ``TFModelHandlerNumpy`` / ``TFModelHandlerTensor`` do not fit: they
import ``tensorflow_hub`` (which pulls the full ``tensorflow`` and ``tf_keras``
beside ``tensorflow-cpu``) and load models with ``tf.keras.models.load_model``,
which under Keras 3 reads neither a SavedModel folder nor kcolor's presets.
"""

import os
import shutil
import tempfile

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from kcolor import colorize


class ColorizerModelHandler(ModelHandler):
    """RunInference handler of a kcolor ``Colorizer``.

    Args:
      model: preset name (None: the shipped default), ``.keras``, ``.tflite``
        or SavedModel path (local or any Beam filesystem URI).
      size, temperature, saturation: as ``Colorizer``'s.
      min_batch_size, max_batch_size: photos per prediction (Beam's
        ``BatchElements`` bounds).
    """

    def __init__(self, model=None, size=None, temperature=None, saturation=None, *,
                 min_batch_size=1, max_batch_size=8, **kwargs):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size, **kwargs)
        self._model = model
        self._size = size
        self._temperature = temperature
        self._saturation = saturation

    def load_model(self):
        model = self._model
        if isinstance(model, str) and "://" in model:
            model = _local_copy(model)
        return colorize.Colorizer(model, self._size, self._temperature, self._saturation)

    def run_inference(self, batch, model, inference_args=None):
        Ls = [np.asarray(L, np.float32) for L in batch]
        return [PredictionResult(L, ab, self._model) for L, ab in zip(Ls, model._ab_at_sizes(Ls))]

    def get_num_bytes(self, batch):
        return sum(np.asarray(L).nbytes for L in batch)

    def get_metrics_namespace(self):
        return "kcolor"


def _local_copy(uri):
    """A local copy of model file or SavedModel folder ``uri`` (any Beam filesystem)."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    UNCOMPRESSED = CompressionTypes.UNCOMPRESSED
    uri = uri.rstrip("/")
    dest = tempfile.mkdtemp(prefix="kcolor-model-")
    if FileSystems.exists(uri + "/saved_model.pb"):
        files = [m.path for m in FileSystems.match([uri + "/**"])[0].metadata_list]
        root = os.path.join(dest, "saved_model")
    else:
        files, root = [uri], dest
    for path in files:
        rel = os.path.basename(path) if path == uri else path[len(uri) + 1:]
        local = os.path.join(root, rel)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with FileSystems.open(path, compression_type=UNCOMPRESSED) as src, \
                open(local, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return root if files != [uri] else os.path.join(dest, os.path.basename(uri))
