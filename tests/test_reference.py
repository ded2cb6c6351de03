"""Colour from a reference photo (kcolor.hints.reference, issue #32): the hints
land where the reference's colour is, an unrelated reference gives (almost)
none, and a bad reference fails in one line naming the file."""

import numpy as np
import pytest

from kcolor import color, imageio
from kcolor.hints import points as points_lib
from kcolor.hints import reference as R

H, W = 224, 320  # target size; the matching size keeps it (multiples of 32 at 320)
SHIFT_Y, SHIFT_X = 6, 10  # the reference is the same scene, the camera moved a little
RED, BLUE, GREEN = (55.0, 40.0), (10.0, -45.0), (-45.0, 35.0)


def _scene(h, w, seed=0):
    """A Lab canvas [h, w, 3]: three textured regions (left: blobs, red;
    right: diagonal stripes, blue; a band along the bottom: fine noise,
    green), and the region map (0, 1, 2)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    blobs = 55 + 22 * np.sin(2 * np.pi * xx / 23) * np.sin(2 * np.pi * yy / 19)
    stripes = 50 + 25 * np.sign(np.sin(2 * np.pi * (xx + yy) / 14))
    noise = 60 + 12 * rng.standard_normal((h, w))
    region = np.where(xx < w * 0.45, 0, 1)
    region[yy > h * 0.72] = 2
    L = np.choose(region, [blobs, stripes, noise])
    ab = np.zeros((h, w, 2))
    for k, c in enumerate((RED, BLUE, GREEN)):
        ab[region == k] = c
    return np.concatenate([L[..., None], ab], -1), region


def _rgb(lab):
    rgb = np.clip(color.lab_to_rgb(lab.astype(np.float32), np), 0, 1)
    return np.round(rgb * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def scene():
    lab, region = _scene(H + 2 * SHIFT_Y, W + 2 * SHIFT_X)
    target_rgb = _rgb(lab[:H, :W])
    reference = _rgb(lab[SHIFT_Y:SHIFT_Y + H, SHIFT_X:SHIFT_X + W])
    # The colours the reference really shows (sRGB clipping moves them a little).
    shown = color.rgb_to_lab(reference.astype(np.float32) / 255.0, np)[..., 1:]
    true_ab = [shown[region[SHIFT_Y:SHIFT_Y + H, SHIFT_X:SHIFT_X + W] == k].mean(0)
               for k in range(3)]
    L = color.rgb_to_lab(target_rgb.astype(np.float32) / 255.0, np)[..., :1]
    return {"target_rgb": target_rgb, "L": L, "reference": reference,
            "region": region[:H, :W], "true_ab": true_ab}


@pytest.mark.parametrize("overrides", [{}, {"max_points": 40},
                                       {"max_points": 40, "spread": False}])
def test_points_land_on_the_matching_region_with_its_colour(scene, overrides):
    pts = R.reference_points(scene["L"], scene["reference"], **overrides)
    assert len(pts) >= 20
    assert len(pts) <= overrides.get("max_points", 10 ** 9)
    region = scene["region"]
    right = wrong = 0
    for p in pts:
        assert 0 <= p.x < W and 0 <= p.y < H
        assert p.size > 0
        r, c = int(p.y), int(p.x)
        half = int(np.ceil(p.size / 2)) + 1
        patch = region[max(r - half, 0):r + half + 1, max(c - half, 0):c + half + 1]
        if (patch != patch.flat[0]).any():
            continue  # the cell straddles a region boundary: its mean is a mix
        k = patch.flat[0]
        dist = [np.hypot(*(np.asarray(p.ab) - t)) for t in scene["true_ab"]]
        if int(np.argmin(dist)) == k and dist[k] < 12:
            right += 1
        else:
            wrong += 1
    assert right >= 15
    assert wrong <= 0.1 * (right + wrong), (right, wrong)
    if overrides.get("spread", True):  # all matches, or spread: every region gets some
        got = {int(region[int(p.y), int(p.x)]) for p in pts}
        assert got == {0, 1, 2}


def test_rgb_target_and_its_L_give_the_same_points(scene):
    from_rgb = R.reference_points(scene["target_rgb"], scene["reference"])
    from_L = R.reference_points(scene["L"], scene["reference"])
    same = {(p.x, p.y) for p in from_rgb} & {(p.x, p.y) for p in from_L}
    assert len(same) >= 0.8 * max(len(from_rgb), len(from_L))


def test_points_are_in_the_targets_own_pixels(scene):
    """A target twice as large gets its points at twice the coordinates."""
    ref = R.Reference(scene["reference"], max_points=10000)  # all: no ties cut differently
    small = ref.points(scene["L"])
    big_L = np.repeat(np.repeat(scene["L"], 2, 0), 2, 1)
    big = ref.points(big_L)
    assert len(big) > 0.7 * len(small)
    ps = {(round((p.x + 0.5) * 2 - 0.5, 3), round((p.y + 0.5) * 2 - 0.5, 3)) for p in small}
    pb = {(round(p.x, 3), round(p.y, 3)) for p in big}
    assert len(ps & pb) >= 0.7 * len(big)
    assert big[0].size == pytest.approx(2 * small[0].size)
    # Points rasterise onto the working size as the hints format says.
    hint, mask = points_lib.to_maps(big, big_L.shape[0], big_L.shape[1], 256)
    assert mask.sum() > 0 and np.abs(hint).max() <= points_lib.MAX_AB


def test_an_unrelated_reference_gives_few_or_no_points(scene):
    yy, xx = np.mgrid[0:300, 0:400] / 300.0
    smooth = np.stack([0.2 + 0.6 * xx / 1.4, 0.5 + 0.3 * yy, 0.9 - 0.5 * xx / 1.4], -1)
    smooth = (np.clip(smooth, 0, 1) * 255).astype(np.uint8)
    other_lab, _ = _scene(300, 400, seed=5)
    rng = np.random.default_rng(3)
    # Another kind of texture altogether: big coloured discs on a flat ground.
    discs = np.full((300, 400, 3), 200, np.uint8)
    for _ in range(12):
        cy, cx, rad = rng.integers(0, 300), rng.integers(0, 400), rng.integers(15, 50)
        discs[(np.mgrid[0:300, 0:400][0] - cy) ** 2 + (np.mgrid[0:300, 0:400][1] - cx) ** 2
              < rad ** 2] = rng.integers(0, 255, 3)
    for ref in (smooth, discs):
        pts = R.reference_points(scene["L"], ref)
        assert len(pts) <= 3, len(pts)


def test_a_gray_reference_gives_no_points(scene):
    gray = np.repeat(np.round(scene["L"] * 2.55).astype(np.uint8), 3, -1)
    assert R.reference_points(scene["L"], gray) == []


def test_an_unreadable_reference_fails_in_one_line_naming_it(tmp_path, scene):
    bad = tmp_path / "not a photo.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(imageio.ImageReadError) as e:
        R.Reference(str(bad))
    msg = str(e.value)
    assert msg.startswith(f"{bad}: ") and "\n" not in msg
    missing = tmp_path / "missing.png"
    with pytest.raises(imageio.ImageReadError) as e:
        R.reference_points(scene["L"], str(missing))
    assert str(e.value).startswith(f"{missing}: ") and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="RGB"):
        R.Reference(np.zeros((10, 10), np.uint8))


def test_a_reference_file_is_read_like_a_photo(tmp_path, scene):
    from PIL import Image

    path = tmp_path / "ref.png"
    Image.fromarray(scene["reference"]).save(path)
    from_file = R.reference_points(scene["L"], str(path))
    from_array = R.reference_points(scene["L"], scene["reference"])
    assert [(p.x, p.y) for p in from_file] == [(p.x, p.y) for p in from_array]


def test_points_for_a_batch_of_frames(scene):
    """A clip's frames go through the encoder together: each frame's points
    are its own."""
    ref = R.Reference(scene["reference"])
    frames = [scene["L"], scene["L"][:, ::-1].copy()]
    batch = ref.points_batch(frames)
    assert len(batch) == 2 and all(len(p) > 0 for p in batch)
    for frame, pts in zip(frames, batch):
        alone = ref.points(frame)
        assert {(p.x, p.y) for p in pts} == {(p.x, p.y) for p in alone}
        hint, mask = points_lib.to_maps(pts, H, W, 128)
        assert mask.sum() > 0


# -- through Colorizer, colorize_video and kcolor colorize (run once the
# -- patches that give them ``reference`` are in) --------------------------------

def _takes(func, name):
    import inspect

    return name in inspect.signature(func).parameters


def _colorize():
    from kcolor import colorize

    return colorize


@pytest.fixture(scope="module")
def hint_colorizer():
    """lite + an untrained refiner (the shipped lite_hints preset is not needed)."""
    from kcolor import colorize, presets
    from kcolor.hints import model as hint_model

    base, _ = presets.load("lite")
    return colorize.Colorizer(hint_model.build_hint_colorizer(base), size=128)


def _region_ab(rgb, region, k):
    return color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)[..., 1:][region == k].mean(0)


@pytest.mark.skipif(not _takes(_colorize().Colorizer.colorize, "reference"),
                    reason="Colorizer.colorize takes no reference yet")
def test_colorize_with_a_reference(scene, hint_colorizer):
    gray = _colorize().gray_rgb(scene["target_rgb"])
    auto = hint_colorizer.colorize([gray])[0]
    out = hint_colorizer.colorize([gray], reference=scene["reference"])[0]
    for k in range(3):
        want = scene["true_ab"][k]
        assert (np.hypot(*(_region_ab(out, scene["region"], k) - want))
                < 0.5 * np.hypot(*(_region_ab(auto, scene["region"], k) - want)))
    # One Reference for many photos, a list of references, and own hints after.
    ref = R.Reference(scene["reference"])
    two = hint_colorizer.colorize([gray, gray], reference=ref)
    np.testing.assert_array_equal(two[0], out)
    mixed = hint_colorizer.colorize([gray, gray], reference=[ref, None])
    np.testing.assert_array_equal(mixed[1], auto)
    own = [points_lib.Point(x=5, y=5, ab=(0.0, 60.0), size=4)]
    with_own = hint_colorizer.colorize([gray], reference=ref, hints=[own])[0]
    assert color.rgb_to_lab(with_own[5:7, 5:7].astype(np.float32) / 255.0, np)[..., 2].mean() > 30
    # A model that takes no hint points refuses a reference.
    plain = _colorize().Colorizer("lite", size=128)
    with pytest.raises(ValueError, match="hint-aware"):
        plain.colorize([gray], reference=ref)


@pytest.mark.skipif(not _takes(_colorize().Colorizer.colorize, "reference"),
                    reason="Colorizer.colorize takes no reference yet")
def test_an_unrelated_reference_leaves_the_automatic_colour(scene, hint_colorizer):
    gray = _colorize().gray_rgb(scene["target_rgb"])
    yy, xx = np.mgrid[0:300, 0:400] / 300.0
    smooth = (np.stack([0.2 + 0.4 * xx, 0.5 + 0.3 * yy, 0.9 - 0.3 * xx], -1) * 255).astype(np.uint8)
    auto = hint_colorizer.colorize([gray])[0].astype(int)
    out = hint_colorizer.colorize([gray], reference=smooth)[0].astype(int)
    assert np.abs(out - auto).mean() < 1.0


def _write_clip(path, frames):
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=10, options={"crf": "4"})
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def test_video_with_a_reference(tmp_path, scene, hint_colorizer):
    from kcolor import video

    if not _takes(video.colorize_video, "reference"):
        pytest.skip("colorize_video takes no reference yet")
    import av

    gray = _colorize().gray_rgb(scene["target_rgb"])
    src = tmp_path / "gray.mkv"
    _write_clip(src, [gray] * 5)
    dst = tmp_path / "out.mkv"
    assert video.colorize_video(str(src), str(dst), hint_colorizer, batch_size=2,
                                reference=scene["reference"]) == 5
    with av.open(str(dst)) as f:
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    assert len(frames) == 5
    got = _region_ab(frames[-1], scene["region"], 0)  # red, not the automatic gray
    assert np.hypot(*(got - scene["true_ab"][0])) < 0.35 * np.hypot(*scene["true_ab"][0])
    plain = _colorize().Colorizer("lite", size=128)
    with pytest.raises(ValueError, match="hint-aware"):
        video.colorize_video(str(src), str(tmp_path / "x.mkv"), plain,
                             reference=scene["reference"])
    assert not (tmp_path / "x.mkv").exists()


def test_kcolor_colorize_reference_flag(tmp_path, scene):
    from kcolor import colorize_files

    if not _takes(colorize_files.run, "reference"):
        pytest.skip("kcolor colorize takes no --reference yet")
    from PIL import Image

    photo = tmp_path / "in" / "photo.png"
    photo.parent.mkdir()
    Image.fromarray(_colorize().gray_rgb(scene["target_rgb"])).save(photo)
    bad = tmp_path / "bad ref.jpg"
    bad.write_bytes(b"not a photo")
    with pytest.raises(imageio.ImageReadError) as e:
        colorize_files.run([str(photo)], str(tmp_path / "out"), reference=str(bad),
                           progress=False)
    assert str(e.value).startswith(f"{bad}: ") and "\n" not in str(e.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # A model that takes no hints: one line naming the flag.
    ref = tmp_path / "ref.png"
    Image.fromarray(scene["reference"]).save(ref)
    with pytest.raises(ValueError, match="--reference=.*hint-aware"):
        colorize_files.run([str(photo)], str(tmp_path / "out"), model="lite",
                           reference=str(ref), progress=False)
    with pytest.raises(ValueError, match="--reference and --instances"):
        colorize_files.run([str(photo)], str(tmp_path / "out"), instances="auto",
                           reference=str(ref), progress=False)
