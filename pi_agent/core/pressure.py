"""Skin pressure under the palm: a strap too tight, a swollen hand. Pure.

The rule (docs/scenario-format.md, "Clinical signals"): when the palm force has stayed
at or above ``alert_n`` for ``alert_after_min``, one alert is raised; the next one can
only follow after the force has fallen under ``rearm_n``. The seconds at or above
``alert_n`` are booked into the days as they pass, the alerts into the day they are
raised.

The rule runs on the mean of the palm's readings over ``SMOOTH_S`` (dated at its
middle): on raw readings, a force a newton over ``alert_n`` with half a newton of noise
shows a reading under it every minute or so, and each would restart the five minutes.
"""

from __future__ import annotations

from pi_agent.core.days import DayLedger
from pi_agent.core.events import Event
from pi_agent.core.orders import Out
from pi_agent.core.smoothing import Recent

SMOOTH_S = 2.0
TEXT = "High pressure under the palm for {minutes:g} minutes: check the skin and loosen the straps"


class PressureTracker:
    def __init__(self, pressure_cfg, *, rate_hz: float, ledger: DayLedger) -> None:
        c = pressure_cfg
        self.alert_n, self.rearm_n = c.alert_n, c.rearm_n
        self.alert_after_s = c.alert_after_min * 60.0
        self.text = TEXT.format(minutes=c.alert_after_min)
        self.ledger = ledger
        self._mean = Recent(max(1, round(SMOOTH_S * rate_hz)), 4.0 / rate_hz)
        self._prev: tuple[float, float] | None = None    # the last (time, smoothed force)
        self.high_since: float | None = None             # time the force went at or above alert_n
        self._booked = 0.0
        self.armed = True

    def feed(self, t: float, wall: float, palm: float | None, out: Out) -> bool:
        """A palm reading; True when it raised an alert."""
        if palm is None:                 # in fault: high pressure is not known; end it where it was
            if self.high_since is not None and self._prev is not None:
                self._book(self._prev[0], t, wall)
            self.high_since = None
            self._prev = None
            self._mean.reset()
            return False
        tp, f = self._mean.mean(t, palm)
        prev, self._prev = self._prev, (tp, f)
        raised = False
        if f >= self.alert_n:
            if self.high_since is None:
                self.high_since = self._booked = self._crossing(prev, tp, f)
            self._book(tp, t, wall)
            if self.armed and tp - self.high_since >= self.alert_after_s:
                self.armed = False
                raised = True
                day = self.ledger.day_of(wall)
                self.ledger.day(day).pressure_alerts += 1
                out.events.append(Event("alert", t, wall, {
                    "reason": "skin_pressure", "text": self.text, "day": day, "palm_n": round(f, 1),
                    "since": round(wall - (t - self.high_since), 3)}))
        elif self.high_since is not None:
            self._book(self._crossing(prev, tp, f), t, wall)
            self.high_since = None
        if f < self.rearm_n:
            self.armed = True
        return raised

    def _crossing(self, prev: tuple[float, float] | None, tp: float, f: float) -> float:
        """When the smoothed force crossed ``alert_n`` between the last reading and this one."""
        if prev is None or (prev[1] >= self.alert_n) == (f >= self.alert_n) or prev[1] == f:
            return tp
        return prev[0] + (self.alert_n - prev[1]) / (f - prev[1]) * (tp - prev[0])

    def _book(self, upto: float, t: float, wall: float) -> None:
        d = upto - self._booked
        if d > 0:
            self.ledger.book("high_pressure_s", d, wall - (t - upto))
            self._booked = upto
