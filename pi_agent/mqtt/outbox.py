"""The durable event outbox, and the events on their way to the broker.

An event is written to the outbox (committed, in the store's SQLite file) when it
happens, and leaves it only when the broker has acknowledged it; so a broker outage or
an agent restart delays events and never drops them, up to a bound. A retry carries
the event's id, so a subscriber can tell a repeat.

The outbox is bounded, so that a device without a broker for months does not fill its
SD card: at most ``max_events`` events, none older than ``max_age_s`` (by the wall
clock: an age must survive reboots). The oldest go first; how many went, and the times
of the first and last of them, are kept in the store until the broker is back, and then
told once, in one ``outbox_dropped`` event (``take_drops``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Protocol

from pi_agent.core import jsontext
from pi_agent.errors import StoreError
from pi_agent.store import FILENAME, SCHEMA

log = logging.getLogger("pi_agent.mqtt")
store_log = logging.getLogger("pi_agent.store")

DROPS = "outbox_dropped"      # the meta key of the drops not told yet
MAX_EVENTS, MAX_AGE_S = 5000, 60 * 86400.0
WAL_LIMIT = 1 << 20           # bytes of write-ahead log kept after a checkpoint


class Outbox:
    """Events waiting for the broker's acknowledgement, in the store's file. It has its
    own connection, safe to use from another thread than the store's. ``wall``: the
    wall clock the events' ages are counted in (the agent's, simulated or not)."""

    def __init__(self, state_dir: Path | str, *, max_events: int = MAX_EVENTS, max_age_s: float = MAX_AGE_S,
                 wall: Callable[[], float] = time.time) -> None:
        self.path = Path(state_dir) / FILENAME
        self.max_events = int(max_events)
        self.max_age_s = float(max_age_s)
        self.wall = wall
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")   # the write-ahead log, cut back after use
        self.db.executescript(SCHEMA)
        self.commits = 0          # commits with an fsync (events kept)
        self.removals = 0         # commits that forgot delivered events (no fsync)
        self.dropped = 0          # events dropped by this process (all of them, told or not)
        with self._lock:
            try:
                with self.db:
                    self.db.execute("BEGIN IMMEDIATE")
                    self._trim()          # events that aged while the agent was off
            except sqlite3.Error as exc:
                store_log.error("%s: outbox trim failed: %s", self.path, exc)

    def add(self, event_id: str, topic: str, payload: str) -> None:
        """Keep an event (committed before this returns); past the bounds, the oldest go."""
        with self._lock:
            try:
                with self.db:
                    self.db.execute("BEGIN IMMEDIATE")
                    self.db.execute("INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?)",
                                    (event_id, topic, payload, self.wall()))
                    self._trim()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: outbox write failed: {exc}") from exc
            self.commits += 1

    def _trim(self) -> None:
        """Drop (in the open transaction) events past the age and then the count bound,
        oldest first, adding them to the drops not told yet."""
        oldest_kept = self.wall() - self.max_age_s
        rows = self.db.execute("SELECT rowid, created FROM outbox WHERE created < ?", (oldest_kept,)).fetchall()
        extra = self.db.execute("SELECT COUNT(*) FROM outbox WHERE created >= ?", (oldest_kept,)).fetchone()[0] \
            - self.max_events
        if extra > 0:
            rows += self.db.execute("SELECT rowid, created FROM outbox WHERE created >= ? ORDER BY created, rowid "
                                    "LIMIT ?", (oldest_kept, extra)).fetchall()
        if not rows:
            return
        self.db.executemany("DELETE FROM outbox WHERE rowid = ?", [(r,) for r, _ in rows])
        drops = self._drops() or {"count": 0, "first": None, "last": None}
        times = [c for _, c in rows]
        drops["count"] += len(rows)
        drops["first"] = min(t for t in (drops["first"], *times) if t is not None)
        drops["last"] = max(t for t in (drops["last"], *times) if t is not None)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (DROPS, json.dumps(drops)))
        if not self.dropped:
            log.warning("the outbox is full (%d events at most, none older than %g days): the oldest events are "
                        "dropped unsent, and counted", self.max_events, self.max_age_s / 86400)
        self.dropped += len(rows)

    def _drops(self) -> dict | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (DROPS,)).fetchone()
        try:
            drops = jsontext.loads(row[0]) if row else None     # (the store's start checks it whole)
        except (ValueError, TypeError):
            return None
        return drops if isinstance(drops, dict) else None

    def take_drops(self, report: Callable[[dict], tuple[str, str, str]]) -> dict | None:
        """If events were dropped and not told yet: in one transaction, build the report
        event (``report(drops)`` -> its id, topic and payload), keep it in the outbox and
        forget the drops. The drops told (``count``, ``first`` and ``last`` wall times), or None."""
        with self._lock:
            try:
                with self.db:
                    self.db.execute("BEGIN IMMEDIATE")
                    drops = self._drops()
                    if not drops or not drops.get("count"):
                        return None
                    event_id, topic, payload = report(drops)
                    self.db.execute("INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?)",
                                    (event_id, topic, payload, self.wall()))
                    self.db.execute("DELETE FROM meta WHERE key = ?", (DROPS,))
            except sqlite3.Error as exc:
                store_log.error("%s: could not report the dropped events: %s", self.path, exc)
                return None
            self.commits += 1
            return drops

    def pending(self, limit: int = 1000) -> list[tuple[str, str, str]]:
        with self._lock:
            return self.db.execute("SELECT id, topic, payload FROM outbox ORDER BY created, rowid LIMIT ?",
                                   (limit,)).fetchall()

    def remove(self, event_ids: list[str]) -> None:
        """Forget delivered events, in one transaction without an fsync: the sampling loop
        does this, and a removal lost to a power cut only sends its event again, with its id."""
        if not event_ids:
            return
        with self._lock:
            try:
                self.db.execute("PRAGMA synchronous=NORMAL")    # (a write-ahead log: no fsync at commit)
                try:
                    with self.db:
                        self.db.execute("BEGIN IMMEDIATE")
                        self.db.executemany("DELETE FROM outbox WHERE id = ?", [(e,) for e in event_ids])
                finally:
                    self.db.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as exc:
                store_log.error("%s: outbox delete failed (the events may be sent again, with their ids): %s",
                                self.path, exc)
                return
            self.removals += 1

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
        done = [e for e, info in self._sent.items() if info.is_published()]
        for event_id in done:
            del self._sent[event_id]
        self.outbox.remove(done)

    def reconnected(self) -> None:
        """A new connection: what waits is sent once more."""
        self._sent.clear()

    def __len__(self) -> int:
        return len(self._sent)
