"""Ground truth, computed by the tests themselves from a scenario's noiseless values with
docs/scenario-format.md's rules (ignoring debounce), to measure the agent against."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque

SPLINT = ("wrist", "fingers", "palm")


def positioning(scenario, *, wear_n=1.0, min_wrist_deg=10.0, max_fingers_deg=20.0, dt_s=0.25):
    """Per local day (as the agent's wall clock sees it): worn and open seconds.

    Time while the agent is off (after a power cut) is in nobody's truth; time while a
    splint channel is in fault is never open (nor worn, when the palm sensor is the one
    in fault, or when its whole chip is not answering).
    """
    tl = scenario.timeline
    zone = scenario.zone()
    start_wall = scenario.start_wall()
    steps = sorted((i.t, i.value) for i in tl.instants if i.kind == "clock_step")
    cuts = [(i.t, i.t + i.value) for i in tl.instants if i.kind == "power_cut"]
    days = defaultdict(lambda: {"worn_s": 0.0, "open_s": 0.0})
    n = int(tl.duration / dt_s)
    step_i, offset = 0, 0.0
    for k in range(n):
        t = (k + 0.5) * dt_s
        while step_i < len(steps) and steps[step_i][0] <= t:
            offset += steps[step_i][1]
            step_i += 1
        if any(a <= t < b for a, b in cuts):
            continue
        faulty = set()
        for f in tl.faults:
            if f.start <= t < f.end:
                faulty.update(SPLINT if f.kind == "i2c_error" and f.channel in SPLINT else (f.channel,))
        palm = tl.value("palm", t)
        worn = palm >= wear_n and "palm" not in faulty
        is_open = (worn and not faulty & {"wrist", "fingers"} and tl.value("wrist", t) >= min_wrist_deg
                   and tl.value("fingers", t) <= max_fingers_deg)
        if worn or is_open:
            day = dt.datetime.fromtimestamp(start_wall + t + offset, zone).date().isoformat()
            days[day]["worn_s"] += dt_s * worn
            days[day]["open_s"] += dt_s * is_open
    return dict(days)


def assert_positioning_close(report: dict, truth: dict, *, extra_loss_s: float = 0.0) -> None:
    """Each day's worn and open seconds within max(60 s, 1 %) (plus any allowed loss)."""
    for day in set(truth) | set(report["days"]):
        got = report["days"].get(day, {"worn_s": 0.0, "open_s": 0.0})
        want = truth.get(day, {"worn_s": 0.0, "open_s": 0.0})
        for key in ("worn_s", "open_s"):
            tolerance = max(60.0, 0.01 * want[key])
            diff = got[key] - want[key]
            assert -tolerance - extra_loss_s <= diff <= tolerance, \
                f"{day} {key}: agent {got[key]:.1f} s, truth {want[key]:.1f} s"


def weight_bearing(scenario, *, start_n=20.0, start_confirm_s=0.3, end_n=10.0, end_after_s=2.0, low=50.0,
                   high=100.0, rep_drop_pct=80.0, dt_s=0.005):
    """Sessions from the noiseless load: a session starts when the load has stayed at or
    above start_n for start_confirm_s, dated back to the first of those instants; it ends
    when the load stays below end_n for end_after_s (ending when it fell below). A
    repetition: the load rises into [low, high] from below, after it fell under
    rep_drop_pct % of low since the session began or since the previous repetition."""
    tl = scenario.timeline
    drop = rep_drop_pct / 100.0 * low
    sessions, current, below_since, pending = [], None, None, None
    prev = None
    for k in range(int(tl.duration / dt_s) + 1):
        t = k * dt_s
        load = tl.value("pad_palm", t) + tl.value("pad_fingers", t)
        if current is None and load >= start_n:
            current = {"start": t, "total_s": 0.0, "load_ns": 0.0, "in_target_s": 0.0, "peak_n": load,
                       "reps": 0, "armed": False, "confirmed": False}
            prev = None
        elif current is not None and not current["confirmed"]:
            if load < start_n:
                current = None          # it did not stay: no session
                continue
        if current is None:
            continue
        if not current["confirmed"] and t - current["start"] >= start_confirm_s - 1e-9:
            current["confirmed"] = True
        if prev is not None:
            part = {"total_s": dt_s, "load_ns": load * dt_s, "in_target_s": dt_s if low <= load <= high else 0.0}
        else:
            part = {}
        if load < drop:
            current["armed"] = True
        if prev is not None and prev < low <= load <= high and current["armed"]:
            current["reps"] += 1
            current["armed"] = False
        prev = load
        if load < end_n:
            if below_since is None:
                below_since, pending = t, {}
            for key, v in part.items():
                pending[key] = pending.get(key, 0.0) + v
            if t - below_since >= end_after_s:
                sessions.append(current)
                current, below_since = None, None
            continue
        if below_since is not None:
            for key, v in pending.items():
                current[key] += v
            below_since = None
        for key, v in part.items():
            current[key] += v
        current["peak_n"] = max(current["peak_n"], load)
    if current is not None and current["confirmed"]:
        sessions.append(current)
    return sessions


def _day_of(scenario, t):
    return dt.datetime.fromtimestamp(scenario.start_wall() + t, scenario.zone()).date().isoformat()


def spasms(scenario, *, wear_n=1.0, rise_deg=25.0, rise_s=3.0, settle_deg=10.0, dt_s=0.01):
    """Spasms from the noiseless values: while worn (palm at or above wear_n), a spasm
    begins when fingers is at least rise_deg above its lowest value of the preceding
    rise_s (of the time worn); it is dated from that lowest value (its last instant, when
    the rise began) and ends when fingers is back within settle_deg of it, or the splint
    comes off. Each: start, end, duration_s, peak_deg, wrist_min_deg, day (of its start),
    seconds_by_day (its seconds split at local midnights)."""
    tl = scenario.timeline
    found, current = [], None
    lows = deque()          # (t, fingers), rising values: the front is the window's lowest (its last instant)
    for k in range(int(tl.duration / dt_s) + 1):
        t = k * dt_s
        worn = tl.value("palm", t) >= wear_n
        if not worn:
            if current is not None:
                found.append(_spasm_end(scenario, current, t))
                current = None
            lows.clear()
            continue
        f, w = tl.value("fingers", t), tl.value("wrist", t)
        while lows and lows[-1][1] >= f:
            lows.pop()
        lows.append((t, f))
        while lows[0][0] < t - rise_s - 1e-9:
            lows.popleft()
        if current is not None:
            current["peak_deg"] = max(current["peak_deg"], f)
            current["wrist_min_deg"] = min(current["wrist_min_deg"], w)
            if f <= current["baseline"] + settle_deg:
                found.append(_spasm_end(scenario, current, t))
                current = None
            continue
        t0, lowest = lows[0]
        if f - lowest >= rise_deg - 1e-9:
            wrist = min(tl.value("wrist", t0 + i * dt_s) for i in range(int(round((t - t0) / dt_s)) + 1))
            current = {"start": t0, "baseline": lowest, "peak_deg": f, "wrist_min_deg": wrist}
    if current is not None:
        found.append(_spasm_end(scenario, current, tl.duration))
    return found


def _spasm_end(scenario, spasm, t):
    return {**spasm, "end": t, "duration_s": t - spasm["start"], "day": _day_of(scenario, spasm["start"]),
            "seconds_by_day": _by_day(scenario, spasm["start"], t)}


def _by_day(scenario, a, b):
    """The seconds from scenario time a to b, split at local midnights: {day: seconds}."""
    out, zone, wall0 = {}, scenario.zone(), scenario.start_wall()
    while a < b:
        date = dt.datetime.fromtimestamp(wall0 + a, zone).date()
        midnight = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), zone).timestamp() - wall0
        end = min(b, midnight)
        out[date.isoformat()] = out.get(date.isoformat(), 0.0) + end - a
        a = end
    return out


def pressure(scenario, *, alert_n=8.0, alert_after_min=5.0, rearm_n=6.0, dt_s=0.05):
    """Skin pressure from the noiseless palm force, per local day: pressure_alerts (one
    when the force has stayed at or above alert_n for alert_after_min; the next only after
    it fell under rearm_n) and high_pressure_s (seconds at or above alert_n)."""
    tl = scenario.timeline
    days = defaultdict(lambda: {"pressure_alerts": 0, "high_pressure_s": 0.0})
    since, armed = None, True
    for k in range(int(tl.duration / dt_s)):
        t = (k + 0.5) * dt_s
        palm = tl.value("palm", t)
        if palm >= alert_n:
            days[_day_of(scenario, t)]["high_pressure_s"] += dt_s
            since = t if since is None else since
            if armed and t - since >= alert_after_min * 60.0:
                days[_day_of(scenario, t)]["pressure_alerts"] += 1
                armed = False
        else:
            since = None
        if palm < rearm_n:
            armed = True
    return dict(days)


def extension_reps(values, min_rep_deg=5.0):
    """The contract's active extension repetitions in a sequence of noiseless values: the
    indices at which each repetition is counted. Written apart from the agent's counter:
    a repetition ends a stretch in which the fall below the stretch's running maximum
    reaches ``min_rep_deg``; the next stretch begins at the first value at least half of
    that above the minimum since the repetition."""
    counted = []
    i, n = 0, len(values)
    while i < n:
        top = values[i]                          # a stretch: armed from values[i] on
        j = i
        while j < n and top - values[j] < min_rep_deg:
            top = max(top, values[j])
            j += 1
        if j == n:
            break
        counted.append(j)
        bottom = values[j]
        k = j + 1
        while k < n and values[k] - bottom < min_rep_deg / 2:
            bottom = min(bottom, values[k])
            k += 1
        i = k
    return counted


def exercise(scenario, *, min_rep_deg=5.0, max_min=30.0, dt_s=0.01):
    """Exercise sessions from the scenario's commands and, per local day, ``extension_reps``
    and ``exercise_s`` from the noiseless ``fingers``: a session runs from
    ``exercise_start`` (``minutes``, at most and by default ``max_min``; a start while one
    runs is refused) to ``exercise_stop``, its time limit, or a power
    cut. The values are taken every ``dt_s`` and at every breakpoint of the scenario (a
    straight line between two breakpoints has its extremes at them, so none is missed).
    Returns (sessions as (start, end, repetition times), days)."""
    tl = scenario.timeline
    zone = scenario.zone()
    start_wall = scenario.start_wall()
    steps = sorted((i.t, i.value) for i in tl.instants if i.kind == "clock_step")

    def wall(t):
        return start_wall + t + sum(v for at, v in steps if at <= t)

    spans, current = [], None
    for inst in sorted(tl.instants, key=lambda i: (i.t, i.index)):
        if current is not None and inst.t >= current[1]:
            spans.append(current)
            current = None
        if inst.kind == "command" and inst.value["name"] == "exercise_start" and current is None:
            minutes = min(inst.value["args"].get("minutes", max_min), max_min)
            current = (inst.t, inst.t + minutes * 60.0)
        elif current is not None and (inst.kind == "power_cut" or
                                      (inst.kind == "command" and inst.value["name"] == "exercise_stop")):
            spans.append((current[0], inst.t))
            current = None
    if current is not None:
        spans.append((current[0], min(current[1], tl.duration)))
    breaks = sorted(set(tl.points["fingers"][0]))
    sessions = []
    days = defaultdict(lambda: {"extension_reps": 0, "exercise_s": 0.0})
    for a, b in spans:
        times = sorted({a + k * dt_s for k in range(int((b - a) / dt_s) + 1)} | {x for x in breaks if a <= x <= b} | {b})
        values = [tl.value("fingers", t) for t in times]
        reps = [times[i] for i in extension_reps(values, min_rep_deg)]
        sessions.append((a, b, reps))
        for t in reps:
            days[dt.datetime.fromtimestamp(wall(t), zone).date().isoformat()]["extension_reps"] += 1
        k = 0
        while a + k * 1.0 < b:                    # seconds booked to the day they fall in
            t = a + k * 1.0
            days[dt.datetime.fromtimestamp(wall(t), zone).date().isoformat()]["exercise_s"] += min(1.0, b - t)
            k += 1
    return sessions, dict(days)
