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
  the hints, with a decay; a third channel propagates 1 from every hint: how
  strongly the hints reach each cell. With a real decay (the shipped
  ``lite_hints``: σ = 3, ``LAM_AREA`` / cells) the solve gives x = r · (a
  mixture of the hints, each by its reach) and r, the reach, falling with
  distance and at lightness edges.
* **Refiner** (trained, ``kcolor.hints.train``): a few dilated 3 × 3
  convolutions at the output stride over L4, the automatic ab, the
  propagation and the hints. The shipped one (``reach``) reads x / r and
  logit r (``ReachGate``) and outputs u and a correction d: g = sigmoid(logit
  r + u), ab = g · x / r + (1 − g) · automatic + d, which is x + (1 − r) ·
  automatic before training. The original refiner (presets without
  ``reach``: σ = 5, decay 1e-6) outputs g itself and blends the propagated
  ab. Either learns where the automatic colour should give way to the
  hints' and where the propagation should stop at an edge lightness does not
  show.
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
                 lam_area=None, **kwargs):
        super().__init__(**kwargs)
        self.iterations, self.sigma, self.lam = int(iterations), float(sigma), float(lam)
        self.lam_area = None if lam_area is None else float(lam_area)

    def call(self, L4, hint4, mask4):
        hint3 = ops.concatenate([hint4, mask4], axis=-1)
        lam = decay(L4.shape[1], L4.shape[2], self.lam, self.lam_area)
        return prop_lib.propagate_ops(L4, hint3, mask4, self.iterations, self.sigma, lam)

    def compute_output_shape(self, L4_shape, hint4_shape, mask4_shape):
        return tuple(L4_shape[:3]) + (3,)

    def get_config(self):
        return {**super().get_config(), "iterations": self.iterations, "sigma": self.sigma,
                "lam": self.lam, "lam_area": self.lam_area}


def decay(h, w, lam=prop_lib.LAM, lam_area=None):
    """The propagation's decay for h × w cells: ``lam_area / (h w)`` when
    ``lam_area`` is set (a hint then reaches the same share of the photo at
    every working size: about 1/sqrt(decay) cells), else ``lam``."""
    if lam_area is None:
        return float(lam)
    if h is None or w is None:
        raise ValueError("a decay per area needs the cells' height and width when traced")
    return float(lam_area) / (int(h) * int(w))


def propagate_numpy(L4, hint4, mask4, sigma=prop_lib.SIGMA, lam=prop_lib.LAM, lam_area=None):
    """``Propagate`` for one photo's cells [h, w, ·] in NumPy/SciPy (the
    exact solve of ``propagate.propagate``, one factorisation for a, b and
    the reach): [h, w, 3] float32 (training data)."""
    import numpy as np

    m = np.asarray(mask4, np.float64)
    hint3 = np.concatenate([np.asarray(hint4, np.float64), m], -1)
    lam = decay(m.shape[0], m.shape[1], lam, lam_area)
    return prop_lib.propagate(L4, hint3, m, sigma, lam).astype(np.float32)


# The propagation the refiner is trained on (``kcolor.hints.train``'s
# defaults; a stored model records its own in its ``reach_gate`` layer).
# studies/hint_propagation_variants.py on training-side photos, x + (1 − r)
# · auto before any training: σ = 3 and a decay of 0.8 / cells (2e-4 at
# 64 × 64; the best were 1.2 / cells at 256 px and 0.5 / cells at 128 px)
# spread hints as far as lightness allows and let lite's colour back where
# they fade (the figures: docs/MODEL_CARD.md, lite_hints).
SIGMA = 3.0
LAM_AREA = 0.8


@keras.saving.register_keras_serializable(package="kcolor")
class ReachGate(layers.Layer):
    """Reads the propagation with a real decay, prop = [x_a, x_b, r] (r: the
    hints' reach, 1 spread with the same decay; x = r · a weighted mean of
    the hints): returns (the hints' colour x / r [B, h, w, 2], the reach's
    logit [B, h, w, 1]). The layer also records the propagation the model
    was trained with (``sigma``, ``lam_area``), for ``propagation_of``."""

    def __init__(self, sigma=SIGMA, lam_area=LAM_AREA, eps=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.sigma, self.lam_area, self.eps = float(sigma), float(lam_area), float(eps)

    def call(self, prop):
        r = ops.clip(prop[..., 2:], self.eps, 1.0 - self.eps)
        colour = prop[..., :2] / ops.maximum(prop[..., 2:], self.eps)
        return colour, ops.log(r) - ops.log(1.0 - r)

    def compute_output_shape(self, prop_shape):
        return tuple(prop_shape[:3]) + (2,), tuple(prop_shape[:3]) + (1,)

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma, "lam_area": self.lam_area,
                "eps": self.eps}


@keras.saving.register_keras_serializable(package="kcolor")
class GateFromReach(layers.Layer):
    """sigmoid(reach logit + u): the gate starts as the hints' reach (u = 0)."""

    def call(self, logit, u):
        return ops.sigmoid(logit + u)

    def compute_output_shape(self, logit_shape, u_shape):
        return logit_shape


def propagation_of(model):
    """{"sigma", "lam", "lam_area"} of the propagation a stored hint model
    (or its refiner) expects: its ``ReachGate``'s, else the original one
    (σ = 5, decay 1e-6, no decay per area)."""
    refiner = model if model.name == "refiner" else refiner_of(model)
    for layer in refiner.layers:
        if isinstance(layer, ReachGate):
            return {"sigma": layer.sigma, "lam": prop_lib.LAM, "lam_area": layer.lam_area}
    return {"sigma": prop_lib.SIGMA, "lam": prop_lib.LAM, "lam_area": None}


@keras.saving.register_keras_serializable(package="kcolor")
class Blend(layers.Layer):
    """(gate g, prop, auto, delta d) → g · prop[..., :2] + (1 − g) · auto + 110 d."""

    def call(self, gate, prop, auto, delta):
        return gate * prop[..., :2] + (1.0 - gate) * auto + AB_SCALE * delta

    def compute_output_shape(self, gate_shape, prop_shape, auto_shape, delta_shape):
        return auto_shape


def build_refiner(channels=32, dilations=(1, 2, 4, 8, 1), reach=None):
    """[L4, auto, hint4, mask4, prop] (all at 1/4) → ab [B, h, w, 2].

    ``reach``: None for the original refiner (prop decays to gray, ab = g ·
    prop + (1 − g) · auto + d); or {"sigma", "lam_area"} for a propagation
    with a real decay, read by ``ReachGate``: ab = g · x / r + (1 − g) · auto
    + d with g = sigmoid(logit r + u), so that before training (u = d = 0)
    it is x + (1 − r) · auto, the hints' colour where they reach and lite's
    where they fade."""
    L4 = keras.Input((None, None, 1), name="L4")
    auto = keras.Input((None, None, 2), name="auto")
    hint4 = keras.Input((None, None, 2), name="hint4")
    mask4 = keras.Input((None, None, 1), name="mask4")
    prop = keras.Input((None, None, 3), name="prop")
    scale = 1.0 / AB_SCALE
    features = [layers.Rescaling(1 / 50.0, offset=-1.0, name="L4_norm")(L4),
                layers.Rescaling(scale, name="auto_norm")(auto),
                layers.Rescaling(scale, name="hint_norm")(hint4), mask4,
                layers.Rescaling(scale, name="prop_norm")(prop)]
    if reach:
        colour, logit = ReachGate(reach["sigma"], reach["lam_area"], name="reach_gate")(prop)
        features += [layers.Rescaling(scale, name="colour_norm")(colour),
                     layers.Rescaling(0.1, name="logit_norm")(logit)]
    x = layers.Concatenate(name="refiner_in")(features)
    for i, d in enumerate(dilations):
        x = layers.Conv2D(channels, 3, padding="same", dilation_rate=d, activation="relu",
                          name=f"refine{i + 1}")(x)
    delta = layers.Conv2D(2, 1, kernel_initializer="zeros", activation="tanh",
                          name="delta")(x)
    if reach:
        u = layers.Conv2D(1, 1, kernel_initializer="zeros", name="gate")(x)
        gate = GateFromReach(name="gate_from_reach")(logit, u)
        out = Blend(name="blend")(gate, colour, auto, delta)
    else:
        gate = layers.Conv2D(1, 1, activation="sigmoid", name="gate")(x)
        out = Blend(name="blend")(gate, prop, auto, delta)
    return keras.Model([L4, auto, hint4, mask4, prop], out, name="refiner")


def build_hint_colorizer(base, channels=32, dilations=(1, 2, 4, 8, 1), name="hint_colorizer",
                         reach=None):
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
    refiner = build_refiner(channels, dilations, reach)
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
    out = {"base": unet.build_kwargs(base_of(model)),
           "channels": int(convs[0].filters),
           "dilations": [int(l.dilation_rate[0]) for l in convs]}
    settings = propagation_of(refiner)
    if settings["lam_area"] is not None:
        out["reach"] = {"sigma": settings["sigma"], "lam_area": settings["lam_area"]}
    return out


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
    settings = propagation_of(model)
    prop = Propagate(iterations, **settings, name="propagate")(L4, hint4, mask4)
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


def propagate_batch(L, hint_ab, mask, stride=STRIDE, settings=None):
    """``Propagate``'s output for a batch at the working size, in NumPy/SciPy
    (exact): [B, s/stride, s/stride, 3] float32. ``settings``: the model's
    (``propagation_of``; default the original propagation)."""
    import numpy as np

    out = []
    for Li, hi, mi in zip(np.asarray(L), np.asarray(hint_ab), np.asarray(mask)):
        L4, hint4, mask4 = prop_lib.downsample(Li, hi, mi, stride)
        out.append(propagate_numpy(L4, hint4, mask4, **(settings or {})))
    return np.stack(out)


@keras.saving.register_keras_serializable(package="kcolor")
class KeepHints(layers.Layer):
    """ab where mask ≤ 0.5, the hint where it is above."""

    def call(self, ab, hint_ab, hint_mask):
        return ops.where(hint_mask > 0.5, hint_ab, ab)

    def compute_output_shape(self, ab_shape, hint_ab_shape, hint_mask_shape):
        return ab_shape
