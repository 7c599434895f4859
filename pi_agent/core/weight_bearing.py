"""Weight bearing through an open hand on the table pad: a pure tracker.

The load is the sum of the pad's zones in newtons. A session starts when the load has
stayed at or above ``start_n`` for ``start_confirm_s`` and is dated back to the first of
those readings (its seconds, load and time in the band count from there), so a single
noisy reading over ``start_n`` starts nothing; the test is on the median of the last few
readings, so that the noise of a load just over ``start_n`` does not keep restarting the
wait. A session ends when the load stays below ``end_n`` for ``end_after_s`` (it ends
when the load fell below, so that wait is not session time). While a session runs the
tracker books its seconds, the seconds in the target band, the seconds with the fingers
taking load, the load integral, the peak and the repetitions into the session's day (the
day it started), so a power cut loses at most one checkpoint of it.

Weight-shift repetitions are counted from the first reading of a session
(``repetitions.py``) and booked with it.

It also decides the haptic cues toward the target band, from the first reading of a
session still being confirmed (confirmation changes the accounting, not how fast the
hand feels the target): a short pulse on entering the band, then quiet; an early warning
near the top; a repeating alarm while over the top; a gentle nudge when the load stays
too light for long.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from pi_agent.core.days import Day
from pi_agent.core.events import Event
from pi_agent.core.repetitions import Repetitions
from pi_agent.core.smoothing import Recent
from sensors.units import G

# Cue patterns (names in pi_agent.core.patterns.PATTERNS) and their reasons.
CUES = {"target_reached": "pulse", "near_max": "double_pulse", "over_max": "alarm", "too_light": "nudge"}
# Nudges while the load stays too light, before the tracker stops asking (until the band is reached).
MAX_NUDGES = 3
# The start is judged on the median of this many readings (at the active rate, 0.05 s):
# it halves the noise and, unlike a mean, never stretches a short spike.
START_MEDIAN_N = 5
# Readings further apart than this start the smoothing afresh (the pad read slowly at rest).
MAX_GAP_S = 0.1


@dataclass(frozen=True)
class Band:
    low_n: float
    high_n: float


def resolve_band(low: float, high: float, unit: str, *, body_weight_kg: float = 0.0,
                 max_push_n: float | None = None) -> Band | None:
    """The target band in newtons, from newtons, % of body weight or % of maximum push.
    None when the unit's reference is not known (no body weight, no maximum push)."""
    if unit == "N":
        return Band(low, high)
    if unit == "percent_body_weight":
        if body_weight_kg <= 0:
            return None
        ref = body_weight_kg * G
    else:
        if not max_push_n:
            return None
        ref = max_push_n
    return Band(low / 100.0 * ref, high / 100.0 * ref)


# What a session books into its day, second by second.
BOOKED = ("total_s", "in_target_s", "fingers_s", "load_ns")


class WeightBearingTracker:
    def __init__(self, wb_cfg, ledger, band: Band | None) -> None:
        c = wb_cfg
        self.start_n = c.start_n
        self.start_confirm_s = c.start_confirm_s
        self.end_n = c.end_n
        self.end_after_s = c.end_after_s
        self.wake_n = c.wake_n
        self.fingers_min_share = c.fingers_min_share
        self.near_max_fraction = c.near_max_pct / 100.0
        self.too_light_s = c.too_light_s
        self.alarm_repeat_s = c.alarm_repeat_s
        self.body_weight_kg = c.body_weight_kg
        self.ledger = ledger
        self.band = band
        self.session: dict | None = None
        self.candidate: dict | None = None       # a start being confirmed (booked only if confirmed)
        self.load: float | None = None
        self.fingers_share: float | None = None
        self._last_t: float | None = None
        self._below_since: float | None = None   # load under end_n since (a candidate end)
        self._pending: dict[str, float] = {}     # booked only if the session goes on
        self._smooth: deque[float] = deque(maxlen=5)
        self._start_median = Recent(START_MEDIAN_N, MAX_GAP_S)
        self.repetitions = Repetitions(c.rep_drop_pct)
        # cue state
        self._zone = "below"
        self._near_armed = True
        self._last_alarm = float("-inf")
        self._light_since: float | None = None
        self._last_nudge = float("-inf")
        self._nudges = 0

    @property
    def reps(self) -> int | None:
        """Repetitions in the session running now (None: no session)."""
        return None if self.session is None else self.repetitions.count

    @property
    def active(self) -> bool:
        """Read the pad fast: a session runs, or something presses on the pad."""
        return self.session is not None or (self.load is not None and self.load >= self.wake_n)

    def in_band(self) -> bool | None:
        if self.band is None or self.load is None:
            return None
        return self.band.low_n <= self.load <= self.band.high_n

    # -- feeding --------------------------------------------------------------------------
    def feed(self, t: float, wall: float, palm: float | None, fingers: float | None) -> list[Event]:
        events: list[Event] = []
        if palm is None or fingers is None:
            # The pad is in fault: a session cannot be measured; end it where it was.
            if self.session is not None:
                self._end(self._last_t if self._last_t is not None else t, t, wall, events, "fault")
            self.candidate = None
            self._start_median.reset()
            self.load = self.fingers_share = None
            self._last_t = None
            return events
        load = max(0.0, palm + fingers)
        self.load = load
        self.fingers_share = fingers / load if load > 0.5 else None
        dt = 0.0 if self._last_t is None else min(t - self._last_t, 1.0)
        mid_t, median = self._start_median.median(t, load)
        if self.session is not None:
            self._book(dt, load, fingers, wall)
            if load < self.end_n:
                if self._below_since is None:
                    self._below_since = t
                elif t - self._below_since >= self.end_after_s:
                    self._end(self._below_since, t, wall, events, "released")
            elif self._below_since is not None:
                self._commit_pending()
        if self.session is None:
            self._confirm(t, wall, mid_t, median, dt, load, fingers, events)
        current = self.session if self.session is not None else self.candidate
        if current is not None:
            self._smooth.append(load)
            smooth = sum(self._smooth) / len(self._smooth)
            if smooth > current["peak_n"]:
                current["peak_n"] = smooth
                if current is self.session:
                    rec = self._day().weight_bearing
                    rec.peak_n = max(rec.peak_n, smooth)
            if self.repetitions.feed(t, load, self.band) and current is self.session:
                self._day().weight_bearing.reps += 1
            self._cues(t, wall, load, events)
        self._last_t = t
        return events

    # -- sessions ---------------------------------------------------------------------------
    def _day(self) -> Day:
        return self.ledger.day(self.session["day"])

    def _confirm(self, t: float, wall: float, mid_t: float, median: float, dt: float, load: float, fingers: float,
                 events: list[Event]) -> None:
        """A start being confirmed: from the first reading the median of the last few is at
        or above ``start_n`` (dated at that median's middle), booked apart; a session once
        that has lasted ``start_confirm_s``, forgotten if the median falls under first."""
        c = self.candidate
        if median < self.start_n:
            self.candidate = None
            return
        if c is None:
            t0 = min(mid_t, t)
            c = self.candidate = {"start": wall - (t - t0), "t0": t0, "total_s": 0.0, "in_target_s": 0.0,
                                  "fingers_s": 0.0, "load_ns": 0.0, "peak_n": 0.0}
            self._smooth.clear()
            self.repetitions.restart()
            self._reset_cues(t)
            dt = t - t0      # the readings from the dated start to this one
        if dt > 0:
            for k, v in self._parts(dt, load, fingers).items():
                c[k] += v
        if t - c["t0"] >= self.start_confirm_s - 1e-9:
            self._start(c, t, wall, events)

    def _start(self, c: dict, t: float, wall: float, events: list[Event]) -> None:
        """The confirmed start: the session as dated back, its confirmation's seconds booked."""
        self.candidate = None
        day = self.ledger.day_of(c["start"])
        self.session = dict(c, day=day)
        rec = self.ledger.day(day).weight_bearing
        rec.sessions += 1
        rec.reps += self.repetitions.count
        rec.peak_n = max(rec.peak_n, c["peak_n"])
        self._below_since = None
        self._pending = {}
        self._add({k: c[k] for k in BOOKED}, to_session=False)
        events.append(Event("wb_session_started", t, wall, {"day": day, "start": round(c["start"], 3)}))

    def _reset_cues(self, t: float) -> None:
        self._zone = "below"
        self._near_armed = True
        self._light_since = t
        self._nudges = 0
        self._last_nudge = self._last_alarm = float("-inf")

    def _parts(self, dt: float, load: float, fingers: float) -> dict[str, float]:
        parts = {"total_s": dt, "load_ns": load * dt}
        if self.band is not None and self.band.low_n <= load <= self.band.high_n:
            parts["in_target_s"] = dt
        if load > 0 and fingers >= self.fingers_min_share * load:
            parts["fingers_s"] = dt
        return parts

    def _book(self, dt: float, load: float, fingers: float, wall: float) -> None:
        if dt <= 0:
            return
        parts = self._parts(dt, load, fingers)
        if self._below_since is not None:
            for k, v in parts.items():
                self._pending[k] = self._pending.get(k, 0.0) + v
            return
        self._add(parts)

    def _add(self, parts: dict[str, float], *, to_session: bool = True) -> None:
        s = self.session
        rec = self._day().weight_bearing
        for k, v in parts.items():
            if to_session:
                s[k] += v
            setattr(rec, k, getattr(rec, k) + v)
        if rec.total_s > 0:
            rec.mean_n = rec.load_ns / rec.total_s

    def _commit_pending(self) -> None:
        self._add(self._pending)
        self._pending = {}
        self._below_since = None

    def _end(self, t_end: float, now: float, wall: float, events: list[Event], why: str) -> None:
        s = self.session
        self.session = None
        self._pending = {}
        self._below_since = None
        mean = s["load_ns"] / s["total_s"] if s["total_s"] > 0 else 0.0
        data = {"day": s["day"], "start": round(s["start"], 3), "duration_s": round(s["total_s"], 2),
                "mean_n": round(mean, 2), "peak_n": round(s["peak_n"], 2),
                "in_target_s": round(s["in_target_s"], 2), "fingers_s": round(s["fingers_s"], 2),
                "reps": self.repetitions.count, "ended": why}
        if self.band is not None:
            data["target_n"] = [round(self.band.low_n, 1), round(self.band.high_n, 1)]
        if self.body_weight_kg > 0:
            data["mean_pct_body_weight"] = round(100 * mean / (self.body_weight_kg * G), 1)
        events.append(Event("wb_session", now, wall, data))

    # -- cues ---------------------------------------------------------------------------------
    def _cues(self, t: float, wall: float, load: float, events: list[Event]) -> None:
        """Where the load is against the band ('below', 'in', 'over'), with a hysteresis
        margin for leaving a zone, so that noise at an edge does not repeat cues."""
        band = self.band
        if band is None:
            return
        m = max(1.0, 0.03 * band.low_n)
        zone = self._zone
        if load > band.high_n:
            new = "over"
        elif load >= band.low_n:
            new = "in" if zone != "over" or load <= band.high_n - m else "over"
        else:
            new = "below" if zone != "in" or load < band.low_n - m else "in"

        def cue(reason: str) -> None:
            events.append(Event("haptic", t, wall, {"pattern": CUES[reason], "reason": reason,
                                                    "load_n": round(load, 1)}))

        near = self.near_max_fraction * band.high_n
        if new != zone:
            self._zone = zone = new
            if new == "in":
                cue("target_reached")
                self._light_since = None
                self._nudges = 0
            elif new == "over":
                self._last_alarm = t
                cue("over_max")
            else:
                self._light_since = t
        elif zone == "over" and t - self._last_alarm >= self.alarm_repeat_s:
            self._last_alarm = t
            cue("over_max")
        if zone == "in":
            if self._near_armed and load >= near:
                self._near_armed = False
                cue("near_max")
        if load < near - m:
            self._near_armed = True
        if zone == "below" and self._light_since is not None and self._nudges < MAX_NUDGES \
                and t - self._light_since >= self.too_light_s and t - self._last_nudge >= self.too_light_s:
            self._last_nudge = t
            self._nudges += 1
            cue("too_light")
