"""Vibration therapy: plans of blocks, the hard limits they are cut to, and the tracker
that owns the dose.

Focal vibration reduces spastic tone, with an effect that outlasts the stimulation;
a published protocol uses about 100 Hz in three 10-minute blocks with 1-minute breaks.
A plan is a list of (on seconds, off seconds) blocks at one level. ``cut_to_limits``
shortens a plan to the maximum continuous on-time (counted since the last real rest:
the motor off for at least ``rest_s``), to what is left of the daily maximum, and says
what it cut. The tracker books the delivered dose into the day from the times it is
given; the motor player enforces the same limits again at the output, whatever any
caller asked for.

Today's vibration is the larger of what is booked to today's local date and what was
played in the last S seconds of monotonic time, S being the time since local midnight by
the wall clock now. Without a wall-clock jump the two are the same; after a jump either
way, the vibration really played since the local day began still counts (a jump never
opens a fresh budget), and an evening's dose still leaves the next morning's budget whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pi_agent.core.orders as orders
from pi_agent.core.days import DayLedger
from pi_agent.core.events import Event
from pi_agent.core.orders import Out

LEVELS = ("low", "high")
# Less than this of a limit left is nothing left: the delivered seconds are summed in
# floating point, and a fraction of a second is no therapy.
MIN_DOSE_S = 1.0

# Therapy that ended for these reasons is also an alert for the caregiver, in plain words.
ALERT_REASONS = {
    "continuous_limit": "Vibration therapy stopped at the continuous limit.",
    "daily_limit": "Vibration therapy stopped: today's maximum is reached.",
    "error": "Vibration therapy stopped because the monitor had an error.",
    "loop_stalled": "Vibration therapy stopped because the monitor stopped responding.",
}


# Played spans older than this are dropped: no local day is longer than 25 hours.
KEEP_S = 26 * 3600.0


def played_within(spans, lo: float, hi: float) -> float:
    """Seconds of the (start, end) spans inside ``[lo, hi]``."""
    return sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in spans)


def add_span(spans: list, a: float, b: float) -> None:
    """Add the span ``[a, b]`` (the latest so far) to ``spans``, joined to the last one if
    they touch, and drop the spans too old to count in any day."""
    if b <= a:
        return
    if spans and abs(spans[-1][1] - a) < 1e-6:
        spans[-1] = (spans[-1][0], b)
    else:
        spans.append((a, b))
    while spans[0][1] < b - KEEP_S:
        spans.pop(0)


def open_dose_end(d: dict) -> float:
    """Where a dose the store logged with no end is counted to: its planned end. Not to the
    restart: after a power cut the wall clock may have been set back (a Pi has no clock of
    its own), and a restart dated before the dose's start counted it as nothing, so that
    power cuts and clock steps could open the daily maximum again and again."""
    return max(d["start"], d["planned_end"] if d["planned_end"] is not None else d["start"])


def dose_spans(doses: list[dict], t: float, wall: float) -> list[tuple[float, float]]:
    """The dose log's doses as spans of monotonic time (``t`` is now, at wall time
    ``wall``): each ends at its stop (an open dose: its planned end, as ``recover`` counts
    it); a dose the wall clock puts in the future ends now."""
    spans = []
    for d in sorted(doses, key=lambda d: d["start"]):
        seconds, end = d["seconds"] or 0.0, d["stop"]
        if end is None:
            end = open_dose_end(d)
            seconds = max(seconds, end - d["start"])
        hi = t - max(0.0, wall - end)
        if seconds > 0:
            spans.append((hi - seconds, hi))
    return sorted(spans)


CLOSED_HOLD_S = 25 * 3600.0   # the longest local day: a closed day's hold after a step of the wall clock
CLOCK_STEP_S = 60.0            # a change of the wall clock against the monotonic one this big is a step
RESTART_REST_S = 86400.0       # doses of the last day before a restart: their rest counts from the restart


class Refused(ValueError):
    """A therapy request that the limits leave nothing of."""


@dataclass(frozen=True)
class Limits:
    max_continuous_s: float = 30 * 60.0
    max_daily_s: float = 90 * 60.0
    rest_s: float = 0.0          # off at least this long before the continuous count restarts


@dataclass(frozen=True)
class Plan:
    level: str
    blocks: tuple[tuple[float, float], ...]   # (on seconds, off seconds after it)
    source: str                               # 'command', 'button', 'protocol', 'scenario', ...

    @property
    def on_s(self) -> float:
        return sum(on for on, _ in self.blocks)


def protocol(level: str, blocks: int, block_min: float, break_min: float, source: str) -> Plan:
    return Plan(level, tuple((block_min * 60.0, break_min * 60.0 if i < blocks - 1 else 0.0)
                             for i in range(blocks)), source)


def single(level: str, minutes: float, source: str) -> Plan:
    return Plan(level, ((minutes * 60.0, 0.0),), source)


def _span(seconds: float) -> str:
    """A granted duration as a note says it: '1.5 minutes', or '40 seconds' under a minute
    (never '0.0 minutes' for a dose that runs)."""
    return f"{seconds / 60:.1f} minutes" if seconds >= 60 else f"{seconds:.0f} seconds"


def cut_to_limits(plan: Plan, limits: Limits, used_today_s: float, run_s: float = 0.0,
                  rest_left_s: float = 0.0) -> tuple[Plan | None, list[str]]:
    """The plan within the limits (None if nothing is left), and the notes on what was cut.
    ``run_s``: continuous on-time already behind (no real rest since); ``rest_left_s``: how
    much longer the motor must stay off for that count to restart."""
    notes: list[str] = []
    left = limits.max_daily_s - used_today_s
    if left < MIN_DOSE_S:
        return None, [f"the daily maximum of {limits.max_daily_s / 60:g} minutes of vibration is reached"]
    if limits.max_continuous_s - run_s < MIN_DOSE_S:
        wait = (f"{math.ceil(rest_left_s / 60)} more minutes" if rest_left_s >= 60
                else f"{math.ceil(rest_left_s)} more seconds")
        return None, [f"{run_s / 60:.0f} minutes of vibration without a rest of {limits.rest_s / 60:g} minutes; "
                      f"it may start again after {wait} of rest"]
    blocks = []
    for i, (on, off) in enumerate(plan.blocks):
        # A protocol's block is said as such: "cut to 9.2 minutes" read as the whole therapy.
        cut_to = "cut to" if len(plan.blocks) == 1 else f"cut: its block {i + 1} of {len(plan.blocks)} to"
        room = limits.max_continuous_s - run_s
        if on > room:
            if run_s > 0:
                notes.append(f"{cut_to} {room / 60:.1f} minutes: the continuous maximum of "
                             f"{limits.max_continuous_s / 60:g} minutes counts the vibration since the last "
                             f"rest of {limits.rest_s / 60:g} minutes")
            else:
                notes.append(f"a block of {on / 60:g} minutes was cut to the continuous maximum of "
                             f"{limits.max_continuous_s / 60:g} minutes")
            on = room
        if on > left:
            if left < MIN_DOSE_S:            # nothing of this block fits: say what is granted, not "0.0"
                granted = sum(b for b, _ in blocks)
                notes.append(f"cut to {_span(granted)} in {len(blocks)} block{'s' if len(blocks) != 1 else ''}: "
                             f"the daily maximum of {limits.max_daily_s / 60:g} minutes is then reached")
                break
            notes.append(f"{cut_to} {_span(left)}: the daily maximum of {limits.max_daily_s / 60:g} "
                         f"minutes is nearly reached")
            on = left
        if on < MIN_DOSE_S:
            break
        left -= on
        run_s = run_s + on if off < limits.rest_s else 0.0
        blocks.append((on, off))
    if not blocks:
        return None, notes or ["nothing of the request fits the limits"]
    return Plan(plan.level, tuple(blocks), plan.source), notes


class TherapyTracker:
    """The therapy running now, its dose, and the continuous count, from the times given.

    Delivered time is the plan's on-time that has passed, less the moments a cue took the
    motor over; it is booked into the day as it passes (so the day's total and the daily
    limit are always current). Nothing here reads a clock or touches the motor: the core
    passes the times, and the orders it returns go to the motor player.
    """

    def __init__(self, limits: Limits, levels: dict[str, float], ledger: DayLedger, *,
                 run_s: float = 0.0, off_since: float | None = None) -> None:
        self.limits = limits
        self.levels = levels
        self.ledger = ledger
        self.running: dict | None = None
        self._last = 0.0                      # monotonic time the dose is booked up to
        self._cue = (0.0, 0.0)                # the last cue's span (it takes the motor over)
        self._run_s = run_s                   # continuous on-time since the last rest
        self._off_since = off_since           # when the therapy layer last went off
        self._count = 0
        self.played: list[tuple[float, float]] = []   # delivered spans of monotonic time
        self.closed_day: str | None = None    # a local day with no therapy: its dose log was lost

    def close_day(self, day: str, t: float, wall: float) -> None:
        """``day``'s dose log was lost (a damaged store): no therapy until it is over (nor on
        a day before it, where a clock set back would put it). The wall clock that named the
        day may be wrong (a Pi has no clock of its own until NTP sets it): if it is stepped
        within ``CLOSED_HOLD_S`` of monotonic time, the day it then shows is closed too."""
        self.closed_day, self._closed_at = day, (t, wall - t)

    def closed(self, t: float, wall: float) -> bool:
        """No therapy now: the day's dose log was lost (``close_day``)."""
        if self.closed_day is None:
            return False
        t0, offset = self._closed_at
        return self.ledger.day_of(wall) <= self.closed_day or (
            t - t0 < CLOSED_HOLD_S and abs((wall - t) - offset) > CLOCK_STEP_S)

    # -- what the limits leave ---------------------------------------------------------
    def used_today(self, t: float, wall: float) -> float:
        """Today's vibration: booked to today's date, or played since the local day began
        by the monotonic clock (after a wall-clock jump), whichever is more."""
        day = self.ledger.peek(self.ledger.day_of(wall))
        booked = day.vibration_s if day is not None else 0.0
        return max(booked, played_within(self.played, t - self.ledger.since_midnight(wall), t))

    def continuous(self, t: float) -> tuple[float, float]:
        """(continuous on-time behind at ``t``, rest still needed for it to restart)."""
        if self.running is not None:
            return self._run_s, self.limits.rest_s
        if self._off_since is None or t - self._off_since >= self.limits.rest_s:
            return 0.0, 0.0
        return self._run_s, self.limits.rest_s - (t - self._off_since)

    # -- starting and stopping -----------------------------------------------------------
    def start(self, plan: Plan, t: float, wall: float, out: Out) -> dict:
        """Start ``plan`` cut to the limits, or raise Refused with the reason."""
        if self.closed(t, wall):
            raise Refused("today's record of vibration therapy was lost with a damaged store (moved aside): "
                          "no vibration therapy until midnight, so that the daily maximum holds")
        if self.running is not None:
            self.stop(t, wall, "replaced", out)
        run_s, rest_left = self.continuous(t)
        cut, notes = cut_to_limits(plan, self.limits, self.used_today(t, wall), run_s, rest_left)
        if cut is None:
            raise Refused(notes[0])
        intervals, at = [], t
        for on, off in cut.blocks:
            intervals.append((at, at + on))
            at += on + off
        self._count += 1
        key = f"{wall:.3f}-{self._count}"
        self.running = {"plan": cut, "level": self.levels[cut.level], "intervals": tuple(intervals),
                        "end": at, "delivered_s": 0.0, "start_wall": wall, "notes": notes, "key": key}
        self._last = t
        if run_s == 0.0:
            self._run_s = 0.0
        day = self.ledger.day_of(wall)
        out.orders.append(orders.DoseStart(key, day, wall, wall + (at - t), cut.level, cut.source))
        out.orders.append(orders.Therapy(self.levels[cut.level], tuple(intervals),
                                         self.limits.max_daily_s - self.used_today(t, wall), run_s))
        minutes = round(cut.on_s / 60, 2)
        for note in notes:
            out.events.append(Event("alert", t, wall, {"reason": "vibration_cut",
                                                       "text": f"Vibration therapy request {note}."}))
        out.events.append(Event("vibration_started", t, wall, {"level": cut.level, "minutes": minutes,
                                                               "source": cut.source, "notes": notes}))
        out.events.append(Event("haptic", t, wall, {"pattern": f"therapy_{cut.level}",
                                                    "reason": "vibration_therapy", "minutes": minutes}))
        return {"level": cut.level, "minutes": minutes,
                "blocks": [[round(on / 60, 2), round(off / 60, 2)] for on, off in cut.blocks], "cut": notes}

    def stop(self, t: float, wall: float, reason: str, out: Out, *, motor_done: bool = False) -> float:
        """End the therapy at ``t`` (the motor player is told unless it stopped by itself);
        the seconds delivered."""
        th = self.running
        if th is None:
            return 0.0
        self.advance(t, wall, out)
        if self.running is None:          # it ended by itself at or before t
            return th["delivered_s"]
        self._end(t, wall, t, reason, out)
        if not motor_done:
            out.orders.append(orders.TherapyOff(reason))
        return th["delivered_s"]

    def cue(self, t: float, length: float) -> None:
        """A cue takes the motor over from ``t`` for ``length`` seconds."""
        self._cue = (t, t + length)

    # -- time passing ------------------------------------------------------------------
    def advance(self, t: float, wall: float, out: Out) -> None:
        """Book the dose delivered up to ``t``; end the therapy at its plan's end or at the
        daily maximum."""
        th = self.running
        if th is None or t <= self._last:
            return
        upto = min(t, th["end"])
        on = 0.0
        for a, b in th["intervals"]:
            lo, hi = max(a, self._last), min(b, upto)
            if hi > lo:
                if self._off_since is not None and lo - self._off_since >= self.limits.rest_s:
                    self._run_s = 0.0
                self._run_s += hi - lo
                self._off_since = hi
                on += hi - lo
        start, end = self._cue
        on -= max(0.0, min(upto, end) - max(self._last, start))
        left = self.limits.max_daily_s - self.used_today(t, wall)
        on = min(on, max(0.0, left))
        if on > 0:
            th["delivered_s"] += on
            self.ledger.book("vibration_s", on, wall - (t - upto))
            add_span(self.played, upto - on, upto)
        self._last = upto
        if t >= th["end"]:
            self._end(th["end"], wall - (t - th["end"]), t, "completed", out)
        elif left - on < 1e-6:
            self._end(t, wall, t, "daily_limit", out)
            out.orders.append(orders.TherapyOff("daily_limit"))

    def running_dose(self) -> dict[str, float]:
        """The running dose's key and the seconds of it booked so far (for a checkpoint)."""
        th = self.running
        return {} if th is None else {th["key"]: th["delivered_s"]}

    def recover(self, doses: list[dict], t: float, wall: float, out: Out) -> None:
        """After a restart: each dose the store logged with no end counts as delivered up
        to its planned end (``open_dose_end``: the motor may have run until then, and the
        wall clock cannot say when the power went); what the day already has of it (its checkpointed seconds) is not
        counted twice. What is counted beyond its checkpointed seconds is also booked as
        ``vibration_unconfirmed_s`` (nobody saw it played), and its event gives the
        checkpointed seconds as ``confirmed_s``. Then the continuous count goes on from the last doses, unless the
        motor has rested since; and the doses count as played (monotonic) time for today."""
        self.played = sorted(self.played + dose_spans(doses, t, wall))
        run_s, last_end = 0.0, None
        for d in sorted(doses, key=lambda d: d["start"]):
            seconds = d["seconds"] or 0.0
            end = d["stop"]
            if end is None:
                end = open_dose_end(d)
                counted = max(seconds, end - d["start"])
                if counted > seconds:
                    self.ledger.book("vibration_s", counted - seconds, end)
                    self.ledger.book("vibration_unconfirmed_s", counted - seconds, end)
                out.orders.append(orders.DoseEnd(f"row:{d['id']}", end, counted, "interrupted"))
                out.events.append(Event("vibration_session", t, wall, {
                    "level": d["level"], "source": d["source"], "reason": "interrupted",
                    "seconds": round(counted, 1), "confirmed_s": round(seconds, 1), "start": round(d["start"], 3)}))
                seconds = counted
            if last_end is not None and d["start"] - last_end >= self.limits.rest_s:
                run_s = 0.0
            run_s += seconds
            last_end = end if last_end is None else max(last_end, end)
        if last_end is not None and wall - last_end < max(self.limits.rest_s, RESTART_REST_S):
            # The rest since is counted from now: the wall clock's gap may be a step (set
            # forward before a power cut, a dose just ended looked an hour old).
            self._run_s, self._off_since = run_s, t

    def next_due(self, t: float) -> float | None:
        """When the dose must next be booked (interval edges, the end, at least each second)."""
        th = self.running
        if th is None:
            return None
        edges = [x for a, b in th["intervals"] for x in (a, b) if x > t]
        return min(edges + [th["end"], t + 1.0])

    def _end(self, at: float, wall_at: float, now: float, reason: str, out: Out) -> None:
        th, self.running = self.running, None
        if reason == "completed" and th["notes"]:
            reason = "continuous_limit" if any("continuous" in n for n in th["notes"]) else "daily_limit"
        plan = th["plan"]
        out.orders.append(orders.DoseEnd(th["key"], wall_at, th["delivered_s"], reason))
        out.events.append(Event("haptic", now, wall_at, {"pattern": "stop", "reason": "vibration_therapy",
                                                         "ended": reason}))
        out.events.append(Event("vibration_session", now, wall_at, {
            "level": plan.level, "source": plan.source, "reason": reason,
            "seconds": round(th["delivered_s"], 1), "start": round(th["start_wall"], 3)}))
        if reason in ALERT_REASONS:
            out.events.append(Event("alert", now, wall_at, {"reason": reason, "text": ALERT_REASONS[reason]}))
