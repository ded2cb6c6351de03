"""The TF Serving SavedModel: ``<output_dir>/<name>/<version>/``.

Signatures:

* ``serving_default``: ``L`` float32 [batch, height, width, 1], Lab lightness
  0-100, any height and width (padded to a multiple of 8 inside the graph and
  cropped back) → ``ab`` float32 [batch, height, width, 2] and ``rgb`` uint8
  [batch, height, width, 3] (sRGB of L + ab).
* ``colorize_image``: ``image_bytes`` string [batch] of encoded JPEG/PNG
  bytes → ``png_bytes`` string [batch], each image colorized at its own size
  (the network sees L at the model's working size ``size``). The ``_bytes``
  suffix makes TF Serving's REST API return the PNGs as ``{"b64": ...}``.

* ``colorize_with_boxes`` (instance-aware models, ``kcolor.instance``
  only): ``L`` as above, ``boxes`` float32 [batch, K, 4] normalised
  (x0, y0, x1, y1) of the unpadded image, ``valid`` float32 [batch, K]
  (1 = box, 0 = padding; K is the model's ``max_boxes``) → ``ab`` and
  ``rgb`` as serving_default. For such a model serving_default and
  colorize_image use no boxes (the full-image branch alone).

Warm-up requests for serving_default and colorize_image go to
``assets.extra/tf_serving_warmup_requests``.
"""

import os

from export import graph, warmup

def export_saved_model(model, output_dir, name="kcolor", version=1, size=256, decoding=None,
                       warmup_requests=True):
    """Writes the SavedModel with ``decoding`` (a ``kcolor.decode.Decoding``;
    default: T 0.38, no saturation); returns its folder ``output_dir/name/version``."""
    graph.require_tensorflow_backend()
    size = graph.check_size(size, model)
    path = os.path.join(output_dir, name, str(int(version)))
    if os.path.exists(path) and os.listdir(path):
        # A server may be serving it: versions are written once, never over.
        raise ValueError(f"{path} already exists: export a new --version")
    import keras
    import tensorflow as tf

    from kcolor import decode, models
    from kcolor.instance import model as instance_model

    decoding = decoding or decode.Decoding()
    with_boxes = None
    if instance_model.is_instance_model(model):
        with_boxes = instance_model.build_inference_model(model, **decoding.as_dict())
        k = instance_model.max_boxes(model)

        def inference(L):  # no boxes
            n = tf.shape(L)[0]
            return with_boxes([L, tf.zeros([n, k, 4]), tf.zeros([n, k])])
    else:
        inference = graph.inference_model(model, decoding)
    archive = keras.export.ExportArchive()
    archive.track(with_boxes or inference)

    def serve(L):
        ab = graph.ab_any_size(inference, L, models.input_multiple(model))
        return {"ab": ab, "rgb": graph.rgb_uint8(L, ab)}

    def colorize_image(image_bytes):
        png = tf.map_fn(lambda b: graph.colorize_encoded(inference, b, size), image_bytes,
                        fn_output_signature=tf.TensorSpec([], tf.string))
        return {"png_bytes": png}

    archive.add_endpoint("serving_default", serve,
                         [tf.TensorSpec([None, None, None, 1], tf.float32, name="L")])
    archive.add_endpoint("colorize_image", colorize_image,
                         [tf.TensorSpec([None], tf.string, name="image_bytes")])
    if with_boxes is not None:
        def serve_boxes(L, boxes, valid):
            from kcolor import models

            shape = tf.cast(tf.shape(L)[1:3], tf.float32)
            m = models.input_multiple(model)
            padded = tf.math.ceil(shape / m) * m
            sy, sx = shape[0] / padded[0], shape[1] / padded[1]  # boxes in the padded image
            boxes = boxes * tf.stack([sx, sy, sx, sy])
            ab = graph.ab_any_size(lambda Lp: with_boxes([Lp, boxes, valid]), L, m)
            return {"ab": ab, "rgb": graph.rgb_uint8(L, ab)}

        archive.add_endpoint("colorize_with_boxes", serve_boxes, [
            tf.TensorSpec([None, None, None, 1], tf.float32, name="L"),
            tf.TensorSpec([None, k, 4], tf.float32, name="boxes"),
            tf.TensorSpec([None, k], tf.float32, name="valid")])
    archive.write_out(path, verbose=False)
    if warmup_requests:
        warmup.write(path, name, size)
    write_working_size(path, size)
    return path


def write_working_size(path, size):
    """Records the working size beside the SavedModel (``assets.extra/kcolor.json``,
    which TF Serving ignores), so ``kcolor colorize --model=PATH`` works at it."""
    import json

    from kcolor import atomic, colorize

    target = os.path.join(path, colorize.WORKING_SIZE_FILE)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    atomic.write_text(target, json.dumps({"working_size": size}))
