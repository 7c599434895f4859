"""The therapist's report: every local day of a period, as CSV, as one self-contained HTML
page of charts, or as JSON.

Its days are the day objects of ``pi-agent simulate --report json`` (made by the same
``pi_agent.core.days.report_day``), whatever they come from: the device's store
(``pi-agent report``, the MQTT ``report`` request) or the day messages a dashboard has
received. So a spreadsheet of the CSV, the simulate report, the dashboard's download and
the MQTT answer agree to the second.

- ``period``: the local days of a period (DST days included), and ``--from``/``--to``;
- ``rows``: the days as flat rows, one column per key of the day record;
- ``csv``, ``html``: the two renderings for people; ``settings``: the targets in words;
- ``weeks``: week-by-week figures and the plain-words readings of the HTML.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from pi_agent.core.days import Day, report_day, unsound_values
from pi_agent.core.weight_bearing import Band
from pi_agent.report.period import Period

FORMATS = ("csv", "html", "json")


@dataclass(frozen=True)
class Report:
    device: str
    period: Period
    days: dict[str, dict[str, Any]]                 # the recorded days of the period, report-shaped, by date
    settings: tuple[tuple[str, str], ...] = ()      # (what, value): the targets and settings in force
    band: Band | None = None                        # the weight-bearing target band, in newtons
    recorded: tuple[str, str] | None = None         # first and last day the source has a record of
    source: str = ""                                # where the days come from, in words
    made: str = ""                                  # when the report was made (local time, as text)
    limits: dict[str, float] = field(default_factory=dict)   # e.g. {'vibration_daily_s': 5400.0}
    damaged: Mapping[str, tuple[str, ...]] = field(default_factory=dict)   # day -> its unsound values, in words
    left_out: tuple[str, ...] = ()                  # recorded days after the default period (a clock ahead)

    @property
    def empty(self) -> bool:
        return not self.days

    def note(self) -> str | None:
        """One line when the period holds no record: why, and where the records are."""
        if not self.empty:
            return None
        first, last = self.period.first.isoformat(), self.period.last.isoformat()
        if self.recorded is None:
            return f"no day is recorded yet, so the report from {first} to {last} is empty"
        if last < self.recorded[0]:
            return (f"the period {first} to {last} is before the first record ({self.recorded[0]}); "
                    f"records run from {self.recorded[0]} to {self.recorded[1]}")
        return (f"no day from {first} to {last} has a record; records run from "
                f"{self.recorded[0]} to {self.recorded[1]}")


    def damage_note(self) -> str | None:
        """One line when days of the period have unsound values: which, shown blank."""
        if not self.damaged:
            return None
        said = "; ".join(f"{day} ({'; '.join(why)})" for day, why in sorted(self.damaged.items()))
        n = len(self.damaged)
        return (f"{n} day{'s' if n > 1 else ''} in the store {'have' if n > 1 else 'has'} damaged values, "
                f"shown blank (not as 0) and left out of the totals: {said}")

    def left_out_note(self) -> str | None:
        """One line when recorded days after the period were left out of the default one."""
        if not self.left_out:
            return None
        first, last, n = self.left_out[0], self.left_out[-1], len(self.left_out)
        days = f"1 later day is left out, {first}" if n == 1 else f"{n} later days are left out, {first} to {last}"
        return (f"the period ends with the last day recorded up to today ({self.period.last.isoformat()}); "
                f"{days}, dated after today by a clock that was ahead (--to {last} shows "
                f"{'it' if n == 1 else 'them'})")

    def notes(self) -> list[str]:
        """Every line the reader must be told, beside the report itself."""
        return [n for n in (self.note(), self.damage_note(), self.left_out_note()) if n]


def store_days(store, period: Period) -> dict[str, dict[str, Any]]:
    """The store's days of the period, as ``simulate --report json`` gives them (as the
    agent counts them: a damaged value is 0)."""
    raw = store.days(period.first.isoformat(), period.last.isoformat())
    return {day: report_day(Day.from_json(record)) for day, record in raw.items()}


def checked_store_days(store, period: Period) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, ...]]]:
    """(the store's days of the period as ``store_days`` gives them, but each unsound value
    None: blank, not 0; {day: its unsound values in words}), for a reader."""
    raw = store.days(period.first.isoformat(), period.last.isoformat())
    days, damaged = {}, {}
    for day, record in raw.items():
        days[day], why = checked_day(record)
        if why:
            damaged[day] = why
    return days, damaged


def checked_day(record: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A stored day in the report's shape with its unsound values (``unsound_values``) None,
    and goal_pct None when open_s is; and those values in words."""
    bad = unsound_values(record)
    out = report_day(Day.from_json(record))
    for key in bad:
        if key in ("", "weight_bearing"):
            out["weight_bearing"] = dict.fromkeys(out["weight_bearing"])
        if key == "":
            out.update(dict.fromkeys(k for k in out if k != "weight_bearing"))
        elif key.startswith("weight_bearing."):
            out["weight_bearing"][key.partition(".")[2]] = None
        elif key in out and key != "weight_bearing":
            out[key] = None
    if "open_s" in bad and "goal_pct" in out:
        out["goal_pct"] = None
    return out, tuple(dict.fromkeys(bad.values()))


def live_days(days: Mapping[str, Day]) -> dict[str, dict[str, Any]]:
    """Typed days (the running agent's own) as the report's days."""
    return {day: report_day(record) for day, record in days.items()}


def message_days(messages: Mapping[str, Mapping[str, Any]], period: Period) -> dict[str, dict[str, Any]]:
    """The days of MQTT ``day/<date>`` messages (report-shaped, plus ``date`` and ``final``)
    that fall in the period, as the report's days."""
    first, last = period.first.isoformat(), period.last.isoformat()
    return {day: {k: v for k, v in msg.items() if k not in ("date", "final")}
            for day, msg in sorted(messages.items()) if first <= day <= last and isinstance(msg, Mapping)}


def to_json(report: Report) -> dict[str, Any]:
    """The JSON report: the period, and ``days`` exactly as ``simulate --report json``."""
    out: dict[str, Any] = {"device": report.device, "from": report.period.first.isoformat(),
                           "to": report.period.last.isoformat(),
                           "timezone": report.period.zone.key if report.period.zone else None,
                           "days": report.days}
    note = report.note()
    if note:
        out["note"] = note
    if report.damaged:
        out["damaged"] = {day: list(why) for day, why in sorted(report.damaged.items())}
    if report.left_out:
        out["left_out"] = list(report.left_out)
    return out


def render(report: Report, fmt: str) -> str:
    """The report as text in ``fmt`` ('csv', 'html' or 'json')."""
    if fmt == "csv":
        from pi_agent.report import csv
        return csv.render(report)
    if fmt == "html":
        from pi_agent.report import html
        return html.render(report)
    if fmt == "json":
        return json.dumps(to_json(report), indent=1) + "\n"
    raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got '{fmt}'")


def latest_day(recorded: tuple[str, str] | None, today: dt.date, latest_past: str | None = None) -> dt.date:
    """The default period's last day: the last day recorded up to tomorrow by this machine's
    clock (``latest_past``; a day more for the zones), so that a day dated by a wall clock
    that was years ahead does not take the period over; the last recorded day when every
    one is later (a simulated store dated ahead); today with none."""
    if not recorded:
        return today
    return dt.date.fromisoformat(latest_past or recorded[1])


def ahead_limit(today: dt.date) -> dt.date:
    """The last day a record may be dated and still be taken as past: tomorrow."""
    return today + dt.timedelta(days=1)
