"""Spasms against the splint: a sudden flexion of the fingers while it is worn. Pure.

The rule (docs/scenario-format.md, "Clinical signals"): while the splint is worn, a spasm
begins when ``fingers`` is at least ``rise_deg`` above its lowest value of the preceding
``rise_s``; that lowest value is the spasm's baseline, and the spasm is dated from the
moment the rise began. It ends when ``fingers`` is back within ``settle_deg`` of the
baseline, or when the splint is taken off. A slow curl never rises that far that fast.

The finger readings are taken as they come (at 4 a second a mean of a few would flatten
a twitch of half a second out of sight), but two of the rule's values are estimated
rather than read off one noisy reading:
- the baseline is the mean of the window's readings within ``NEAR_DEG`` of its lowest
  (the lowest of a dozen noisy readings lies one or two standard deviations under the
  truth: as a baseline it would pass a 23-degree rise for a spasm and end each one late);
- the moment the rise began is halfway between the last reading at that baseline (within
  ``NEAR_DEG``) and the next one (on a flat baseline the lowest noisy reading falls
  anywhere in the window).

Worn here is the palm sensor's own reading (the position's debounce would let the jump
of the fingers' reading when the splint comes off pass for a spasm): the splint is on
from two palm readings in a row over the wear threshold, off from two in a row under it
(dated at the first; a single noisy reading of an empty splint changes nothing). Only
finger readings while it is worn are in the window, and a rise is a spasm only once the
next two palm readings still say worn (a third of a second): a splint taken off with
the fingers jumping is not a spasm.

Each spasm's seconds are booked into the days as they pass (split at midnight), the
count into the day it began; when it ends, a ``spasm`` event gives its start, duration,
peak flexion and lowest wrist extension (on a short mean of the wrist's readings).
"""

from __future__ import annotations

from collections import deque

from pi_agent.core.days import DayLedger
from pi_agent.core.events import Event
from pi_agent.core.orders import Out
from pi_agent.core.smoothing import Recent

# Readings within this of the window's lowest are at the baseline: three standard
# deviations of a degree of noise.
NEAR_DEG = 3.0
# Palm readings in a row over (under) the wear threshold that put the splint on (take it
# off), and that confirm a rise of the fingers as a spasm.
IN_A_ROW = 2
# The wrist's readings are averaged over this long for its lowest value (three at 4 a second).
WRIST_MEAN_S = 0.75


class SpasmTracker:
    def __init__(self, spasm_cfg, *, wear_n: float, hysteresis_n: float, rate_hz: float, ledger: DayLedger) -> None:
        """``rate_hz``: how often each of the splint's channels is read."""
        c = spasm_cfg
        self.rise_deg, self.rise_s, self.settle_deg = c.rise_deg, c.rise_s, c.settle_deg
        self.on_n = wear_n + hysteresis_n / 2
        self.off_n = wear_n - hysteresis_n / 2
        self.ledger = ledger
        self.worn = False
        self._low_since: float | None = None     # the first of palm readings under off_n in a row
        self._low_count = 0
        self._high_count = 0
        self._wrist = Recent(max(1, round(WRIST_MEAN_S * rate_hz)), 4.0 / rate_hz)
        self._window: deque[tuple[float, float]] = deque()   # (time, finger reading) while worn
        self._lows: deque[tuple[float, float]] = deque()     # the window's rising minima: [0] is its lowest
        self._wrists: deque[tuple[float, float]] = deque()   # (time, mean wrist) while worn
        self._rise: dict | None = None          # a spasm seen, waiting for the palm to say still worn
        self.spasm: dict | None = None

    # -- the splint on the hand --------------------------------------------------------------
    def palm(self, t: float, wall: float, value: float | None, out: Out) -> bool:
        """A palm reading; True when it confirmed a spasm's beginning."""
        if value is None or value < self.off_n:
            self._rise = None
            self._high_count = 0
            if self._low_since is None:
                self._low_since, self._low_count = t, 0
            self._low_count += 1
            if self.worn and self._low_count >= IN_A_ROW:
                self.worn = False
                if self.spasm is not None:
                    self._end(self._low_since, t, wall, out, "off")
                self._forget()
            return False
        if value < self.on_n:            # inside the hysteresis band: neither on nor off
            self._high_count = 0
            return False
        self._low_since = None
        self._high_count += 1
        if self._high_count >= IN_A_ROW and not self.worn:
            self.worn = True
            self._forget()
        rise = self._rise
        if rise is None:
            return False
        rise["worn"] += 1
        if rise["worn"] < IN_A_ROW:
            return False
        self._rise = None
        self._begin(rise, t, wall, out)
        if rise["end"] is not None:                  # a twitch, over before it was confirmed
            self._end(rise["end"], t, wall, out, "settled")
        return True

    def _forget(self) -> None:
        self._wrist.reset()
        self._window.clear()
        self._lows.clear()
        self._wrists.clear()
        self._rise = None

    # -- the flex sensors ---------------------------------------------------------------------
    def wrist(self, t: float, value: float | None) -> None:
        if value is None or not self.worn:
            self._wrist.reset()
            return
        tw, w = self._wrist.mean(t, value)
        self._wrists.append((tw, w))
        while self._wrists[0][0] < tw - self.rise_s - 1.0:
            self._wrists.popleft()
        sp = self.spasm
        if sp is not None and tw >= sp["t0"]:
            sp["wrist_min"] = w if sp["wrist_min"] is None else min(sp["wrist_min"], w)

    def fingers(self, t: float, wall: float, value: float | None, out: Out) -> None:
        sp = self.spasm
        window = self._window
        if value is None:
            if sp is not None:                   # in fault: end it at its last good reading
                self._end(window[-1][0] if window else sp["booked"], t, wall, out, "fault")
            window.clear()
            self._lows.clear()
            self._rise = None
            return
        if not self.worn:
            return
        prev = window[-1] if window else None
        window.append((t, value))
        lows = self._lows
        while lows and lows[-1][1] >= value:
            lows.pop()
        lows.append((t, value))
        since = t - self.rise_s - 1e-6
        while window[0][0] < since:
            window.popleft()
        while lows[0][0] < since:
            lows.popleft()
        rise = self._rise
        if sp is not None or rise is not None:
            sp = sp or rise
            sp["peak"] = max(sp["peak"], value)
            if sp.get("end") is not None:
                return
            level = sp["baseline"] + self.settle_deg
            if value > level:
                if sp is self.spasm:
                    self._book(t if self._low_since is None else min(t, self._low_since), t, wall)
                return
            at = t
            if prev is not None and prev[1] > level:      # where it crossed, between the two
                at = prev[0] + (prev[1] - level) / (prev[1] - value) * (t - prev[0])
            if self._low_since is not None:
                at = min(at, self._low_since)
            if sp is rise:
                rise["end"] = max(at, sp["t0"])
            else:
                self._end(max(at, sp["t0"]), t, wall, out, "settled")
            return
        if self._low_since is not None:
            return
        lowest = lows[0][1]
        if value - lowest < self.rise_deg:         # (the baseline is never under the lowest)
            return
        near = [v for _, v in window if v <= lowest + NEAR_DEG]
        baseline = sum(near) / len(near)
        if value - baseline < self.rise_deg:
            return
        t0 = window[0][0]
        for (ta, va), (tb, _) in zip(window, list(window)[1:]):
            if va <= baseline + NEAR_DEG:
                t0 = (ta + tb) / 2
        self._rise = {"t0": t0, "start": wall - (t - t0), "booked": t0, "baseline": baseline, "peak": value,
                      "worn": 0, "end": None}

    # -- booking --------------------------------------------------------------------------------
    def _begin(self, sp: dict, t: float, wall: float, out: Out) -> None:
        day = self.ledger.day_of(sp["start"])
        wrists = [w for tw, w in self._wrists if tw >= sp["t0"]]
        sp.update(day=day, wrist_min=min(wrists) if wrists else None)
        self.spasm = sp
        self.ledger.day(day).spasms += 1
        self._book(self._window[-1][0] if sp["end"] is None else sp["end"], t, wall)
        out.events.append(Event("spasm_started", t, wall, {"day": day, "start": round(sp["start"], 3),
                                                           "baseline_deg": round(sp["baseline"], 1)}))

    def _book(self, upto: float, t: float, wall: float) -> None:
        sp = self.spasm
        d = upto - sp["booked"]
        if d > 0:
            self.ledger.book("spasm_s", d, wall - (t - upto))
            sp["booked"] = upto

    def _end(self, at: float, t: float, wall: float, out: Out, why: str) -> None:
        self._book(at, t, wall)
        sp, self.spasm = self.spasm, None
        wrist_min = sp["wrist_min"]
        out.events.append(Event("spasm", t, wall, {
            "day": sp["day"], "start": round(sp["start"], 3), "duration_s": round(max(0.0, at - sp["t0"]), 2),
            "peak_deg": round(sp["peak"], 1), "wrist_min_deg": None if wrist_min is None else round(wrist_min, 1),
            "baseline_deg": round(sp["baseline"], 1), "ended": why}))
