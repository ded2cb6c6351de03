"""Instance-aware colorization (issue #7): a full-image branch, an instance
branch that colorizes each box's crop, and fusion modules that blend their
features with learned per-pixel weights at several backbone blocks.

* ``kcolor.instance.fusion``: the sampling (crop, paste) and fusion layers;
* ``kcolor.instance.model``: the instance-aware network and its inference wrapper;
* ``kcolor.instance.boxes``: the boxes JSON format, padding, random boxes;
* ``kcolor.instance.detector``: the automatic box detector (OpenCV, optional);
* ``kcolor.instance.data``: training data with boxes;
* ``kcolor.instance.evaluate``: whole-image and inside-box scores.

See docs/INSTANCE_STUDY.md.
"""

from kcolor.instance import kind  # noqa: F401,E402 (registers the instance-aware kind: kcolor.kinds)
