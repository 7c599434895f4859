"""Slow clients against the dashboard as a real process: a request must arrive whole within
its deadline however it trickles in (the line, headers and body), and one address cannot
take every connection, so the dashboard stays available to everyone else. Raw sockets,
since a slow client is exactly what a well-behaved library will not be."""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time

from broker import Broker
from dashboard_proc import start_dashboard, stop
from pi_agent.dashboard.connections import MAX_CONNECTIONS, MAX_PER_CLIENT, REQUEST_DEADLINE_S

ATTACKERS = MAX_CONNECTIONS + 6
ENDED_BY_S = REQUEST_DEADLINE_S + 15        # the server's deadline, and room for a busy machine


class Slow:
    """A raw connection from ``source`` that says ``first`` and then trickles ``each`` every
    ``every_s`` (from a thread) until the server answers or closes; ``got``: what it answered."""

    def __init__(self, address, source: str, first: bytes, each: bytes, every_s: float) -> None:
        self.sock = socket.create_connection(address, timeout=10, source_address=(source, 0))
        self.sock.sendall(first)
        self.got, self.closed = b"", threading.Event()
        self.each, self.every_s = each, every_s

    def trickle(self, stop: threading.Event) -> None:
        while not stop.wait(self.every_s) and not self.closed.is_set():
            try:
                self.sock.sendall(self.each)
            except OSError:
                return

    def read_ready(self) -> None:
        """What the server sent, without waiting; ``closed`` once it has closed (or reset)."""
        try:
            while select.select([self.sock], [], [], 0)[0]:
                data = self.sock.recv(4096)
                if not data:
                    self.closed.set()
                    return
                self.got += data
        except OSError:
            self.closed.set()


def _wait(slows: list[Slow], until, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        for s in slows:
            if not s.closed.is_set():
                s.read_ready()
        if until():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _healthz(base: str, source: str) -> int:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    finally:
        conn.close()


def test_headers_trickled_from_one_address_hold_few_slots_and_only_until_the_deadline(tmp_path):
    """MAX_CONNECTIONS + 6 connections from one address send a request line, then a header
    line every 2 s (each well inside the old per-read timeout): all but MAX_PER_CLIENT are
    refused at once (503), /healthz from another address answers 200 meanwhile, and each one
    held is answered 408 and closed by its deadline, though it never stopped sending."""
    broker = Broker(tmp_path / "broker").start()
    proc, base = start_dashboard(tmp_path, broker.url)
    host, port = base.removeprefix("http://").split(":")
    stopping = threading.Event()
    slows: list[Slow] = []
    try:
        for _ in range(ATTACKERS):
            slows.append(Slow((host, int(port)), "127.0.0.5", b"GET /healthz HTTP/1.1\r\n", b"X-Slow: 1\r\n", 2.0))
        threads = [threading.Thread(target=s.trickle, args=(stopping,), daemon=True) for s in slows]
        for th in threads:
            th.start()

        def refused():
            return [s for s in slows if s.closed.is_set() and s.got.startswith(b"HTTP/1.1 503")]
        assert _wait(slows, lambda: len(refused()) >= ATTACKERS - MAX_PER_CLIENT, REQUEST_DEADLINE_S / 2), \
            f"only {len(refused())} of {ATTACKERS} refused at once: one address holds the other slots"
        assert _healthz(base, "127.0.0.1") == 200, "another address is served while the slow ones wait"
        held = [s for s in slows if s not in refused()]
        assert _wait(slows, lambda: all(s.closed.is_set() for s in held), ENDED_BY_S), \
            f"{sum(not s.closed.is_set() for s in held)} trickling connections still open"
        assert all(s.got.startswith(b"HTTP/1.0 408 ") for s in held), {s.got[:40] for s in held}
        assert _healthz(base, "127.0.0.5") == 200, "the address is served again once its slots are free"
    finally:
        stopping.set()
        for s in slows:
            s.sock.close()
        stop(proc)
        broker.stop()
    assert "Traceback" not in (tmp_path / "dashboard.log").read_text()


def test_a_body_trickled_a_byte_a_second_is_ended_by_the_deadline(tmp_path):
    """A login whose Content-Length promises 4000 bytes, sent a byte a second: answered 408
    and closed by the request's deadline, not kept open a read timeout at a time."""
    broker = Broker(tmp_path / "broker").start()
    proc, base = start_dashboard(tmp_path, broker.url)
    host, port = base.removeprefix("http://").split(":")
    stopping = threading.Event()
    slow = Slow((host, int(port)), "127.0.0.6",
                b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 4000\r\n\r\npassword=", b"x", 1.0)
    threading.Thread(target=slow.trickle, args=(stopping,), daemon=True).start()
    try:
        assert _wait([slow], slow.closed.is_set, ENDED_BY_S), "the slow body still holds its connection"
        assert slow.got.startswith(b"HTTP/1.0 408 ") and b"to arrive" in slow.got, slow.got
        assert _healthz(base, "127.0.0.6") == 200
    finally:
        stopping.set()
        slow.sock.close()
        stop(proc)
        broker.stop()
