"""Positioning reminders: a gentle cue when the splint has been worn, but the hand not
open, for a while inside the configured hours; at most one per interval. Pure."""

from __future__ import annotations

import datetime as dt

from pi_agent.core.events import Event
from pi_agent.core.position import CLOSED, OPEN, WORN


class ReminderTracker:
    def __init__(self, cfg, zone) -> None:
        self.enabled = cfg.enabled
        self.after_s = cfg.after_min * 60.0
        self.every_s = cfg.every_min * 60.0
        self.hours = (cfg.from_hour, cfg.to_hour)
        self.zone = zone
        self._not_open_since: float | None = None
        self._last: float | None = None

    def feed(self, t: float, wall: float, state: str) -> Event | None:
        if not self.enabled:
            return None
        if state not in WORN or state == OPEN:
            self._not_open_since = None
            return None
        if state != CLOSED:
            return None           # worn, but the position is unknown: no reminder on a guess
        if self._not_open_since is None:
            self._not_open_since = t
        hour = dt.datetime.fromtimestamp(wall, self.zone).hour
        if not self.hours[0] <= hour < self.hours[1]:
            return None
        if t - self._not_open_since < self.after_s:
            return None
        if self._last is not None and t - self._last < self.every_s:
            return None
        self._last = t
        return Event("haptic", t, wall, {"pattern": "nudge", "reason": "reminder",
                                         "not_open_min": round((t - self._not_open_since) / 60, 1)})
