"""The values the store hands out, and what each must be: the one place they are checked.

A value no OpenPalm writes (JSON that does not decode, is nested over ``jsontext``'s
bound or is no object; a day that is no date; a wall time or duration that is not
finite or outside the clock's range; a field of the wrong type) makes the store a
damaged one: ``StoreDamagedError`` of one line for a reader (status, report), and for
the agent at start (``StoredValues.problem``) a store moved aside as a damaged file is.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from pathlib import Path
from typing import Any, Callable

from pi_agent.core import jsontext
from pi_agent.core.days import FIRST_YEAR, LAST_YEAR, YYYY_MM_DD
from pi_agent.errors import StoreDamagedError

WALL_MAX = 253_370_764_800.0            # 9999-01-01 UTC: any zone's local day of a wall time up to it is a date
Check = Callable[[Any], bool]


def _is_date(value: Any) -> bool:
    """A local day, YYYY-MM-DD, from 1971 to 9998 (as ``--date`` and ``--from`` take them)."""
    if not isinstance(value, str) or not YYYY_MM_DD.fullmatch(value):
        return False
    try:
        return FIRST_YEAR <= dt.date.fromisoformat(value).year <= LAST_YEAR
    except ValueError:
        return False


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_wall(value: Any) -> bool:
    """A wall time (or a duration) that is finite, not negative and within the clock's range."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0.0 <= value <= WALL_MAX)


def _or_none(check: Check) -> Check:
    return lambda value: value is None or check(value)


LIVE: dict[str, Check] = {"position": _or_none(_is_text), "state": _or_none(_is_text), "zone": _or_none(_is_text),
                          "worn": _or_none(lambda v: isinstance(v, bool)), "since": _or_none(_is_wall),
                          "updated": _or_none(_is_wall)}
DOSE: dict[str, Check] = {"id": _is_count, "day": _is_date, "start": _is_wall, "stop": _or_none(_is_wall),
                          "seconds": _or_none(_is_wall), "level": _is_text, "source": _is_text,
                          "reason": _or_none(_is_text), "planned_end": _or_none(_is_wall)}
BOUT: dict[str, Check] = {"start": _is_wall, "duration_s": _is_wall}
OUTBOX: dict[str, Check] = {"id": _is_text, "topic": _is_text, "payload": _is_text, "created": _is_wall}
DROPS: dict[str, Check] = {"count": _is_count, "first": _or_none(_is_wall), "last": _or_none(_is_wall)}
# The meta records read as JSON objects (or null: no record), and the fields checked in each
# (the settings' own are checked as their commands check them: ``stored_settings``).
META: dict[str, dict[str, Check]] = {"live": LIVE, "settings": {}, "exercise": {}, "outbox_dropped": DROPS,
                                     "doses_lost": {"day": _is_date}}


def shown(value: Any) -> str:
    """A stored value in a few characters, on one line."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def integrity_problem(rows: list[tuple]) -> str | None:
    """``PRAGMA integrity_check``'s rows in one line: the first problem and how many more
    (None: the file is sound). Its headings (``*** in database main ***``) are left out."""
    if rows == [("ok",)]:
        return None
    lines = [line.strip() for row in rows for line in str(row[0]).splitlines()]
    problems = [line for line in lines if line and not (line.startswith("***") and line.endswith("***"))]
    if not problems:
        return "the integrity check failed"
    more = len(problems) - 1
    if more == 0:
        return problems[0]
    return f"{problems[0]}, and {more} more problem{'s' if more > 1 else ''}"


class StoredValues:
    """The checks of the values of the store at ``path``, each raising the one-line
    ``StoreDamagedError`` that names the value."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def damaged(self, problem: str) -> StoreDamagedError:
        err = StoreDamagedError(f"{self.path}: the store is damaged ({problem}); the agent moves a damaged "
                                f"store aside and starts a new one when it next starts")
        err.problem = problem
        return err

    def record(self, record: dict, shape: dict[str, Check], what: str) -> dict:
        for key, check in shape.items():
            if not check(record.get(key)):
                raise self.damaged(f"{what}: {key} is {shown(record.get(key))}")
        return record

    def date(self, value: Any) -> str:
        if not _is_date(value):
            raise self.damaged(f"a day is stored as {shown(value)}, not a date")
        return value

    def json(self, raw: Any, what: str, null: bool = False) -> dict | None:
        """Stored JSON text as an object (``null``: or None), its depth bounded before it is
        parsed (``jsontext``): text that does not decode, or decodes to anything else, is
        a damaged store."""
        try:
            if not isinstance(raw, (str, bytes)):
                raise TypeError(f"a {type(raw).__name__}, not text")
            value = jsontext.loads(raw)
        except (ValueError, TypeError) as exc:
            raise self.damaged(f"{what} is not readable: {str(exc).splitlines()[0][:80]}") from None
        if value is None and null:
            return None
        if not isinstance(value, dict):
            raise self.damaged(f"{what} is {type(value).__name__ if value is not None else 'null'}, "
                                f"not an object")
        return value

    def meta(self, key: str, raw: Any) -> dict | None:
        value = self.json(raw, f"the {key} record", null=True)
        return None if value is None else self.record(value, META.get(key, {}), f"the {key} record")

    def problem(self, db: sqlite3.Connection) -> str | None:
        """The first value in the store that its readers would refuse, in words (None: all
        are good): a store the agent keeps is one that status and report can read. (SQLite's
        own errors are the caller's: a file that cannot be read is damaged in another way.)"""
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        try:
            if "days" in tables:
                for day, data in db.execute("SELECT day, data FROM days"):
                    self.json(data, f"day {self.date(day)}")
            if "meta" in tables:
                for key, value in db.execute(f"SELECT key, value FROM meta WHERE key IN "
                                             f"({', '.join('?' * len(META))})", tuple(META)):
                    self.meta(key, value)
            for table, shape, what in (("doses", DOSE, "dose"), ("bouts", BOUT, "bout"),
                                       ("outbox", OUTBOX, "outbox event")):
                if table in tables:
                    cursor = db.execute(f"SELECT * FROM {table}")
                    names = [d[0] for d in cursor.description]
                    for row in cursor:
                        self.record(dict(zip(names, row)), shape, f"{what} {shown(row[0])}")
        except StoreDamagedError as exc:
            return exc.problem
        return None
