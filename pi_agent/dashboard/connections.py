"""The dashboard's connections: how many it holds, and how long a request may take to arrive.

Each connection is a thread, so their number is bounded: at most ``MAX_CONNECTIONS``, and at
most ``MAX_PER_CLIENT`` from one address, so that one client (a slow one, a busy one) cannot
take every slot; beyond that a connection is answered 503 at once and closed. A request's
reads go through a :class:`Deadline`: the request line, headers and body must all have
arrived within ``REQUEST_DEADLINE_S`` of the connection, however slowly they trickle in.
Behind a reverse proxy every client has the proxy's address and shares its slots.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("pi_agent.dashboard")

MAX_CONNECTIONS = 64        # each connection is a thread; beyond this, new ones are closed at once
MAX_PER_CLIENT = 16         # ... and from one address (a browser opens 6; an /events stream stays)
REQUEST_DEADLINE_S = 10.0   # the whole request must have arrived by then (it is at most a few KB)
REQUEST_TIMEOUT_S = 20.0    # a write that makes no progress for this long fails


class Deadline(io.RawIOBase):
    """A connection's reads that all end by ``deadline`` (monotonic): each waits only for
    what is left of it, so a request sent a byte at a time cannot stretch it."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self.sock, self.deadline, self.expired = sock, deadline, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.expired = True
            raise TimeoutError("the request did not arrive in time")
        self.sock.settimeout(left)
        try:
            return self.sock.recv_into(buffer)
        except TimeoutError:
            self.expired = True
            raise
        finally:
            self.sock.settimeout(REQUEST_TIMEOUT_S)     # for the answer's writes


class Server(ThreadingHTTPServer):
    """A threading HTTP server that refuses connections beyond ``MAX_CONNECTIONS``, or beyond
    ``MAX_PER_CLIENT`` from one address."""
    daemon_threads = True
    request_queue_size = 128    # the listen backlog: a burst of connections waits, it is not reset

    def __init__(self, address, handler) -> None:
        super().__init__(address, handler)
        self.slots_lock = threading.Lock()
        self.open = 0
        self.per_client: dict[str, int] = {}

    def _take(self, host: str) -> bool:
        with self.slots_lock:
            if self.open >= MAX_CONNECTIONS or self.per_client.get(host, 0) >= MAX_PER_CLIENT:
                return False
            self.open += 1
            self.per_client[host] = self.per_client.get(host, 0) + 1
            return True

    def _give(self, host: str) -> None:
        with self.slots_lock:
            self.open -= 1
            self.per_client[host] -= 1
            if not self.per_client[host]:
                del self.per_client[host]

    def process_request(self, request, client_address):
        if not self._take(client_address[0]):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._give(client_address[0])
            raise

    def process_request_thread(self, request, client_address):
        """socketserver's own, with the slot given back before the connection is closed: a
        client that saw its connection close finds its slot free."""
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self._give(client_address[0])
            self.shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        """A client that went away mid-answer (a closed tab, a reset) is routine: one debug
        line, not a traceback; anything else is logged with its traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("dashboard: %s went away: %s", client_address[0], exc)
        else:
            log.exception("dashboard: error answering %s", client_address[0])


class DeadlineHandler(BaseHTTPRequestHandler):
    """A request handler whose request must arrive by its connection's deadline: one that is
    not in by then (its line, a header or its body still coming) is answered 408 if nothing
    has been answered yet, and closed. ``begun``: the answer's status line is sent."""
    timeout = REQUEST_TIMEOUT_S      # the answer's writes (the request's reads: its Deadline)
    begun = False

    def setup(self):
        super().setup()
        self.rfile.close()           # the request is read through its deadline instead
        self.arriving = Deadline(self.connection, time.monotonic() + REQUEST_DEADLINE_S)
        self.rfile = io.BufferedReader(self.arriving)

    def send_response(self, code, message=None):
        self.begun = True
        super().send_response(code, message)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except TimeoutError:
            if not self.arriving.expired:
                raise
        if not self.arriving.expired:
            return
        self.close_connection = True
        log.debug("dashboard: %s sent no whole request in %g s", self.client_address[0], REQUEST_DEADLINE_S)
        if self.begun:
            return
        self.begun = True
        body = json.dumps({"error": f"the request took more than {REQUEST_DEADLINE_S:g} s to arrive"}).encode()
        try:
            self.wfile.write(b"HTTP/1.0 408 Request Timeout\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
