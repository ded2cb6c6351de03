"""kcolor edit in a real browser: the page in headless Chromium, two points
added by clicks with colours chosen in the colour input (its value set and
input/change dispatched, as the picker does), the preview awaited, undo and
redo, a point deleted by right-click, the save by Ctrl+S; the saved photo has
the chosen colours at the points and is what ``kcolor colorize --hints``
makes of the saved hints file.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the Python
``playwright`` package (``pip install -e .[test]``; no ``playwright
install``: the system Chromium is used). A screenshot goes to tests/artifacts/.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_edit_server import photo_rgb, tiny_hint_model

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package "
                               "(pip install -e '.[test]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium on PATH "
                                "(apt-get install -y chromium)")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"
SET_COLOUR = """(el, v) => { el.value = v;
  el.dispatchEvent(new Event("input", {bubbles: true}));
  el.dispatchEvent(new Event("change", {bubbles: true})); }"""
SETTLED = "editState().shown === editState().requested && !editState().busy"


def until(page, condition):
    """Waits for ``condition`` (a JS expression); a function, not a string: the
    page's Content-Security-Policy forbids eval."""
    page.wait_for_function(f"() => {condition}")


def click_photo(page, x, y, button="left"):
    """Clicks photo pixel (x, y) in the gray pane."""
    st = page.evaluate("editState()")
    box = page.locator("#marks-gray").bounding_box()
    page.mouse.click(box["x"] + (x + 0.5) * box["width"] / st["width"],
                     box["y"] + (y + 0.5) * box["height"] / st["height"], button=button)


def test_two_points_in_chromium_saved_as_kcolor_colorize_hints_makes_them(tmp_path):
    from kcolor import color
    from kcolor.edit import server as server_lib
    from kcolor.edit import session as session_lib
    from kcolor.hints import points

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(photo_rgb(240, 320, 4)).save(photos / "street.png")
    Image.fromarray(photo_rgb(100, 150, 5)).save(photos / "second.jpg")
    out = tmp_path / "out"
    out.mkdir()
    loaded = [{"x": 20, "y": 30, "ab": [-20.0, 30.0], "size": 12}]  # saved by an earlier run
    (out / "second.json").write_text(json.dumps({"points": loaded}))
    session = session_lib.Session(session_lib.find_photos([str(photos)], str(out)), str(out),
                                  tiny_hint_model(), size=256)
    session.warm_up()
    server = server_lib.start(session)
    chosen = [((60, 50), "#5a7fb0"), ((250, 170), "#a0603a")]
    errors = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(server.url)
            until(page, "editState().shown >= 1 && !editState().busy")
            assert page.url.endswith("/")  # the token left the address bar (the cookie stays)
            assert page.inner_text("#name") == "second.jpg"  # sorted as kcolor colorize does
            assert page.evaluate("editState().points") == loaded
            assert page.locator("#marks-gray .pt").count() == 1
            page.keyboard.press("n")  # the next photo
            until(page, f"editState().index === 1 && {SETTLED}")
            assert page.inner_text("#counter") == "2 / 2"
            for (x, y), hex_ in chosen:
                click_photo(page, x, y)
                page.eval_on_selector("#color", SET_COLOUR, hex_)
                until(page, SETTLED)
            st = page.evaluate("editState()")
            assert st["points"] == [{"x": x, "y": y, "color": c} for (x, y), c in chosen]
            assert not st["saved"] and st["lastMs"] > 0
            # The model's colour at a spot is offered (from the current result).
            assert page.locator("#sw-model .swatch").count() == 1
            # A third point: right-click deletes it; undo brings it back, Delete removes it.
            click_photo(page, 160, 120)
            until(page, "editState().points.length === 3")
            click_photo(page, 160, 120, button="right")
            until(page, "editState().points.length === 2")
            page.keyboard.press("Control+z")
            until(page, "editState().points.length === 3")
            page.keyboard.press("Delete")
            until(page, "editState().points.length === 2")
            page.keyboard.press("Control+z")
            page.keyboard.press("Control+y")
            until(page, f"editState().points.length === 2 && {SETTLED}")
            assert page.evaluate("editState().points") == st["points"]
            assert "Ctrl+Z" in page.inner_text("#keys")
            page.keyboard.press("v")  # single view: the colour alone, Space shows the gray
            assert not page.is_visible("#pane-gray") and page.is_visible("#pane-colour")
            page.keyboard.down(" ")
            assert page.is_visible("#pane-gray") and not page.is_visible("#pane-colour")
            page.keyboard.up(" ")
            until(page, SETTLED)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "edit_single.png"))
            page.keyboard.press("v")
            until(page, SETTLED)
            page.screenshot(path=str(ARTIFACTS / "edit_page.png"))
            page.keyboard.press("Control+s")
            until(page, "editState().lastSave !== null && editState().saved")
            saved = page.evaluate("editState().lastSave")
            assert page.inner_text("#command") == saved["command"]
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert errors == []

    item = session.items[1]
    assert saved["output"] == item.dst == str(out / "street.png")
    assert json.loads(Path(item.hints).read_text()) == {"points": st["points"]}
    photo = np.asarray(Image.open(item.dst))
    assert photo.shape == (240, 320, 3)
    lab = color.rgb_to_lab(photo.astype(np.float32) / 255, np)
    for (x, y), hex_ in chosen:
        assert np.abs(lab[y, x, 1:] - np.array(points.hex_to_ab(hex_))).max() < 5, hex_
    # kcolor colorize --hints=that file, with the same model: the same pixels.
    from kcolor import colorize

    rgb, _ = colorize.read_photo(item.src)
    again = session.colorizer.colorize([rgb], hints=[points.load(item.hints, 320, 240)])[0]
    assert np.array_equal(photo, again)
