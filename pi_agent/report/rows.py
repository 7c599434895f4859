"""The days of a report as flat rows: one per local day of the period, the columns of
``simulate --report json``'s day objects.

The columns come from the typed day record (``pi_agent.core.days.Day``) through the same
``report_day`` that makes the simulate report and MQTT's day messages, so a new daily
metric appears here, in the CSV and in the HTML tables with no change. Nested objects are
flattened with a prefix (``weight_bearing.sessions`` is ``wb_sessions``).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from pi_agent.core.days import MIN_GOAL_S, Day, report_day

PREFIXES = {"weight_bearing": "wb_"}
TRACKED = "tracked"        # 1: the device kept a record of the day; 0: it has none (a row of zeros)


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """A day object of the report, nested objects flattened: {'wb_sessions': 2, ...}."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping):
            prefix = PREFIXES.get(key, f"{key}_")
            for k, v in value.items():
                out[prefix + k] = v
        else:
            out[key] = value
    return out


def template() -> dict[str, Any]:
    """Every column the day record has, in the report's order (``goal_pct`` included)."""
    return flatten(report_day(Day(goal_s=MIN_GOAL_S)))


def columns(days: Iterable[Mapping[str, Any]] = ()) -> list[str]:
    """``date``, the day record's columns, any column only the data has (a newer agent's),
    then ``tracked``."""
    keys = list(template())
    seen = set(keys)
    for record in days:
        for key in flatten(record):
            if key not in seen and key not in ("date", "final", TRACKED):
                keys.append(key)
                seen.add(key)
    return ["date", *keys, TRACKED]


def rows(dates: Iterable[str], days: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, one row per date): a recorded day's values; a day without a record a row of
    zeros with ``tracked`` 0. A value a recorded day lacks (``goal_pct`` with no goal) is None."""
    cols = columns(days.values())
    out = []
    for date in dates:
        record = days.get(date)
        if record is None:
            row = {c: 0 for c in cols}
            row.update(date=date)
        else:
            flat = flatten(record)
            row = {c: flat.get(c) for c in cols}
            row.update(date=date, **{TRACKED: 1})
        out.append(row)
    return cols, out


def measured(days: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The flat keys that at least one recorded day carries: the metrics this device measures."""
    keys: set[str] = set()
    for record in days.values():
        keys.update(flatten(record))
    return keys
