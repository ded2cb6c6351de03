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

* the signature of the model kind's condition (``kcolor.kinds``), if it
  takes one: ``colorize_with_boxes`` (instance-aware models): ``L`` as
  above, ``boxes`` float32 [batch, K, 4] normalised (x0, y0, x1, y1) of the
  unpadded image, ``valid`` float32 [batch, K] (1 = box, 0 = padding; K is
  the model's ``max_boxes``) → ``ab`` and ``rgb`` as serving_default; or
  ``colorize_with_hints`` (hint-aware models, ``kcolor.hints``). For such a
  model serving_default and colorize_image take no condition (the kind's
  plain path: the full-image branch alone, the automatic colour).

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

    from kcolor import decode, kinds, models

    decoding = decoding or decode.Decoding()
    kind = kinds.for_model(model)
    multiple = models.input_multiple(model)
    inference = kind.plain_inference(model, decoding)  # L -> ab: no condition
    conditioned = kind.export_signature(model, decoding, multiple, size)
    archive = keras.export.ExportArchive()
    archive.track(inference)
    if conditioned is not None:
        archive.track(conditioned[3])

    def serve(L):
        ab = graph.ab_any_size(inference, L, multiple)
        return {"ab": ab, "rgb": graph.rgb_uint8(L, ab)}

    def colorize_image(image_bytes):
        png = tf.map_fn(lambda b: graph.colorize_encoded(inference, b, size), image_bytes,
                        fn_output_signature=tf.TensorSpec([], tf.string))
        return {"png_bytes": png}

    archive.add_endpoint("serving_default", serve,
                         [tf.TensorSpec([None, None, None, 1], tf.float32, name="L")])
    archive.add_endpoint("colorize_image", colorize_image,
                         [tf.TensorSpec([None], tf.string, name="image_bytes")])
    if conditioned is not None:  # colorize_with_boxes, colorize_with_hints
        signature, function, specs, _ = conditioned
        archive.add_endpoint(signature, function, specs)
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
