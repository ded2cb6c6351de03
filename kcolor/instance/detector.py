"""Automatic boxes for ``--instances=auto``: detectors whose weights ship
inside wheels from PyPI (the ``instances`` extra: ``opencv-python-headless``
and ``mtcnn``), so nothing is downloaded at run time.

Kinds (``Detector(kinds=...)``; see docs/INSTANCE_STUDY.md for the survey):

* ``mtcnn`` (the default): MTCNN's three-stage face cascade, our own code
  (``kcolor.instance.mtcnn``) on the weights in the ``mtcnn`` wheel; its face
  box is mapped to the square box the Haar cascade draws (``_mtcnn_to_haar``)
  and then expanded to the head like ``face``;
* ``face``: Haar cascade ``haarcascade_frontalface_alt2.xml`` (Viola-Jones),
  frontal faces, boxes expanded to the head (``face_expand``);
* ``profile``: ``haarcascade_profileface.xml``, faces in profile (both
  directions: the photo is also searched mirrored);
* ``upperbody``: ``haarcascade_upperbody.xml``, head and shoulders;
* ``fullbody``: ``haarcascade_fullbody.xml``, standing people;
* ``people``: OpenCV's HOG + linear SVM people detector (Dalal & Triggs;
  its coefficients are compiled into OpenCV), standing people.

The default is ``DEFAULT_KINDS``, MTCNN faces only: on the survey's photos it
found the most people with no false box, and the others found few people and
many false boxes. Photos are searched at a working
size (longest side ``work_side``, upscaled when smaller, since the HOG
window is 64 x 128 px; gray for OpenCV, colour for MTCNN), overlapping boxes
are merged by non-maximum suppression, and boxes come back in pixels of the
photo given.
"""

import os
import time

import numpy as np

KINDS = ("face", "profile", "upperbody", "fullbody", "people", "mtcnn")
DEFAULT_KINDS = ("mtcnn",)
CASCADES = {
    "face": "haarcascade_frontalface_alt2.xml",
    "profile": "haarcascade_profileface.xml",
    "upperbody": "haarcascade_upperbody.xml",
    "fullbody": "haarcascade_fullbody.xml",
}
EXTRA_HINT = ("--instances=auto needs OpenCV (opencv-python-headless 4.x, whose wheels carry "
              "the Haar cascades) and the mtcnn wheel (MTCNN's weights): "
              "pip install 'kcolor[instances]'")


def require_cv2():
    try:
        import cv2
    except ImportError:
        raise ImportError(EXTRA_HINT) from None
    if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "HOGDescriptor"):
        raise ImportError(f"OpenCV {cv2.__version__} has no Haar cascades or HOG detector "
                          "(OpenCV 5 moved them out); " + EXTRA_HINT)
    return cv2


def nms(boxes, scores, iou=0.4):
    """Indices of ``boxes`` [n, 4] (x0, y0, x1, y1) kept by greedy non-maximum
    suppression, best score first; a box mostly inside a kept one (over 70 %
    of its area) also goes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = list(np.argsort(-np.asarray(scores, np.float64), kind="stable"))
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    for i in order:
        ok = True
        for j in keep:
            ix = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            iy = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = ix * iy
            if inter / (area[i] + area[j] - inter) > iou or inter > 0.7 * min(area[i], area[j]):
                ok = False
                break
        if ok:
            keep.append(int(i))
    return keep


class Detector:
    """``detect(rgb uint8 [H, W, 3] or gray [H, W])`` → (boxes [n, 4] float32
    pixels (x0, y0, x1, y1), scores [n], labels [n]), best first.

    Args:
      kinds: which detectors to run (``KINDS``).
      work_side: the photo is resized so its longest side is this for detection.
      min_side: smallest box searched, as a fraction of the photo's shorter side.
      face_expand: a face box is widened and lengthened (mostly downward) by
        these factors (width, height) to cover the head and some shoulders; 1
        keeps the face as found.
      max_boxes: at most this many boxes a photo (the best).
      min_neighbors: Haar cascades' ``minNeighbors`` (higher: fewer false boxes).
    """

    def __init__(self, kinds=DEFAULT_KINDS, work_side=512, min_side=0.08,
                 face_expand=(1.6, 2.0), max_boxes=8, min_neighbors=6):
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown or not kinds:
            raise ValueError(f"unknown detector kinds {unknown}: use some of {KINDS}")
        cv2 = require_cv2()
        self.cv2 = cv2
        self.kinds = tuple(kinds)
        self.work_side = int(work_side)
        self.min_side = float(min_side)
        self.face_expand = tuple(float(f) for f in face_expand)
        self.max_boxes = int(max_boxes)
        self.min_neighbors = int(min_neighbors)
        self.cascades = {}
        for k in self.kinds:
            if k in CASCADES:
                path = os.path.join(cv2.data.haarcascades, CASCADES[k])
                c = cv2.CascadeClassifier(path)
                if c.empty():
                    raise ImportError(f"{path}: OpenCV could not load this cascade; " + EXTRA_HINT)
                self.cascades[k] = c
        if "mtcnn" in self.kinds:
            from kcolor.instance import mtcnn
            self.mtcnn = mtcnn.MTCNN()
        if "people" in self.kinds:
            self.hog = cv2.HOGDescriptor()
            self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def _gray(self, image):
        image = np.asarray(image)
        if image.ndim == 3:
            image = self.cv2.cvtColor(np.ascontiguousarray(image[..., :3]), self.cv2.COLOR_RGB2GRAY)
        return np.ascontiguousarray(image, dtype=np.uint8)

    def _cascade(self, kind, gray, min_px):
        c = self.cascades[kind]
        found = []
        flips = (False, True) if kind == "profile" else (False,)
        for flip in flips:
            g = gray[:, ::-1].copy() if flip else gray
            rects, _, weights = c.detectMultiScale3(
                g, scaleFactor=1.1, minNeighbors=self.min_neighbors, minSize=(min_px, min_px),
                outputRejectLevels=True)
            for (x, y, w, h), s in zip(np.reshape(rects, (-1, 4)), np.ravel(weights)):
                if flip:
                    x = g.shape[1] - x - w
                found.append(([x, y, x + w, y + h], float(s)))
        return found

    def _people(self, gray):
        h, w = gray.shape
        pad = 16  # people cut by the border are found more often with a margin
        g = self.cv2.copyMakeBorder(gray, pad, pad, pad, pad, self.cv2.BORDER_REPLICATE)
        rects, weights = self.hog.detectMultiScale(g, winStride=(8, 8), padding=(8, 8), scale=1.05)
        out = []
        for (x, y, bw, bh), s in zip(np.reshape(rects, (-1, 4)), np.ravel(weights)):
            # The HOG window has a margin around the person: trim it.
            x0, y0 = x - pad + 0.15 * bw, y - pad + 0.06 * bh
            out.append(([x0, y0, x0 + 0.7 * bw, y0 + 0.88 * bh], float(s)))
        return out

    def _mtcnn(self, image, size, how, min_px):
        rgb = np.asarray(image)
        rgb = rgb[..., :3] if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, -1)
        rgb = self.cv2.resize(np.ascontiguousarray(rgb, dtype=np.uint8), size, interpolation=how)
        boxes, scores = self.mtcnn.detect(rgb, min_face=min_px)
        return [(_mtcnn_to_haar(b), float(s)) for b, s in zip(boxes, scores)]

    def detect(self, image):
        gray = self._gray(image)
        H, W = gray.shape
        scale = self.work_side / max(H, W)
        how = self.cv2.INTER_AREA if scale < 1 else self.cv2.INTER_LINEAR
        size = (max(1, round(W * scale)), max(1, round(H * scale)))
        g = self.cv2.resize(gray, size, interpolation=how)
        min_px = max(12, int(self.min_side * min(g.shape)))
        found = []  # (box at working size, score, label)
        for kind in self.kinds:
            if kind == "people":
                hits = self._people(g)
            elif kind == "mtcnn":
                hits = self._mtcnn(image, size, how, min_px)
            else:
                hits = self._cascade(kind, g, min_px)
            for box, s in hits:
                if kind in ("face", "profile", "mtcnn"):
                    box = _expand(box, *self.face_expand)
                found.append((box, s, "person"))
        if not found:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), []
        boxes = np.asarray([f[0] for f in found], np.float64) / scale
        boxes = np.clip(boxes, 0, [W, H, W, H])
        scores = np.asarray([f[1] for f in found], np.float64)
        big = ((boxes[:, 2] - boxes[:, 0]) >= 2) & ((boxes[:, 3] - boxes[:, 1]) >= 2)
        idx = [i for i in nms(boxes, scores) if big[i]][: self.max_boxes]
        return (boxes[idx].astype(np.float32), scores[idx].astype(np.float32),
                [found[i][2] for i in idx])

    def timed_detect(self, image):
        t0 = time.perf_counter()
        out = self.detect(image)
        return out, time.perf_counter() - t0


def _expand(box, fw, fh):
    """Face box → head box: ``fw`` times as wide (centred), ``fh`` times as
    tall, a quarter of the growth above the face and the rest below."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    grow = (fh - 1) * h
    return [cx - fw * w / 2, y0 - 0.25 * grow, cx + fw * w / 2, y1 + 0.75 * grow]


def normalised_boxes(det, rgb):
    """``det.detect(rgb)``'s boxes (best first) as fractions of the photo's
    width and height: [n, 4] float32 (x0, y0, x1, y1), what a model takes."""
    h, w = np.asarray(rgb).shape[:2]
    b = np.asarray(det.detect(rgb)[0], np.float32).reshape(-1, 4)
    return b / np.array([w, h, w, h], np.float32)


# MTCNN's face box (brows to chin, about 1.3 x taller than wide) → the square
# box Haar's frontal-face cascade draws around the same face, so both expand
# to the same head-and-shoulders box and a model trained on Haar boxes sees
# the boxes it knows. Medians over the 85 faces both found on 136 photos
# (utkface and Faces_easy validation photos, showcase; docs/INSTANCE_STUDY.md):
# Haar's centre is MTCNN's moved by 0.00 x its width and -0.01 x its height,
# and Haar's side is 1.00 x MTCNN's width (0.77 x its height).
MTCNN_TO_HAAR = (0.0, -0.01, 1.0)  # dx / width, dy / height, side / width


def _mtcnn_to_haar(box):
    """An MTCNN face box (x0, y0, x1, y1) → the square Haar-like face box."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    dx, dy, sw = MTCNN_TO_HAAR
    cx, cy = (x0 + x1) / 2 + dx * w, (y0 + y1) / 2 + dy * h
    side = sw * w
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]
