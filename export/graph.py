"""The TensorFlow functions that exported signatures are made of, built from
kcolor's own layers and colour conversions (traced into the graph)."""

import keras


def require_tensorflow_backend():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"exporting needs the TensorFlow Keras backend (KERAS_BACKEND=tensorflow); "
            f"this process uses {keras.backend.backend()!r}"
        )


def check_size(size, model=None):
    """``size`` if ``model`` (default: the Zhang-style net) can take it."""
    from kcolor import models

    multiple = models.input_multiple(model)
    if size <= 0 or size % multiple:
        raise ValueError(f"size {size} must be a positive multiple of {multiple}")
    return int(size)


def inference_model(model, decoding):
    """L [B, H, W, 1] (sides divisible by 8, or 32 for a U-Net) → ab [B, H, W, 2]: the model with
    kcolor's decoding (a ``kcolor.decode.Decoding``; ``kcolor.decode.build_inference_model``)."""
    from kcolor import decode

    return decode.build_inference_model(model, **decoding.as_dict())


def _pad_edge(x, multiple):
    """Pads [B, H, W, C] at the bottom and right, repeating the last row and
    column, up to sides divisible by ``multiple``."""
    import tensorflow as tf

    shape = tf.shape(x)
    ph = (-shape[1]) % multiple
    pw = (-shape[2]) % multiple
    x = tf.concat([x, tf.repeat(x[:, -1:], ph, axis=1)], axis=1)
    return tf.concat([x, tf.repeat(x[:, :, -1:], pw, axis=2)], axis=2)


def ab_any_size(inference, L, multiple=8):
    """ab [B, H, W, 2] for L [B, H, W, 1] of any size: edge-padded to a
    multiple of ``multiple`` (``kcolor.models.input_multiple``) for the
    network, cropped back after."""
    import tensorflow as tf

    shape = tf.shape(L)
    ab = inference(_pad_edge(L, multiple))
    return ab[:, : shape[1], : shape[2], :]


def rgb_uint8(L, ab):
    """sRGB uint8 from L [..., 1] and ab [..., 2] (kcolor.color.lab_to_rgb)."""
    import tensorflow as tf

    from kcolor import color

    rgb = color.lab_to_rgb(tf.concat([L, ab], axis=-1))
    return tf.cast(tf.round(rgb * 255.0), tf.uint8)


def colorize_encoded(inference, image_bytes, size):
    """One encoded JPEG/PNG/GIF/BMP image → colorized PNG bytes at its own size.

    As ``kcolor.colorize.Colorizer``: a JPEG's EXIF orientation applied
    (``export.orientation``), L squashed to ``size`` x ``size`` for the
    network, ab upsampled back (bilinear) and joined with the photo's own L.
    Undecodable bytes raise InvalidArgumentError.
    """
    import tensorflow as tf

    from export import orientation
    from kcolor import color

    rgb = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    rgb.set_shape([None, None, 3])
    rgb = orientation.upright(rgb, image_bytes)
    L = color.rgb_to_lab(tf.cast(rgb, tf.float32) / 255.0)[..., :1]
    hw = tf.shape(L)[:2]
    small = tf.image.resize(L[None], (size, size), method="bilinear", antialias=True)
    ab = inference(small)
    ab = tf.image.resize(ab, hw, method="bilinear")[0]
    return tf.io.encode_png(rgb_uint8(L, ab))
