"""The hints file format (kcolor.hints.points): parsing, errors, round trips
and the hint maps at the working size."""

import json

import numpy as np
import pytest

from kcolor.hints import points
from kcolor.hints.points import HintsError, Point

# CIE Lab (D65) of sRGB #a0522d (sienna), as colour references list it
# (L 43.80, a 29.32, b 35.64); conftest.ref_rgb_to_lab agrees to 1e-4.
SIENNA_AB = (29.3223, 35.6384)


def test_sienna_hex_to_known_lab():
    a, b = points.hex_to_ab("#a0522d")
    assert a == pytest.approx(SIENNA_AB[0], abs=2e-3)
    assert b == pytest.approx(SIENNA_AB[1], abs=2e-3)
    assert points.hex_to_ab("#A0522D") == pytest.approx((a, b))


def test_short_hex_doubles_each_digit():
    from conftest import ref_rgb_to_lab

    # "#a52" is "#aa5522"
    lab = ref_rgb_to_lab(np.array([0xAA, 0x55, 0x22]) / 255.0)
    assert points.hex_to_ab("#a52") == pytest.approx((lab[1], lab[2]), abs=2e-3)
    assert points.hex_to_ab("#fff") == pytest.approx((0.0, 0.0), abs=1e-3)
    # pure red: a = 80.09, b = 67.20 (conftest.KNOWN_COLOURS)
    assert points.hex_to_ab("#f00") == pytest.approx((80.0925, 67.2032), abs=2e-3)


def test_parse_example_from_the_docstring():
    obj = {"points": [{"x": 412, "y": 230, "color": "#a0522d", "size": 8},
                      {"x": 40.5, "y": 18, "ab": [-5.0, -30.0]}]}
    p = points.parse(obj, 640, 480)
    assert p[0].x == 412 and p[0].y == 230 and p[0].size == 8 and p[0].color == "#a0522d"
    assert p[0].ab == pytest.approx(SIENNA_AB, abs=2e-3)
    assert p[1] == Point(x=40.5, y=18, ab=(-5.0, -30.0), size=None, color=None)
    assert points.parse({"points": []}, 10, 10) == []


def test_dump_parse_round_trip_and_atomic_save(tmp_path):
    pts = [Point(3, 4, points.hex_to_ab("#a52"), 2.5, "#a52"),
           Point(0, 9.75, (12.5, -3.0)), Point(9, 0, (0.0, 128.0), 1)]
    assert points.parse(points.dump(pts), 10, 10) == pts
    assert points.dump(pts)["points"][0] == {"x": 3, "y": 4, "color": "#a52", "size": 2.5}
    assert points.dump(pts)["points"][1] == {"x": 0, "y": 9.75, "ab": [12.5, -3.0]}
    path = tmp_path / "sub" / "hints.json"
    points.save(str(path), pts)
    assert points.load(str(path), 10, 10) == pts
    assert json.loads(path.read_text()) == points.dump(pts)
    assert [f.name for f in path.parent.iterdir()] == ["hints.json"]  # no temporary left


BAD = [
    ([1, 2], "top level must be an object"),
    ({"pts": []}, "unknown top-level keys ['pts']"),
    ({"points": [], "version": 1}, "unknown top-level keys ['version']"),
    ({}, "missing \"points\""),
    ({"points": {}}, "\"points\" must be a list"),
    ({"points": [[1, 2]]}, "point 0: a point must be an object"),
    ({"points": [{"y": 1, "ab": [0, 0]}]}, "point 0: missing \"x\""),
    ({"points": [{"x": 1, "ab": [0, 0]}]}, "point 0: missing \"y\""),
    ({"points": [{"x": "1", "y": 1, "ab": [0, 0]}]}, "x must be a finite number"),
    ({"points": [{"x": True, "y": 1, "ab": [0, 0]}]}, "x must be a finite number"),
    ({"points": [{"x": 1, "y": 1, "ab": [0, 0], "colour": "#fff"}]}, "unknown keys ['colour']"),
    ({"points": [{"x": 10, "y": 1, "ab": [0, 0]}]}, "lies outside the 10 x 8 photo"),
    ({"points": [{"x": 1, "y": 8, "ab": [0, 0]}]}, "lies outside"),
    ({"points": [{"x": -0.5, "y": 1, "ab": [0, 0]}]}, "lies outside"),
    ({"points": [{"x": 1, "y": 1}]}, "exactly one of \"color\""),
    ({"points": [{"x": 1, "y": 1, "ab": [0, 0], "color": "#fff"}]}, "not both"),
    ({"points": [{"x": 1, "y": 1, "color": "red"}]}, "color must be \"#rrggbb\""),
    ({"points": [{"x": 1, "y": 1, "color": "#12345"}]}, "color must be"),
    ({"points": [{"x": 1, "y": 1, "color": "#ggg000"}]}, "color must be"),
    ({"points": [{"x": 1, "y": 1, "color": 0xFFFFFF}]}, "color must be"),
    ({"points": [{"x": 1, "y": 1, "ab": [0]}]}, "ab must be [a, b]"),
    ({"points": [{"x": 1, "y": 1, "ab": [0, 128.5]}]}, "ab must be"),
    ({"points": [{"x": 1, "y": 1, "ab": [float("nan"), 0]}]}, "ab must be"),
    ({"points": [{"x": 1, "y": 1, "ab": [0, 0], "size": 0}]}, "size must be a positive"),
    ({"points": [{"x": 1, "y": 1, "ab": [0, 0], "size": -2}]}, "size must be a positive"),
    ({"points": [{"x": 1, "y": 1, "ab": [0, 0], "size": "8"}]}, "size must be a positive"),
]


@pytest.mark.parametrize("obj,reason", BAD)
def test_errors_name_the_source_and_reason(obj, reason):
    with pytest.raises(HintsError) as e:
        points.parse(obj, 10, 8, source="photo.hints.json")
    msg = str(e.value)
    assert msg.startswith("photo.hints.json: ") and reason in msg and "\n" not in msg
    assert isinstance(e.value, ValueError)


def test_second_point_is_named():
    obj = {"points": [{"x": 1, "y": 1, "ab": [0, 0]}, {"x": 99, "y": 1, "ab": [0, 0]}]}
    with pytest.raises(HintsError, match=r"^h\.json: point 1: \(99, 1\) lies outside"):
        points.parse(obj, 10, 8, "h.json")


def test_load_errors(tmp_path):
    with pytest.raises(HintsError, match="no such hints file"):
        points.load(str(tmp_path / "missing.json"), 10, 10)
    bad = tmp_path / "bad.json"
    bad.write_text("{\"points\": [")
    with pytest.raises(HintsError, match=r"bad\.json: not JSON"):
        points.load(str(bad), 10, 10)
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"points": [{"x": 5, "y": 20, "ab": [1, 2]}]}))
    with pytest.raises(HintsError, match=r"outside\.json: point 0: .* outside the 10 x 10"):
        points.load(str(outside), 10, 10)


def test_default_patch_is_siggraph17s():
    assert [points.default_patch(s) for s in (256, 128, 64, 512, 16)] == [6, 3, 2, 12, 1]


def test_to_maps_same_size_exact_patches():
    # A 32 x 32 photo at working size 32: size 3 centred on pixel (10, 5)
    # covers columns 9..11 and rows 4..6; size 4 on (20, 20) covers columns
    # 18..21 (centre 20.5, span [18.5, 22.5) of pixel centres).
    pts = [Point(10, 5, (10.0, -20.0), 3), Point(20, 20, (1.0, 2.0), 4)]
    hint, mask = points.to_maps(pts, 32, 32, 32)
    assert hint.shape == (32, 32, 2) and mask.shape == (32, 32, 1)
    assert hint.dtype == np.float32 and mask.dtype == np.float32
    want = np.zeros((32, 32), bool)
    want[4:7, 9:12] = True
    want[18:22, 18:22] = True
    np.testing.assert_array_equal(mask[..., 0] > 0, want)
    np.testing.assert_array_equal(hint[4:7, 9:12], np.broadcast_to([10.0, -20.0], (3, 3, 2)))
    np.testing.assert_array_equal(hint[18:22, 18:22], np.broadcast_to([1.0, 2.0], (4, 4, 2)))
    assert not hint[~want].any()


def test_to_maps_squashes_the_photo():
    # 400 wide x 100 tall photo at working size 100: x scales by 1/4, y by 1.
    # Point (200, 50), size 40: x in [180.5, 220.5) -> [45.125, 55.125) -> columns
    # with centres inside: 45..54; y in [30.5, 70.5) -> rows 30..69.
    hint, mask = points.to_maps([Point(200, 50, (5.0, 5.0), 40)], 100, 400, 100)
    rows, cols = np.nonzero(mask[..., 0])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (30, 69, 45, 54)


def test_tiny_patch_covers_one_pixel_and_clips_at_edges():
    # size 1 on a 1000-px photo at 10 px: the pixel holding the centre.
    _, mask = points.to_maps([Point(999, 0, (1.0, 1.0), 1)], 1000, 1000, 10)
    assert np.argwhere(mask[..., 0]).tolist() == [[0, 9]]
    # a huge patch at a corner is clipped to the image
    # centre 0.5, half 25: [-24.5, 25.5) holds the centres of pixels 0..24
    _, mask = points.to_maps([Point(0, 0, (1.0, 1.0), 50)], 40, 40, 40)
    assert mask[..., 0].sum(0).tolist() == [25] * 25 + [0] * 15
    assert mask.sum() == 25 * 25


def test_default_size_is_a_working_size_square():
    # no size: round(6 * 256 / 256) = 6 px square at 256, whatever the photo's
    # aspect; centred on (x + 0.5) * 256 / W = 128.2 -> [125.2, 131.2): 125..130.
    _, mask = points.to_maps([Point(500, 300, (1.0, 1.0))], 600, 1000, 256)
    rows, cols = np.nonzero(mask[..., 0])
    assert (cols.min(), cols.max()) == (125, 130)
    assert (rows.max() - rows.min() + 1, len(rows)) == (6, 36)
    _, mask = points.to_maps([Point(500, 300, (1.0, 1.0))], 600, 1000, 128)
    assert mask.sum() == 9  # 3 x 3 at 128


def test_later_points_overwrite():
    pts = [Point(5, 5, (1.0, 1.0), 5), Point(6, 5, (-7.0, 3.0), 1)]
    hint, mask = points.to_maps(pts, 16, 16, 16)
    assert hint[5, 6].tolist() == [-7.0, 3.0] and hint[5, 5].tolist() == [1.0, 1.0]
    assert mask.sum() == 25
