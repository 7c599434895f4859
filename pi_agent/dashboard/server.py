"""The dashboard's web server: the login, the page, its data and a live stream.

Every page and data endpoint needs a session: without one, pages redirect to the login
and data answers 401. Only the login page, the icons and the app manifest are public
(a phone fetches them to put the dashboard on its home screen). The page sends one kind
of command, and only that: starting and stopping a device's exercise session
(``POST /api/command``, JSON, from the page itself: ``ask``); every other command stays
with the MQTT tools that the broker's ACL governs, and the ACL lets the dashboard's user
publish those two requests and nothing else.

What a login storm can cost is bounded: password checks go through ``LoginGate``, the
server holds at most ``MAX_CONNECTIONS`` connections (each is a thread), at most
``MAX_PER_CLIENT`` of them from one address, and a request (its line, headers and body)
must have arrived within ``REQUEST_DEADLINE_S`` of its connection, however it trickles in:
then it is answered 408 and closed. So slow clients from one address cannot hold every slot.
"""

from __future__ import annotations

import codecs
import http.cookies
import json
import logging
import socket
import ssl
import threading
import time
import urllib.parse
from html import escape
from http import HTTPStatus
from importlib import resources

from pi_agent.core import jsontext
from pi_agent.dashboard.auth import LoginGate, Sessions
from pi_agent.dashboard.connections import DeadlineHandler, Server
from pi_agent.dashboard.fleet import Fleet, Refused

log = logging.getLogger("pi_agent.dashboard")

COOKIE = "openpalm_session"
PRIVATE = {"/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
           "/static/style.css": ("style.css", "text/css; charset=utf-8")}
PUBLIC = {"/favicon.ico": ("icon-192.png", "image/png"),
          "/static/icon.svg": ("icon.svg", "image/svg+xml"),
          "/static/icon-192.png": ("icon-192.png", "image/png"),
          "/static/icon-512.png": ("icon-512.png", "image/png"),
          "/manifest.webmanifest": ("manifest.webmanifest", "application/manifest+json")}
PUSH_EVERY_S = 0.2          # at most five updates a second to each browser
TICK_S = 5.0                # and at least one every five seconds: the page knows the link lives
MAX_FORM = 4096
NOTICE = b'<p id="notice" class="notice" hidden></p>'


def _static(name: str) -> bytes:
    return resources.files("pi_agent.dashboard").joinpath("static", name).read_bytes()


class Dashboard:
    def __init__(self, fleet: Fleet, password_hash: str, session_hours: float, gate: LoginGate | None = None,
                 send=None) -> None:
        self.fleet = fleet
        self.send = send            # (device, command, transaction) -> queued (pi_agent.dashboard.link.sender)
        self.password_hash = password_hash
        self.sessions = Sessions(session_hours)
        self.gate = gate or LoginGate()
        self.stopping = threading.Event()

    def handler(self):
        dashboard = self

        class Handler(DeadlineHandler):
            server_version = "OpenPalm"
            sys_version = ""
            protocol_version = "HTTP/1.0"

            def log_message(self, fmt, *args):
                log.debug("%s %s", self.address_string(), fmt % args)

            # -- helpers -----------------------------------------------------------------
            def _token(self) -> str | None:
                try:
                    cookie = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
                except http.cookies.CookieError:
                    return None
                return cookie[COOKIE].value if COOKIE in cookie else None

            def _authorised(self) -> bool:
                return dashboard.sessions.valid(self._token())

            def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None,
                      cache: bool = False) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self._security_headers(cache)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _security_headers(self, cache: bool = False) -> None:
                self.send_header("Cache-Control", "max-age=86400" if cache else "no-store")
                self.send_header("X-Frame-Options", "DENY")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                                            "style-src 'self' 'unsafe-inline'; base-uri 'none'; "
                                                            "form-action 'self'; frame-ancestors 'none'")

            def _redirect(self, where: str, headers: dict | None = None) -> None:
                self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": where, **(headers or {})})

            def _unauthorised(self) -> None:
                if self.path.startswith(("/api/", "/events", "/static/")):
                    self._send(HTTPStatus.UNAUTHORIZED, b'{"error": "log in first"}', "application/json")
                else:
                    self._redirect("/login")

            def _login_page(self, status: int, notice: str | None = None, headers: dict | None = None) -> None:
                page = _static("login.html")
                if notice:
                    page = page.replace(NOTICE, f'<p id="notice" class="notice" role="alert">{escape(notice)}</p>'
                                        .encode())
                self._send(status, page, "text/html; charset=utf-8", headers)

            # -- routes --------------------------------------------------------------------
            def do_GET(self):
                self._answering(self._get)

            def do_HEAD(self):
                self._answering(self._get)

            def do_POST(self):
                self._answering(self._post)

            def _answering(self, route) -> None:
                """Every request an answer: a bug in a route is a 500 with a one-line JSON error
                (unless the answer had begun) and one log record with its traceback."""
                try:
                    route()
                except (ConnectionError, TimeoutError, ssl.SSLError):
                    raise                               # the client went away: handle_error's
                except Exception:
                    log.exception("dashboard: error answering %s %r from %s", self.command,
                                  urllib.parse.urlsplit(self.path).path, self.client_address[0])
                    self.close_connection = True
                    if not self.begun:
                        self._send(HTTPStatus.INTERNAL_SERVER_ERROR,
                                   _json({"error": "the dashboard failed to answer; its log says why"}),
                                   "application/json")

            def _get(self):
                path = urllib.parse.urlsplit(self.path).path
                if path == "/login":
                    failed = "failed=1" in urllib.parse.urlsplit(self.path).query
                    self._login_page(HTTPStatus.OK, "⚠ That password did not work. Please try again."
                                     if failed else None)
                elif path == "/healthz":
                    self._send(HTTPStatus.OK, b"ok", "text/plain")
                elif path in PUBLIC:
                    name, ctype = PUBLIC[path]
                    self._send(HTTPStatus.OK, _static(name), ctype, cache=True)
                elif not self._authorised():
                    self._unauthorised()
                elif path == "/":
                    self._send(HTTPStatus.OK, _static("index.html"), "text/html; charset=utf-8")
                elif path in PRIVATE:
                    name, ctype = PRIVATE[path]
                    self._send(HTTPStatus.OK, _static(name), ctype)
                elif path == "/api/fleet":
                    self._send(HTTPStatus.OK, _json(dashboard.fleet.snapshot()), "application/json")
                elif path == "/api/report":
                    from pi_agent.dashboard.report import download
                    self._send(*download(dashboard.fleet, urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)))
                elif path == "/events":
                    self._stream()
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

            def _post(self):
                path = urllib.parse.urlsplit(self.path).path
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if not 0 <= length <= MAX_FORM:
                    self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"too large", "text/plain")
                    return
                body = self.rfile.read(length)
                if path == "/api/command":
                    self._command(body)
                    return
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                if path == "/login":
                    self._login((form.get("password") or [""])[0])
                elif path == "/logout":
                    dashboard.sessions.end(self._token())
                    self._redirect("/login", {"Set-Cookie": f"{COOKIE}=; Max-Age=0; Path=/"})
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

            def _command(self, body: bytes) -> None:
                """The page asks a device to start or stop an exercise session: JSON
                {"device", "command"}. Only from the page itself: a session cookie (SameSite
                Strict), a JSON body (a cross-site form cannot send one without the browser
                asking first) and, when the browser says where it comes from, this host."""
                def answer(status: int, value: dict) -> None:
                    self._send(status, _json(value), "application/json")
                if not self._authorised():
                    self._unauthorised()
                    return
                origin = self.headers.get("Origin")
                if origin is not None and urllib.parse.urlsplit(origin).netloc != self.headers.get("Host"):
                    answer(HTTPStatus.FORBIDDEN, {"error": "a request from another site"})
                    return
                if self.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
                    answer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "expected a JSON body"})
                    return
                try:
                    if body.startswith(codecs.BOM_UTF8):
                        raise UnicodeDecodeError("utf-8", body, 0, 3, "a byte order mark")
                    asked = jsontext.loads(body, parse_constant=jsontext.no_constant,     # NaN, 1e999: no numbers
                                           parse_float=jsontext.finite_float)
                    device, command = asked["device"], asked["command"]
                except jsontext.TooDeep:
                    answer(HTTPStatus.BAD_REQUEST, {"error": "the JSON body is nested too deeply"})
                    return
                except UnicodeDecodeError:
                    answer(HTTPStatus.BAD_REQUEST, {"error": "expected a JSON body in UTF-8 (without a byte order mark)"})
                    return
                except (ValueError, TypeError, KeyError):
                    answer(HTTPStatus.BAD_REQUEST, {"error": 'expected {"device": ..., "command": ...}'})
                    return
                if dashboard.send is None:
                    answer(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "this dashboard sends no requests"})
                    return
                try:
                    transaction = dashboard.fleet.ask(device, command)
                except Refused as exc:
                    answer(HTTPStatus(exc.status), {"error": str(exc)})
                    return
                if not dashboard.send(device, command, transaction):
                    answer(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the dashboard could not send it: no broker"})
                    return
                log.info("asked %s: %s (%s)", device, command, transaction)
                answer(HTTPStatus.ACCEPTED, {"transaction": transaction})

            def _login(self, password: str) -> None:
                verdict = dashboard.gate.attempt(self.client_address[0], password, dashboard.password_hash)
                if verdict.outcome == "ok":
                    token = dashboard.sessions.new()
                    cookie = (f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; "
                              f"Max-Age={int(dashboard.sessions.lifetime)}")
                    self._redirect("/", {"Set-Cookie": cookie})
                elif verdict.outcome == "wrong":
                    self._redirect("/login?failed=1")
                elif verdict.outcome == "wait":
                    wait = max(1, round(verdict.retry_s + 0.49))
                    self._login_page(HTTPStatus.TOO_MANY_REQUESTS,
                                     f"⚠ Too many tries. Please wait {wait} s, then try again.",
                                     {"Retry-After": str(wait)})
                else:
                    self._login_page(HTTPStatus.SERVICE_UNAVAILABLE,
                                     "⚠ The dashboard is busy. Please try again in a few seconds.",
                                     {"Retry-After": str(round(verdict.retry_s))})

            def _stream(self) -> None:
                """Server-sent events: the fleet whenever it changes (at most 5 a second) and at
                least every TICK_S (ages and conditions move on with time alone)."""
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "text/event-stream")
                self._security_headers()
                self.end_headers()
                version, sent_at = -1, float("-inf")
                token = self._token()
                try:
                    while not dashboard.stopping.is_set() and dashboard.sessions.valid(token):
                        new = dashboard.fleet.wait(version, TICK_S)
                        if new != version or time.monotonic() - sent_at >= TICK_S:
                            version, sent_at = new, time.monotonic()
                            self.wfile.write(b"data: " + _json(dashboard.fleet.snapshot()) + b"\n\n")
                            self.wfile.flush()
                        time.sleep(PUSH_EVERY_S)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
                    return

        return Handler


def _json(value) -> bytes:
    # Everything in the fleet passed the schema: numbers are finite, so this never fails.
    return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()


def serve(fleet: Fleet, password_hash: str, session_hours: float, host: str, port: int, send=None):
    dashboard = Dashboard(fleet, password_hash, session_hours, send=send)
    server = Server((host, port), dashboard.handler())
    return dashboard, server
