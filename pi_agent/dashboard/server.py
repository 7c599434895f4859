"""The dashboard's web server: the login, the page, its data and a live stream.

Every page and data endpoint needs a session: without one, pages redirect to the login
and data answers 401. The page is read-only; commands stay with the MQTT tools that the
broker's ACL governs.
"""

from __future__ import annotations

import http.cookies
import json
import logging
import ssl
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

import paho.mqtt.client as paho

from pi_agent.dashboard.auth import Sessions, check_password
from pi_agent.dashboard.fleet import Fleet

log = logging.getLogger("pi_agent.dashboard")

COOKIE = "openpalm_session"
STATIC = {"/static/app.js": ("app.js", "text/javascript"), "/static/style.css": ("style.css", "text/css")}
PUSH_EVERY_S = 0.2          # at most five updates a second to each browser


def _static(name: str) -> bytes:
    return resources.files("pi_agent.dashboard").joinpath("static", name).read_bytes()


class Dashboard:
    def __init__(self, fleet: Fleet, password_hash: str, session_hours: float) -> None:
        self.fleet = fleet
        self.password_hash = password_hash
        self.sessions = Sessions(session_hours)
        self.stopping = threading.Event()

    def handler(self):
        dashboard = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "OpenPalm"
            sys_version = ""

            def log_message(self, fmt, *args):
                log.debug("%s %s", self.address_string(), fmt % args)

            # -- helpers -----------------------------------------------------------------
            def _token(self) -> str | None:
                cookie = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
                return cookie[COOKIE].value if COOKIE in cookie else None

            def _authorised(self) -> bool:
                return dashboard.sessions.valid(self._token())

            def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self._security_headers()
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _security_headers(self) -> None:
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Frame-Options", "DENY")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                                            "style-src 'self' 'unsafe-inline'")

            def _redirect(self, where: str, headers: dict | None = None) -> None:
                self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": where, **(headers or {})})

            def _unauthorised(self) -> None:
                if self.path.startswith(("/api/", "/events", "/static/")):
                    self._send(HTTPStatus.UNAUTHORIZED, b'{"error": "log in first"}', "application/json")
                else:
                    self._redirect("/login")

            # -- routes --------------------------------------------------------------------
            def do_GET(self):
                path = urllib.parse.urlsplit(self.path).path
                if path == "/login":
                    page = _static("login.html")
                    if "failed=1" in self.path:
                        page = page.replace(b'class="failed"', b'class="failed shown"')
                    self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
                elif path == "/healthz":
                    self._send(HTTPStatus.OK, b"ok", "text/plain")
                elif not self._authorised():
                    self._unauthorised()
                elif path == "/":
                    self._send(HTTPStatus.OK, _static("index.html"), "text/html; charset=utf-8")
                elif path in STATIC:
                    name, ctype = STATIC[path]
                    self._send(HTTPStatus.OK, _static(name), ctype)
                elif path == "/api/fleet":
                    self._send(HTTPStatus.OK, json.dumps(dashboard.fleet.snapshot()).encode(), "application/json")
                elif path == "/events":
                    self._stream()
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

            do_HEAD = do_GET

            def do_POST(self):
                path = urllib.parse.urlsplit(self.path).path
                length = min(int(self.headers.get("Content-Length") or 0), 4096)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
                if path == "/login":
                    password = (form.get("password") or [""])[0]
                    if dashboard.password_hash and check_password(password, dashboard.password_hash):
                        token = dashboard.sessions.new()
                        cookie = (f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; "
                                  f"Max-Age={int(dashboard.sessions.lifetime)}")
                        self._redirect("/", {"Set-Cookie": cookie})
                    else:
                        time.sleep(1.0)            # slow down guessing
                        self._redirect("/login?failed=1")
                elif path == "/logout":
                    dashboard.sessions.end(self._token())
                    self._redirect("/login", {"Set-Cookie": f"{COOKIE}=; Max-Age=0; Path=/"})
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

            def _stream(self) -> None:
                """Server-sent events: the fleet whenever it changes (at most 5 a second)."""
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "text/event-stream")
                self._security_headers()
                self.end_headers()
                version = -1
                token = self._token()
                try:
                    while not dashboard.stopping.is_set() and dashboard.sessions.valid(token):
                        new = dashboard.fleet.wait(version, 15.0)
                        if new == version:
                            self.wfile.write(b": keep-alive\n\n")
                        else:
                            version = new
                            data = json.dumps(dashboard.fleet.snapshot())
                            self.wfile.write(f"data: {data}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(PUSH_EVERY_S)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    return

        return Handler


def subscribe(fleet: Fleet, cfg, broker: str, password: str | None):
    """An MQTT client feeding the fleet from ``openpalm/+/...``."""
    from pi_agent.mqtt import parse_broker
    scheme, host, port = parse_broker(broker)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"openpalm-dashboard-{int(time.time())}",
                         protocol=paho.MQTTv5 if cfg.mqtt.protocol == "5" else paho.MQTTv311)
    if cfg.mqtt.username or password:
        client.username_pw_set(cfg.mqtt.username or "dashboard", password)
    if scheme == "mqtts":
        def path(name):
            return str(cfg.path.parent / name) if name and cfg.path is not None else (name or None)
        client.tls_set(ca_certs=path(cfg.mqtt.ca_file), certfile=path(cfg.mqtt.cert_file),
                       keyfile=path(cfg.mqtt.key_file), cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(1, int(cfg.mqtt.reconnect_max_s))

    def on_connect(c, userdata, flags, reason_code, properties=None):
        try:
            if reason_code.is_failure:
                log.error("the broker refused the dashboard: %s", reason_code)
                return
            log.info("dashboard connected to the broker at %s:%d", host, port)
            c.subscribe([("openpalm/+/status", 1), ("openpalm/+/state", 1), ("openpalm/+/load", 0),
                         ("openpalm/+/day/+", 1), ("openpalm/+/event", 1)])
        except Exception:
            log.exception("error in the dashboard's connect callback")

    def on_message(c, userdata, msg):
        try:
            fleet.receive(msg.topic, bytes(msg.payload))
        except Exception:
            log.exception("error in the dashboard's message callback")

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect_async(host, port, keepalive=cfg.mqtt.keepalive_s)
    client.loop_start()
    return client


def serve(fleet: Fleet, password_hash: str, session_hours: float, host: str, port: int):
    dashboard = Dashboard(fleet, password_hash, session_hours)
    server = ThreadingHTTPServer((host, port), dashboard.handler())
    server.daemon_threads = True
    return dashboard, server
