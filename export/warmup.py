"""TF Serving warm-up requests: ``assets.extra/tf_serving_warmup_requests``, a
TFRecord of ``tensorflow_serving.apis.prediction_log_pb2.PredictionLog``
records (one PredictRequest per signature), so the first real request does
not pay for graph initialisation. Needs ``tensorflow-serving-api``."""

import io
import os

import numpy as np
from PIL import Image

FILENAME = os.path.join("assets.extra", "tf_serving_warmup_requests")


def sample_rgb(size):
    """A smooth colour test card [size, size, 3] uint8."""
    y, x = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    return np.round(np.stack([x, y, 1 - x * y], -1) * 255).astype(np.uint8)


def _apis():
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
    except ImportError as e:
        raise RuntimeError(
            "warm-up requests need tensorflow-serving-api: pip install --no-deps "
            "'tensorflow-serving-api>=2.21,<2.22' (without --no-deps it installs the full "
            "tensorflow package beside tensorflow-cpu), or export with --nowarmup"
        ) from e
    return predict_pb2, prediction_log_pb2


def check_available():
    _apis()


def requests(model_name, size):
    """[PredictionLog] for ``serving_default`` and ``colorize_image``."""
    import tensorflow as tf

    predict_pb2, prediction_log_pb2 = _apis()

    from kcolor import color

    rgb = sample_rgb(size)
    L = color.rgb_to_lab(rgb / 255.0, np)[None, ..., :1].astype(np.float32)
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    inputs = {"serving_default": {"L": tf.make_tensor_proto(L)},
              "colorize_image": {"image_bytes": tf.make_tensor_proto([png.getvalue()])}}
    logs = []
    for signature, tensors in inputs.items():
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model_name
        request.model_spec.signature_name = signature
        for key, proto in tensors.items():
            request.inputs[key].CopyFrom(proto)
        logs.append(prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write(saved_model_dir, model_name, size):
    """Writes the warm-up file into ``saved_model_dir``; returns its path."""
    import tensorflow as tf

    path = os.path.join(saved_model_dir, FILENAME)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for log in requests(model_name, size):
            writer.write(log.SerializeToString())
    return path


def read(saved_model_dir):
    """The PredictionLog records of a SavedModel's warm-up file."""
    import tensorflow as tf

    _, prediction_log_pb2 = _apis()
    path = os.path.join(saved_model_dir, FILENAME)
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(path)]
