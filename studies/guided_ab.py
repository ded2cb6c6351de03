"""Test-time experiment (issue #20, not kept): refine the upsampled ab with a
guided filter (He et al. 2010) on the photo's own L, then score the default
model with ``kcolor.evaluate.run`` (docs/MODEL_CARD.md, "Ninth session").

    R=6 EPS=1e-3 python studies/guided_ab.py ../shared/data/imagenet_samples 256 \
        ../shared/data/imagenet_samples/labels.csv
    R=4 python studies/guided_ab.py ../shared/data/diverse/val 128

R=0 scores the model unchanged.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402

from kcolor import colorize, evaluate  # noqa: E402

R = int(os.environ.get("R", "4"))
EPS = float(os.environ.get("EPS", "1e-3"))


def box(x, r):
    """Mean over a (2r+1)^2 window (edges: the window clipped), x [H, W, C]."""
    H, W = x.shape[:2]
    c = np.pad(x, ((1, 0), (1, 0)) + ((0, 0),) * (x.ndim - 2)).cumsum(0).cumsum(1)
    y0, y1 = np.clip(np.arange(H) - r, 0, H), np.clip(np.arange(H) + r + 1, 0, H)
    x0, x1 = np.clip(np.arange(W) - r, 0, W), np.clip(np.arange(W) + r + 1, 0, W)
    s = c[y1][:, x1] - c[y0][:, x1] - c[y1][:, x0] + c[y0][:, x0]
    n = ((y1 - y0)[:, None] * (x1 - x0)[None, :]).reshape((H, W) + (1,) * (x.ndim - 2))
    return s / n


def guided(L, ab, r=R, eps=EPS):
    I = L / 100.0  # [H, W, 1]
    mI, mp = box(I, r), box(ab, r)
    cov = box(I * ab, r) - mI * mp
    var = box(I * I, r) - mI * mI
    a = cov / (var + eps)
    b = mp - a * mI
    return (box(a, r) * I + box(b, r)).astype(np.float32)


orig = colorize.Colorizer._ab_at_sizes


def patched(self, Ls, boxes=None):
    for L, ab in zip(Ls, orig(self, Ls, boxes)):
        yield guided(np.asarray(L, np.float32), ab) if R > 0 else ab


colorize.Colorizer._ab_at_sizes = patched

folder, size = sys.argv[1], int(sys.argv[2])
labels = sys.argv[3] if len(sys.argv) > 3 else None
print(f"R={R} EPS={EPS} {folder} size {size}")
print(evaluate.run(folder, size=size, natural_colour=labels is not None, labels=labels,
                   working_size=None))
