"""MTCNN detector kind: the torch-free, joblib-free weights reader, the
cascade's box arithmetic checked by hand, the mapping to Haar-like boxes and
the head-and-shoulders expansion, and a clear error without the wheel."""

import importlib.metadata
import pickle

import numpy as np
import pytest

from kcolor.instance import detector, mtcnn


def _joblib_like(arrays, align=True):
    """Bytes laid out as joblib.dump writes a list of arrays: each array is a
    pickled NumpyArrayWrapper (BUILD with its state) followed by a padding
    length byte, the padding and the raw data."""
    # Assemble opcodes by hand: MARK ... LIST, each item = GLOBAL wrapper,
    # EMPTY_TUPLE NEWOBJ, state dict, BUILD, then the array bytes.
    buf = bytearray(b"\x80\x04(")
    for a in arrays:
        buf += b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81"
        state = {"shape": a.shape, "order": "C", "dtype": a.dtype.str,
                 "numpy_array_alignment_bytes": 16 if align else None}
        buf += pickle.dumps(state, protocol=2)[2:-1]  # the dict's opcodes, no PROTO/STOP
        buf += b"b"  # BUILD
        if align:
            buf += bytes([3]) + b"\0\0\0"
        buf += a.tobytes()
    buf += b"l."  # LIST, STOP
    return bytes(buf)


def test_read_weights_reads_joblib_arrays():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.5, -2.0], np.float32)
    got = mtcnn.read_weights(_joblib_like([a, b]))
    assert [x.shape for x in got] == [(2, 3), (2,)]
    np.testing.assert_array_equal(got[0], a)
    np.testing.assert_array_equal(got[1], b)
    got = mtcnn.read_weights(_joblib_like([a], align=False))
    np.testing.assert_array_equal(got[0], a)


def test_read_weights_lz4_frame():
    lz4 = pytest.importorskip("lz4.frame")
    a = np.linspace(0, 1, 10, dtype=np.float32)
    got = mtcnn.read_weights(lz4.compress(_joblib_like([a])))
    np.testing.assert_array_equal(got[0], a)


def test_read_weights_refuses_other_classes():
    evil = b"\x80\x04cos\nsystem\n\x8c\x04echo\x85R."
    with pytest.raises(pickle.UnpicklingError, match="refusing to load os.system"):
        mtcnn.read_weights(evil)


def test_scales_by_hand():
    # min face 24 px → first scale 12/24 = 0.5; 100 * 0.5 = 50 ≥ 12, then
    # 0.3545 (35.5), 0.2513 (25.1), 0.1782 (17.8), 0.1263 (12.6), 0.0896 (9.0 < 12: stop).
    s = mtcnn.scales(100, 24)
    np.testing.assert_allclose(s, [0.5, 0.3545, 0.25134, 0.17820, 0.12635], rtol=1e-4)
    assert mtcnn.scales(10, 24) == []


def test_pnet_boxes_by_hand():
    prob = np.zeros((3, 4), np.float32)
    prob[1, 2] = 0.9  # row 1, column 2 → window x 4..16, y 2..14 at this scale
    prob[0, 0] = 0.5  # under the threshold
    reg = np.zeros((3, 4, 4), np.float32)
    reg[1, 2] = [0.1, -0.25, 0.0, 0.5]  # × 12 px: +1.2, -3, 0, +6
    b = mtcnn.pnet_boxes(reg, prob, scale=0.5, threshold=0.6)
    np.testing.assert_allclose(b, [[(4 + 1.2) / 0.5, (2 - 3) / 0.5, 16 / 0.5, (14 + 6) / 0.5, 0.9]],
                               rtol=1e-6)


def test_regress_and_square():
    b = np.array([[10.0, 20.0, 30.0, 60.0, 0.8]])  # 20 wide, 40 tall
    r = mtcnn.regress(b, np.array([[0.1, -0.1, 0.5, 0.0]]))
    np.testing.assert_allclose(r, [[12.0, 16.0, 40.0, 60.0, 0.8]])
    s = mtcnn.square(b)  # 40 x 40 about the centre (20, 40)
    np.testing.assert_allclose(s, [[0.0, 20.0, 40.0, 60.0, 0.8]])


def test_nms_union_and_min():
    boxes = np.array([[0, 0, 10, 10, 0.9],    # kept
                      [1, 0, 11, 10, 0.8],    # IoU 90/110 = 0.82 with the first: goes
                      [20, 20, 30, 30, 0.7],  # apart: kept
                      [2, 2, 6, 6, 0.95]])    # best, inside the first (IoU 0.16)
    assert mtcnn.nms(boxes, 0.5) == [3, 0, 2]
    # "min": overlap over the smaller box: the small box is all inside the first.
    assert mtcnn.nms(boxes, 0.5, "min") == [3, 2]


def test_mtcnn_to_haar_then_head_expansion():
    # MTCNN face 40 wide, 52 tall, centre (120, 126) → Haar-like square of
    # side 40 centred at (120, 126 - 0.01 * 52) = (120, 125.48).
    box = detector._mtcnn_to_haar([100, 100, 140, 152])
    np.testing.assert_allclose(box, [100, 105.48, 140, 145.48], rtol=1e-6)
    # Then the same expansion as the face kind: 1.6 x wide (64 px), 2 x tall
    # (80 px), a quarter of the 40 px growth above and the rest below.
    head = detector._expand(box, 1.6, 2.0)
    np.testing.assert_allclose(head, [88, 95.48, 152, 175.48], rtol=1e-6)


def test_tiny_network_runs_and_checks_shapes():
    rng = np.random.default_rng(0)
    w = {n: [rng.normal(0, 0.1, s).astype(np.float32) for s in shapes]
         for n, shapes in mtcnn.SHAPES.items()}
    d = mtcnn.MTCNN(w, thresholds=(0.0, 0.0, 0.0))
    boxes, scores = d.detect(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8), min_face=20)
    assert boxes.shape[1] == 4 and len(boxes) == len(scores) >= 1
    assert np.all(np.diff(scores) <= 0)  # best first
    bad = dict(w, rnet=w["rnet"][:-1])
    with pytest.raises(ValueError, match="MTCNN rnet: weight shapes"):
        mtcnn.MTCNN(bad)


def test_missing_wheel_is_one_clear_line(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ImportError, match=r"pip install 'kcolor\[instances\]'") as e:
        mtcnn.weights_path("pnet")
    assert "\n" not in str(e.value) and "mtcnn wheel" in str(e.value)


def test_real_weights_load_when_installed():
    try:
        mtcnn.weights_path("pnet")
        import lz4  # noqa: F401
    except ImportError:
        pytest.skip("the mtcnn wheel is not installed")
    d = mtcnn.MTCNN()
    for net, shapes in mtcnn.SHAPES.items():
        assert [tuple(a.shape) for a in d.w[net]] == shapes
