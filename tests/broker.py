"""A real Mosquitto, started by the tests on a free loopback port (never a mock)."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortTaken(RuntimeError):
    pass


class Broker:
    def __init__(self, folder: Path, port: int | None = None, extra: str = "") -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.fixed_port = port is not None
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def config(self) -> str:
        return (f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                f"log_dest file {self.folder / 'mosquitto.log'}\n{self.extra}")

    def start(self) -> "Broker":
        for attempt in range(5):
            try:
                return self._start()
            except PortTaken:
                if self.fixed_port or attempt == 4:
                    raise
                self.port = free_port()     # another process took it since free_port() said free
        raise AssertionError("unreachable")

    def _start(self) -> "Broker":
        conf = self.folder / "mosquitto.conf"
        log = self.folder / "mosquitto.log"
        seen = log.stat().st_size if log.exists() else 0     # a restart appends to the same log
        # As root (CI), Mosquitto would drop to its own user, which cannot read the
        # test's private folder: keep it as the user that runs the tests.
        conf.write_text(self.config() + (f"\nuser {getpass.getuser()}\n" if os.geteuid() == 0 else ""))
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = log.read_text()[seen:] if log.exists() else ""
            if self.proc.poll() is not None:
                raise (PortTaken if "Address already in use" in text else RuntimeError)(
                    f"mosquitto exited: {text or '(no log)'}")
            if " running" in text:          # its own word that it listens (not another process on the port)
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Listener:
    """A subscriber that keeps every message with its QoS and retain flag. A test times
    the agent by the time stamps in its messages, never by when they reach a test process
    that shares the CPU; ``received=True`` adds that moment (this process's monotonic
    time), only to line the agent's clock up with this process's."""

    def __init__(self, port: int, topics=("#",), *, host="127.0.0.1", username=None, password=None,
                 tls: dict | None = None, client_id: str | None = None, clean_session: bool = True,
                 received: bool = False) -> None:
        self.messages: list[dict] = []
        self.received = received
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.refused = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{id(self)}",
                                  clean_session=clean_session)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(**tls)
        self.topics = topics
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.reconnect_delay_set(1, 2)
        self.client.connect_async(host, port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self.refused.set()
            return
        client.subscribe([(t, 1) for t in self.topics])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None):
        self.connected.set()          # only now do messages on our topics reach us

    def _on_message(self, client, userdata, msg):
        m = {"topic": msg.topic, "payload": bytes(msg.payload), "qos": msg.qos, "retain": bool(msg.retain)}
        if self.received:
            m["received"] = time.monotonic()
        with self.lock:
            self.messages.append(m)

    def on(self, suffix: str) -> list[dict]:
        with self.lock:
            return [m for m in self.messages if m["topic"].endswith(suffix)]

    def json(self, suffix: str) -> list[dict]:
        return [json.loads(m["payload"]) for m in self.on(suffix)]

    def events(self, kind: str) -> list[dict]:
        """The events of type ``kind`` heard, each once: QoS 1 is at least once (a reconnect
        sends an unacknowledged one again), and consumers de-duplicate by id."""
        unique = {}
        for e in self.json("/event"):
            if e.get("type") == kind:
                unique.setdefault(e["id"], e)
        return list(unique.values())

    def wait_for(self, predicate, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.messages)):
                    return True
            time.sleep(0.05)
        return False

    def publish(self, topic, payload, qos=1, retain=False):
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()
