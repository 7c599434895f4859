"""Daily totals per local day: the typed day record and the ledger that time is booked into.

Durations always come from the monotonic clock. The wall clock only decides which
local day a stretch belongs to: a stretch of ``d`` monotonic seconds that ends now is
booked over ``[wall_now - d, wall_now]`` and split at local midnights in the configured
IANA zone (so a DST day has 23 or 25 hours). A wall-clock jump therefore moves no time
in or out of the totals; at worst it moves one stretch across a midnight.

A new daily metric is one field of ``Day`` (or ``WeightBearingDay``) and the tracker that
books it: the store, the report, MQTT's day messages and the therapist's CSV all take
their keys from these fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, Mapping

from pi_agent.config.schema import GOAL_H_MAX, GOAL_H_MIN


@dataclass(slots=True)
class WeightBearingDay:
    sessions: int = 0            # sessions that started on the day
    total_s: float = 0.0         # seconds inside sessions
    in_target_s: float = 0.0     # ... with the load inside the target band
    mean_n: float = 0.0          # mean load over the session seconds
    peak_n: float = 0.0          # highest (smoothed) load
    fingers_s: float = 0.0       # seconds with the fingers' zone taking load
    load_ns: float = 0.0         # the load integral (newton-seconds) behind mean_n
    reps: int = 0                # weight-shift repetitions (rises into the band after a drop)


@dataclass(slots=True)
class Day:
    """One local day's totals, in the shape of ``pi-agent simulate``'s report."""
    worn_s: float = 0.0
    open_s: float = 0.0
    weight_bearing: WeightBearingDay = field(default_factory=WeightBearingDay)
    vibration_s: float = 0.0
    vibration_unconfirmed_s: float = 0.0   # of vibration_s: counted after an interruption, not seen played
    unknown_s: float = 0.0       # worn (or maybe worn) with the position not known
    open_bouts: int = 0
    longest_bout_s: float = 0.0
    long_bouts: int = 0          # open bouts of at least positioning.long_bout_min
    goal_s: float = 0.0          # the goal of open seconds in force that day
    spasms: int = 0              # spasms that began on the day
    spasm_s: float = 0.0         # seconds inside spasms
    pressure_alerts: int = 0     # skin-pressure alerts raised on the day
    high_pressure_s: float = 0.0  # seconds with the palm force at or above pressure.alert_n
    extension_reps: int = 0      # active extension repetitions inside exercise sessions
    exercise_s: float = 0.0      # seconds inside exercise sessions

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], goal_s: float = 0.0) -> "Day":
        """A stored day; keys it does not know (a newer agent's) are left out, keys it
        misses (an older agent's) keep their defaults, and so do damaged values (text, NaN,
        infinities, negative, more than a day holds: ``damaged_fields`` says which), so
        that no total, view or limit is ever computed from one."""
        day = cls(goal_s=goal_s)
        if not isinstance(data, Mapping):
            return day
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name == "weight_bearing":
                if isinstance(value, Mapping):
                    wb = day.weight_bearing
                    for g in dataclasses.fields(WeightBearingDay):
                        if g.name in value and _damage(g.name, value[g.name]) is None:
                            setattr(wb, g.name, value[g.name])
            elif _damage(f.name, value) is None:
                setattr(day, f.name, value)
        for record in (day, day.weight_bearing):   # a count stored as 3.0 is the count 3
            for f in dataclasses.fields(record):
                if f.name in COUNTS:
                    setattr(record, f.name, int(getattr(record, f.name)))
        return day

    def copy(self) -> "Day":
        return Day.from_json(self.to_json())


# A local day as the store keys it, and the days taken anywhere (commands, options, the store):
# a local day of any zone, and the day after it, stay within the clock's range.
YYYY_MM_DD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")     # (fromisoformat also takes 2026-W18-1)
FIRST_YEAR, LAST_YEAR = 1971, 9998

MAX_DAY_S = 2 * 86400.0     # a day's seconds: more than this is damage (a DST day has 25 hours)
MAX_COUNT = 1e9            # no count, force or load integral of one day comes near this
MIN_GOAL_S = GOAL_H_MIN * 3600.0   # a day's goal below this is none: no share of it is computed


# The counts of a day (``int`` fields): 2.5 spasms is no count (3.0 is the count 3).
COUNTS = frozenset(f.name for cls in (Day, WeightBearingDay) for f in dataclasses.fields(cls) if f.type == "int")
OPEN_OVER_WORN_S = 1.0     # open time is worn time, booked in the same pieces: more than rounding over is damage


def _damage(name: str, value: Any) -> str | None:
    """Why a stored day's value cannot be a total (None: it can)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{name} is {type(value).__name__}, not a number"
    if not math.isfinite(value) or value < 0:
        return f"{name} is {value!r}"
    if name.rpartition(".")[2] in COUNTS and not float(value).is_integer():
        return f"{name} is {value!r}, not a whole number"
    if value > (MAX_DAY_S if name.endswith("_s") else MAX_COUNT):
        return f"{name} is {value:g}, more than a day holds"
    if name == "goal_s" and value and not MIN_GOAL_S <= value <= GOAL_H_MAX * 3600.0:   # 0: no goal
        return f"goal_s is {value:g}, outside the goal's {GOAL_H_MIN:g} to {GOAL_H_MAX:g} hours"
    return None


def damaged_fields(data: Any) -> list[str]:
    """What is damaged in a stored day's record, one phrase each (empty: nothing): the
    values ``from_json`` leaves at their defaults."""
    return list(_damaged(data).values())


def _damaged(data: Any) -> dict[str, str]:
    """The damaged values of a stored day's record: {key (``weight_bearing.peak_n``): why}."""
    if not isinstance(data, Mapping):
        return {"": f"the record is {type(data).__name__}, not an object"}
    bad = {}
    for f in dataclasses.fields(Day):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name == "weight_bearing":
            if not isinstance(value, Mapping):
                bad[f.name] = f"weight_bearing is {type(value).__name__}, not an object"
                continue
            bad.update({f"weight_bearing.{g.name}": why for g in dataclasses.fields(WeightBearingDay)
                        if g.name in value for why in [_damage(f"weight_bearing.{g.name}", value[g.name])] if why})
        elif (why := _damage(f.name, value)) is not None:
            bad[f.name] = why
    return bad


def unsound_values(data: Any) -> dict[str, str]:
    """For a reader (status, report): the values of a stored day's record not to be shown as
    figures, {key: why}: the damaged ones (``damaged_fields``), worn_s or open_s missing
    (every OpenPalm writes both), and both of them when the open time is more than the worn
    time (one of them is wrong, which one is not known).
    A record that is no object, or whose weight_bearing is none, has the key '' or
    'weight_bearing'. (The agent itself counts only the damaged ones as nothing.)"""
    bad = {key: why.replace(" is nan", " is not a number")       # (said with no 'nan' a reader could take for one)
           for key, why in _damaged(data).items()}
    if not isinstance(data, Mapping):
        return bad
    bad.update({key: f"{key} is missing" for key in ("worn_s", "open_s") if key not in data})
    if not {"open_s", "worn_s"} & set(bad):
        open_s, worn_s = data["open_s"], data["worn_s"]
        if open_s > worn_s + OPEN_OVER_WORN_S:
            why = f"open_s is {open_s:g}, more than worn_s {worn_s:g}"
            bad.update(open_s=why, worn_s=why)
    unseen, vib = data.get("vibration_unconfirmed_s", 0.0), data.get("vibration_s", 0.0)
    if not {"vibration_s", "vibration_unconfirmed_s"} & set(bad) and unseen > vib + OPEN_OVER_WORN_S:
        why = f"vibration_unconfirmed_s is {unseen:g}, more than vibration_s {vib:g}"   # (a part of it)
        bad.update(vibration_s=why, vibration_unconfirmed_s=why)
    return bad


# The contract's keys (docs/scenario-format.md), in its order; any other field follows them.
REPORT_KEYS = ("worn_s", "open_s", "weight_bearing", "vibration_s")
WB_KEYS = ("sessions", "total_s", "in_target_s", "mean_n", "peak_n")


def report_day(day: Day) -> dict[str, Any]:
    """A day in the report's shape: the keys of docs/scenario-format.md first, then the extra ones."""
    record = day.to_json()
    out: dict[str, Any] = {}
    for key in REPORT_KEYS:
        value = record.pop(key)
        if key == "weight_bearing":
            out[key] = {k: _num(value.pop(k)) for k in WB_KEYS}
            out[key].update({k: _num(v) for k, v in sorted(value.items())})
        else:
            out[key] = _num(value)
    out.update({k: _num(v) for k, v in sorted(record.items())})
    if day.goal_s >= MIN_GOAL_S:
        out["goal_pct"] = round(100.0 * day.open_s / day.goal_s, 1)
    return out


def since_midnight(wall: float, zone: zoneinfo.ZoneInfo) -> float:
    """Seconds from the local midnight that began the day of ``wall`` to ``wall``."""
    date = dt.datetime.fromtimestamp(wall, zone).date()
    return wall - dt.datetime.combine(date, dt.time(), zone).timestamp()


def until_end_of(day: str, wall: float, zone: zoneinfo.ZoneInfo) -> float:
    """Seconds from ``wall`` to the local midnight that ends ``day`` (YYYY-MM-DD)."""
    date = dt.date.fromisoformat(day)
    return dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), zone).timestamp() - wall


def _num(v):
    return round(v, 3) if isinstance(v, float) else v


class DayLedger:
    """The days being tracked, by local date. ``stored`` holds the days the store already
    has (as JSON records): a day is taken from it the first time it is touched."""

    def __init__(self, zone: zoneinfo.ZoneInfo, goal_s: float, stored: Mapping[str, Mapping] | None = None) -> None:
        self.zone = zone
        self.goal_s = goal_s
        self._stored = dict(stored or {})
        self.days: dict[str, Day] = {}
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

    def day(self, name: str) -> Day:
        """The record of a day (marked changed): the stored one the first time it is touched."""
        record = self.days.get(name)
        if record is None:
            stored = self._stored.pop(name, None)
            record = Day.from_json(stored, self.goal_s) if stored else Day(goal_s=self.goal_s)
            self.days[name] = record
        self.dirty.add(name)
        return record

    def peek(self, name: str) -> Day | None:
        """The record of a day if it is known, without marking it changed."""
        record = self.days.get(name)
        if record is None and name in self._stored:
            return Day.from_json(self._stored[name], self.goal_s)
        return record

    def since_midnight(self, wall: float) -> float:
        """Seconds from the start of the local day of ``wall`` to ``wall``."""
        self.day_of(wall)
        return wall - self._bounds[0]

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
                day = self.day(name)
                setattr(day, key, getattr(day, key) + part)
        return pieces

    def take_dirty(self) -> dict[str, dict]:
        """The days changed since the last call, as JSON records (for a checkpoint)."""
        out = {name: self.days[name].to_json() for name in sorted(self.dirty)}
        self.dirty.clear()
        return out
