"""The durable store: one SQLite file in the state directory.

Daily totals (one JSON record per local day), finished open bouts, and a little live
state survive restarts and power cuts. Writes come in checkpoints (one transaction,
at most once per checkpoint interval in steady state) to spare the SD card; SQLite's
write-ahead log with ``synchronous=FULL`` makes each checkpoint all-or-nothing, so a
power cut loses at most the time since the last one and never corrupts the file.

At start the file's integrity is checked; a damaged file is moved aside (with a clear
log line) and a new one started: never silently reset.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from pi_agent.errors import StoreError

log = logging.getLogger("pi_agent.store")

FILENAME = "openpalm.db"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS days (day TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS bouts (
    id INTEGER PRIMARY KEY, day TEXT NOT NULL, start REAL NOT NULL, duration_s REAL NOT NULL);
CREATE INDEX IF NOT EXISTS bouts_day ON bouts (day);
CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL,
                                   created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS doses (
    id INTEGER PRIMARY KEY, day TEXT NOT NULL, start REAL NOT NULL, stop REAL, seconds REAL,
    level TEXT NOT NULL, source TEXT NOT NULL, reason TEXT);
"""


class Store:
    def __init__(self, state_dir: Path | str, *, readonly: bool = False) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / FILENAME
        self.commits = 0
        self.readonly = readonly
        if readonly:
            if not self.path.exists():
                raise StoreError(f"{self.path}: no store yet (the agent has not run with this state directory)")
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.dir}: cannot create the state directory: {exc.strerror}") from None
        self.db = self._open_checked()

    # -- opening -----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def _open_checked(self) -> sqlite3.Connection:
        problem = None
        if self.path.exists():
            try:
                db = self._connect()
                result = db.execute("PRAGMA integrity_check").fetchall()
                if result != [("ok",)]:
                    problem = "; ".join(r[0] for r in result[:3])
                    db.close()
            except sqlite3.DatabaseError as exc:
                problem = str(exc)
            if problem is not None:
                self._move_aside(problem)
        try:
            db = self._connect()
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None
        return db

    def _move_aside(self, problem: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{FILENAME}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
        log.error("store %s is damaged (%s): moved aside to %s; starting a new store",
                  self.path, problem, aside.name)

    # -- reading -----------------------------------------------------------------------
    def load_day(self, day: str) -> dict | None:
        row = self.db.execute("SELECT data FROM days WHERE day = ?", (day,)).fetchone()
        return json.loads(row[0]) if row else None

    def days(self, first: str | None = None, last: str | None = None) -> dict[str, dict]:
        rows = self.db.execute("SELECT day, data FROM days WHERE day >= ? AND day <= ? ORDER BY day",
                               (first or "0000", last or "9999")).fetchall()
        return {day: json.loads(data) for day, data in rows}

    def bouts(self, day: str) -> list[dict]:
        rows = self.db.execute("SELECT start, duration_s FROM bouts WHERE day = ? ORDER BY start", (day,))
        return [{"start": s, "duration_s": d} for s, d in rows]

    def meta(self, key: str) -> dict | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- writing -----------------------------------------------------------------------
    def checkpoint(self, days: dict[str, dict], bouts: list[dict] = (), meta: dict | None = None) -> None:
        """Write in one transaction: all of it lands, or none of it."""
        if not days and not bouts and not meta:
            return
        now = time.time()
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany("INSERT INTO days VALUES (?, ?, ?) ON CONFLICT(day) DO UPDATE "
                                    "SET data = excluded.data, updated = excluded.updated",
                                    [(d, json.dumps(rec, sort_keys=True), now) for d, rec in days.items()])
                self.db.executemany("INSERT INTO bouts (day, start, duration_s) VALUES (?, ?, ?)",
                                    [(b["day"], b["start_wall"], b["duration_s"]) for b in bouts])
                for key, value in (meta or {}).items():
                    self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: checkpoint failed: {exc}") from exc
        self.commits += 1

    def dose_start(self, day: str, start: float, level: str, source: str) -> int:
        """Log a therapy session as it starts (a power cut still leaves its start)."""
        return self._dose_write("INSERT INTO doses (day, start, level, source) VALUES (?, ?, ?, ?)",
                                (day, start, level, source))

    def dose_end(self, dose_id: int, stop: float, seconds: float, reason: str) -> None:
        self._dose_write("UPDATE doses SET stop = ?, seconds = ?, reason = ? WHERE id = ?",
                         (stop, seconds, reason, dose_id))

    def _dose_write(self, sql: str, params: tuple) -> int:
        """One statement of the dose log, committed on its own; the row's id."""
        try:
            with self.db:
                cur = self.db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: dose log failed: {exc}") from exc
        self.commits += 1
        return cur.lastrowid

    def doses(self, day: str | None = None) -> list[dict]:
        rows = self.db.execute("SELECT day, start, stop, seconds, level, source, reason FROM doses "
                               "WHERE ? IS NULL OR day = ? ORDER BY start", (day, day)).fetchall()
        keys = ("day", "start", "stop", "seconds", "level", "source", "reason")
        return [dict(zip(keys, r)) for r in rows]

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass


class Outbox:
    """Events waiting for the broker's acknowledgement, in the store's file.

    An event is written here (committed) when it happens, and removed only when the
    broker has acknowledged it; so a broker outage or an agent restart delays events and
    never drops them. It has its own connection, safe to use from the MQTT thread.
    """

    def __init__(self, state_dir: Path | str) -> None:
        self.path = Path(state_dir) / FILENAME
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
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
                log.error("%s: outbox delete failed (the event may be sent again, with its id): %s",
                          self.path, exc)

    def __len__(self) -> int:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self.db.close()
