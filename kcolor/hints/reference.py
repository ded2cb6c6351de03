"""Colour from a reference photo, through hint points (issue #32; as UniColor,
Huang et al., SIGGRAPH Asia 2022, turns an exemplar into hints for its
hint-based colorizer): the features of a gray photo and of a colour
reference are matched, and each confidently matched cell of the photo gets
the reference cell's colour as a hint point for the hint-aware colorizer
(``kcolor.hints.kind``).

    from kcolor import colorize
    from kcolor.hints import reference

    points = reference.reference_points(photo, "reference.jpg")  # in photo's pixels
    colorize.Colorizer("lite_hints").colorize([photo], hints=[points])

    ref = reference.Reference("reference.jpg")  # its features once, for many photos
    ref.points(photo)                           # or a clip's frames, a batch at a time:
    ref.points_batch(frames)                    # one encoder batch

``Colorizer.colorize(images, reference=...)``, ``kcolor.video.colorize_video(
..., reference=...)`` and ``kcolor colorize --reference=FILE`` (photos and
clips) reach this module through the hint condition of ``kcolor.kinds``
(its ``reference``, ``with_reference`` and ``reference_maps``).

How (the constants below):

1. Both photos' lightness (the reference turned gray: its Lab L) at the
   matching size: long side 320 px, sides multiples of 32, aspect kept
   (a 1 MP photo costs no more than a small one).
2. Features: the hint model's own frozen encoder, ``lite``'s
   EfficientNet-Lite0 (ImageNet-initialised, fine-tuned to colorize;
   EfficientNet-Lite2, the evaluation's judge, is never used). Its taps at
   strides 8, 16 and 32 (40, 112, 320 channels), each L2-normalised per
   place and resampled to the stride-8 grid, concatenated and normalised
   again (hypercolumns: a cosine is the mean of the three levels' cosines).
3. Matches: target and reference cells that are each other's nearest
   neighbour by cosine similarity, at least 0.7.
4. Gate: when under 2 % of the target's cells match, no point at all: the
   reference shows something else and the photo keeps its automatic
   colour.
5. Points: every matched target cell's centre, a square patch one cell
   wide (the cells tile the photo), the reference cell's mean ab (from its
   Lab at the matching size); worst match first, so the best one wins where
   patches meet (the hints format: later points overwrite).

Chosen on the tune split of ``benchmarks/reference_pairs.py`` (31 pairs:
the 7 asl_gestures clips shorter than 2 s, first frame -> last, and 24
CamVid frame pairs 2-4 s apart; each target also with unrelated
references: an ImageNet sample, a frame of the other kind of clip), never
on the test pairs. Gain in PSNR over the automatic colour (30.30 dB;
colourfulness 0.46x the truth's), ``lite_hints``, the gate at 1.5 %:

| stride | threshold | points kept | patch | points | gain dB | improved | colour x truth | unrelated: worst dB, largest share |
|---:|---:|---|---:|---:|---:|---:|---:|---|
| **8** | **0.7** | **all** | **1** | **501** | **+5.87** | **97 %** | **0.79** | **+0.00, 0.8 %** |
| 8 | 0.7 | best 100 | 1 | 98 | +3.07 | 87 % | 0.61 | +0.00, 0.8 % |
| 8 | 0.7 | 300, spread | 1 | 239 | +5.26 | 97 % | 0.76 | +0.00, 0.8 % |
| 8 | 0.7 | all | 0.5 | 501 | +5.74 | 94 % | 0.77 | +0.00, 0.8 % |
| 8 | 0.6 | all | 1 | 587 | +5.65 | 90 % | 0.86 | **-13.79**, 1.6 % |
| 8 | 0.8 | all | 1 | 377 | +5.10 | 87 % | 0.73 | +0.00, 0.7 % |
| 16 | 0.7 | all | 1 | 147 | +4.99 | 90 % | 0.75 | -1.33, 1.5 % |
| 8, L check | 0.7 | all | 1 | 477 | +5.75 | 97 % | 0.78 | +0.00, 0.7 % |
| 8, one colour | 0.7 | all | 1 | 501 | +5.85 | 97 % | 0.79 | +0.00, 0.8 % |

Why: stride 8 over 16 (finer cells; the stride-16 cells straddle more
edges, and one unrelated pair got a point through the gate); every
confident match, not the best N (the more right hints, the better; the
best 100 by similarity crowd into the most textured area and the
propagation carries their colour over the rest; spread round-robin over
blocks of the photo, ``spread``, 300 do almost as well as all); threshold
0.7: at 0.6 unrelated pairs reach 1.6 % of the cells, and one that passed
the gate with 2 points lost 13.8 dB (a wrong hint is believed: the hint
model propagates it far), at 0.8 more same-scene pairs fall under the gate.
The gate, 2 %, lies between the largest unrelated share (0.8 %) and the
smallest same-scene one (3.3 %) at threshold 0.7 (1.5 % and 2 % give the
same figures there). The patch side changes little; checking that the
matched cells' mean L agree within 8 (after the median offset: ``max_dl``)
and leaving out reference cells of mixed colour (ab spread over 15:
``max_spread``) gained nothing, so both are off, as is a ratio test
(``ratio``: -0.07 dB in an earlier sweep). Earlier sweeps with an
untrained refiner and with the refiner's run checkpoint also put stride 8
with every confident match first. Matched hints are right: over all 44 pairs 0.1 %
of them are more than 15 ab units from the target's own cell colour.

Test split (13 pairs: the 11 asl_gestures clips at least 2 s long, first
frame -> last, and bottle-detection 0 -> 600 and 600 -> 1188),
``lite_hints``: automatic 19.54 dB, with the reference 32.74 dB (+13.20;
+7.5 to +16.2, better on 13 of 13); colourfulness 0.96x the truth's (asl
clips 0.95x, their automatic 0.67x; bottle-detection, near gray: 1.30x and
0.72x); unrelated references: no point on any target (largest share
0.7 %), so exactly the automatic colour (+0.00 dB); the same room with
another signer (a related reference, no floor): +7.53 dB, worst +1.38,
about 500 points (the wall, board and screen right, the clothes the other
signer's). These same-scene pairs are easy (a fixed camera, the same
light); another shot of a scene matches fewer cells (the CamVid pairs, from
a moving car: 3-96 %; on the tune split 30 of 31 pairs improved, one CamVid
pair lost 0.36 dB, six gained under 0.6). Where the subject moved, a few
cells beside it can take its colour (docs/reference_example.jpg: some
orange on the wall beside the signer's arm).

Video (``Reference.points_batch``: the reference's features once, each
batch of frames through the encoder once; the clip's last frame in colour as
the reference, the default temporal filter; the asl clips whole,
bottle-detection's first 120 frames): the frames
handed to the encoder flicker 0.05-0.16x the real video's on six
asl_gestures clips (automatic: 0.12-0.40x) and 0.39x on bottle-detection
(automatic 1.49x); PSNR 28.9-34.5 dB against 18.6-25.4.

Cost: ``reference_points`` on a 1152 x 864 target with a similar reference
(features of both, matching) 0.28-0.36 s median on the 2 shared cores
under other runs' load; ``Colorizer.colorize`` with the points 0.37 s. The
first call in a process also loads ``lite`` and traces the encoder (about
4 s). A clip's frames (640 x 480) cost 70-180 ms each more.
"""

import dataclasses
import os

import numpy as np
from PIL import Image

from kcolor import color, imageio
from kcolor.hints import points as points_lib

MATCH_SIDE = 320  # long side of both photos when matched (sides: multiples of 32)
STRIDE = 8  # feature cell side at the matching size: 8 or 16
THRESHOLD = 0.7  # cosine similarity a mutual nearest neighbour needs
MIN_SHARE = 0.02  # fewer such matches than this share of the target's cells: no points
MAX_POINTS = None  # None: every confident match (the more the better, measured)
SPREAD = True  # with MAX_POINTS: take matches round-robin over blocks of the target
PATCH = 1.0  # hint patch side as a fraction of the cell (cells tile the photo)
RATIO = 1.0  # cosine-distance ratio, best / second best outside its 3 x 3 (1: off)
MAX_SPREAD = None  # skip reference cells whose ab spread (RMS, Lab units) is above (None: off)
MAX_DL = None  # skip matches whose cells' mean L differ by more (after the median offset)
PRESET = "lite"  # the hint model's base network, whose encoder gives the features
LEVELS = (8, 16, 32)  # encoder taps the features are made of


@dataclasses.dataclass(frozen=True)
class Settings:
    """How matches are found and kept (the module's constants by default)."""

    side: int = MATCH_SIDE
    stride: int = STRIDE
    threshold: float = THRESHOLD
    min_share: float = MIN_SHARE
    max_points: int = MAX_POINTS
    spread: bool = SPREAD
    patch: float = PATCH
    ratio: float = RATIO
    max_spread: float = MAX_SPREAD
    max_dl: float = MAX_DL
    levels: tuple = LEVELS


_NETS = {}


class FeatureNet:
    """Hypercolumns from the frozen encoder of the hint model's base network
    (``lite``'s EfficientNet-Lite0, ImageNet-initialised and fine-tuned to
    colorize): L [B, h, w, 1] (0-100, h and w multiples of 32) → [B,
    h/stride, w/stride, D]. Each of the encoder's taps in ``levels`` (strides
    8, 16, 32: 40, 112, 320 channels) is L2-normalised per place, resampled
    to the ``stride`` grid (bilinear up, 2 x 2 mean down), the levels are
    concatenated and normalised again: a dot product of two hypercolumns is
    the mean of the levels' cosine similarities."""

    def __init__(self, preset=PRESET, stride=STRIDE, levels=LEVELS):
        import keras
        from keras import ops

        from kcolor import decode, presets

        if stride not in (8, 16, 32):
            raise ValueError(f"feature stride must be 8, 16 or 32, not {stride}")
        base, _ = presets.load(preset)
        encoder = next(l for l in base.layers if l.name.startswith("efficientnet_lite"))
        L = keras.Input((None, None, 1), name="L")
        taps = dict(zip((2, 4, 8, 16, 32), encoder(base.get_layer("normalize_L")(L))))
        self.model = keras.Model(L, [taps[k] for k in levels], name="reference_taps")
        self.stride, self.levels = stride, tuple(levels)

        def l2n(x):
            return x / (ops.sqrt(ops.sum(ops.square(x), -1, keepdims=True)) + 1e-6)

        def features(x):
            feats = self.model(x, training=False)
            shape = ops.shape(x)
            gh, gw = shape[1] // stride, shape[2] // stride
            parts = []
            for k, f in zip(self.levels, feats):
                f = l2n(f)
                if k < stride:
                    f = ops.average_pool(f, stride // k, stride // k, padding="valid")
                elif k > stride:
                    f = decode.resize_bilinear(f, (gh, gw))
                parts.append(l2n(f))
            return l2n(ops.concatenate(parts, -1))

        self._call = features
        if keras.backend.backend() == "tensorflow":  # one trace for every size
            import tensorflow as tf

            self._call = tf.function(
                features, input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32)],
                autograph=False)  # plain Python control flow, fixed when traced

    def __call__(self, L):
        from keras import ops

        return ops.convert_to_numpy(self._call(np.asarray(L, np.float32)))


def feature_net(preset=PRESET, stride=STRIDE, levels=LEVELS):
    """The process's ``FeatureNet`` for these arguments (built once)."""
    key = (preset, int(stride), tuple(levels))
    if key not in _NETS:
        _NETS[key] = FeatureNet(*key)
    return _NETS[key]


def match_shape(height, width, side=MATCH_SIDE):
    """(h, w) both photos are resized to for matching: the long side
    ``side``, the aspect ratio kept as near as multiples of 32 allow."""
    scale = side / max(height, width)
    return (max(32, int(round(height * scale / 32)) * 32),
            max(32, int(round(width * scale / 32)) * 32))


def _resize(x, h, w):
    """float [H, W, C] → [h, w, C], PIL bilinear (box-filtered when shrinking)."""
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(x[..., c], np.float32), "F")
                                .resize((w, h), Image.BILINEAR)) for c in range(x.shape[-1])], -1)


def _lightness(image):
    """L [H, W, 1] float32 (0-100) of uint8 RGB [H, W, 3], a gray uint8 [H, W],
    or L itself (float [H, W] or [H, W, 1])."""
    x = np.asarray(image)
    if x.ndim == 3 and x.shape[-1] == 3:
        return color.rgb_to_lab(x.astype(np.float32) / 255.0, np)[..., :1].astype(np.float32)
    if x.ndim == 2 and x.dtype == np.uint8:
        return _lightness(np.repeat(x[..., None], 3, -1))
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[-1] != 1:
        raise ValueError(f"expected an RGB photo [H, W, 3] or its L [H, W(, 1)], "
                         f"not shape {x.shape}")
    return x.astype(np.float32)


def _shrink_rgb(rgb, shape):
    """uint8 RGB resized to ``shape`` (h, w), PIL bilinear (antialiased)."""
    if rgb.shape[:2] == tuple(shape):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize(shape[::-1], Image.BILINEAR))


def _small_L(image, shape):
    """L [h, w, 1] at the matching ``shape`` of an RGB photo or L (an RGB
    photo is shrunk first: cheaper than its full-size Lab)."""
    x = np.asarray(image)
    if x.ndim == 3 and x.shape[-1] == 3 and x.dtype == np.uint8:
        return _lightness(_shrink_rgb(x, shape))
    if x.ndim == 2 and x.dtype == np.uint8:
        return _lightness(np.asarray(Image.fromarray(x).resize(shape[::-1], Image.BILINEAR)))
    L = _lightness(x)
    if L.shape[:2] == tuple(shape):
        return L
    small = Image.fromarray(L[..., 0], "F").resize(shape[::-1], Image.BILINEAR)
    return np.asarray(small)[..., None]


def _cell_colours(lab, stride):
    """(ab mean [gh, gw, 2], ab spread [gh, gw]: RMS distance to the mean)
    per ``stride`` cell of Lab [h, w, 3]."""
    h, w = lab.shape[:2]
    cells = lab[..., 1:].reshape(h // stride, stride, w // stride, stride, 2)
    mean = cells.mean((1, 3))
    spread = np.sqrt(np.square(cells - mean[:, None, :, None]).sum(-1).mean((1, 3)))
    return mean.astype(np.float32), spread.astype(np.float32)


def _cell_means(x, stride):
    """[gh, gw] mean of x [h, w, 1] over each ``stride`` cell."""
    h, w = x.shape[:2]
    return x[..., 0].reshape(h // stride, stride, w // stride, stride).mean((1, 3))


def is_colour(rgb, tolerance=2.0):
    """Whether uint8 ``rgb`` has colour: its mean channel spread above
    ``tolerance`` levels."""
    rgb = np.asarray(rgb).astype(np.int16)
    return float((rgb.max(-1) - rgb.min(-1)).mean()) > tolerance


def read_reference(reference):
    """uint8 RGB of ``reference``: a path (``kcolor.imageio.read_rgb``: an
    unreadable file raises ``ImageReadError`` "PATH: reason") or an array."""
    if isinstance(reference, (str, os.PathLike)):
        return imageio.read_rgb(reference)
    rgb = np.asarray(reference)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"a reference must be an RGB photo [H, W, 3], not shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"a reference must be uint8 RGB, not {rgb.dtype}")
    return rgb


@dataclasses.dataclass
class Matches:
    """One target's kept matches at its matching size: cells (row, col) of
    the target grid, their reference cells, similarities and ab."""

    grid: tuple  # (gh, gw) of the target
    target: np.ndarray  # [n, 2] int (row, col)
    source: np.ndarray  # [n, 2] int (row, col) in the reference grid
    similarity: np.ndarray  # [n]
    ab: np.ndarray  # [n, 2]
    share: float = 0.0  # confident matches (before max_points) over the target's cells


def match(t_feat, r_feat, settings):
    """Mutual nearest neighbours of the target's cells [gh, gw, D] among the
    reference's [rh, rw, D] by cosine similarity, kept when at least
    ``threshold`` (and passing the ratio test): (target index, reference
    index, similarity) arrays, best first, flat indices."""
    gh, gw, d = t_feat.shape
    rh, rw, _ = r_feat.shape
    T, R = t_feat.reshape(-1, d), r_feat.reshape(-1, d)
    S = T @ R.T
    best = S.argmax(1)
    back = S.argmax(0)
    sim = S[np.arange(len(T)), best]
    keep = (back[best] == np.arange(len(T))) & (sim >= settings.threshold)
    idx = np.nonzero(keep)[0]
    if settings.ratio < 1.0 and len(idx):
        # Second best outside the best's 3 x 3 neighbourhood in the reference.
        by, bx = np.divmod(best[idx], rw)
        S2 = S[idx].copy()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                y, x = by + dy, bx + dx
                ok = (y >= 0) & (y < rh) & (x >= 0) & (x < rw)
                S2[np.nonzero(ok)[0], (y * rw + x)[ok]] = -np.inf
        second = S2.max(1)
        good = (1.0 - sim[idx]) <= settings.ratio * (1.0 - second)
        idx = idx[good]
    order = np.argsort(-sim[idx], kind="stable")
    idx = idx[order]
    return idx, best[idx], sim[idx]


class Reference:
    """A colour reference photo, its features computed once: ``points(target)``
    gives any number of targets (photos or a clip's frames) their hint points.

    Args:
      reference: uint8 RGB [H, W, 3] or a path (an unreadable file raises
        ``kcolor.imageio.ImageReadError``, "PATH: reason").
      settings: a ``Settings`` (default: the measured one, see the module's
        docstring); keyword arguments override its fields.
      preset: the preset whose encoder gives the features (``lite``: the
        hint model's own base network).
    """

    def __init__(self, reference, settings=None, preset=PRESET, **overrides):
        self.settings = dataclasses.replace(settings or Settings(), **overrides)
        self.source = str(reference) if isinstance(reference, (str, os.PathLike)) else None
        rgb = read_reference(reference)
        s = self.settings
        self.net = feature_net(preset, s.stride, s.levels)
        small = _shrink_rgb(rgb, match_shape(*rgb.shape[:2], s.side))
        self.colour = is_colour(small)
        lab = color.rgb_to_lab(small.astype(np.float32) / 255.0, np).astype(np.float32)
        self.features = self.net(lab[None, ..., :1])[0]
        self.ab, self.spread = _cell_colours(lab, s.stride)
        self.L = _cell_means(lab[..., :1], s.stride)
        self.usable = np.ones(self.ab.shape[:2], bool)
        if s.max_spread is not None:
            self.usable = self.spread <= s.max_spread

    def matches(self, target_features, target_L=None):
        """``Matches`` of one target's hypercolumns [gh, gw, D] (and its mean
        L per cell [gh, gw], for ``max_dl``)."""
        s = self.settings
        gh, gw, _ = target_features.shape
        rw = self.features.shape[1]
        if not self.colour:
            return Matches((gh, gw), np.zeros((0, 2), int), np.zeros((0, 2), int),
                           np.zeros((0,), np.float32), np.zeros((0, 2), np.float32))
        ti, ri, sim = match(target_features, self.features, s)
        ok = self.usable.reshape(-1)[ri]
        if s.max_dl is not None and target_L is not None and len(ti):
            dl = target_L.reshape(-1)[ti] - self.L.reshape(-1)[ri]
            ok &= np.abs(dl - np.median(dl)) <= s.max_dl
        ti, ri, sim = ti[ok], ri[ok], sim[ok]
        share = len(ti) / float(gh * gw)
        if share < s.min_share:
            ti, ri, sim = ti[:0], ri[:0], sim[:0]
        if s.max_points is None or len(ti) <= s.max_points:
            pick = slice(None)
        else:
            pick = _spread(ti, gh, gw, s.max_points) if s.spread else slice(0, s.max_points)
        ti, ri, sim = ti[pick], ri[pick], sim[pick]
        tgt = np.stack(np.divmod(ti, gw), -1).reshape(-1, 2)
        src = np.stack(np.divmod(ri, rw), -1).reshape(-1, 2)
        return Matches((gh, gw), tgt, src, sim, self.ab[src[:, 0], src[:, 1]], share)

    def target_features(self, targets):
        """(hypercolumns [B, gh, gw, D], mean L per cell [B, gh, gw]) of
        targets that share one size (RGB photos or L), from one batch through
        the encoder."""
        h, w = np.asarray(targets[0]).shape[:2]
        shape = match_shape(h, w, self.settings.side)
        small = np.stack([_small_L(t, shape) for t in targets])
        return self.net(small), np.stack([_cell_means(L, self.settings.stride) for L in small])

    def points(self, target):
        """Hint points (``kcolor.hints.points.Point``, in the target's own
        pixels) for one target: uint8 RGB [H, W, 3], or its L [H, W(, 1)]
        (0-100) or gray uint8 [H, W]."""
        return self.points_batch([target])[0]

    def points_batch(self, targets):
        """``points`` of each of ``targets`` (one size: a clip's frames), their
        features from one encoder batch."""
        h, w = np.asarray(targets[0]).shape[:2]
        return [to_points(m, h, w, self.settings) for m in self.matches_batch(targets)]

    def matches_batch(self, targets):
        """``Matches`` of each of ``targets`` (one size)."""
        return [self.matches(f, L) for f, L in zip(*self.target_features(targets))]


def _spread(ti, gh, gw, n):
    """Indices of at most ``n`` of the matches at flat target cells ``ti``
    (best first), taken round-robin over square blocks of the target grid
    (about ``n`` blocks): each block's best, then each block's second, ...;
    best first within a round."""
    b = max(1, int(np.sqrt(gh * gw / max(n, 1))))
    r, c = np.divmod(ti, gw)
    block = (r // b) * ((gw + b - 1) // b) + c // b
    rank = np.zeros(len(ti), int)
    seen = {}
    for i, k in enumerate(block):  # ti is best first: rank within its block
        rank[i] = seen.get(k, 0)
        seen[k] = rank[i] + 1
    order = np.lexsort((np.arange(len(ti)), rank))
    return order[:n]


def to_points(m, height, width, settings):
    """``Matches`` at the matching grid → ``Point``s on the height x width
    photo: each kept target cell's centre, a square patch of ``patch`` cells
    (in photo pixels), the reference cell's mean ab."""
    gh, gw = m.grid
    sy, sx = height / gh, width / gw  # photo pixels per cell
    side = settings.patch * min(sx, sy)
    out = []
    # Worst first: where patches overlap the later point wins (the hints
    # format), so the best match's colour is the one kept.
    for (r, c), ab in zip(m.target[::-1], m.ab[::-1]):
        x = min(max((c + 0.5) * sx - 0.5, 0.0), width - 1.0)
        y = min(max((r + 0.5) * sy - 0.5, 0.0), height - 1.0)
        out.append(points_lib.Point(x=float(x), y=float(y),
                                    ab=(float(ab[0]), float(ab[1])), size=float(side)))
    return out


def reference_points(target_rgb_or_L, reference_rgb, settings=None, **overrides):
    """Hint points for ``target_rgb_or_L`` (uint8 RGB [H, W, 3], or its L
    [H, W(, 1)], 0-100) from the colour photo ``reference_rgb`` (uint8 RGB or
    a path): a list of ``kcolor.hints.points.Point`` in the target's own
    pixels, best match first; empty when nothing matches confidently (or the
    reference is gray). For many targets build a ``Reference`` once."""
    return Reference(reference_rgb, settings, **overrides).points(target_rgb_or_L)


NEEDS_HINT_MODEL = ("a reference photo needs a hint-aware model (the lite_hints preset: leave "
                    "--model out, or --model=lite_hints)")


def as_reference(reference, settings=None):
    """``reference`` as a ``Reference`` (one already built is returned as it is)."""
    return reference if isinstance(reference, Reference) else Reference(reference, settings)


def for_colorizer(reference, colorizer):
    """``as_reference(reference)`` for ``colorizer`` (a ``kcolor.colorize.
    Colorizer``); raises ValueError when the colorizer takes no hint points."""
    if colorizer.condition != "hints":
        raise ValueError(NEEDS_HINT_MODEL)
    return as_reference(reference)


def with_reference(images, reference, hints=None):
    """Each photo's hint points for ``Colorizer.colorize(images, hints=...)``:
    the points of its reference, then its own ``hints`` (which win where
    they overlap). ``reference``: one for every photo (uint8 RGB, a path or
    a ``Reference``) or a list, one a photo (None: none); ``hints``: None or
    one list of points (or hints-file dicts) a photo. A photo with neither
    gets None (the automatic colour)."""
    n = len(images)
    refs = list(reference) if isinstance(reference, (list, tuple)) else [reference] * n
    if len(refs) != n:
        raise ValueError(f"{len(refs)} references for {n} photos")
    hints = [None] * n if hints is None else list(hints)
    if len(hints) != n:
        raise ValueError(f"{len(hints)} hints lists for {n} photos")
    built, out = {}, []
    for image, ref, own in zip(images, refs, hints):
        own = list(own or [])
        if any(isinstance(p, dict) for p in own):  # the hints file's point objects
            h, w = np.asarray(image).shape[:2]
            own = points_lib.parse({"points": own}, w, h, "hints")
        if ref is None:
            out.append(own or None)
            continue
        if id(ref) not in built:
            built[id(ref)] = as_reference(ref)
        out.append(built[id(ref)].points(image) + own)
    return out
