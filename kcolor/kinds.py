"""The registry of model kinds: one interface for every kind of colorizer.

A *kind* is one family of networks (the plain colorizers, the instance-aware
ones, the hint-aware ones). Each says, in one module of its own, how it is
built, saved to and loaded from a preset, exported and called, and registers
itself here when its package is imported (as keras-hub's model folders call
``register_presets``). ``kcolor.presets``, ``kcolor.colorize`` and
``export/`` ask this registry and import no kind's module: a new kind is a new
folder plus one line in ``KIND_PACKAGES``.

A kind may take one *condition*, an input beside L (boxes, hint points). A
``Condition`` carries everything about it that the rest of kcolor needs: its
keyword (``Colorizer.colorize(images, boxes=...)``), the command-line flag and
preset that go with it, how a photo's value becomes network inputs at the
working size, and the SavedModel signature that takes it. A photo without a
value for the condition goes through the kind's plain path, so a conditioned
model gives the automatic result when nothing is given.

This module imports nothing of kcolor at load time; ``kinds()`` imports the
kind packages by name the first time it is asked (``importlib``), so the
import graph of the package keeps running downwards.
"""

import importlib

# The packages whose import registers a kind: the plain colorizers, the
# instance-aware ones (issue #7), the hint-aware ones (issue #30).
KIND_PACKAGES = ("kcolor.models", "kcolor.instance", "kcolor.hints")

# Where each condition's kind lives, so that ``condition(name)`` imports that
# package alone (a .tflite run must not import Keras: kcolor.models does).
CONDITION_PACKAGES = {"boxes": "kcolor.instance", "hints": "kcolor.hints"}

_KINDS = {}
_LOADED = False


class Condition:
    """An input beside L that a kind takes, and where it comes from.

    Subclasses set the class attributes and implement the methods; every
    method gets what it needs as arguments (no Keras or TensorFlow at import).
    """

    name = None  # keyword of Colorizer.colorize / predict_ab ("boxes")
    flag = None  # the kcolor colorize flag that gives it ("instances")
    default_preset = None  # preset a run with this condition and no --model uses
    signature = None  # SavedModel signature that takes it ("colorize_with_boxes")
    refusal = None  # the error when a model that does not take it is given one
    model_words = "a model that takes it"  # "--flag=... needs <model_words>"

    def present(self, value):
        """Whether a photo's ``value`` asks for anything (else: the plain path)."""
        return value is not None and len(value) > 0

    def at_working_size(self, value, height, width, size):
        """A photo's value (given for the photo, height x width) for the
        network at ``size`` x ``size``. Default: unchanged (normalised values)."""
        return value

    def capacity(self, model_or_signature):
        """What one photo may carry for this model (boxes a photo), or None."""
        return None

    def clip(self, value, capacity):
        """``value`` cut to ``capacity`` (e.g. the best boxes)."""
        return value

    def inputs(self, values, capacity):
        """The arrays after L that the conditioned network takes, for a batch
        of working-size values."""
        raise NotImplementedError

    def signature_inputs(self, values, capacity):
        """{input name: array} of the SavedModel signature for ``values``."""
        raise NotImplementedError

    def source(self, spec):
        """None when ``spec`` (the flag's value) asks for nothing, else
        f(rgb, src, rel) → this photo's value; raises ValueError for a bad
        ``spec`` before any photo is read."""
        raise NotImplementedError


class Kind:
    """One family of colorizers. Subclasses implement what they differ in.

    ``condition``: the ``Condition`` instance the kind takes, or None.
    """

    name = None
    condition = None

    # -- building and presets ---------------------------------------------
    def owns_arch(self, arch):
        """Whether a preset's ``arch`` is this kind's."""
        raise NotImplementedError

    def owns_model(self, model):
        """Whether a Keras model object is this kind's."""
        raise NotImplementedError

    def build(self, arch, head="classification", width=0.25, grid="zhang", name=None, **kwargs):
        """The network of a preset's ``arch`` (``kwargs``: its ``build`` arguments)."""
        raise NotImplementedError

    def build_kwargs(self, model):
        """What ``build`` needs to rebuild ``model`` (a preset's ``build``), or None."""
        return None

    def load_preset_weights(self, model, cfg, arrays, load_preset):
        """Sets ``model``'s weights from a preset's stored ``arrays``
        (``load_preset(name)`` loads another preset this one builds on)."""
        model.set_weights(arrays)

    def assign_own_weights(self, model, arrays):
        """Sets ``own_weights(model)`` to a preset's stored ``arrays``."""
        own = self.own_weights(model)
        if len(own) != len(arrays):
            raise ValueError(f"preset {model.name}: {len(arrays)} arrays for {len(own)} weights")
        for variable, value in zip(own, arrays):
            variable.assign(value)

    def preset_arrays(self, model, name, info, load_preset):
        """The arrays a preset of ``model`` stores (``info``: its config extras)."""
        return model.get_weights()

    def own_weights(self, model):
        """The weights a preset that builds on another preset stores (all here)."""
        return list(model.weights)

    def rebuilt(self, model, **options):
        """``model`` rebuilt with other ``options`` (e.g. ``max_boxes``); the
        weights do not depend on them. None when no option applies."""
        if any(v is not None for v in options.values()):
            raise ValueError(f"options {sorted(options)} do not apply to a {self.name} model")
        return None

    def register_layers(self):
        """Imports the modules whose custom Keras layers this kind's saved
        models hold, so ``keras.models.load_model`` finds them."""

    # -- calling ---------------------------------------------------------------
    def plain_inference(self, model, decoding):
        """A Keras model L [B, s, s, 1] → ab [B, s, s, 2] (decoded): the
        output for photos without the condition (the whole model for a kind
        without one)."""
        raise NotImplementedError

    def conditioned_inference(self, model, decoding):
        """f(L, *condition inputs) → ab [B, s, s, 2] (numpy), or None."""
        return None

    # -- export ----------------------------------------------------------------
    def export_signature(self, model, decoding, input_multiple, size=None):
        """(name, function, input specs, Keras model to track) of the
        SavedModel signature that takes the condition, or None (TensorFlow
        backend). ``input_multiple``: what the network's input sides must be
        divisible by; ``size``: the export's working size."""
        return None

    def tflite_inference(self, model, decoding, size):
        """The fixed-size Keras model a TFLite file of the conditioned path
        is converted from (its inputs: L then the condition's), or None: the
        file holds the plain path (L → ab)."""
        return None

    def check_tflite(self, model, cfg):
        """Raises ValueError when the model cannot be written as TFLite."""


def register(kind):
    """Adds a ``Kind`` instance (called by the kind's package on import)."""
    if not isinstance(kind, Kind):
        raise TypeError(f"{kind!r} is not a kcolor.kinds.Kind")
    _KINDS[kind.name] = kind
    return kind


def kinds():
    """{name: kind} of every registered kind (their packages imported once)."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for package in KIND_PACKAGES:
            importlib.import_module(package)
    return dict(_KINDS)


def register_layers():
    """Every kind's custom Keras layers registered: any ``.keras`` file loads."""
    for kind in kinds().values():
        kind.register_layers()


def for_arch(arch):
    """The kind that builds a preset's ``arch``."""
    for kind in kinds().values():
        if kind.owns_arch(arch):
            return kind
    raise ValueError(f"unknown architecture {arch!r}: use zhang, unet_lite0/1/2, "
                     "instance_unet_lite0 or a hint-aware arch (hint_*)")


def for_model(model):
    """The kind of a Keras model object (the plain kind when no other claims it)."""
    found = kinds()
    for kind in found.values():
        if kind.condition is not None and kind.owns_model(model):
            return kind
    return found["plain"]


def condition(name):
    """The ``Condition`` called ``name``, importing only its kind's package."""
    package = CONDITION_PACKAGES.get(name)
    if package:
        importlib.import_module(package)
    for kind in (_KINDS if package else kinds()).values():
        if kind.condition is not None and kind.condition.name == name:
            return kind.condition
    raise ValueError(f"unknown condition {name!r}")


def conditions():
    """{keyword: Condition} of every kind that takes one. Imports only the
    packages of ``CONDITION_PACKAGES`` (not ``kcolor.models``, which imports
    Keras): ``kcolor colorize --model=x.tflite`` runs without TensorFlow."""
    for package in CONDITION_PACKAGES.values():
        importlib.import_module(package)
    return {k.condition.name: k.condition for k in _KINDS.values() if k.condition is not None}
