"""Wearing the splint: the position's time booked into the days, open bouts, and reminders.

The position itself is decided by ``PositionTracker`` (debounced, dated back); this
tracker books the time of each state into the day ledger (at least once a second and
at every change), counts open bouts (and the long ones), and asks for a reminder when
the hand has been worn but not open for a while. Pure.
"""

from __future__ import annotations

from pi_agent.core.days import DayLedger
from pi_agent.core.events import Event
from pi_agent.core.orders import Out
from pi_agent.core.position import OPEN, UNKNOWN, WORN, WORN_UNKNOWN, PositionTracker, public
from pi_agent.core.reminders import ReminderTracker

BOOK_EVERY_S = 1.0        # time is booked into the day at least this often (and at every change)


class WearTracker:
    def __init__(self, positioning_cfg, reminders_cfg, ledger: DayLedger, zone) -> None:
        p = positioning_cfg
        self.position = PositionTracker(wear_n=p.wear_n, min_wrist_deg=p.min_wrist_deg,
                                        max_fingers_deg=p.max_fingers_deg, hysteresis_n=p.hysteresis_n,
                                        hysteresis_deg=p.hysteresis_deg, debounce_s=p.debounce_s)
        self.reminders = ReminderTracker(reminders_cfg, zone)
        self.ledger = ledger
        self.long_bout_s = p.long_bout_min * 60.0
        self.booked_state = UNKNOWN       # the state time is being booked to
        self.booked_until: float | None = None
        self.since_wall: float | None = None   # wall time the current position began
        self.bout: dict | None = None     # the open bout in progress
        self.finished_bouts: list[dict] = []

    @property
    def state(self) -> str:
        return self.position.state

    def feed(self, t: float, wall: float, wrist: float | None, fingers: float | None, palm: float | None,
             out: Out) -> Event | None:
        """The splint's values at ``t``: book time, report changes; a reminder cue, if due."""
        tr = self.position.feed(t, wrist, fingers, palm)
        if tr is not None:
            self.book(tr.t, t, wall)
            self._enter(tr.old, tr.new, wall - (t - tr.t), t, wall, out)
        settled = self.position.settled_until
        until = t if settled is None else settled
        if tr is not None or self.booked_until is None or until - self.booked_until >= BOOK_EVERY_S:
            self.book(until, t, wall)
        return self.reminders.feed(t, wall, self.position.state)

    def book(self, until: float, now: float, wall: float) -> None:
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
                day.longest_bout_s = max(day.longest_bout_s, self.bout["duration_s"])
                if not self.bout["long"] and self.bout["duration_s"] >= self.long_bout_s:
                    self.bout["long"] = True
                    day.long_bouts += 1
        elif state in (UNKNOWN, WORN_UNKNOWN):
            ledger.book("unknown_s", d, wall_end)
        self.booked_until = until

    def _enter(self, old: str, new: str, began_wall: float, now: float, wall: float, out: Out) -> None:
        self.booked_state = new
        self.since_wall = began_wall
        if old == OPEN and self.bout is not None:
            bout, self.bout = self.bout, None
            self.finished_bouts.append(bout)
            out.events.append(Event("open_bout", now, wall, {"day": bout["day"], "start": bout["start_wall"],
                                                             "duration_s": round(bout["duration_s"], 1)}))
        if new == OPEN:
            day = self.ledger.day_of(began_wall)
            self.ledger.day(day).open_bouts += 1
            self.bout = {"day": day, "start_wall": began_wall, "duration_s": 0.0, "long": False}
        if public(old) != public(new):
            out.events.append(Event("position", now, wall, {"from": public(old), "to": public(new),
                                                            "worn": new in WORN, "since": round(began_wall, 3)}))

    def take_bouts(self) -> tuple[dict, ...]:
        bouts, self.finished_bouts = tuple(self.finished_bouts), []
        return bouts
