"""Daily totals per local day: the ledger that time is booked into.

Durations always come from the monotonic clock. The wall clock only decides which
local day a stretch belongs to: a stretch of ``d`` monotonic seconds that ends now is
booked over ``[wall_now - d, wall_now]`` and split at local midnights in the configured
IANA zone (so a DST day has 23 or 25 hours). A wall-clock jump therefore moves no time
in or out of the totals; at worst it moves one stretch across a midnight.
"""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from typing import Callable


REPORT_KEYS = ("worn_s", "open_s", "weight_bearing", "vibration_s")
WB_KEYS = ("sessions", "total_s", "in_target_s", "mean_n", "peak_n")


def report_day(record: dict) -> dict:
    """A stored day in the report's shape: the keys of docs/scenario-format.md first, then the extra ones."""
    out = {}
    for key in REPORT_KEYS:
        value = record[key]
        if key == "weight_bearing":
            wb = {k: _num(value[k]) for k in WB_KEYS}
            wb.update({k: _num(v) for k, v in value.items() if k not in WB_KEYS and not k.startswith("_")})
            out[key] = wb
        else:
            out[key] = _num(value)
    for key, value in record.items():
        if key not in REPORT_KEYS and not key.startswith("_"):
            out[key] = _num(value)
    if record.get("goal_s"):
        out["goal_pct"] = round(100.0 * record["open_s"] / record["goal_s"], 1)
    return out


def _num(v):
    return round(v, 3) if isinstance(v, float) else v


def empty_day(goal_s: float) -> dict:
    """A day's record, in the shape of ``pi-agent simulate``'s report (with more keys)."""
    return {
        "worn_s": 0.0,
        "open_s": 0.0,
        "weight_bearing": {"sessions": 0, "total_s": 0.0, "in_target_s": 0.0, "mean_n": 0.0, "peak_n": 0.0},
        "vibration_s": 0.0,
        "unknown_s": 0.0,
        "open_bouts": 0,
        "longest_bout_s": 0.0,
        "long_bouts": 0,
        "goal_s": goal_s,
    }


class DayLedger:
    def __init__(self, zone: zoneinfo.ZoneInfo, goal_s: float,
                 loader: Callable[[str], dict | None] | None = None) -> None:
        self.zone = zone
        self.goal_s = goal_s
        self.loader = loader
        self.days: dict[str, dict] = {}
        self.dirty: set[str] = set()
        self._bounds: tuple[float, float, str] = (0.0, -1.0, "")   # [start, end) of a cached day

    # -- days ------------------------------------------------------------------------
    def day_of(self, wall: float) -> str:
        start, end, name = self._bounds
        if start <= wall < end:
            return name
        date = dt.datetime.fromtimestamp(wall, self.zone).date()
        start = dt.datetime.combine(date, dt.time(), self.zone).timestamp()
        end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), self.zone).timestamp()
        self._bounds = (start, end, date.isoformat())
        return date.isoformat()

    def day(self, name: str) -> dict:
        """The record of a day, loaded from the store the first time it is touched."""
        record = self.days.get(name)
        if record is None:
            stored = self.loader(name) if self.loader else None
            record = empty_day(self.goal_s)
            if stored:
                _merge(record, stored)
            self.days[name] = record
        self.dirty.add(name)
        return record

    def split(self, wall_start: float, wall_end: float) -> list[tuple[str, float]]:
        """``[wall_start, wall_end]`` cut at local midnights: (day, seconds) pieces."""
        out = []
        t = wall_start
        while True:
            name = self.day_of(t)
            end = self._bounds[1]
            if wall_end <= end:
                out.append((name, wall_end - t))
                return out
            out.append((name, end - t))
            t = end

    def book(self, key: str, seconds: float, wall_end: float) -> list[tuple[str, float]]:
        """Add ``seconds`` (ending at ``wall_end``) to ``key`` of the days they fall in."""
        if seconds <= 0:
            return []
        pieces = self.split(wall_end - seconds, wall_end)
        for name, part in pieces:
            if part > 0:
                self.day(name)[key] += part
        return pieces

    def take_dirty(self) -> dict[str, dict]:
        """Copies of the days changed since the last call (for a checkpoint)."""
        out = {name: copy.deepcopy(self.days[name]) for name in sorted(self.dirty)}
        self.dirty.clear()
        return out


def _merge(record: dict, stored: dict) -> None:
    for key, value in stored.items():
        if isinstance(value, dict) and isinstance(record.get(key), dict):
            record[key].update(value)
        else:
            record[key] = value
