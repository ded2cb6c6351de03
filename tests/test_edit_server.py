"""kcolor edit's server without a browser: the server in-process on an
ephemeral port (a thread), a tiny untrained hint-aware model, requests by
http.client and raw sockets.

Security: the token, the Host and Origin headers, paths that try to leave
the photo folder (no file outside it is opened: an audit hook records every
open), a 50 MB body, malformed requests (a 4xx, one log line, no traceback).
Function: previews, saves that ``kcolor colorize --hints`` reproduces byte
for byte, points loaded back from the hints file.
"""

import http.client
import json
import os
import socket
import sys
import time

import numpy as np
import pytest
from PIL import Image

SECRET = "TOPSECRET-do-not-serve"
_OPENED = []  # paths opened while _RECORD[0] (sys.addaudithook: every open())
_RECORD = [False]


def _audit(event, args):
    if _RECORD[0] and event == "open" and args and isinstance(args[0], (str, bytes)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


def tiny_hint_model(seed=0):
    """An untrained hint-aware model around a small Lite0 U-Net (decoder 16,
    16, 16; refiner 8 channels): automatic ab 0 (zero-initialised head),
    hinted colour spread by the propagation."""
    import keras

    from kcolor import models
    from kcolor.hints import model as hm

    keras.utils.set_random_seed(seed)
    base = models.build("unet_lite0", "regression", decoder=(16, 16, 16))
    return hm.build_hint_colorizer(base, channels=8)


def photo_rgb(h, w, seed=0):
    """A smooth, mostly mid-gray photo (L about 45-70: hint colours stay in gamut)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 110 + 50 * np.sin(xx / w * 3.0) * np.cos(yy / h * 2.0)
    rng = np.random.default_rng(seed)
    tint = rng.uniform(-12, 12, 3)
    return np.clip(base[..., None] + tint, 0, 255).astype(np.uint8)


def make_photos(root):
    """root/photos: a.jpg (300 x 400), b.png (RGBA), sub/c.jpg, clip.mp4 (not a
    photo), link.jpg -> ../secret.jpg (out of the folder); root/secret.txt and
    root/secret.jpg beside the folder."""
    photos = root / "photos"
    (photos / "sub").mkdir(parents=True)
    Image.fromarray(photo_rgb(300, 400)).save(photos / "a.jpg", quality=95)
    rgba = np.concatenate([photo_rgb(120, 160, 1), np.full((120, 160, 1), 200, np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(photos / "b.png")
    Image.fromarray(photo_rgb(96, 128, 2)).save(photos / "sub" / "c.jpg")
    (photos / "clip.mp4").write_bytes(b"not a clip")
    (root / "secret.txt").write_text(SECRET)
    Image.fromarray(photo_rgb(64, 64, 3)).save(root / "secret.jpg")
    os.symlink(root / "secret.jpg", photos / "link.jpg")
    return photos


@pytest.fixture(scope="module")
def edit(tmp_path_factory):
    """(server, session, root): a warmed-up session on root/photos saving to root/out."""
    from kcolor.edit import server as server_lib
    from kcolor.edit import session as session_lib

    root = tmp_path_factory.mktemp("edit")
    photos = make_photos(root)
    out = root / "out"
    items = session_lib.find_photos([str(photos)], str(out))
    session = session_lib.Session(items, str(out), tiny_hint_model(), size=256)
    session.warm_up()
    server = server_lib.start(session)
    yield server, session, root
    server.shutdown()
    server.server_close()


def request(server, method, path, body=None, headers=None, token=True, host=None):
    """(status, headers, body bytes) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    if token is True:
        path += ("&" if "?" in path else "?") + "token=" + server.token
    elif token:
        path += ("&" if "?" in path else "?") + "token=" + token
    hdrs = {"Host": host or f"127.0.0.1:{server.port}"}
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in hdrs.items():
        conn.putheader(k, v)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r, data


def raw(server, data, read_timeout=10):
    """The bytes the server answers to ``data`` sent on a raw socket."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=read_timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except (ConnectionResetError, socket.timeout):
            pass
    return b"".join(chunks)


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_photos_are_found_as_colorize_finds_them_and_links_out_are_left_out(edit):
    _, session, root = edit
    assert [i.rel for i in session.items] == ["a.jpg", "b.png", os.path.join("sub", "c.jpg")]
    assert [os.path.relpath(i.dst, root) for i in session.items] == [
        os.path.join("out", "a.jpg"), os.path.join("out", "b.png"),
        os.path.join("out", "sub", "c.jpg")]
    assert session.items[0].hints == str(root / "out" / "a.json")


def test_every_request_needs_the_token(edit):
    server, _, _ = edit
    assert request(server, "GET", "/", token=None)[0] == 403
    assert request(server, "GET", "/api/state", token="wrong")[0] == 403
    assert request(server, "GET", "/api/state", token="")[0] == 403
    status, r, body = request(server, "GET", "/api/state", token=None,
                              headers={"Cookie": f"{server.cookie_name}=nope"})
    assert status == 403 and body.decode().count("\n") == 1
    assert request(server, "POST", "/api/preview", {"index": 0, "points": []}, token=None)[0] == 403
    # The URL's token: 200 and the cookie (HttpOnly, SameSite=Strict) ...
    status, r, body = request(server, "GET", "/")
    assert status == 200 and b"kcolor edit" in body
    cookie = r.getheader("Set-Cookie")
    assert cookie.startswith(f"{server.cookie_name}={server.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "frame-ancestors 'none'" in r.getheader("Content-Security-Policy")
    # ... which then stands for the token.
    status, _, body = request(server, "GET", "/api/state", token=None,
                              headers={"Cookie": f"{server.cookie_name}={server.token}"})
    assert status == 200 and json.loads(body)["photos"][0]["name"] == "a.jpg"


def test_other_hosts_and_origins_are_refused(edit):
    server, _, _ = edit
    for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1", "127.0.0.1:1",
                 f"localhost.evil.example:{server.port}"):
        status, _, body = request(server, "GET", "/api/state", host=host)
        assert status in (403, 421), host
        assert SECRET.encode() not in body
    assert request(server, "GET", "/api/state", host=f"localhost:{server.port}")[0] == 200
    assert request(server, "GET", "/api/state", host=f"LOCALHOST:{server.port}")[0] == 200
    status, _, _ = request(server, "POST", "/api/preview", {"index": 0, "points": []},
                           headers={"Origin": "http://evil.example"})
    assert status == 403
    # No Host header at all (HTTP/1.0 style).
    reply = raw(server, f"GET /api/state?token={server.token} HTTP/1.0\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 403")


def test_paths_never_reach_files_outside(edit):
    server, session, root = edit
    tricks = ["/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
              "/api/gray/..%2f..%2fsecret.txt", "/api/photo/../../secret.txt",
              "/api/gray/0/../../../secret.jpg", "/edit.js/../../secret.txt",
              "/photos/../secret.txt", "//etc/passwd", "/api/photo/-1", "/api/photo/3",
              "/api/photo/99999", "/api/gray/4", f"/{root}/secret.txt",
              "/api/photo/%30", "/api/state/../../secret.txt", "/./secret.txt",
              "/api/gray/0?max_side=../../secret.txt"]
    _OPENED.clear()
    _RECORD[0] = True
    try:
        for path in tricks:
            status, _, body = request(server, "GET", path)
            assert status in (400, 403, 404, 405), (path, status)
            assert SECRET.encode() not in body and b"Traceback" not in body
            assert body.decode().count("\n") == 1, path
        for path in tricks[:4]:  # the raw bytes, not normalised by any client
            reply = raw(server, f"GET {path}?token={server.token} HTTP/1.1\r\n"
                                f"Host: 127.0.0.1:{server.port}\r\n\r\n".encode())
            assert reply.split(b" ", 2)[1] in (b"400", b"404"), reply[:60]
            assert SECRET.encode() not in reply
    finally:
        _RECORD[0] = False
    outside = [p for p in _OPENED if str(root) in os.path.realpath(p) and not (
        os.path.realpath(p).startswith(str(root / "photos")) or
        os.path.realpath(p).startswith(str(root / "out")))]
    assert outside == []
    assert all(i.src != str(root / "photos" / "link.jpg") for i in session.items)


def test_a_50_mb_body_is_refused_unread_and_the_server_goes_on(edit):
    server, _, root = edit
    before = listing(root / "out")
    head = (f"POST /api/preview?token={server.token} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {50 << 20}\r\n\r\n").encode()
    t0 = time.perf_counter()
    reply, sent = b"", 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(head)
        chunk = b"[" * (1 << 20)
        try:
            while sent < 50 << 20:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        try:
            reply = s.recv(4096)
        except (ConnectionResetError, socket.timeout, OSError):
            reply = b""
    assert reply == b"" or reply.startswith(b"HTTP/1.1 413"), reply[:80]
    assert time.perf_counter() - t0 < 30
    # With Expect: 100-continue, the 413 comes before any of the body.
    reply = raw(server, head.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n"))
    assert reply.startswith(b"HTTP/1.1 413")
    assert request(server, "GET", "/api/state")[0] == 200
    assert listing(root / "out") == before


def test_malformed_requests_get_a_4xx_one_log_line_and_no_traceback(edit, capsys):
    server, session, root = edit
    before = listing(root / "out")
    capsys.readouterr()
    cases = [
        (request(server, "POST", "/api/preview", b"{not json",
                 {"Content-Type": "application/json"}), 400),
        (request(server, "POST", "/api/preview", b"\xff\xfe", {"Content-Type": "application/json"}),
         400),
        (request(server, "POST", "/api/preview", b'{"index": 0, "points": []}',
                 {"Content-Type": "text/plain"}), 415),
        (request(server, "POST", "/api/preview", [1, 2]), 400),
        (request(server, "POST", "/api/preview", {"index": "0", "points": []}), 404),
        (request(server, "POST", "/api/preview", {"index": 0, "points": "x"}), 400),
        (request(server, "POST", "/api/preview", {"index": 0, "points": [{"x": 999, "y": 1,
                                                                          "color": "#fff"}]}), 400),
        (request(server, "POST", "/api/preview", {"index": 0, "points": [{"x": 1, "y": 1,
                                                                          "color": "red"}]}), 400),
        (request(server, "POST", "/api/save", {"index": 0, "points": [], "saturation": "x"}), 400),
        (request(server, "POST", "/api/preview", {"index": 0, "points": [], "max_side": 1.5}), 400),
        (request(server, "GET", "/api/preview"), 405),
        (request(server, "PUT", "/api/save", {"index": 0}), 405),
        (request(server, "GET", "/api/gray/0?max_side=big"), 400),
    ]
    for (status, r, body), want in cases:
        assert status == want, (status, want, body)
        text = body.decode()
        assert text.count("\n") == 1 and text.startswith(str(want)), text
        assert "Traceback" not in text and "File \"" not in text
    for junk in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.x\r\n\r\n", b"\x16\x03\x01\x02\x00\r\n\r\n",
                 b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"):
        reply = raw(server, junk)
        # (the over-long line: the unread rest may reset the connection first)
        assert reply[9:10] == b"4" or (len(junk) > 65536 and reply == b""), reply[:60]
        assert b"Traceback" not in reply
    # An error inside a handler: 500, one line, no traceback.
    real = session.preview
    session.preview = lambda *a, **k: 1 / 0
    try:
        status, _, body = request(server, "POST", "/api/preview", {"index": 0, "points": []})
    finally:
        session.preview = real
    assert status == 500 and body.decode().count("\n") == 1 and b"Traceback" not in body
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("kcolor edit:")]
    assert len(lines) == len(cases) + 4 + 2  # the 500: its error line and its response line
    assert request(server, "GET", "/api/state")[0] == 200
    assert listing(root / "out") == before


def test_preview_returns_an_image_of_the_photo_with_the_hint(edit):
    server, session, _ = edit
    import io

    from kcolor import color

    status, r, body = request(server, "POST", "/api/preview",
                              {"index": 0, "points": [{"x": 100, "y": 150, "color": "#3f6fb5",
                                                       "size": 30}], "max_side": 200})
    assert status == 200 and r.getheader("Content-Type") == "image/jpeg"
    assert float(r.getheader("X-Kcolor-Ms")) > 0
    im = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
    assert im.shape == (150, 200, 3)
    lab = color.rgb_to_lab(im[70:80, 45:55].astype(np.float32) / 255, np)
    want = color.rgb_to_lab(np.array([0x3f, 0x6f, 0xb5], np.float32) / 255, np)
    assert np.abs(lab[..., 1:].mean((0, 1)) - want[1:]).max() < 8
    # No points: the automatic colour (this untrained model's: gray).
    status, _, body = request(server, "POST", "/api/preview", {"index": 0, "points": []})
    auto = np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).astype(int)
    assert status == 200 and auto.shape == (300, 400, 3)
    assert np.abs(auto.max(-1) - auto.min(-1)).mean() < 3
    # The gray image and the page's script.
    status, r, body = request(server, "GET", "/api/gray/1?max_side=80")
    assert status == 200 and Image.open(io.BytesIO(body)).size == (80, 60)
    status, r, body = request(server, "GET", "/edit.js")
    assert status == 200 and b"editState" in body


def test_save_writes_what_kcolor_colorize_hints_writes(edit, monkeypatch, tmp_path):
    server, session, root = edit
    from kcolor import colorize, colorize_files
    from kcolor.hints import points

    pts = {0: [{"x": 100, "y": 150, "color": "#3f6fb5"}, {"x": 320.5, "y": 40, "color": "#b5555a",
                                                         "size": 24}],
           1: [{"x": 10, "y": 100, "ab": [20.0, -30.5]}]}
    for index, p in pts.items():
        status, _, body = request(server, "POST", "/api/save", {"index": index, "points": p})
        assert status == 200, body
        saved = json.loads(body)
        item = session.items[index]
        assert saved["output"] == item.dst and saved["hints_file"] == item.hints
        assert json.loads(open(item.hints).read()) == {"points": p}
        assert "--hints=" in saved["command"]
    assert sorted(os.listdir(root / "out")) == ["a.jpg", "a.json", "b.json", "b.png"]

    # kcolor colorize --hints on each saved hints file, with the session's model.
    monkeypatch.setattr(colorize, "Colorizer", lambda *a, **k: session.colorizer)
    for index in pts:
        item = session.items[index]
        again = tmp_path / f"again{index}"
        done = colorize_files.run([item.src], str(again), model="same", size=256,
                                  hints=item.hints, progress=False)
        assert tuple(done) == (1, 0)
        redone = again / os.path.basename(item.dst)
        assert redone.read_bytes() == open(item.dst, "rb").read()
        a, b = Image.open(item.dst), Image.open(redone)
        assert a.size == Image.open(item.src).size and a.mode == b.mode
        assert np.array_equal(np.asarray(a), np.asarray(b))
    # The PNG keeps its alpha; its pixels are Colorizer.colorize's exactly.
    rgba = np.asarray(Image.open(session.items[1].dst))
    assert rgba.shape == (120, 160, 4) and (rgba[..., 3] == 200).all()
    rgb, _ = colorize.read_photo(session.items[1].src)
    want = session.colorizer.colorize([rgb], hints=[points.load(session.items[1].hints, 160,
                                                                120)])[0]
    assert np.array_equal(rgba[..., :3], want)


def test_reopening_a_photo_loads_its_saved_points(edit):
    server, session, root = edit
    from kcolor.edit import session as session_lib

    p = [{"x": 5, "y": 6, "color": "#7fa447"}, {"x": 50.25, "y": 60, "color": "#abc", "size": 3}]
    assert request(server, "POST", "/api/save", {"index": 2, "points": p})[0] == 200
    status, _, body = request(server, "GET", "/api/photo/2")
    meta = json.loads(body)
    assert status == 200 and meta["points"] == p and meta["saved"] and meta["hints_error"] is None
    assert (meta["width"], meta["height"]) == (128, 96)
    # A new session on the same output folder (kcolor edit run again).
    items = session_lib.find_photos([str(root / "photos")], str(root / "out"))
    again = session_lib.Session(items, str(root / "out"), session.model, size=256)
    assert again.meta(2)["points"] == p
    # A bad hints file: reported, no points, no crash.
    with open(session.items[2].hints, "w") as f:
        f.write("{oops")
    meta = again.meta(2)
    assert meta["points"] == [] and "not JSON" in meta["hints_error"]
    # A hints file that is a link out of the output folder is not read.
    os.remove(session.items[2].hints)
    os.symlink(root / "secret.txt", session.items[2].hints)
    meta = again.meta(2)
    assert meta["points"] == [] and "not read" in meta["hints_error"]
    os.remove(session.items[2].hints)


def test_a_model_without_hints_and_clashing_outputs_are_refused(tmp_path):
    from kcolor import models
    from kcolor.edit import session as session_lib

    Image.fromarray(photo_rgb(64, 64)).save(tmp_path / "p.png")
    items = session_lib.find_photos([str(tmp_path / "p.png")], str(tmp_path / "out"))
    plain = models.build("unet_lite0", "regression", decoder=(16,))
    with pytest.raises(ValueError, match="takes no hint points"):
        session_lib.Session(items, str(tmp_path / "out"), plain, size=64)
    with pytest.raises(ValueError, match="would overwrite it"):
        session_lib.find_photos([str(tmp_path / "p.png")], str(tmp_path))
    (tmp_path / "d").mkdir()
    Image.fromarray(photo_rgb(64, 64)).save(tmp_path / "d" / "p.png")
    with pytest.raises(ValueError, match="both be saved"):
        session_lib.find_photos([str(tmp_path / "p.png"), str(tmp_path / "d" / "p.png")], "o")
    with pytest.raises(ValueError, match="no such photo"):
        session_lib.find_photos([str(tmp_path / "missing.jpg")], "o")


def test_kcolor_edit_without_the_hint_preset_says_so_in_one_line(tmp_path):
    import subprocess

    from kcolor import presets

    if "lite_hints" in presets.names():
        pytest.skip("the lite_hints preset is installed")
    Image.fromarray(photo_rgb(64, 64)).save(tmp_path / "p.png")
    proc = subprocess.run([sys.executable, "-m", "kcolor", "edit", str(tmp_path / "p.png")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("kcolor edit: the hint-aware preset lite_hints is not "
                                   "installed yet; give a hint-aware model with --model (a "
                                   ".keras file or a preset .json)")
