"""Every view of the core's state, rendered from one ``Snapshot``: the status line of
``pi-agent run``, systemd's STATUS=, and MQTT's ``state`` and ``load`` payloads (which the
dashboard and Home Assistant read); and every view of the days (``Day`` records):
``pi-agent status``, the totals ``run --simulate`` ends with, ``simulate --report text``.
One module, so that the views cannot drift apart: a new daily metric is shown by
changing the day views here.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Mapping, Sequence

from pi_agent.core.days import Day, report_day
from pi_agent.core.events import Event
from pi_agent.core.faults import describe
from pi_agent.core.position import UNKNOWN, WORN_UNKNOWN, words
from pi_agent.core.snapshot import Snapshot
from sensors.channel import label
from sensors.units import G


def count(n: int, one: str, many: str | None = None) -> str:
    """A count with its word, singular for exactly one: '1 weight shift', '3 weight shifts'."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def iso(wall: float, zone) -> str:
    return dt.datetime.fromtimestamp(wall, zone).isoformat(timespec="milliseconds")


# -- the status line ------------------------------------------------------------------------
def position_words(s: Snapshot) -> str:
    """The position in a family member's words: 'hand open', 'splint off', 'no reading yet'."""
    return words(s.state, read=s.splint_read)


def summary_line(s: Snapshot) -> str:
    """The hand and today's hours: 'hand open for 1:23  today: open 2.5 h of 6 h (42%), worn 3.1 h'."""
    if not s.has_splint:
        return ""
    today = s.today
    since = ""
    if s.position_since is not None and s.state not in (UNKNOWN, WORN_UNKNOWN):
        minutes = int(max(0.0, s.wall - s.position_since) // 60)
        since = f" for {minutes // 60}:{minutes % 60:02d}"
    goal = today.goal_s or 1
    return (f"{position_words(s)}{since}  today: open {today.open_s / 3600:.1f} h of "
            f"{goal / 3600:g} h ({100 * today.open_s / goal:.0f}%), worn {today.worn_s / 3600:.1f} h")


def status_line(s: Snapshot, zone, wall: float) -> str:
    """The line ``pi-agent run`` shows, at wall time ``wall``."""
    parts = [dt.datetime.fromtimestamp(wall, zone).strftime("%Y-%m-%d %H:%M:%S")]
    summary = summary_line(s)
    if summary:
        parts.append(summary)
    values = []
    for ch in s.channels:
        if ch.t is None:
            continue
        if ch.value is None:
            values.append(f"{label(ch.name)} --")
        else:
            values.append(f"{label(ch.name)} {round(ch.value) or 0}°" if ch.kind == "flex"
                          else f"{label(ch.name)} {max(0.0, ch.value):.1f} N")
    parts.append(", ".join(values))
    parts.append(load_text(s))
    if s.exercise is not None:
        parts.append(f"exercise: {count(s.exercise.reps, 'repetition')}")
    faults = [describe(ch, kind) for ch, kind in s.faults]
    parts.append("faults: " + ("; ".join(faults) if faults else "none"))
    return "  |  ".join(parts)


def load_text(s: Snapshot) -> str:
    """The load on the pad as a person reads it: newtons, kilograms, % of body weight,
    the fingers' share, and where it is against the target band."""
    load = s.load_n
    if load is None:
        return "load --"
    text = f"load {load:.1f} N ({load / G:.1f} kg"
    if s.body_weight_kg > 0:
        text += f", {100 * load / (s.body_weight_kg * G):.0f}% of body weight"
    text += ")"
    if s.session:
        if s.fingers_share is not None:
            text += f", fingers {100 * s.fingers_share:.0f}%"
        band = s.band
        if band is not None:
            where = "in the band" if band.low_n <= load <= band.high_n else (
                "over the maximum" if load > band.high_n else "below the band")
            text += f", {where} ({band.low_n:.0f}-{band.high_n:.0f} N)"
    return text


def systemd_status(s: Snapshot, broker_connected: bool | None) -> str:
    """The STATUS= line: position, today's open hours, broker connected or not."""
    text = f"{position_words(s)}; open today {s.today.open_s / 3600:.1f} h of {s.goal_s / 3600:g} h"
    if broker_connected is not None:
        text += "; broker " + ("connected" if broker_connected else "not connected")
    if s.faults:
        text += f"; {count(len(s.faults), 'sensor fault')}"
    return text


# -- days: `pi-agent status`, the end of `run --simulate`, `simulate --report text` -------------
def goal_pct(day: Day) -> float:
    """The open hours against the day's goal, in % (0 with no goal)."""
    return 100.0 * day.open_s / day.goal_s if day.goal_s else 0.0


def _h(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Goals:
    """The daily goals of repetitions a day's lines are said against (0: none)."""
    extension_reps: int = 0
    weight_shifts: int = 0

    @classmethod
    def of(cls, cfg) -> "Goals":
        return cls(cfg.exercise.goal_reps, cfg.weight_bearing.goal_reps)


def _of_goal(count: int, goal: int) -> str:
    return f" of {goal} goal ({100 * count / goal:.0f}%)" if goal else ""


def day_lines(label: str, day: Day | None, long_bout_min: float, goals: Goals = Goals()) -> list[str]:
    """A day's totals as a person reads them (``label``: "today" or the date; open bouts of
    ``long_bout_min`` minutes or more are counted apart)."""
    if day is None:
        return [f"  {label}: nothing tracked"]
    wb = day.weight_bearing
    return [f"  {label}: open {_h(day.open_s)} of {_h(day.goal_s)} goal ({goal_pct(day):.0f}%), "
            f"worn {_h(day.worn_s)}, {count(day.open_bouts, 'open bout')} "
            f"({day.long_bouts} of {long_bout_min:g} min or more), longest {day.longest_bout_s / 60:.0f} min"
            + _across_midnight(day),
            f"    weight bearing: {count(wb.sessions, 'session')}, {wb.total_s / 60:.1f} min, "
            f"{wb.in_target_s / 60:.1f} min in the target band; vibration {day.vibration_s / 60:.1f} min"
            + unconfirmed(day),
            f"    spasms: {day.spasms} ({day.spasm_s / 60:.1f} min); skin-pressure alerts: {day.pressure_alerts} "
            f"(high pressure {day.high_pressure_s / 60:.1f} min); weight-shift reps: {wb.reps}"
            + _of_goal(wb.reps, goals.weight_shifts),
            f"    exercise: {count(day.extension_reps, 'extension repetition')}"
            + _of_goal(day.extension_reps, goals.extension_reps) + f", {day.exercise_s / 60:.1f} min"]


def _across_midnight(day: Day) -> str:
    """Why a day's bouts and open time disagree: a bout belongs to the day it began."""
    if day.longest_bout_s > day.open_s + 60:
        return " (it went on past midnight)"
    if day.open_bouts == 0 and day.open_s >= 60:
        return " (the open time goes on from a bout begun the day before)"
    return ""


def unconfirmed(day: Day) -> str:
    """What of a day's vibration was counted after an interruption, not seen played ('' if none)."""
    if day.vibration_unconfirmed_s < 0.05:
        return ""
    return f" ({day.vibration_unconfirmed_s / 60:.1f} of it unconfirmed: therapy interrupted)"


WB_LEGEND = "WB: weight bearing, the open hand pressing on the table pad"
REPORT_LEGEND = (f"{WB_LEGEND}; WB s, in target s, mean N, peak N: its seconds, seconds in the target band, mean "
                 "and peak load; WB reps: its weight-shift repetitions; bouts: bouts with the hand open begun that "
                 "day (a bout belongs to the day it began); ext reps: finger-extension repetitions in exercise")
WEEK_HEAD = ("    day         open h  worn h  goal %  WB sessions  weight shifts  vibration min  spasms"
             "  pressure alerts  extension reps")


def week_row(name: str, day: Day | None) -> str:
    """One row of status's table of the days before (``name``: the date)."""
    if day is None:
        return (f"    {name}       -       -       -            -              -              -       -"
                f"                -               -")
    return (f"    {name}  {day.open_s / 3600:6.1f}  {day.worn_s / 3600:6.1f}  {goal_pct(day):6.0f}  "
            f"{day.weight_bearing.sessions:11d}  {day.weight_bearing.reps:13d}  {day.vibration_s / 60:13.1f}  "
            f"{day.spasms:6d}  {day.pressure_alerts:15d}  {day.extension_reps:14d}")


def live_line(live: Mapping, now: float, zone, fresh_s: float) -> str | None:
    """The hand's last known position (the store's ``live`` record): "now" only when the
    reading is at most ``fresh_s`` old; otherwise dated (with the day when it is not today's)."""
    if not live:
        return None
    state = live.get("state") or live.get("position") or UNKNOWN
    said = words(state, read=live.get("since") is not None)
    updated = live.get("updated")
    if not updated:
        return f"  last known: {said} (when is not known)"
    when = dt.datetime.fromtimestamp(updated, zone)
    if -60.0 <= now - updated <= fresh_s:
        return f"  now: {said} (as of {when:%H:%M})"
    today = dt.datetime.fromtimestamp(now, zone).date()
    stamp = f"{when:%H:%M} today" if when.date() == today else f"{when:%Y-%m-%d %H:%M}"
    return f"  last known: {said} (as of {stamp})"


def status_view(day: dt.date, today: dt.date, days: Mapping[str, Day], live: Mapping, now: float, zone,
                fresh_s: float, long_bout_min: float, why: str = "", goals: Goals = Goals(),
                damaged: Mapping[str, Sequence[str]] = {}) -> list[str]:
    """``pi-agent status``: the day, the hand's last known position, the 7 days before
    (``damaged``: the days whose stored values are damaged, each marked, with its values)."""
    lines = [f"OpenPalm status for {day.isoformat()} ({zone.key})"]
    if why:
        lines.append(f"  ({why})")
    said = live_line(live, now, zone, fresh_s)
    if said:
        lines.append(said)
    lines += day_lines("today" if day == today else day.isoformat(), days.get(day.isoformat()), long_bout_min,
                       goals)
    if day.isoformat() in damaged:
        lines.append(f"    {DAMAGED_MARK}: {'; '.join(damaged[day.isoformat()])}")
    lines.append("  the 7 days before:")
    lines.append(WEEK_HEAD)
    marked = []
    for i in range(7, 0, -1):
        name = (day - dt.timedelta(days=i)).isoformat()
        lines.append(week_row(name, days.get(name)) + ("  !" if name in damaged else ""))
        if name in damaged:
            marked.append(f"    ! {name} {DAMAGED_MARK}: {'; '.join(damaged[name])}")
    lines += marked
    lines.append(f"  ({WB_LEGEND})")
    return lines


DAMAGED_MARK = "DAMAGED in the store (a damaged value reads as 0; this day's figures are not to be trusted)"


REPORT_HEAD = ["day", "worn h", "open h", "goal %", "bouts", "longest min", "WB sessions", "WB s",
               "in target s", "mean N", "peak N", "WB reps", "spasms", "spasm s", "pressure alerts",
               "high pressure s", "vibration min", "ext reps", "exercise min"]


def report_row(name: str, day: Day) -> list[str]:
    """One row of ``simulate --report text``, cell by cell (``name``: the date)."""
    wb = day.weight_bearing
    return [name, f"{day.worn_s / 3600:.2f}", f"{day.open_s / 3600:.2f}", f"{goal_pct(day):.0f}",
            str(day.open_bouts), f"{day.longest_bout_s / 60:.0f}", str(wb.sessions), f"{wb.total_s:.0f}",
            f"{wb.in_target_s:.0f}", f"{wb.mean_n:.1f}", f"{wb.peak_n:.1f}", str(wb.reps), str(day.spasms),
            f"{day.spasm_s:.0f}", str(day.pressure_alerts), f"{day.high_pressure_s:.0f}", f"{day.vibration_s / 60:.1f}",
            str(day.extension_reps), f"{day.exercise_s / 60:.1f}"]


def report_table(days: Mapping[str, Day]) -> str:
    """``simulate --report text``: the report's days as a table, columns aligned."""
    rows = [REPORT_HEAD] + [report_row(name, day) for name, day in days.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(REPORT_HEAD))]
    return "\n".join(["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                      for r in rows] + [REPORT_LEGEND])


# -- the journal ------------------------------------------------------------------------------
def journal_line(e: Event) -> tuple[int, str] | None:
    """The log level and line of an event worth a line in the journal (None: not one)."""
    d = e.data
    if e.type == "fault_raised":
        return logging.WARNING, f"fault: {d['text']}"
    if e.type == "fault_cleared":
        return logging.INFO, f"fault cleared: {d['text']}"
    if e.type == "wb_session":
        reps = f", {count(d['reps'], 'weight shift')}" if d.get("reps") is not None else ""
        return logging.INFO, (f"weight-bearing session: {d['duration_s']:.0f} s, mean {d['mean_n']:.1f} N, "
                              f"peak {d['peak_n']:.1f} N, {d['in_target_s']:.0f} s in the target band{reps}")
    if e.type == "spasm":
        wrist = d.get("wrist_min_deg")
        return logging.INFO, (f"spasm: {d['duration_s']:.1f} s, fingers up to {d['peak_deg']:.0f}°"
                              + (f", wrist down to {wrist:.0f}°" if wrist is not None else "")
                              + f" (ended: {d['ended']})")
    if e.type == "vibration_started" and d.get("source") == "spasm_response":
        return logging.INFO, (f"vibration therapy started in answer to a spasm: {d['minutes']:g} min at "
                              f"{d['level']} (reason: spasm_response)")
    if e.type == "vibration_session":
        source = f" ({d['source']})" if d.get("source") == "spasm_response" else ""
        if d["reason"] == "interrupted" and d.get("confirmed_s") is not None:
            return logging.INFO, (f"vibration therapy{source} ended (interrupted): {d['seconds'] / 60:.1f} min "
                                  f"counted (to its planned end, as the limits must assume), "
                                  f"{d['confirmed_s'] / 60:.1f} min of it confirmed")
        return logging.INFO, (f"vibration therapy{source} ended ({d['reason']}): "
                              f"{d['seconds'] / 60:.1f} min delivered")
    if e.type == "alert":
        return logging.WARNING, f"alert: {d['text']}"
    if e.type == "vibration_refused":
        return logging.INFO, d["text"]
    if e.type == "haptic" and "text" in d:
        return logging.WARNING, d["text"]
    return None


# -- MQTT -------------------------------------------------------------------------------------
def state_payload(s: Snapshot, zone, wall: float) -> dict:
    """MQTT's ``state``: the snapshot as JSON (``wall``: the time now). Beside today's
    totals it says what is going on now: the session's repetitions so far (``reps``, None
    outside a session) against the daily goal (``reps_goal``, 0: none), a spasm and since
    when, the palm force at or above ``pressure.alert_n`` and since when (before the
    alert, which comes after ``pressure.alert_after_min`` of it). ``zone`` names the zone
    its times are local to, so that a view can show any time as the monitor's clock does."""
    load, band, th = s.load_n, s.band, s.therapy
    return {
        "time": iso(wall, zone),
        "zone": getattr(zone, "key", None),     # the IANA zone its times are local to (None: not known)
        "position": s.position,
        "worn": s.worn,
        "position_since": iso(s.position_since, zone) if s.position_since else None,
        "channels": {ch.name: None if ch.value is None else round(ch.value, 1) for ch in s.channels},
        "load_n": None if load is None else round(load, 1),
        "load_kg": None if load is None else round(load / G, 2),
        "weight_bearing": {"active": s.session,
                           "in_band": s.in_band if s.session else None,
                           "band_n": None if band is None else [round(band.low_n, 1), round(band.high_n, 1)],
                           "reps": s.reps if s.session else None,
                           "reps_goal": s.reps_goal},
        "spasm": {"active": s.spasm, "since": iso(s.spasm_since, zone) if s.spasm else None},
        "pressure": {"high": s.high_pressure,
                     "since": iso(s.high_pressure_since, zone) if s.high_pressure else None},
        "today": report_day(s.today) if s.wall else {},
        "goal_h": round(s.goal_s / 3600, 2),
        "targets": {"low": s.targets.low, "high": s.targets.high, "unit": s.targets.unit},
        "therapy": {"running": th is not None,
                    "level": th.level if th else None,
                    "until": iso(th.until_wall, zone) if th else None},
        "faults": [{"channel": ch, "kind": kind, "text": describe(ch, kind)} for ch, kind in s.faults],
        "exercise": exercise_payload(s, zone),
    }


def exercise_payload(s: Snapshot, zone) -> dict:
    """The exercise session now (its live count) and today's repetitions against the goal."""
    ex = s.exercise
    return {"active": ex is not None,
            "reps": ex.reps if ex else None,
            "since": iso(ex.since_wall, zone) if ex else None,
            "until": iso(ex.until_wall, zone) if ex else None,
            "today_reps": s.today.extension_reps,
            "goal_reps": s.exercise_goal_reps or None,
            "goal_pct": s.exercise_goal_pct}


def load_payload(s: Snapshot) -> dict:
    """MQTT's ``load``: the live load, stamped with the wall time of the pad's reading it
    comes from (not the time it is sent, nor a later reading of the splint)."""
    ts = s.load_wall if s.load_wall is not None else s.wall
    return {"ts": round(ts, 3), "load_n": round(s.load_n, 2),
            "fingers_share": None if s.fingers_share is None else round(s.fingers_share, 3),
            "in_band": s.in_band, "session": s.session}
