"""The durable event outbox, and the events on their way to the broker.

An event is written to the outbox (committed, in the store's SQLite file) when it
happens, and leaves it only when the broker has acknowledged it; so a broker outage or
an agent restart delays events and never drops them. A retry carries the event's id, so
a subscriber can tell a repeat.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Protocol

from pi_agent.errors import StoreError
from pi_agent.store import FILENAME, SCHEMA

log = logging.getLogger("pi_agent.mqtt")
store_log = logging.getLogger("pi_agent.store")


class Outbox:
    """Events waiting for the broker's acknowledgement, in the store's file. It has its
    own connection, safe to use from another thread than the store's."""

    def __init__(self, state_dir: Path | str) -> None:
        self.path = Path(state_dir) / FILENAME
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.commits = 0

    def add(self, event_id: str, topic: str, payload: str) -> None:
        with self._lock:
            try:
                with self.db:
                    self.db.execute("INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?)",
                                    (event_id, topic, payload, time.time()))
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: outbox write failed: {exc}") from exc
            self.commits += 1

    def pending(self, limit: int = 1000) -> list[tuple[str, str, str]]:
        with self._lock:
            return self.db.execute("SELECT id, topic, payload FROM outbox ORDER BY created, rowid LIMIT ?",
                                   (limit,)).fetchall()

    def remove(self, event_id: str) -> None:
        with self._lock:
            try:
                with self.db:
                    self.db.execute("DELETE FROM outbox WHERE id = ?", (event_id,))
            except sqlite3.Error as exc:
                store_log.error("%s: outbox delete failed (the event may be sent again, with its id): %s",
                                self.path, exc)

    def __len__(self) -> int:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self.db.close()


class Publication(Protocol):
    """What a publication gives back (paho's ``MQTTMessageInfo``)."""
    def is_published(self) -> bool: ...


Publish = Callable[[str, str], "Publication | None"]
"""Publish (topic, payload) at QoS 1: the publication, or None if the client refused it."""


class InFlight:
    """The outbox's events on their way (used in the agent's thread only): each is
    published once per connection, and leaves the outbox when the broker acknowledges it
    (checked in the agent's thread, so paho's callbacks, which hold paho's own locks,
    never take ours)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._sent: dict[str, Publication] = {}     # event id -> its publication

    def keep(self, event_id: str, topic: str, payload: str) -> bool:
        """Write an event to the outbox; False (and a log line) if the store refused it."""
        try:
            self.outbox.add(event_id, topic, payload)
        except StoreError as exc:
            log.error("%s: the event is published but not kept for later", exc)
            return False
        return True

    def flush(self, publish: Publish) -> None:
        """Publish every waiting event not already on its way."""
        for event_id, topic, payload in self.outbox.pending():
            if event_id in self._sent:
                continue
            info = publish(topic, payload)
            if info is not None:
                self._sent[event_id] = info

    def acknowledged(self) -> None:
        """Events the broker has acknowledged leave the outbox."""
        for event_id in [e for e, info in self._sent.items() if info.is_published()]:
            del self._sent[event_id]
            self.outbox.remove(event_id)

    def reconnected(self) -> None:
        """A new connection: what waits is sent once more."""
        self._sent.clear()

    def __len__(self) -> int:
        return len(self._sent)
