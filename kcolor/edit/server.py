"""The local web server of ``kcolor edit`` (standard library ``http.server``).

Any web page the user visits can send requests to localhost, so:

* it listens on 127.0.0.1 unless ``--host`` says otherwise;
* every request carries the token, in the query (``?token=``, the URL it
  prints) or in the cookie the first such request sets (HttpOnly,
  SameSite=Strict, so other sites' requests never carry it); otherwise 403;
* the Host header must be ``127.0.0.1:PORT``, ``localhost:PORT`` or
  ``HOST:PORT`` (DNS rebinding), and an Origin header, when sent, the same
  origin; otherwise 403;
* POST bodies are JSON (``Content-Type: application/json``), at most 1 MB
  (413 otherwise, the body left unread and the connection closed);
* the routes are fixed and photos are addressed by index: no part of a
  request becomes a path, so ``..``, ``%2e%2e`` or links lead nowhere; saves
  go to the photo's output path, checked to lie in the output folder;
* a bad request gets a 4xx with a one-line plain-text body and one log line
  on stderr; an error inside a handler gets a 500 with a one-line body, never
  a traceback.

Routes: ``GET /`` (the page), ``/edit.js``, ``/edit.css``, ``/api/state``,
``/api/photo/N`` (size, saved points), ``/api/gray/N?max_side=S`` (JPEG);
``POST /api/preview`` and ``/api/save`` with ``{"index": N, "points":
[...], "saturation": s}`` (points as in the hints file): a JPEG, and JSON.
"""

import hmac
import http.cookies
import json
import re
import secrets
import socket
import sys
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from kcolor.edit import page
from kcolor.edit import session as session_lib

MAX_BODY = 1 << 20  # 1 MB: a thousand points take about 60 KB
DEFAULT_MODEL = "lite_hints"
_PHOTO = re.compile(r"/api/(photo|gray)/([0-9]{1,6})\Z")
_SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "
     "img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
     "frame-ancestors 'none'"),
]


class EditServer(ThreadingHTTPServer):
    """A ``Session`` behind HTTP on ``host``:``port`` (0: a free port)."""

    daemon_threads = True
    request_queue_size = 16

    def __init__(self, session, host="127.0.0.1", port=0, token=None):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), Handler)
        self.session = session
        self.token = token or secrets.token_urlsafe(24)
        self.port = self.server_address[1]
        name = f"[{host}]" if ":" in host else host
        self.shown_host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else name
        names = {"127.0.0.1", "localhost", name.lower()}
        self.allowed_hosts = {f"{n}:{self.port}" for n in names}
        self.allowed_origins = {f"http://{h}" for h in self.allowed_hosts}
        self.cookie_name = f"kcolor_edit_{self.port}"

    @property
    def url(self):
        return f"http://{self.shown_host}:{self.port}/?token={self.token}"

    def token_ok(self, value):
        return value is not None and hmac.compare_digest(
            value.encode("utf-8", "surrogateescape"), self.token.encode())

    def handle_error(self, request, client_address):
        """One log line (a client that went away, a broken socket), no traceback."""
        e = sys.exc_info()[1]
        session_lib.log(f"{client_address[0]}: connection error: "
                        f"{type(e).__name__}: {session_lib._one_line(e)}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kcolor-edit"
    sys_version = ""
    timeout = 60  # a client that stops sending is dropped

    # -- errors and logging -----------------------------------------------

    def log_message(self, format, *args):  # noqa: A002 (http.server's name)
        session_lib.log(f"{self.client_address[0]}: " + _printable(format % args))

    def log_request(self, code="-", size="-"):
        pass  # only errors are logged (send_error)

    def send_error(self, code, message=None, explain=None):
        """A one-line plain-text response, one log line, the connection closed."""
        short = self.responses.get(code, ("Error",))[0]
        line = f"{code} {short}" + (f": {_printable(message)}" if message else "")
        what = _printable(" ".join(filter(None, [
            self.command or "-", getattr(self, "path", "").split("?")[0][:200]])))
        if getattr(self, "request_version", None) == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # else http.server sends no status line
        self.log_message("%s -> %s", what, line)
        self.close_connection = True
        body = (line + "\n").encode()
        try:
            self.send_response_only(code, short)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            for k, v in _SECURITY_HEADERS:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass  # the client went away
        self._sent = True

    def handle_expect_100(self):
        """No ``100 Continue`` for a body over the cap: 413 at once."""
        if not self._guard() or not self._length_ok():
            return False
        return super().handle_expect_100()

    # -- dispatch ---------------------------------------------------------

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _refuse(self):
        self.send_error(405, "use GET or POST")

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    def _dispatch(self, method):
        self._sent = False
        try:
            if not self._guard():
                return
            route, _, query = self.path.partition("?")
            try:
                query = parse_qs(query, max_num_fields=20)
            except ValueError:
                raise session_lib.EditError(400, "bad query") from None
            if method == "GET":
                self._get(route, query)
            else:
                self._post(route)
        except session_lib.EditError as e:
            if not self._sent:
                self.send_error(e.status, str(e))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (a page closed)
        except Exception as e:  # noqa: BLE001 (a request never kills the server)
            session_lib.log(f"{self.client_address[0]}: {method} "
                            f"{_printable(self.path.split('?')[0][:200])}: "
                            f"internal error: {type(e).__name__}: {session_lib._one_line(e)}")
            if not self._sent:
                self.send_error(500, "internal error (see the kcolor edit log)")
            self.close_connection = True

    def _guard(self):
        """The Host and Origin headers and the token; sends 403 and returns
        False when one is wrong."""
        srv = self.server
        self._cookie = None
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or hosts[0].strip().lower() not in srv.allowed_hosts:
            self.send_error(403, "unexpected Host header")
            return False
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in srv.allowed_origins:
            self.send_error(403, "request from another origin")
            return False
        try:
            given = parse_qs(self.path.partition("?")[2], max_num_fields=20).get("token",
                                                                                [None])[0]
        except ValueError:
            given = None
        cookie = None
        try:
            jar = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
            if srv.cookie_name in jar:
                cookie = jar[srv.cookie_name].value
        except http.cookies.CookieError:
            pass
        if srv.token_ok(cookie):
            return True
        if srv.token_ok(given):
            self._cookie = (f"{srv.cookie_name}={srv.token}; Path=/; HttpOnly; "
                            "SameSite=Strict")
            return True
        self.send_error(403, "missing or wrong token: open the URL that kcolor edit printed")
        return False

    def _length_ok(self):
        if self.headers.get("Transfer-Encoding"):
            self.send_error(411, "send a Content-Length, not a chunked body")
            return False
        n = self.headers.get("Content-Length")
        if n is None or not n.strip().isdigit():
            self.send_error(411 if n is None else 400, "Content-Length needed")
            return False
        if int(n) > MAX_BODY:
            self.send_error(413, f"request body over {MAX_BODY} bytes")
            return False
        return True

    def _body(self):
        """The request's JSON object (the body read only when allowed)."""
        if not self._length_ok():
            raise _Sent()
        if self.headers.get_content_type() != "application/json":
            raise session_lib.EditError(415, "send Content-Type: application/json")
        n = int(self.headers["Content-Length"])
        data = self.rfile.read(n)
        if len(data) < n:
            self.close_connection = True
            raise session_lib.EditError(400, "request body cut short")
        try:
            obj = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise session_lib.EditError(400, "the body is not JSON") from None
        if not isinstance(obj, dict):
            raise session_lib.EditError(400, "the body must be a JSON object")
        return obj

    def _get(self, route, query):
        s = self.server.session
        if route == "/":
            return self._send(200, page.html().encode(), "text/html; charset=utf-8")
        if route == "/edit.js":
            return self._send(200, page.JS.encode(), "text/javascript; charset=utf-8")
        if route == "/edit.css":
            return self._send(200, page.CSS.encode(), "text/css; charset=utf-8")
        if route == "/api/state":
            return self._json(s.state())
        m = _PHOTO.match(route)
        if m:
            index = int(m.group(2))
            if m.group(1) == "photo":
                return self._json(s.meta(index))
            side = _int(query.get("max_side", [None])[0], "max_side")
            return self._send(200, s.gray(index, side), "image/jpeg")
        if route.startswith("/api/") and route in ("/api/preview", "/api/save"):
            raise session_lib.EditError(405, "use POST")
        raise session_lib.EditError(404, "no such page")

    def _post(self, route):
        if route not in ("/api/preview", "/api/save"):
            raise session_lib.EditError(404 if route not in ("/", "/api/state") else 405,
                                        "no such page")
        try:
            body = self._body()
        except _Sent:
            return
        s = self.server.session
        index = body.get("index")
        if route == "/api/preview":
            side = body.get("max_side")
            data, ms = s.preview(index, body.get("points"), body.get("saturation"), side)
            return self._send(200, data, "image/jpeg", [("X-Kcolor-Ms", f"{ms:.1f}")])
        return self._json(s.save(index, body.get("points"), body.get("saturation")))

    def _json(self, obj):
        self._send(200, json.dumps(obj).encode(), "application/json")

    def _send(self, code, body, content_type, headers=()):
        self.send_response_only(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in list(_SECURITY_HEADERS) + list(headers):
            self.send_header(k, v)
        if self._cookie:
            self.send_header("Set-Cookie", self._cookie)
        self.end_headers()
        self._sent = True
        self.wfile.write(body)


class _Sent(Exception):
    """The response (an error) has been sent already."""


def _int(text, name):
    if text is None:
        return None
    if not text.isdigit() or len(text) > 6:
        raise session_lib.EditError(400, f"{name} must be a whole number")
    return int(text)


def _printable(text):
    return str(text).encode("ascii", "backslashreplace").decode().replace("\n", " ")[:300]


def start(session, host="127.0.0.1", port=0, token=None):
    """An ``EditServer`` serving ``session`` in a daemon thread (tests and
    benchmarks); ``server.shutdown()`` stops it."""
    server = EditServer(session, host, port, token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(paths, output_dir="colorized", model=DEFAULT_MODEL, size=None, host="127.0.0.1",
         port=0, open_browser=False):
    """``kcolor edit``: loads the model, prints the URL (one line) and serves
    until Ctrl+C."""
    from kcolor import presets

    if not paths:
        sys.exit("usage: kcolor edit [flags] PHOTO|FOLDER ...")
    model = model or DEFAULT_MODEL
    if model == DEFAULT_MODEL and DEFAULT_MODEL not in presets.names():
        sys.exit(f"kcolor edit: the hint-aware preset {DEFAULT_MODEL} is not installed yet; "
                 "give a hint-aware model with --model (a .keras file or a preset .json)")
    try:
        items = session_lib.find_photos(paths, output_dir)
        label = None if model == DEFAULT_MODEL else model
        session = session_lib.Session(items, output_dir, model, size, model_label=label)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"kcolor edit: {session_lib._one_line(e)}")
    try:
        server = EditServer(session, host, port)
    except OSError as e:
        sys.exit(f"kcolor edit: cannot listen on {host}:{port}: {e}")
    threading.Thread(target=session.warm_up, daemon=True).start()
    n = len(items)
    print(f"{server.url}  (kcolor edit: {n} photo{'s' * (n != 1)}, saves to "
          f"{output_dir}/; Ctrl+C stops)", flush=True)
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
