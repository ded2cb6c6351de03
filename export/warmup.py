"""TF Serving warm-up requests: ``assets.extra/tf_serving_warmup_requests``, a
TFRecord of ``tensorflow.serving.PredictionLog`` records (one PredictRequest
per signature), so the first real request does not pay for graph
initialisation.

``tensorflow-serving-api`` is not needed: the few messages a warm-up record
uses are declared here, with the field names and numbers of
``tensorflow_serving/apis/{prediction_log,predict,model}.proto``, around
TensorFlow's own ``TensorProto``; their bytes are what TF Serving reads
(tests/test_export_saved_model.py parses them with tensorflow-serving-api
where it is installed).
"""

import functools
import io
import os

import numpy as np
from PIL import Image

FILENAME = os.path.join("assets.extra", "tf_serving_warmup_requests")

# message: [(field, number, type: "string" or a message name)]; the subset of
# TF Serving's messages that a PredictionLog of a PredictRequest uses.
_MESSAGES = {
    "ModelSpec": [("name", 1, "string"), ("signature_name", 3, "string")],
    "PredictRequest": [("model_spec", 1, "ModelSpec"),
                       ("inputs", 2, "map<string, .tensorflow.TensorProto>")],
    "PredictLog": [("request", 1, "PredictRequest")],
    "PredictionLog": [("predict_log", 6, "PredictLog")],  # in oneof log_type
}


@functools.lru_cache(maxsize=None)
def message_classes():
    """{name: message class} of ``_MESSAGES`` (package ``tensorflow.serving``),
    built in a descriptor pool of their own, beside TensorFlow's TensorProto."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from tensorflow.core.framework import tensor_pb2

    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(fd):  # a file of TensorFlow's protos, its dependencies first
        if fd.name not in added:
            for dep in fd.dependencies:
                add(dep)
            pool.Add(descriptor_pb2.FileDescriptorProto.FromString(fd.serialized_pb))
            added.add(fd.name)

    add(tensor_pb2.DESCRIPTOR)
    proto = descriptor_pb2.FileDescriptorProto(
        name="kcolor/export/tf_serving_warmup.proto", package="tensorflow.serving",
        syntax="proto3", dependency=[tensor_pb2.DESCRIPTOR.name])
    F = descriptor_pb2.FieldDescriptorProto
    for name, fields in _MESSAGES.items():
        message = proto.message_type.add(name=name)
        for field, number, kind in fields:
            f = message.field.add(name=field, number=number, label=F.LABEL_OPTIONAL)
            if kind == "string":
                f.type = F.TYPE_STRING
            elif kind.startswith("map<"):
                entry = message.nested_type.add(name="InputsEntry")
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
                entry.field.add(name="value", number=2, label=F.LABEL_OPTIONAL,
                                type=F.TYPE_MESSAGE, type_name=".tensorflow.TensorProto")
                f.label, f.type = F.LABEL_REPEATED, F.TYPE_MESSAGE
                f.type_name = f".tensorflow.serving.{name}.InputsEntry"
            else:
                f.type, f.type_name = F.TYPE_MESSAGE, f".tensorflow.serving.{kind}"
        if name == "PredictionLog":
            message.oneof_decl.add(name="log_type")
            message.field[0].oneof_index = 0
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"tensorflow.serving.{name}")) for name in _MESSAGES}


def sample_rgb(size):
    """A smooth colour test card [size, size, 3] uint8."""
    y, x = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    return np.round(np.stack([x, y, 1 - x * y], -1) * 255).astype(np.uint8)


def requests(model_name, size):
    """[PredictionLog] for ``serving_default`` and ``colorize_image``."""
    import tensorflow as tf

    from kcolor import color

    rgb = sample_rgb(size)
    L = color.rgb_to_lab(rgb / 255.0, np)[None, ..., :1].astype(np.float32)
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    inputs = {"serving_default": {"L": tf.make_tensor_proto(L)},
              "colorize_image": {"image_bytes": tf.make_tensor_proto([png.getvalue()])}}
    m = message_classes()
    logs = []
    for signature, tensors in inputs.items():
        request = m["PredictRequest"]()
        request.model_spec.name = model_name
        request.model_spec.signature_name = signature
        for key, proto in tensors.items():  # TensorFlow's TensorProto, by its bytes
            request.inputs[key].ParseFromString(proto.SerializeToString())
        logs.append(m["PredictionLog"](predict_log=m["PredictLog"](request=request)))
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

    cls = message_classes()["PredictionLog"]
    path = os.path.join(saved_model_dir, FILENAME)
    return [cls.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]
