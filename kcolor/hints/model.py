"""The hint-aware colorizer: the default ``lite`` network, Levin-style
propagation of the hints over the photo's lightness, and a small network
that learns where to believe which.

    L ─► base (the lite U-Net, frozen) ───────────────► auto ab ─┐
    │                                                            ▼
    ├─ 4×4 mean ─► L4 ───────────────────────────────────► refiner ─► ab (s/4)
    hint ab, mask ─ 4×4 cell mean ─► hint4, mask4 ─► Propagate ─┘
                                      (a, b and the hints' reach, over L4)

* **Propagation** (``kcolor.hints.propagate``, Levin, Lischinski, Weiss
  2004) solves, at the output stride (64² for a 256 working size), for the
  colour that changes least between neighbours of similar lightness, held to
  the hints; a third channel propagates 1 from every hint: how strongly the
  hints reach each cell (1 at a hint, towards 0 where none reaches).
* **Refiner** (trained, ``kcolor.hints.train``): a few dilated 3 × 3
  convolutions at the output stride over L4, the automatic ab, the
  propagated ab and reach, and the hints; it outputs a per-cell gate g and a
  correction d, and ab = g · propagated + (1 − g) · automatic + d. It learns
  where the automatic colour should give way to the hints' and where the
  propagation stopped at an edge lightness does not show.
* A photo with no hint never reaches this model: the kind's plain path is
  the base network alone, so automatic results are ``lite``'s own.

The stored model (what a preset holds) takes ``L``, ``hint_ab`` and ``mask``
at the working size and ``prop`` (the propagation, [s/4, s/4, 3]) so that
it runs at any size; ``inference_model(model, size)`` adds the propagation,
a fixed amount of ``keras.ops`` work for a static size, for ``Colorizer``
and the exports.
"""

import keras
from keras import layers, ops

from kcolor.hints import propagate as prop_lib

ARCH_PREFIX = "hint_"  # preset arch "hint_unet_lite0": the base network's arch after it
STRIDE = 4
AB_SCALE = 110.0


@keras.saving.register_keras_serializable(package="kcolor")
class HintCells(layers.Layer):
    """(L [B, s, s, 1], hint_ab [B, s, s, 2], mask [B, s, s, 1]) →
    (L4, hint4, mask4) at 1/``stride``: L averaged over each cell, a cell
    hinted if any of its pixels is, with the mean of its hinted pixels."""

    def __init__(self, stride=STRIDE, **kwargs):
        super().__init__(**kwargs)
        self.stride = int(stride)

    def call(self, L, hint_ab, hint_mask):  # ("mask" is Keras' own argument)
        k = self.stride
        m = ops.cast(hint_mask > 0.5, "float32")
        L4 = ops.average_pool(L, k, k, padding="valid")
        n = ops.average_pool(m, k, k, padding="valid")
        hint4 = ops.average_pool(hint_ab * m, k, k, padding="valid") / ops.maximum(n, 1e-6)
        mask4 = ops.cast(n > 0, "float32")
        return L4, hint4 * mask4, mask4

    def compute_output_shape(self, L_shape, hint_ab_shape, hint_mask_shape):
        def div(d):
            return None if d is None else d // self.stride

        b, h, w = L_shape[0], div(L_shape[1]), div(L_shape[2])
        return (b, h, w, 1), (b, h, w, 2), (b, h, w, 1)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


@keras.saving.register_keras_serializable(package="kcolor")
class Propagate(layers.Layer):
    """(L4 [B, h, w, 1], hint4 [B, h, w, 2], mask4 [B, h, w, 1]) → [B, h, w, 3]:
    the hints' a and b propagated over L4 and their reach (1 propagated from
    every hint), by ``propagate.propagate_ops`` (``iterations`` multigrid-
    preconditioned CG steps; h and w must be known when traced)."""

    def __init__(self, iterations=prop_lib.ITERATIONS, sigma=prop_lib.SIGMA, lam=prop_lib.LAM,
                 **kwargs):
        super().__init__(**kwargs)
        self.iterations, self.sigma, self.lam = int(iterations), float(sigma), float(lam)

    def call(self, L4, hint4, mask4):
        hint3 = ops.concatenate([hint4, mask4], axis=-1)
        return prop_lib.propagate_ops(L4, hint3, mask4, self.iterations, self.sigma, self.lam)

    def compute_output_shape(self, L4_shape, hint4_shape, mask4_shape):
        return tuple(L4_shape[:3]) + (3,)

    def get_config(self):
        return {**super().get_config(), "iterations": self.iterations, "sigma": self.sigma,
                "lam": self.lam}


def propagate_numpy(L4, hint4, mask4):
    """``Propagate`` for one photo's cells [h, w, ·] in NumPy/SciPy (the
    exact solve of ``propagate.propagate``, one factorisation for a, b and
    the reach): [h, w, 3] float32 (training data)."""
    import numpy as np

    m = np.asarray(mask4, np.float64)
    hint3 = np.concatenate([np.asarray(hint4, np.float64), m], -1)
    return prop_lib.propagate(L4, hint3, m).astype(np.float32)


@keras.saving.register_keras_serializable(package="kcolor")
class Blend(layers.Layer):
    """(gate g, prop, auto, delta d) → g · prop[..., :2] + (1 − g) · auto + 110 d."""

    def call(self, gate, prop, auto, delta):
        return gate * prop[..., :2] + (1.0 - gate) * auto + AB_SCALE * delta

    def compute_output_shape(self, gate_shape, prop_shape, auto_shape, delta_shape):
        return auto_shape


def build_refiner(channels=32, dilations=(1, 2, 4, 8, 1)):
    """[L4, auto, hint4, mask4, prop] (all at 1/4) → ab [B, h, w, 2]."""
    L4 = keras.Input((None, None, 1), name="L4")
    auto = keras.Input((None, None, 2), name="auto")
    hint4 = keras.Input((None, None, 2), name="hint4")
    mask4 = keras.Input((None, None, 1), name="mask4")
    prop = keras.Input((None, None, 3), name="prop")
    scale = 1.0 / AB_SCALE
    x = layers.Concatenate(name="refiner_in")([
        layers.Rescaling(1 / 50.0, offset=-1.0, name="L4_norm")(L4),
        layers.Rescaling(scale, name="auto_norm")(auto),
        layers.Rescaling(scale, name="hint_norm")(hint4), mask4,
        layers.Rescaling(scale, name="prop_norm")(prop)])
    for i, d in enumerate(dilations):
        x = layers.Conv2D(channels, 3, padding="same", dilation_rate=d, activation="relu",
                          name=f"refine{i + 1}")(x)
    gate = layers.Conv2D(1, 1, activation="sigmoid", name="gate")(x)
    delta = layers.Conv2D(2, 1, kernel_initializer="zeros", activation="tanh",
                          name="delta")(x)
    out = Blend(name="blend")(gate, prop, auto, delta)
    return keras.Model([L4, auto, hint4, mask4, prop], out, name="refiner")


def build_hint_colorizer(base, channels=32, dilations=(1, 2, 4, 8, 1), name="hint_colorizer"):
    """The stored hint-aware model around ``base`` (an L → ab U-Net at
    stride 4, named "base" inside): inputs L, hint_ab, mask at the working
    size and prop [s/4, s/4, 3] → ab [B, s/4, s/4, 2]."""
    L = keras.Input((None, None, 1), name="L")
    hint_ab = keras.Input((None, None, 2), name="hint_ab")
    mask = keras.Input((None, None, 1), name="mask")
    prop = keras.Input((None, None, 3), name="prop")
    outputs = base.outputs[0] if len(base.outputs) == 1 else base.outputs
    base = keras.Model(base.inputs, outputs, name="base")
    L4, hint4, mask4 = HintCells(name="hint_cells")(L, hint_ab, mask)
    refiner = build_refiner(channels, dilations)
    out = refiner([L4, base(L), hint4, mask4, prop])
    return keras.Model([L, hint_ab, mask, prop], out, name=name)


def is_hint_model(model):
    names = [getattr(t, "name", "").split(":")[0] for t in getattr(model, "inputs", [])]
    return names == ["L", "hint_ab", "mask", "prop"]


def base_of(model):
    return model.get_layer("base")


def refiner_of(model):
    return model.get_layer("refiner")


def build_kwargs(model):
    """What ``build`` needs to rebuild ``model`` (a preset records it)."""
    from kcolor.models import unet

    refiner = refiner_of(model)
    convs = [l for l in refiner.layers if l.name.startswith("refine") and l.name != "refiner_in"]
    return {"base": unet.build_kwargs(base_of(model)),
            "channels": int(convs[0].filters),
            "dilations": [int(l.dilation_rate[0]) for l in convs]}


def inference_model(model, size, decoding=None, iterations=prop_lib.ITERATIONS):
    """(L [B, s, s, 1], hint_ab [B, s, s, 2], mask [B, s, s, 1]) → ab
    [B, s, s, 2] at the static working size ``size``: cells, propagation,
    the stored model, ``kcolor.decode.DecodeAb`` to the working size, and the
    hinted pixels set to their hint."""
    from kcolor import decode

    decoding = decoding or decode.Decoding()
    L = keras.Input((size, size, 1), name="L", batch_size=None)
    hint_ab = keras.Input((size, size, 2), name="hint_ab")
    mask = keras.Input((size, size, 1), name="mask")
    L4, hint4, mask4 = HintCells(name="cells")(L, hint_ab, mask)
    prop = Propagate(iterations, name="propagate")(L4, hint4, mask4)
    pred = model([L, hint_ab, mask, prop])
    ab = decode.DecodeAb(**decoding.as_dict(), name="decode_ab")(pred, L)
    ab = KeepHints(name="keep_hints")(ab, hint_ab, mask)
    return keras.Model([L, hint_ab, mask], ab, name=f"hint_inference_{size}")


def inference_model_outside(model, decoding=None):
    """(L, hint_ab, mask [B, s, s, ·], prop [B, s/4, s/4, 3]) → ab [B, s, s, 2]
    at any working size: ``inference_model`` with the propagation given
    (``propagate_batch``: the exact SciPy solve, about 10× faster on a CPU
    than the fixed-work graph, which the exports need)."""
    from kcolor import decode

    decoding = decoding or decode.Decoding()
    L = keras.Input((None, None, 1), name="L")
    hint_ab = keras.Input((None, None, 2), name="hint_ab")
    mask = keras.Input((None, None, 1), name="mask")
    prop = keras.Input((None, None, 3), name="prop")
    pred = model([L, hint_ab, mask, prop])
    ab = decode.DecodeAb(**decoding.as_dict(), name="decode_ab")(pred, L)
    ab = KeepHints(name="keep_hints")(ab, hint_ab, mask)
    return keras.Model([L, hint_ab, mask, prop], ab, name="hint_inference")


def propagate_batch(L, hint_ab, mask, stride=STRIDE):
    """``Propagate``'s output for a batch at the working size, in NumPy/SciPy
    (exact): [B, s/stride, s/stride, 3] float32."""
    import numpy as np

    out = []
    for Li, hi, mi in zip(np.asarray(L), np.asarray(hint_ab), np.asarray(mask)):
        L4, hint4, mask4 = prop_lib.downsample(Li, hi, mi, stride)
        out.append(propagate_numpy(L4, hint4, mask4))
    return np.stack(out)


@keras.saving.register_keras_serializable(package="kcolor")
class KeepHints(layers.Layer):
    """ab where mask ≤ 0.5, the hint where it is above."""

    def call(self, ab, hint_ab, hint_mask):
        return ops.where(hint_mask > 0.5, hint_ab, ab)

    def compute_output_shape(self, ab_shape, hint_ab_shape, hint_mask_shape):
        return ab_shape
