"""Click-to-image time of ``kcolor edit``: after a point is added, how long
until the new colour preview is back, on a ~1 MP and a 12 MP photo.

The server runs in this process (a thread) and is driven over HTTP as the
page drives it: each click adds one point and sends one preview request
(all points so far, the page's 1024-px preview). Reported: the server's time
for the preview (model run, resize, join with L, JPEG: the ``X-Kcolor-Ms``
header) and the round trip the page sees, medians over ``--clicks`` clicks;
the time to open the photo (read, L at full, working and preview size: once
a photo) and to save it at full resolution.

    nice python benchmarks/edit.py [--model=lite_hints] [--clicks=9]
        [--screenshot=docs/edit_page.png]

Default model: the ``lite_hints`` preset when installed, else ``lite``
wrapped by ``kcolor.hints.model.build_hint_colorizer`` (an untrained refiner:
the same amount of work a click). The photos are ``kcolor/samples``'
riverfront scaled up to 1200 x 834 and 4160 x 2892 (JPEG). ``--screenshot``
also opens the page in headless Chromium (Playwright), adds a few points and
saves a screenshot: the first photo with the points the benchmark saved
(loaded back from its hints file) and one more, selected.
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

SAMPLE = os.path.join(os.path.dirname(HERE), "kcolor", "samples", "new_york_riverfront_1931.jpg")
SIZES = {"1 MP": (1200, 834), "12 MP": (4160, 2892)}
PREVIEW_SIDES = (768, 1024)  # what the page asks for: the frame's size on screen
# Clicks, in the sample's 512 x 356 pixels: sky, water, brick, stone, posts.
CLICKS = [((490, 45), "#86b0dc"), ((250, 290), "#3f6f8a"), ((300, 150), "#9a4030"),
          ((430, 140), "#d6c092"), ((152, 295), "#7a5232"), ((30, 60), "#86b0dc"),
          ((420, 250), "#2f6f86"), ((130, 160), "#b07050"), ((300, 300), "#7a5232"),
          ((210, 140), "#c8b890"), ((480, 300), "#3f6f8a")]


def hint_model(name):
    from kcolor import presets

    if name:
        return name
    if "lite_hints" in presets.names():
        return "lite_hints"
    from kcolor.hints import model as hm

    base, _ = presets.load("lite")
    return hm.build_hint_colorizer(base)


def make_photos(folder):
    from PIL import Image

    os.makedirs(folder)
    src = Image.open(SAMPLE).convert("RGB")
    for w, h in SIZES.values():
        src.resize((w, h), Image.LANCZOS).save(
            os.path.join(folder, f"riverfront_{w}x{h}.jpg"), quality=92)


def call(server, method, path, body=None, query=""):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    data = None if body is None else json.dumps(body).encode()
    t0 = time.perf_counter()
    conn.request(method, f"{path}?{query}&token={server.token}", data,
                 {"Content-Type": "application/json"} if data else {})
    r = conn.getresponse()
    out = r.read()
    ms = (time.perf_counter() - t0) * 1000
    conn.close()
    if r.status != 200:
        raise RuntimeError(f"{path}: {r.status} {out[:200]}")
    return out, ms, r


def bench(server, session, clicks):
    rows = []
    session._open.clear()  # warm_up opened the first photo
    for index, item in enumerate(session.items):
        t0 = time.perf_counter()
        meta = json.loads(call(server, "GET", f"/api/photo/{index}")[0])
        open_s = time.perf_counter() - t0
        w, h = meta["width"], meta["height"]
        for side in PREVIEW_SIDES:
            call(server, "GET", f"/api/gray/{index}", query=f"max_side={side}")
            pts, server_ms, trip_ms = [], [], []
            for k in range(clicks):
                (x, y), c = CLICKS[k % len(CLICKS)]
                pts.append({"x": int(x * w / 512), "y": int(y * h / 356), "color": c})
                _, ms, r = call(server, "POST", "/api/preview",
                                {"index": index, "points": pts, "max_side": side})
                server_ms.append(float(r.getheader("X-Kcolor-Ms")))
                trip_ms.append(ms)
            rows.append([item.rel, w, h, side, open_s, statistics.median(server_ms),
                         statistics.median(trip_ms), max(trip_ms), None])
            open_s = None
        _, save_ms, _ = call(server, "POST", "/api/save", {"index": index, "points": pts})
        rows[-len(PREVIEW_SIDES)][-1] = save_ms / 1000
    return rows


def table(rows, clicks):
    lines = ["| photo | preview | click → image, server (ms) | click → image, round trip (ms) "
             "| slowest round trip (ms) | open (s) | save, full resolution (s) |",
             "|---|---|---|---|---|---|---|"]
    for name, w, h, side, open_s, srv, trip, worst, save_s in rows:
        ph, pw = (side * h // max(w, h), side * w // max(w, h))
        lines.append(f"| {w} x {h} ({w * h / 1e6:.1f} MP) | {pw} x {ph} | {srv:.0f} | "
                     f"{trip:.0f} | {worst:.0f} | "
                     f"{'' if open_s is None else f'{open_s:.2f}'} | "
                     f"{'' if save_s is None else f'{save_s:.2f}'} |")
    lines.append(f"\nMedians of {clicks} clicks (1 to {clicks} points, one preview request "
                 f"each); {os.cpu_count()} CPU cores, load average "
                 f"{os.getloadavg()[0]:.1f} at the end.")
    return "\n".join(lines)


def screenshot(server, path):
    import shutil

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        page = browser.new_page(viewport={"width": 1440, "height": 860})
        page.goto(server.url)
        page.wait_for_function("() => editState().shown >= 1 && !editState().busy")
        saved = len(page.evaluate("editState().points"))  # the benchmark's, loaded back
        box = page.locator("#marks-gray").bounding_box()
        (x, y), c = CLICKS[-2]
        page.mouse.click(box["x"] + x / 512 * box["width"], box["y"] + y / 356 * box["height"])
        page.eval_on_selector("#color", """(el, v) => { el.value = v;
            el.dispatchEvent(new Event("input", {bubbles: true}));
            el.dispatchEvent(new Event("change", {bubbles: true})); }""", c)
        page.wait_for_function("() => editState().shown === editState().requested && "
                               "!editState().busy", timeout=120_000)
        assert len(page.evaluate("editState().points")) == saved + 1
        page.screenshot(path=path)
        browser.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="hint-aware model (default: lite_hints, "
                    "else lite with an untrained refiner)")
    ap.add_argument("--clicks", type=int, default=9)
    ap.add_argument("--screenshot", default=None, help="also save a screenshot of the page here")
    args = ap.parse_args()
    from kcolor.edit import server as server_lib
    from kcolor.edit import session as session_lib

    with tempfile.TemporaryDirectory() as tmp:
        make_photos(os.path.join(tmp, "photos"))
        out = os.path.join(tmp, "out")
        model = hint_model(args.model)
        t0 = time.perf_counter()
        session = session_lib.Session(session_lib.find_photos([os.path.join(tmp, "photos")], out),
                                      out, model, size=None if isinstance(model, str) else 256)
        session.warm_up()
        print(f"model loaded and traced in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        server = server_lib.start(session)
        try:
            rows = bench(server, session, args.clicks)
            print(table(rows, args.clicks))
            if args.screenshot:
                screenshot(server, args.screenshot)
                print(f"screenshot: {args.screenshot}", file=sys.stderr)
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()
