"""Talking to systemd: the ``NOTIFY_SOCKET`` datagram protocol (sd_notify), directly.

``READY=1`` once sampling runs; ``STATUS=`` a line a person can read; ``WATCHDOG=1`` at
half of ``WatchdogSec`` (``$WATCHDOG_USEC``), sent from the sampling loop itself, so
that a stalled loop stops the pings and systemd restarts the agent. Outside systemd
(no ``$NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Callable

log = logging.getLogger("pi_agent.systemd")
STATUS_EVERY_S = 2.0     # how often the status line is looked at (and sent when it changed)


def writes_to_journal(stream) -> bool:
    """``stream`` goes to the journal: systemd names the stream it connected in
    ``$JOURNAL_STREAM`` (``device:inode``, systemd.exec(5)); a stream redirected elsewhere
    has another device or inode."""
    want = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return want == f"{st.st_dev}:{st.st_ino}"


class Notifier:
    def __init__(self, environ=os.environ) -> None:
        path = environ.get("NOTIFY_SOCKET", "")
        self.address = None
        self.sock = None
        if path:
            self.address = "\0" + path[1:] if path.startswith("@") else path
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 / 2 if usec.isdigit() and int(usec) > 0 and mine else None
        self._last_ping = float("-inf")
        self._last_status = ""
        self._status_seen_at = float("-inf")
        self.ready = False

    @property
    def enabled(self) -> bool:
        return self.sock is not None

    def send(self, message: str) -> None:
        if self.sock is None:
            return
        try:
            self.sock.sendto(message.encode(), self.address)
        except OSError as exc:
            log.warning("could not notify systemd: %s", exc)

    def loop_alive(self, now: float, status: Callable[[], str]) -> None:
        """Called by the sampling loop after each turn: READY once, the watchdog ping when
        due, and the status line when it changed, looked at every 2 s (``status()`` builds
        it from a snapshot of the core: far more than a turn costs, so never at each turn)."""
        if self.sock is None:
            return
        if not self.ready:
            self.ready = True
            self._last_status, self._status_seen_at = status(), now
            self.send(f"READY=1\nSTATUS={self._last_status}")
        if self.watchdog_s is not None and now - self._last_ping >= self.watchdog_s:
            self._last_ping = now
            self.send("WATCHDOG=1")
        if now - self._status_seen_at >= STATUS_EVERY_S:
            self._status_seen_at = now
            text = status()
            if text != self._last_status:
                self._last_status = text
                self.send(f"STATUS={text}")

    def stopping(self) -> None:
        self.send("STOPPING=1\nSTATUS=stopping: motor off, saving the totals")
