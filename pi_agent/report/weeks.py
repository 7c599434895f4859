"""Figures over stretches of days (a week, the period) and the plain-words readings the
HTML report puts above its charts.

A figure is taken over the days the device recorded: a day without a record is not a
day of zeros to a therapist, it is a day nobody knows about. Metrics the device does not
measure (keys its day records lack) are None, never 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from pi_agent.report.period import Period
from pi_agent.report.rows import flatten


@dataclass(frozen=True)
class Stretch:
    """Some days of the period and the flat records of those that were recorded."""
    dates: tuple[dt.date, ...]
    records: tuple[dict[str, Any], ...]

    @property
    def recorded(self) -> int:
        return len(self.records)

    def total(self, key: str) -> float | None:
        """The sum over recorded days; None when no recorded day carries the key."""
        values = [r[key] for r in self.records if isinstance(r.get(key), (int, float))]
        return sum(values) if values else None

    def per_day(self, key: str) -> float | None:
        """The mean over the recorded days, but for those whose value is damaged (None)."""
        total = self.total(key)
        days = sum(1 for r in self.records if not (key in r and r[key] is None))
        return None if total is None or not days else total / days

    def goal_days(self) -> list[dict[str, Any]]:
        """The recorded days with a goal and an open time (not damaged) to hold against it."""
        return [r for r in self.records if _number(r.get("goal_s")) and _number(r.get("open_s", 0)) is not None]

    def goal_met(self) -> int | None:
        days = self.goal_days()
        if not days:
            return None
        return sum(1 for r in days if r.get("open_s", 0) >= r["goal_s"])

    def mean_load(self) -> float | None:
        """The mean load over all session seconds (each day's mean weighted by its seconds)."""
        pairs = [(r.get("wb_mean_n", 0.0), r.get("wb_total_s", 0.0)) for r in self.records]
        pairs = [(n, s) for n, s in pairs if _number(n) is not None and _number(s) is not None]
        seconds = sum(s for _, s in pairs)
        if seconds <= 0:
            return None
        return sum(n * s for n, s in pairs) / seconds

    def peak_load(self) -> float | None:
        peaks = [r["wb_peak_n"] for r in self.records if r.get("wb_total_s") and _number(r.get("wb_peak_n"))
                 is not None]
        return max(peaks) if peaks else None


def _number(value: Any) -> float | None:
    """A value as a number (None: a damaged one, left blank)."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def stretch(dates, days: Mapping[str, Mapping[str, Any]]) -> Stretch:
    dates = tuple(dates)
    return Stretch(dates, tuple(flatten(days[d.isoformat()]) for d in dates if d.isoformat() in days))


@dataclass(frozen=True)
class Metric:
    key: str
    label: str             # a table's heading (soft hyphens let a narrow column break a long word)
    value: Callable[[Stretch], float | None]
    digits: int = 0
    needs: str | None = None       # the flat key the device must measure for this to be shown


def _minutes(key: str) -> Callable[[Stretch], float | None]:
    return lambda s: None if s.total(key) is None else s.total(key) / 60


def _hours_a_day(key: str) -> Callable[[Stretch], float | None]:
    return lambda s: None if s.per_day(key) is None else s.per_day(key) / 3600


METRICS = (
    Metric("open_h", "Open, h a day", _hours_a_day("open_s"), 1),
    Metric("worn_h", "Worn, h a day", _hours_a_day("worn_s"), 1),
    Metric("goal_met", "Goal met, days", Stretch.goal_met),
    Metric("wb_sessions", "WB ses­sions", lambda s: s.total("wb_sessions")),
    Metric("wb_in_target_min", "In band, min", _minutes("wb_in_target_s"), 1),
    Metric("wb_mean_n", "Mean load, N", Stretch.mean_load),
    Metric("wb_reps", "Shift rep­eti­tions", lambda s: s.total("wb_reps"), needs="wb_reps"),
    Metric("extension_reps", "Exten­sion rep­eti­tions", lambda s: s.total("extension_reps"), needs="extension_reps"),
    Metric("vibration_min", "Vibra­tion, min", _minutes("vibration_s"), 1),
    Metric("spasms", "Spasms", lambda s: s.total("spasms"), needs="spasms"),
    Metric("pressure_alerts", "Pres­sure alerts", lambda s: s.total("pressure_alerts"), needs="pressure_alerts"),
)


def metrics(measured: set[str]) -> list[Metric]:
    """The metrics this device measures."""
    return [m for m in METRICS if m.needs is None or m.needs in measured]


@dataclass(frozen=True)
class WeekRow:
    dates: tuple[dt.date, ...]
    recorded: int
    values: dict[str, float | None]
    changes: dict[str, float | None]       # from the week before (None: not comparable)


def weekly(period: Period, days: Mapping[str, Mapping[str, Any]], measured: set[str]) -> list[WeekRow]:
    """One row per week of the period, with each metric's change from the week before."""
    out: list[WeekRow] = []
    shown = metrics(measured)
    for dates in period.weeks():
        s = stretch(dates, days)
        values = {m.key: (m.value(s) if s.recorded else None) for m in shown}
        before = out[-1].values if out else {}
        changes = {k: (v - before[k] if v is not None and before.get(k) is not None else None)
                   for k, v in values.items()}
        out.append(WeekRow(tuple(dates), s.recorded, values, changes))
    return out


# -- readings: one line in plain words per chart ----------------------------------------------
def _n(value: float, one: str, many: str | None = None) -> str:
    v = round(value)
    if v == 0:
        return f"no {one}"
    return f"{v} {one if v == 1 else (many or one + 's')}"


def _k(value: float, one: str, many: str | None = None) -> str:
    """A count as a figure, singular for one: '0 days', '1 day', '3 days'."""
    v = round(value)
    return f"{v} {one if v == 1 else (many or one + 's')}"


def _on_days(n: int, what: str, never: str) -> str:
    """'<what> on 2 days' / 'on 1 day', or ``never`` for none."""
    return never if n == 0 else f"{what} on {_k(n, 'day')}"


def _a_day(total: float, recorded: int, digits: int = 1) -> str:
    """The mean over recorded days, said only when there is more than one: ' (0.4 a day)'."""
    return f" ({total / recorded:.{digits}f} a day)" if recorded > 1 and total else ""


def _over(recorded: int) -> str:
    return "on the one recorded day" if recorded == 1 else f"over {recorded} recorded days"


def _h(seconds: float | None) -> str:
    return "an unknown time (damaged)" if seconds is None else f"{seconds / 3600:.1f} h"


def _dur(seconds: float) -> str:
    m = round(seconds / 60)
    if m == 0:
        return f"{round(seconds)} s"
    return f"{m // 60} h {m % 60} min" if m >= 60 else f"{m} min"


def _trend(weeks: list[WeekRow], key: str, unit: str, digits: int = 1, what: str = "") -> str:
    """' Last week 4.8 h a day, 0.6 h more than the week before.' (or nothing)."""
    if len(weeks) < 2 or weeks[-1].values.get(key) is None or weeks[-2].values.get(key) is None:
        return ""
    now, change = weeks[-1].values[key], weeks[-1].changes[key]
    fmt = f"{{:.{digits}f}}"
    counted = unit.strip() in ("", "sessions", "spasms", "alerts", "repetitions")

    def said(v: float) -> str:        # '1 session', '3 sessions', '4.8 h'
        text = fmt.format(v)
        return f"{text}{unit[:-1]}" if counted and unit and text == "1" else f"{text}{unit}"
    if round(change, digits) == 0:
        return f" Last week {said(now)}{what}, the same as the week before."
    word = ("more" if change > 0 else "fewer") if counted else ("more" if change > 0 else "less")
    return f" Last week {said(now)}{what}, {said(abs(change))} {word} than the week before."


def readings(period: Period, days: Mapping[str, Mapping[str, Any]], measured: set[str],
             band: tuple[float, float] | None, limits: Mapping[str, float]) -> dict[str, str]:
    """The one-line reading of each chart, by chart key."""
    s = stretch(period.dates, days)
    weeks = weekly(period, days, measured)
    out: dict[str, str] = {}
    if not s.recorded:
        return {k: "Nothing was recorded in this period." for k in
                ("hours", "wb", "load", "reps", "exercise", "vibration", "spasms", "pressure")}
    goal_days = s.goal_days()
    goal = ""
    if goal_days:
        met = s.goal_met()
        goal = f" against a goal of {goal_days[-1]['goal_s'] / 3600:g} h; " + (
            ("the goal was met that day" if met else "the goal was not met that day") if len(goal_days) == 1
            else f"the goal was met on {met} of {len(goal_days)} days")
    if s.recorded == 1:
        out["hours"] = (f"Open {_h(s.per_day('open_s'))} on the one recorded day{goal}; worn "
                        f"{_h(s.per_day('worn_s'))}." + _trend(weeks, "open_h", " h", 1, " a day open"))
    else:
        out["hours"] = (f"Open {_h(s.per_day('open_s'))} a day on average over {s.recorded} recorded days{goal}; "
                        f"worn {_h(s.per_day('worn_s'))} a day." + _trend(weeks, "open_h", " h", 1, " a day open"))

    sessions = s.total("wb_sessions") or 0
    total_s, in_s = s.total("wb_total_s") or 0.0, s.total("wb_in_target_s") or 0.0
    session_days = sum(1 for r in s.records if r.get("wb_sessions"))
    if sessions:
        out["wb"] = (f"{_k(sessions, 'session')} on {_k(session_days, 'day')}, {_dur(total_s)} on the pad in all; "
                     f"the load was in the target band {100 * in_s / total_s:.0f}% of that time."
                     + _trend(weeks, "wb_sessions", " sessions", 0))
    else:
        out["wb"] = "No weight-bearing session in this period."
    mean, peak = s.mean_load(), s.peak_load()
    if mean is None:
        out["load"] = "No load to show: no weight-bearing session in this period."
    else:
        text = f"Mean load {mean:.0f} N over all sessions, highest {peak:.0f} N"
        if band is not None:
            over = sum(1 for r in s.records if r.get("wb_total_s") and (_number(r.get("wb_peak_n")) or 0) > band[1])
            under = sum(1 for r in s.records if r.get("wb_total_s") and _number(r.get("wb_mean_n", 0)) is not None
                        and r.get("wb_mean_n", 0) < band[0])
            text += (f"; target band {band[0]:.0f}–{band[1]:.0f} N. "
                     + _on_days(over, "The peak went over the band", "The peak never went over the band") + "; "
                     + _on_days(under, "the mean was below the band", "the mean was never below it"))
        out["load"] = text + "."
    if "wb_reps" in measured:
        reps = s.total("wb_reps") or 0
        out["reps"] = (f"{_n(reps, 'weight-shift repetition').capitalize()} {_over(s.recorded)}"
                       f"{_a_day(reps, s.recorded)}.")
    else:
        out["reps"] = "Weight-shift repetitions are not measured by this device."
    out["exercise"] = _exercise_reading(s, weeks, measured, int(limits.get("exercise_goal_reps") or 0))
    vib = s.total("vibration_s") or 0.0
    vib_days = sum(1 for r in s.records if r.get("vibration_s"))
    if vib:
        limit = limits.get("vibration_daily_s")
        out["vibration"] = (f"Vibration therapy on {_k(vib_days, 'day')}, {_dur(vib / vib_days)} "
                            + ("a day on those days" if vib_days > 1 else "that day")
                            + (f" (the daily limit is {_dur(limit)})" if limit else "") + "."
                            + _trend(weeks, "vibration_min", " min", 0))
        unseen = s.total("vibration_unconfirmed_s") or 0.0
        if unseen >= 0.05:
            out["vibration"] += (f" Of this, {_dur(unseen)} is unconfirmed: a therapy was interrupted (a power cut "
                                 "or a restart) and is counted to its planned end, as the daily "
                                 "limit must assume; the motor may have stopped sooner.")
    else:
        out["vibration"] = "No vibration therapy in this period."
    if "spasms" in measured:
        n = s.total("spasms") or 0
        out["spasms"] = (f"{_n(n, 'spasm').capitalize()} {_over(s.recorded)}{_a_day(n, s.recorded)}"
                         + (f", {_dur(s.total('spasm_s'))} in all" if s.total("spasm_s") else "") + "."
                         + _trend(weeks, "spasms", " spasms", 0))
    else:
        out["spasms"] = "Spasms are not measured by this device."
    if "pressure_alerts" in measured:
        n = s.total("pressure_alerts") or 0
        high = s.total("high_pressure_s")
        out["pressure"] = ((f"{_k(n, 'skin-pressure alert')} on "
                            f"{_k(sum(1 for r in s.records if r.get('pressure_alerts')), 'day')}" if n
                            else "No skin-pressure alert")
                           + (f"; the palm force was high for {_dur(high)} in all" if high else "") + ".")
    else:
        out["pressure"] = "Skin-pressure alerts are not measured by this device."
    return out


def _exercise_reading(s: Stretch, weeks: list[WeekRow], measured: set[str], goal: int) -> str:
    """'412 active extension repetitions on 9 days, in 1 h 40 min of exercise (4.1 a minute);
    the daily goal of 40 was met on 6 of 9 recorded days. Last week ...'"""
    if "extension_reps" not in measured:
        return "Active extension repetitions are not measured by this device."
    reps, seconds = s.total("extension_reps") or 0, s.total("exercise_s") or 0.0
    days = sum(1 for r in s.records if r.get("exercise_s") or r.get("extension_reps"))
    if not days:
        return "No exercise session in this period."
    text = f"{_n(reps, 'active extension repetition').capitalize()} on {_k(days, 'day')}, in {_dur(seconds)} of exercise"
    if seconds >= 60 and reps:
        text += f" ({reps / (seconds / 60):.1f} a minute)"
    if goal:
        met = sum(1 for r in s.records if (r.get("extension_reps") or 0) >= goal)
        text += (f"; the daily goal of {goal} was {'met' if met else 'not met'} on the one recorded day"
                 if s.recorded == 1 else f"; the daily goal of {goal} was met on {met} of {s.recorded} recorded days")
    return text + "." + _trend(weeks, "extension_reps", " repetitions", 0)
