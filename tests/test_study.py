"""kcolor study: intervals, the study maker and the scorer (no browser here;
tests/test_study_browser.py answers a study in headless Chromium)."""

import base64
import io
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import write_photos
from kcolor import color, presets
from kcolor.study import StudyError, make, score, stats


# --- intervals, against published values -----------------------------------

def test_wilson_interval_matches_published_values():
    # Newcombe (1998), Table I: 81/263 -> 0.2553-0.3662; and the textbook 3/10, 0/10.
    assert stats.wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert stats.wilson(3, 10) == pytest.approx((0.1078, 0.6032), abs=1e-4)
    assert stats.wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert stats.wilson(10, 10)[1] == 1.0 and stats.wilson(0, 0) is None


def test_newcombe_difference_and_z_test_match_published_values():
    # Newcombe (1998), Table II, example (a): 56/70 - 48/80, method 10: +0.0524 to +0.3339.
    d, lo, hi = stats.newcombe_difference(56, 70, 48, 80)
    assert (d, lo, hi) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)
    # Pooled z-test by hand: p = 104/150, se = sqrt(p (1-p) (1/70 + 1/80)), z = 0.2 / se = 2.650.
    assert stats.two_proportion_p(56, 70, 48, 80) == pytest.approx(0.00805, abs=5e-5)
    assert stats.two_proportion_p(5, 5, 7, 7) is None  # every answer the same: no test


# --- making a study ----------------------------------------------------------

def _page_data(html):
    start = html.index("const STUDY = ") + len("const STUDY = ")
    return json.loads(html[start:html.index(";\n", start)])


def _decode(uri):
    assert uri.startswith("data:image/jpeg;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def _lab(rgb):
    return color.rgb_to_lab(rgb.astype(np.float32) / 255.0, np)


def make_photos(folder):
    """conftest's 10 small colour photos and broken file, plus a gray photo and
    one under 32 px."""
    write_photos(folder)
    yy = np.mgrid[0:48, 0:40][0] / 48.0
    Image.fromarray(np.uint8(yy * 200)).convert("RGB").save(folder / "gray.png")
    Image.fromarray(np.full((20, 30, 3), (200, 30, 30), np.uint8)).save(folder / "tiny.png")
    return folder


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory, tiny_model):
    """A study of 6 photos + 2 checks, made twice with seed 3 (to check
    determinism) and once with seed 4."""
    root = tmp_path_factory.mktemp("study")
    photos = make_photos(root / "photos")
    logs = []
    stale = root / "s3" / ".kcolor-0000beef-1-abcdefgh.html"  # a killed make's, 7 h old
    stale.parent.mkdir()
    stale.write_text("half a page")
    os.utime(stale, (time.time() - 7 * 3600,) * 2)
    keys = [make.make(str(photos), str(root / name), [tiny_model], count=6, checks=2, seed=seed,
                      log=logs.append)
            for name, seed in (("s3", 3), ("s3again", 3), ("s4", 4))]
    return {"root": root, "photos": photos, "keys": keys, "logs": logs, "model": tiny_model}


def test_make_writes_a_self_contained_page_and_a_separate_key(tiny_study):
    root, photos = tiny_study["root"], tiny_study["photos"]
    key = json.loads((root / "s3" / "key.json").read_text())
    html = (root / "s3" / "index.html").read_text()
    data = _page_data(html)
    # a killed make's temporary file was removed; nothing else of ours is left beside them
    assert not [p for p in os.listdir(root / "s3") if p.startswith(".kcolor-")]
    assert key == tiny_study["keys"][0] and key["study_id"] == data["study_id"]
    assert [m["label"] for m in key["models"]] == ["tiny"] and data["models"] == ["tiny"]
    pairs = key["pairs"]
    assert sorted(pairs) == ["c01", "c02", "p01m1", "p02m1", "p03m1", "p04m1", "p05m1", "p06m1"]
    assert [pairs[p]["check"] for p in sorted(pairs)] == [True, True] + [False] * 6
    used = [pairs[p]["photo"] for p in pairs]
    assert len(set(used)) == 8 and not {"broken.jpg", "gray.png", "tiny.png"} & set(used)
    assert any("broken.jpg" in line for line in tiny_study["logs"])  # reported, skipped
    # Nothing in the page gives the answer or the photo names; nothing is fetched.
    for p in used:
        assert p.split("/")[-1] not in html
    assert '"real"' not in html and "http:" not in html and "https:" not in html
    shown = {t["id"]: t for ph in data["photos"] for t in ph["pairs"]}
    shown.update({c["id"]: c for c in data["checks"]})
    assert sorted(shown) == sorted(pairs)
    assert {pairs[p]["real"] for p in pairs} == {"a", "b"}  # the real photo is not always first
    for pid, answer in pairs.items():
        real = _decode(shown[pid][answer["real"]])
        fake = _decode(shown[pid]["b" if answer["real"] == "a" else "a"])
        original = np.asarray(Image.open(photos / answer["photo"]).convert("RGB"))
        assert real.shape == fake.shape == original.shape == (48, 40, 3)  # under 256 px: as is
        assert (shown[pid]["w"], shown[pid]["h"]) == (40, 48)
        assert np.abs(real.astype(int) - original).mean() < 3  # the photo itself (JPEG q92)
        L_diff = np.abs(_lab(fake)[..., 0] - _lab(original)[..., 0]).mean()
        assert L_diff < 2.5, pid  # same lightness: only the colour differs
        chroma = np.hypot(*np.moveaxis(_lab(fake)[..., 1:], -1, 0)).mean()
        if answer["check"]:
            assert chroma > 30, pid  # the rainbow: obviously wrong
        else:
            assert chroma < 30, pid


def test_make_is_seeded_and_will_not_overwrite_a_key(tiny_study):
    k3, k3again, k4 = tiny_study["keys"]
    assert k3["pairs"] == k3again["pairs"] and k3["study_id"] == k3again["study_id"]
    assert k4["study_id"] != k3["study_id"]
    assert [k4["pairs"][p]["photo"] for p in sorted(k4["pairs"])] != \
        [k3["pairs"][p]["photo"] for p in sorted(k3["pairs"])]
    with pytest.raises(StudyError, match="key.json: a study is there already"):
        make.make(str(tiny_study["photos"]), str(tiny_study["root"] / "s3"), [tiny_study["model"]],
                  count=6, checks=2, log=lambda m: None)


def test_make_says_when_the_folder_has_too_few_photos(tiny_study, tmp_path):
    with pytest.raises(StudyError, match=r"found 8 of 9 colour photos and 2 of 2 colourful ones "
                       r"for attention checks \(13 files, 2 too small or too gray\)"):
        make.make(str(tiny_study["photos"]), str(tmp_path / "s"), ["small"], count=9, checks=2,
                  log=lambda m: None)
    with pytest.raises(StudyError, match="nowhere: not a folder"):
        make.make(str(tmp_path / "nowhere"), str(tmp_path / "s"), log=lambda m: None)
    with pytest.raises(StudyError, match="nope.keras: no such model file or preset"):
        make.make(str(tiny_study["photos"]), str(tmp_path / "s"), ["small,nope.keras"],
                  log=lambda m: None)


def test_model_specs_split_commas_and_label_models():
    assert make.model_specs(None) == [(presets.DEFAULT, None)]
    assert make.model_specs(["small,/a/b/other.keras", "/c/other.keras"]) == [
        ("small", "small"), ("other", "/a/b/other.keras"), ("other-2", "/c/other.keras")]


# --- scoring -------------------------------------------------------------------

def _key(tmp_path, models, n_per_model, checks=2):
    """A hand-made key: pairs m{i}_{k} for each model, real alternating a/b; checks c01..."""
    pairs = {}
    for m, n in zip(models, n_per_model):
        for k in range(n):
            pairs[f"{m}_{k}"] = {"real": "ab"[k % 2], "photo": f"{k}.jpg", "model": m, "check": False}
    for j in range(checks):
        pairs[f"c{j + 1:02d}"] = {"real": "ba"[j % 2], "photo": f"c{j}.jpg", "model": None,
                                   "check": True}
    key = {"kcolor_study": 1, "study_id": "abc123", "models": [{"label": m, "model": m} for m in models],
           "pairs": pairs}
    (tmp_path / "key.json").write_text(json.dumps(key))
    return key


def _results(tmp_path, name, key, fooled, missed_checks=0, started="2026-01-01T10:00:00Z"):
    """A results file whose participant chose the fake in the first ``fooled[m]``
    pairs of model m and in the first ``missed_checks`` checks."""
    trials, seen = [], {}
    for pid, ans in key["pairs"].items():
        group = "check" if ans["check"] else ans["model"]
        i = seen[group] = seen.get(group, -1) + 1
        wrong = i < (missed_checks if ans["check"] else fooled[group])
        fake = "b" if ans["real"] == "a" else "a"
        trials.append({"n": len(trials) + 1, "pair": pid, "chosen_image": fake if wrong else ans["real"],
                       "rt_ms": 1000.0 + 100 * len(trials)})
    path = tmp_path / "results" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"kcolor_study": 1, "study_id": key["study_id"], "participant": name,
                                "started": started, "trials": trials}))
    return str(path)


def test_score_fool_rates_intervals_and_exclusions(tmp_path):
    key = _key(tmp_path, ["small"], [10])
    alice = _results(tmp_path, "alice", key, {"small": 3})
    bob = _results(tmp_path, "bob", key, {"small": 6}, missed_checks=1)
    report = score.score([alice, bob])  # key.json found in the results' parent folder
    a, b = report["participants"]
    assert (a["participant"], a["models"]["small"][:2], a["checks"], a["excluded"]) == \
        ("alice", [3, 10], [2, 2], False)
    assert (b["models"]["small"][:2], b["checks"], b["excluded"]) == ([6, 10], [1, 2], True)
    assert report["pooled"]["small"][:2] == [3, 10]  # bob left out
    text = score.table(report)
    # 3/10 = 30.0%, Wilson 10.8%-60.3%; median of alice's 10 times (1000..1900 ms, step 100) 1.45 s
    assert "| alice | small | 10 | 3 | 30.0% | 10.8% – 60.3% | 1.4 | 2 / 2 |" in text
    assert "| bob (excluded) | small | 10 | 6 | 60.0% |" in text
    assert "| **pooled (1 of 2)** | **small** | 10 | 3 | 30.0% | 10.8% – 60.3% |" in text
    assert "Excluded: 1 of 2 participants (more than 0 of 2 attention checks missed): bob." in text
    # Allowing one miss keeps bob: 9/20 = 45.0%, Wilson 25.8%-65.8%.
    text = score.table(score.score([alice, bob], max_missed=1))
    assert "| **pooled (2 of 2)** | **small** | 20 | 9 | 45.0% | 25.8% – 65.8% |" in text


def test_score_compares_two_models(tmp_path):
    key = _key(tmp_path, ["small", "big"], [70, 80])
    res = _results(tmp_path, "carol", key, {"small": 56, "big": 48})
    report = score.score([res], key_path=str(tmp_path / "key.json"))
    (c,) = report["comparisons"]
    assert c["models"] == ("small", "big")
    assert (c["difference"], *c["ci"]) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)
    assert c["p"] == pytest.approx(0.00805, abs=5e-5)
    text = score.table(report)
    assert "| small − big | +20.0 points | +5.2 to +33.4 | 0.00805 |" in text
    assert "| **pooled (1 of 1)** | **big** | 80 | 48 | 60.0% |" in text


def test_score_counts_a_twice_downloaded_session_once(tmp_path):
    key = _key(tmp_path, ["small"], [4])
    first = _results(tmp_path, "dan", key, {"small": 1})
    copy = tmp_path / "results" / "dan (1).json"
    copy.write_text(open(first).read())
    other = _results(tmp_path, "dan-again", key, {"small": 2}, started="2026-01-02T10:00:00Z")
    logs = []
    report = score.score([first, str(copy), other], log=logs.append)
    assert [p["participant"] for p in report["participants"]] == ["dan", "dan-again"]
    assert logs == [f"{copy}: the same session as {first}, counted once"]
    assert report["pooled"]["small"][:2] == [3, 8]


def test_score_names_the_bad_file_and_the_reason(tmp_path):
    key = _key(tmp_path, ["small"], [4])
    good = _results(tmp_path, "erin", key, {"small": 1})
    bad = tmp_path / "results" / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(StudyError, match=r"bad.json: not JSON \(Expecting property name"):
        score.score([good, str(bad)])
    bad.write_text(json.dumps({"kcolor_study": 1, "study_id": "other", "trials": []}))
    with pytest.raises(StudyError, match=r"bad.json: from study 'other', but .*key.json is study 'abc123'"):
        score.score([str(bad)])
    bad.write_text(json.dumps({"kcolor_study": 1, "study_id": "abc123", "participant": "x",
                               "trials": [{"pair": "small_0", "chosen_image": "left", "rt_ms": 5}]}))
    with pytest.raises(StudyError, match="bad.json: trial 1 is not a known pair"):
        score.score([str(bad)])
    lone = tmp_path / "elsewhere" / "deep" / "r.json"
    lone.parent.mkdir(parents=True)
    lone.write_text("{}")
    with pytest.raises(StudyError, match="r.json: no key.json beside it or in its parent folder"):
        score.score([str(lone)])
    with pytest.raises(StudyError, match="missing.json: no such file"):
        score.score([good, str(tmp_path / "results" / "missing.json")])
    # The command prints one line naming the file, and exits 1.
    bad.write_text("{not json")
    proc = subprocess.run([sys.executable, "-m", "kcolor", "study", "score", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == \
        f"kcolor study score: {bad}: not JSON (Expecting property name enclosed in double quotes: " \
        "line 1 column 2 (char 1))"


def test_study_command_usage():
    proc = subprocess.run([sys.executable, "-m", "kcolor", "study"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "kcolor study make --photos=DIR" in proc.stderr
