"""The pure core: fed timestamped readings, it says what happened.

No I/O, no sleeping, no clock of its own: the caller passes each batch of readings
with the wall time at which it was taken (monotonic times are in the readings). The
same core runs on a Pi in real time, in ``pi-agent simulate`` in virtual time, and in
a unit test with three lines of set-up.
"""

from __future__ import annotations

import zoneinfo
from typing import Callable

from pi_agent.days import DayLedger
from pi_agent.events import Event
from pi_agent.faults import FaultTracker
from pi_agent.position import OPEN, UNKNOWN, WORN, WORN_UNKNOWN, PositionTracker, public
from pi_agent.reminders import ReminderTracker
from pi_agent.weight_bearing import WeightBearingTracker, resolve_band
from sensors.channel import Reading

SPLINT_CHANNELS = ("wrist", "fingers", "palm")
BOOK_EVERY_S = 1.0        # time is booked into the day at least this often (and at every change)
PAD_CHANNELS = ("pad_palm", "pad_fingers")


class Core:
    def __init__(self, cfg, zone: zoneinfo.ZoneInfo,
                 loader: Callable[[str], dict | None] | None = None, *, max_push_n: float | None = None) -> None:
        self.cfg = cfg
        p = cfg.positioning
        self.faults = FaultTracker()
        self.latest: dict[str, Reading] = {}
        self.pad_channels = [ch for ch in PAD_CHANNELS if ch in cfg.sensors]
        self.position = PositionTracker(wear_n=p.wear_n, min_wrist_deg=p.min_wrist_deg,
                                        max_fingers_deg=p.max_fingers_deg, hysteresis_n=p.hysteresis_n,
                                        hysteresis_deg=p.hysteresis_deg, debounce_s=p.debounce_s)
        self.has_splint = all(ch in cfg.sensors for ch in SPLINT_CHANNELS)
        self.ledger = DayLedger(zone, p.goal_h * 3600.0, loader)
        self.long_bout_s = p.long_bout_min * 60.0
        self.booked_state = UNKNOWN       # the state time is being booked to
        self.booked_until: float | None = None
        self.state_since_wall: float | None = None
        self.bout: dict | None = None     # the open bout in progress
        self.finished_bouts: list[dict] = []
        self.now = 0.0
        self.wall = 0.0
        wb = cfg.weight_bearing
        self.max_push_n = max_push_n
        self.targets = {"low": wb.target_low, "high": wb.target_high, "unit": wb.target_unit}
        self.has_pad = len(self.pad_channels) == len(PAD_CHANNELS)
        self.wb = WeightBearingTracker(wb, self.ledger, self.band())
        self.reminders = ReminderTracker(cfg.reminders, zone)

    # -- feeding -----------------------------------------------------------------------
    def feed(self, readings: list[Reading], wall: float) -> list[Event]:
        events = []
        splint = pad = False
        for r in readings:
            self.latest[r.channel] = r
            e = self.faults.feed(r, wall)
            if e is not None:
                events.append(e)
            splint = splint or r.channel in SPLINT_CHANNELS
        if readings:
            self.now, self.wall = readings[-1].t, wall
            if r.channel in PAD_CHANNELS:
                pad = True
        if splint and self.has_splint:
            self._position(self.now, wall, events)
        if pad and self.has_pad:
            events.extend(self.wb.feed(self.now, wall, self.value("pad_palm"), self.value("pad_fingers")))
        return events

    def value(self, channel: str) -> float | None:
        r = self.latest.get(channel)
        return None if r is None else r.value

    def load(self) -> float | None:
        """The load on the table pad: the sum of its zones, in newtons (None in fault)."""
        if not self.pad_channels:
            return None
        total = 0.0
        for ch in self.pad_channels:
            v = self.value(ch)
            if v is None:
                return None
            total += v
        return max(0.0, total)

    # -- positioning ---------------------------------------------------------------------
    def _position(self, t: float, wall: float, events: list[Event]) -> None:
        tr = self.position.feed(t, self.value("wrist"), self.value("fingers"), self.value("palm"))
        if tr is not None:
            self._book(tr.t, t, wall)
            began_wall = wall - (t - tr.t)
            self._enter(tr.old, tr.new, tr.t, began_wall, t, wall, events)
        settled = self.position.settled_until
        until = t if settled is None else settled
        if tr is not None or self.booked_until is None or until - self.booked_until >= BOOK_EVERY_S:
            self._book(until, t, wall)
        reminder = self.reminders.feed(t, wall, self.position.state)
        if reminder is not None:
            events.append(reminder)

    def _book(self, until: float, now: float, wall: float) -> None:
        """Book the time from ``booked_until`` to ``until`` to the booked state."""
        if self.booked_until is None:
            self.booked_until = until
            return
        d = until - self.booked_until
        if d <= 0:
            return
        wall_end = wall - (now - until)
        state = self.booked_state
        ledger = self.ledger
        if state in WORN:
            ledger.book("worn_s", d, wall_end)
        if state == OPEN:
            ledger.book("open_s", d, wall_end)
            if self.bout is not None:
                self.bout["duration_s"] += d
                day = ledger.day(self.bout["day"])
                day["longest_bout_s"] = max(day["longest_bout_s"], self.bout["duration_s"])
                if not self.bout["long"] and self.bout["duration_s"] >= self.long_bout_s:
                    self.bout["long"] = True
                    day["long_bouts"] += 1
        elif state in (UNKNOWN, WORN_UNKNOWN):
            ledger.book("unknown_s", d, wall_end)
        self.booked_until = until

    def _enter(self, old: str, new: str, t: float, began_wall: float, now: float, wall: float,
               events: list[Event]) -> None:
        self.booked_state = new
        self.state_since_wall = began_wall
        if old == OPEN and self.bout is not None:
            bout = self.bout
            self.bout = None
            self.finished_bouts.append(bout)
            events.append(Event("open_bout", now, wall, {"day": bout["day"], "start": bout["start_wall"],
                                                        "duration_s": round(bout["duration_s"], 1)}))
        if new == OPEN:
            day = self.ledger.day_of(began_wall)
            self.ledger.day(day)["open_bouts"] += 1
            self.bout = {"day": day, "start_wall": began_wall, "duration_s": 0.0, "long": False}
        if public(old) != public(new):
            events.append(Event("position", now, wall, {"from": public(old), "to": public(new),
                                                        "worn": new in WORN, "since": round(began_wall, 3)}))

    def flush(self) -> None:
        """Book everything up to the last reading (a clean stop loses no tracked time; a
        change still being debounced is booked to the state before it)."""
        if self.booked_until is not None and self.wall:
            self._book(self.now, self.now, self.wall)

    # -- settings changed by command (kept in the store, over the configuration) --------
    def set_goal(self, goal_s: float) -> None:
        self.ledger.goal_s = goal_s
        if self.wall:
            self.today()["goal_s"] = goal_s

    def band(self):
        t = self.targets
        return resolve_band(t["low"], t["high"], t["unit"], body_weight_kg=self.cfg.weight_bearing.body_weight_kg,
                            max_push_n=self.max_push_n)

    def set_targets(self, low: float, high: float, unit: str) -> None:
        self.targets = {"low": low, "high": high, "unit": unit}
        self.wb.band = self.band()

    def set_max_push(self, max_push_n: float | None) -> None:
        self.max_push_n = max_push_n
        self.wb.band = self.band()

    def settings(self) -> dict:
        return {"goal_s": self.ledger.goal_s, "targets": self.targets}

    def apply_settings(self, settings: dict) -> None:
        if "goal_s" in settings:
            self.ledger.goal_s = settings["goal_s"]
        if "targets" in settings:
            self.set_targets(**settings["targets"])

    # -- what a person sees ------------------------------------------------------------------
    def today(self) -> dict:
        return self.ledger.day(self.ledger.day_of(self.wall)) if self.wall else {}

    def summary_line(self) -> str:
        if not self.has_splint:
            return ""
        today = self.today()
        state = public(self.position.state)
        since = ""
        if self.state_since_wall is not None and state != UNKNOWN:
            minutes = int(max(0.0, self.wall - self.state_since_wall) // 60)
            since = f" for {minutes // 60}:{minutes % 60:02d}"
        goal = today.get("goal_s", 0) or 1
        return (f"hand {state}{since}  today: open {today.get('open_s', 0) / 3600:.1f} h of "
                f"{goal / 3600:g} h ({100 * today.get('open_s', 0) / goal:.0f}%), worn "
                f"{today.get('worn_s', 0) / 3600:.1f} h")
