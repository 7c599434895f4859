"""The durable store: one SQLite file in the state directory.

Daily totals (one JSON record per local day), finished open bouts, the therapy dose log
and a little live state survive restarts and power cuts; MQTT's event outbox
(``pi_agent.mqtt.outbox``) keeps its table in the same file. Writes come in checkpoints
(one transaction, at most once per checkpoint interval in steady state) to spare the SD
card; SQLite's write-ahead log with ``synchronous=FULL`` makes each checkpoint
all-or-nothing, so a power cut loses at most the time since the last one and never
corrupts the file.

At start the file's integrity is checked, and so is every value the store's readers
hand out (JSON that decodes, and to an object; days that are dates; wall times and
durations that are finite and within the clock's range); a damaged file is moved aside
(with a clear log line) and a new one started: never silently reset. Read-only readers
(``status``, ``report``) check the values they read the same way and say, in one line,
that the store is damaged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
from pathlib import Path

from pi_agent.errors import InputError, StoreAccessError, StoreError
from pi_agent.store_values import BOUT, DOSE, Check, StoredValues, integrity_problem, shown

log = logging.getLogger("pi_agent.store")

FILENAME = "openpalm.db"
SCHEMA_VERSION = 2       # 2: doses.planned_end (a dose is booked before the motor starts)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS days (day TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS bouts (
    id INTEGER PRIMARY KEY, day TEXT NOT NULL, start REAL NOT NULL, duration_s REAL NOT NULL);
CREATE INDEX IF NOT EXISTS bouts_day ON bouts (day);
CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL,
                                   created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS doses (
    id INTEGER PRIMARY KEY, day TEXT NOT NULL, start REAL NOT NULL, stop REAL, seconds REAL,
    level TEXT NOT NULL, source TEXT NOT NULL, reason TEXT, planned_end REAL);
"""


def _access_problem(exc: sqlite3.Error) -> bool:
    """SQLite's words for a file or folder it may not read or write (not damage)."""
    text = str(exc).lower()
    return any(words in text for words in ("unable to open database file", "readonly database",
                                           "read-only", "permission", "access"))


def _refuse_non_file(store_path: Path) -> None:
    """A folder (or device, or pipe) where the store or one of SQLite's files beside it
    should be is a set-up fault (a folder named like its journal made a sound store
    look damaged, and moved it aside)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(str(store_path) + suffix)
        if path.exists() and not path.is_file():
            raise StoreAccessError(f"{path}: is not a file (a folder or device is in the place of the store's "
                                   f"file; move it away); nothing was changed")


def _move_aside(store_path: Path, problem: str) -> str:
    """Move a damaged store (and its logs) aside, under a name of its own: that name."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = store_path.with_name(f"{FILENAME}.damaged-{stamp}")
    n = 1
    while any(os.path.lexists(str(aside) + suffix) for suffix in ("", "-wal", "-shm")):   # never over another
        n += 1
        aside = store_path.with_name(f"{FILENAME}.damaged-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(store_path) + suffix)
        if src.exists():
            os.replace(src, Path(str(aside) + suffix))
    log.error("store %s is damaged (%s): moved aside to %s; starting a new store",
              store_path, problem, aside.name)
    return aside.name


class Store:
    def __init__(self, state_dir: Path | str, *, readonly: bool = False) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / FILENAME
        self.values = StoredValues(self.path)
        self.commits = 0
        self.readonly = readonly
        self.moved_aside: str | None = None     # the damaged file this open moved aside (its name)
        if readonly:
            _refuse_non_folder(self.dir)
            try:
                self.path.stat()
            except PermissionError:
                raise StoreAccessError(f"{self.dir}: cannot look into the state directory: permission denied "
                                       f"(run status as the agent's user, e.g. sudo -u openpalm)") from None
            except OSError:
                pass
            if not self.path.exists():
                raise StoreError(f"{self.path}: no store yet (the agent has not run with this state directory)")
            if not os.access(self.path, os.R_OK):
                raise StoreAccessError(f"{self.path}: cannot read the store: permission denied "
                                       f"(check the file's owner and mode)")
            _refuse_non_file(self.path)
            try:
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot open the store: {exc}") from None
            self._refuse_foreign(self.db)
            if not self._read("SELECT name FROM sqlite_master WHERE type = 'table'"):
                self.db.close()          # (a file of no table, 0 bytes say: the agent starts a new store in it)
                raise StoreError(f"{self.path}: an empty store, no day recorded yet (the agent has not "
                                 f"written to it)")
            self._read("SELECT 1 FROM meta LIMIT 1")      # a damaged file says so now, in one line
            return
        _refuse_non_folder(self.dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except PermissionError:
            raise StoreAccessError(f"{self.dir}: cannot create the state directory: permission denied") from None
        except OSError as exc:
            raise StoreError(f"{self.dir}: cannot create the state directory: {exc.strerror}") from None
        self._check_access()
        self.db = self._open_checked()

    def _check_access(self) -> None:
        """A store this user may not read and write is a set-up fault: said, never 'repaired'."""
        if not os.access(self.dir, os.W_OK | os.X_OK):
            raise StoreAccessError(f"{self.dir}: cannot write in the state directory: permission denied or a "
                                   f"read-only file system (check its owner, mode and mount); nothing was changed")
        for suffix in ("", "-wal", "-shm"):
            path = Path(str(self.path) + suffix)
            if path.exists() and not os.access(path, os.R_OK | os.W_OK):
                raise StoreAccessError(f"{path}: cannot read and write the store: permission denied (check the "
                                       f"file's owner and mode); nothing was changed")

    # -- opening -----------------------------------------------------------------------
    def _refuse_foreign(self, db: sqlite3.Connection) -> None:
        """Another program's SQLite file is never written into (nor moved aside as damaged),
        nor is a store of a newer OpenPalm, whose records this one cannot know."""
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            schema = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchall() if "meta" in tables else []
        except sqlite3.DatabaseError:
            return                                          # damaged: the integrity check says so
        if tables and "meta" not in tables:
            db.close()
            raise StoreAccessError(f"{self.path}: is not an OpenPalm store (it holds the tables "
                                   f"{', '.join(sorted(tables)[:5])}); choose another --state-dir; "
                                   f"nothing was changed")
        version = schema[0][0] if schema else None
        if version is not None and not (isinstance(version, str) and version.isascii() and version.isdigit()):
            db.close()
            raise StoreAccessError(f"{self.path}: its store schema is {shown(version)}, not a version number: a "
                                   f"damaged or foreign store; move it away or choose another --state-dir; "
                                   f"nothing was changed")
        if version is not None and int(version) > SCHEMA_VERSION:
            db.close()
            raise StoreAccessError(f"{self.path}: written by a newer OpenPalm (store schema {str(version)[:20]}; "
                                   f"this one knows {SCHEMA_VERSION}): update pi-agent; nothing was changed")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def _open_checked(self) -> sqlite3.Connection:
        problem = None
        _refuse_non_file(self.path)
        if self.path.exists() and self.path.stat().st_size == 0:    # (the agent writes its tables at once)
            problem = "empty: 0 bytes, as a file system leaves a file whose writes a power cut lost"
        elif self.path.exists():
            try:
                db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
                self._refuse_foreign(db)
                db.close()
                db = self._connect()
                try:
                    problem = integrity_problem(db.execute("PRAGMA integrity_check").fetchall()) \
                        or self.values.problem(db)
                finally:
                    db.close()
            except sqlite3.OperationalError as exc:
                if _access_problem(exc):
                    raise StoreAccessError(f"{self.path}: cannot open the store: {exc} (check the owner and "
                                           f"mode of the file and its folder); nothing was changed") from None
                problem = integrity_problem([(str(exc),)])
            except sqlite3.DatabaseError as exc:
                problem = integrity_problem([(str(exc),)])
        if problem is not None:
            self.moved_aside = _move_aside(self.path, problem)
        try:
            db = self._connect()
            db.executescript(SCHEMA)
            columns = [r[1] for r in db.execute("PRAGMA table_info(doses)")]
            if "planned_end" not in columns:        # a store of the first version
                db.execute("ALTER TABLE doses ADD COLUMN planned_end REAL")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None
        return db

    # -- reading -----------------------------------------------------------------------
    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a query; a damaged or unreadable file is a StoreError of one line."""
        return self._query(sql, params)[1]

    def _query(self, sql: str, params: tuple = ()) -> tuple[list[str], list[tuple]]:
        """The column names and rows of a query (errors as ``_read``)."""
        try:
            cursor = self.db.execute(sql, params)
            return [d[0] for d in cursor.description or ()], cursor.fetchall()
        except sqlite3.OperationalError as exc:
            if _access_problem(exc):
                raise StoreAccessError(f"{self.path}: cannot read the store: {exc}") from None
            raise StoreError(f"{self.path}: cannot read the store: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise self.values.damaged(integrity_problem([(str(exc),)])) from None

    def _records(self, sql: str, params: tuple, shape: dict[str, Check], what: str) -> list[dict]:
        """The rows of a query as dicts by column, each column of ``shape`` checked."""
        names, rows = self._query(sql, params)
        return [self.values.record(dict(zip(names, row)), shape, f"{what} {shown(row[0])}") for row in rows]

    def _days(self, sql: str, params: tuple = ()) -> dict[str, dict]:
        return {self.values.date(day): self.values.json(data, f"day {day}") for day, data in self._read(sql, params)}

    def load_day(self, day: str) -> dict | None:
        return self._days("SELECT day, data FROM days WHERE day = ?", (day,)).get(day)

    def days(self, first: str | None = None, last: str | None = None) -> dict[str, dict]:
        return self._days("SELECT day, data FROM days WHERE day >= ? AND day <= ? ORDER BY day",
                          (first or "0000", last or "9999"))

    def last_day(self, until: str | None = None) -> str | None:
        """The latest local day the store holds (up to ``until``): a simulated store's days may
        be long past, and a clock that was ahead may have dated some in the future."""
        last = self._read("SELECT MAX(day) FROM days" + (" WHERE day <= ?" if until else ""),
                          (until,) if until else ())[0][0]
        return None if last is None else self.values.date(last)

    def day_span(self) -> tuple[str, str] | None:
        """The first and last day that have a record (None: no day yet)."""
        first, last = self._read("SELECT MIN(day), MAX(day) FROM days")[0]
        return None if first is None else (self.values.date(first), self.values.date(last))

    def bouts(self, day: str) -> list[dict]:
        return [{"start": b["start"], "duration_s": b["duration_s"]}
                for b in self._records("SELECT id, start, duration_s FROM bouts WHERE day = ? ORDER BY start",
                                       (day,), BOUT, "bout")]

    def meta(self, key: str) -> dict | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return self.values.meta(key, rows[0][0]) if rows else None

    # -- writing -----------------------------------------------------------------------
    def checkpoint(self, days: dict[str, dict], bouts: list[dict] = (), meta: dict | None = None,
                   doses: dict[int, float] | None = None) -> None:
        """Write in one transaction: all of it lands, or none of it. ``doses``: the seconds
        delivered so far of doses still running (the days written here include them)."""
        if not days and not bouts and not meta and not doses:
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
                self.db.executemany("UPDATE doses SET seconds = ? WHERE id = ? AND stop IS NULL",
                                    [(seconds, dose_id) for dose_id, seconds in (doses or {}).items()])
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: checkpoint failed: {exc}") from exc
        self.commits += 1

    def dose_start(self, day: str, start: float, planned_end: float, level: str, source: str) -> int:
        """Log a therapy session before the motor starts it, with the wall time its plan
        ends: after a power cut it counts as delivered up to that end."""
        return self._dose_write("INSERT INTO doses (day, start, planned_end, seconds, level, source) "
                                "VALUES (?, ?, ?, 0, ?, ?)", (day, start, planned_end, level, source))

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

    def doses(self, day: str | None = None, since: float | None = None) -> list[dict]:
        """The dose log (of a day, or of doses started since a wall time), oldest first."""
        return self._records("SELECT id, day, start, stop, seconds, level, source, reason, planned_end FROM doses "
                             "WHERE (? IS NULL OR day = ?) AND (? IS NULL OR start >= ?) ORDER BY start",
                             (day, day, since, since), DOSE, "dose")

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass


def _refuse_non_folder(folder: Path) -> None:
    """A state directory that is not a folder and cannot be made one (a file or a device
    in its place or above it, a symbolic link to nothing, a name too long, a parent that
    cannot be searched) is a set-up fault, said in one line."""
    try:
        if folder.exists():
            if not folder.is_dir():
                raise StoreAccessError(f"{folder}: is not a folder (the state directory must be one); "
                                       f"nothing was changed")
            return
        if folder.is_symlink():
            raise StoreAccessError(f"{folder}: is a symbolic link to nothing (the state directory must be a "
                                   f"folder); nothing was changed")
        for above in folder.absolute().parents:        # the nearest that is there decides
            if above.is_symlink() and not above.exists():
                raise StoreAccessError(f"{folder}: cannot be a folder: {above} is a symbolic link to nothing; "
                                       f"nothing was changed")
            if above.exists():
                if not above.is_dir():
                    raise StoreAccessError(f"{folder}: cannot be a folder: {above} is not one; nothing was changed")
                if not os.access(above, os.W_OK | os.X_OK):
                    raise StoreAccessError(f"{folder}: cannot create the state directory in {above}: permission "
                                           f"denied; nothing was changed")
                break
    except StoreError:
        raise
    except OSError as exc:                 # a name too long, a parent that cannot be searched
        raise StoreAccessError(f"{folder}: cannot be the state directory: {exc.strerror}; "
                               f"nothing was changed") from None


# The state directory's own files: the store, its logs, the copies of a damaged one, and
# the resume marker of `run --simulate`.
OWN_FILES = re.compile(re.escape(FILENAME) + r"(-wal|-shm|-journal|\.damaged-.*)?|simulation\.json")


def refuse_own_file(path: Path | str, state_dirs, option: str) -> None:
    """An output file that is one of a state directory's own (reached by any name: a link,
    a relative path) is refused in one line before anything is written: writing it would
    destroy the store's history. ``state_dirs``: the command's state directory and the
    configured one (which a command given another does not use, but must not destroy)."""
    for state_dir in dict.fromkeys(Path(d) for d in state_dirs if d is not None):
        _refuse_own_file(path, state_dir, option)


def _refuse_own_file(path: Path | str, state_dir: Path, option: str) -> None:
    try:
        folder, target = os.path.realpath(state_dir), os.path.realpath(path)
        own = [folder + os.sep + n for n in os.listdir(folder) if OWN_FILES.fullmatch(n)] if os.path.isdir(folder) else []
        hit = (os.path.dirname(target) == folder and OWN_FILES.fullmatch(os.path.basename(target))) or \
            (os.path.exists(target) and any(os.path.samefile(target, f) for f in own))
    except (OSError, ValueError):        # (a name the system refuses is said by whoever opens it)
        return
    if hit:
        raise InputError(f"{option} {path}: that is the store's own file in the state directory {state_dir}; "
                         f"writing it would destroy the store: choose another file; nothing was changed")


def refuse_unusable(state_dir: Path | str) -> None:
    """Refuse, as opening the store for writing would, a store that must be left alone (no
    permission, a folder or another program's database in its place, a newer OpenPalm's
    store), without opening it: for whoever writes in its folder before opening it."""
    probe = Store.__new__(Store)
    probe.dir = Path(state_dir)
    probe.path = probe.dir / FILENAME
    _refuse_non_folder(probe.dir)
    if not probe.dir.exists():
        return
    probe._check_access()
    _refuse_non_file(probe.path)
    if probe.path.exists():
        try:
            db = sqlite3.connect(probe.path, timeout=10, isolation_level=None)
        except sqlite3.Error:
            return                                  # opening it says what is wrong
        try:
            probe._refuse_foreign(db)
        finally:
            db.close()
