"""The therapist's report of one device, from the day messages the dashboard has received
(``GET /api/report?device=ID&format=csv|html|json[&from=DATE&to=DATE]``).

The days are the agent's own ``day/<date>`` summaries, which are ``simulate --report
json``'s day objects, so this download and ``pi-agent report`` on the device's store give
the same numbers. Without dates, the period is every day the dashboard knows of the
device (at most a year, the latest) up to the last one dated up to today (a day more for the
zones): days dated later, by a device clock that was ahead, are left out, and the report
says so (unless every day is later: a simulated device dated ahead).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import zoneinfo

from pi_agent.errors import InputError
from pi_agent.report import FORMATS, Report, ahead_limit, latest_day, message_days, render, settings as settings_mod
from pi_agent.report.period import MAX_DAYS, choose

TYPES = {"csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8",
         "json": "application/json; charset=utf-8"}


def download(fleet, query: dict[str, list[str]]) -> tuple[int, bytes, str, dict[str, str]]:
    """(HTTP status, body, content type, headers) for a report request's query."""
    def arg(name):
        values = query.get(name)
        return values[0] if values else None

    device, fmt = arg("device"), arg("format") or "html"
    if fmt not in FORMATS:
        return _problem(400, f"format: expected one of {', '.join(FORMATS)}, got '{fmt}'")
    if not device:
        return _problem(400, "device: missing (the device's id: ?device=ID)")
    known = fleet.history(device)
    if known is None:
        return _problem(404, f"device: no device '{device}' is known to this dashboard")
    messages, state = known
    recorded = (min(messages), max(messages)) if messages else None
    zone = device_zone(state)
    today = dt.datetime.now(zone).date() if zone is not None else dt.date.today()
    limit = ahead_limit(today).isoformat()
    latest = latest_day(recorded, today, max((d for d in messages if d <= limit), default=None))
    first = arg("from")
    if first is None and arg("to") is None and recorded is not None:
        first = max(dt.date.fromisoformat(recorded[0]), latest - dt.timedelta(days=MAX_DAYS - 1)).isoformat()
    try:
        period = choose(first, arg("to"), latest=latest, zone=zone)
    except InputError as exc:
        return _problem(400, str(exc).replace("--from", "from").replace("--to", "to"))
    left_out = tuple(sorted(d for d in messages if d > period.last.isoformat())) \
        if arg("to") is None and recorded and latest.isoformat() != recorded[1] else ()
    settings, band = settings_mod.from_state(state)
    report = Report(device=device, period=period, days=message_days(messages, period), settings=tuple(settings),
                    band=band, recorded=recorded, source="the dashboard's copy of the device's day summaries",
                    made=_made(period.zone), left_out=left_out,
                    limits={"exercise_goal_reps": float(settings_mod.exercise_goal(state) or 0)})
    name = re.sub(r"[^A-Za-z0-9_-]", "_", device)
    filename = f"openpalm-{name}-{period.first.isoformat()}-to-{period.last.isoformat()}.{fmt}"
    return 200, render(report, fmt).encode("utf-8"), TYPES[fmt], {
        "Content-Disposition": f'attachment; filename="{filename}"'}


def device_zone(state: dict | None) -> zoneinfo.ZoneInfo | None:
    """The zone the device counts its days in, as its last state says it (None: an older
    agent that does not say it, or a zone this machine does not know)."""
    name = (state or {}).get("zone")
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return None


def _made(zone: zoneinfo.ZoneInfo | None) -> str:
    """Now, on the device's clock when its zone is known (as ``pi-agent report`` says it)."""
    if zone is None:
        return time.strftime("%Y-%m-%d %H:%M %Z")
    return dt.datetime.now(zone).strftime("%Y-%m-%d %H:%M %Z")


def _problem(status: int, text: str) -> tuple[int, bytes, str, dict[str, str]]:
    return status, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8", {}
