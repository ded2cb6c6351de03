"""kcolor study end to end in a real browser: ``kcolor study make`` with two
models, two participants answering ``index.html`` in headless Chromium (keys
and clicks), their downloaded results scored by ``kcolor study score``.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the Python
``playwright`` package (``pip install -e .[test]``; no ``playwright install``:
the system Chromium is used). Screenshots go to tests/artifacts/.
"""

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_python
from test_study import make_photos

from kcolor.study import stats

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package "
                               "(pip install -e '.[test]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium on PATH "
                                "(apt-get install -y chromium)")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"
KEYS = {"left": ("f", "ArrowLeft"), "right": ("j", "ArrowRight")}


def _other(side):
    return "right" if side == "left" else "left"


def answer_study(browser, page_path, key, name, fool, miss, results_dir, shots=False):
    """Answers the study as ``name``: the colorized photo in the regular pairs
    numbered ``fool`` (0-based, in the order shown), the fake in the checks
    numbered ``miss``, the real photo otherwise; by F/J, arrows and clicks in
    turn. Returns (path of the downloaded results, [(pair, fooled?)])."""
    page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
            else errors.append(f"network request {r.url}"))
    page.goto(page_path.as_uri())
    assert page.inner_text("#n-pairs") == "8"
    if shots:
        page.screenshot(path=str(ARTIFACTS / "study_instructions.png"))
    page.click("#start")  # no name yet: refused
    assert page.inner_text("#intro-error") == "Please type your name or initials first."
    page.fill("#participant", name)
    page.keyboard.press("Enter")
    answers, regular, checks = [], 0, 0
    for i in range(8):
        page.wait_for_function(f"studyState().state === 'trial' && studyState().index === {i}")
        assert page.inner_text("#count") == f"{i + 1} / 8"
        trial = page.evaluate("studyState().trial")
        truth = key["pairs"][trial["pair"]]
        real_side = "left" if trial["left"] == truth["real"] else "right"
        if truth["check"]:
            wrong, checks = checks in miss, checks + 1
        else:
            wrong, regular = regular in fool, regular + 1
            answers.append((trial["pair"], wrong))
        side = _other(real_side) if wrong else real_side
        if shots and i == 0:
            page.screenshot(path=str(ARTIFACTS / "study_page.png"))
        if i % 3 == 2:
            page.click(f"#img-{side}")
        else:
            page.keyboard.press(KEYS[side][i % 3])
    page.wait_for_function("studyState().state === 'done'")
    assert page.inner_text("#send-to") == "send the file to lab@example.org"
    with page.expect_download() as download:
        page.click("#download")
    path = results_dir / download.value.suggested_filename
    download.value.save_as(str(path))
    if shots:
        page.screenshot(path=str(ARTIFACTS / "study_done.png"))
    page.close()
    assert errors == []
    return path, answers


def test_two_participants_answer_a_study_in_chromium_and_it_is_scored(tmp_path, tiny_model):
    photos = make_photos(tmp_path / "photos")
    study = tmp_path / "study"
    run_python(["-m", "kcolor", "study", "make", f"--photos={photos}", f"--output={study}",
                f"--model={tiny_model},small", "--count=6", "--checks=2", "--seed=1",
                "--contact=lab@example.org"])
    key = json.loads((study / "key.json").read_text())
    assert [m["label"] for m in key["models"]] == ["tiny", "small"]
    results_dir = study / "results"
    results_dir.mkdir()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            alice, alice_answers = answer_study(browser, study / "index.html", key, "alice",
                                                {0, 2, 3}, set(), results_dir, shots=True)
            bob, _ = answer_study(browser, study / "index.html", key, "bob", {1}, {0}, results_dir)
        finally:
            browser.close()
    assert alice.name == f"study-{key['study_id'][:8]}-alice.json"

    # What the page recorded.
    res = json.loads(alice.read_text())
    assert res["participant"] == "alice" and res["study_id"] == key["study_id"]
    trials = res["trials"]
    assert [t["n"] for t in trials] == list(range(1, 9))
    assert [t["n"] for t in trials if t["check"]] == [3, 6]  # checks spread evenly
    assert sorted(t["photo"] for t in trials if not t["check"]) == [f"p{i:02d}" for i in range(1, 7)]
    models = [t["model"] for t in trials if not t["check"]]
    assert sorted(models) == ["small"] * 3 + ["tiny"] * 3  # each photo once, models rotated
    assert all(key["pairs"][t["pair"]]["model"] == t["model"] for t in trials)
    assert {t["input"] for t in trials} == {"key", "click"}
    assert all(t["rt_ms"] > 0 for t in trials)
    for t in trials:
        assert t["chosen_image"] == (t["left"] if t["chosen"] == "left" else
                                     {"a": "b", "b": "a"}[t["left"]])

    # Scored: alice's fool rate per model is what she was told to answer; bob,
    # who chose the rainbow photo once, is excluded.
    md = tmp_path / "score.md"
    proc = run_python(["-m", "kcolor", "study", "score", str(alice), str(bob), f"--markdown={md}"])
    text = md.read_text()
    assert text.strip() == proc.stdout.strip()
    for model in ("tiny", "small"):
        mine = [fooled for pair, fooled in alice_answers if key["pairs"][pair]["model"] == model]
        k, n = sum(mine), len(mine)
        lo, hi = stats.wilson(k, n)
        row = f"| {model} | {n} | {k} | {100 * k / n:.1f}% | {100 * lo:.1f}% – {100 * hi:.1f}% |"
        assert f"| alice {row}" in text
        assert f"| **pooled (1 of 2)** | **{model}** | {n} | {k} |" in text
    assert sum(fooled for _, fooled in alice_answers) == 3
    assert "| bob (excluded) | tiny | 3 |" in text
    assert "Excluded: 1 of 2 participants (more than 0 of 2 attention checks missed): bob." in text
    assert "| tiny − small |" in text
    assert (ARTIFACTS / "study_page.png").stat().st_size > 10_000
