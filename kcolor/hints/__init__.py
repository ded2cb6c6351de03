"""User-guided colorization (Zhang et al., SIGGRAPH 2017, "Real-Time
User-Guided Image Colorization with Learned Deep Priors"): a user gives
coloured points, kcolor colours whole regions from them.

* ``kcolor.hints.points``: the hints file format (the contract editors and
  other tools write), and its rasterisation into hint maps at the working
  size (``to_maps``);
* ``kcolor.hints.sampler``: simulated hints from the true colours, for
  training (random count, sizes and places) and for evaluation (n points,
  fixed seed per photo);
* ``kcolor.hints.propagate``: training-free propagation of the hints over the
  photo's lightness (Levin, Lischinski and Weiss 2004): an exact sparse solve
  (NumPy/SciPy) and a fixed-iteration ``keras.ops`` version for exported models.

The package imports only ``kind`` (light: its heavy imports are inside its
methods), which registers the hint-aware kind with ``kcolor.kinds``; the other
submodules are imported where they are used (only ``propagate.propagate_ops``,
``model`` and ``train`` need Keras).
"""

from kcolor.hints import kind  # noqa: F401,E402 (registers the hint-aware kind: kcolor.kinds)
