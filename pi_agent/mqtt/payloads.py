"""What the agent publishes, and when: pure functions and small pacers, no broker.

Every payload is built here from the core's values: events, the ``state`` and ``load``
snapshots (rendered by ``pi_agent.render``, like every other view) and the ``day/<date>``
summaries (``report_day``, as ``pi-agent simulate`` reports a day). The pacers decide
when a message is due: the state on a change beyond a deadband or as a heartbeat, a day
when its summary changed (today at most every ``DAY_EVERY_S``; an earlier day a few times
at most after its midnight). They read no clock:
the link gives them the time.
"""

from __future__ import annotations

import json
from typing import Callable, Mapping

from pi_agent.core.days import Day, report_day
from pi_agent.core.events import Event
from pi_agent.core.snapshot import Snapshot
from pi_agent.render import iso, load_payload, state_payload

__all__ = ["EVENT_TYPES", "STATE_EVENTS", "DAY_EVERY_S", "SETTLE_S", "PAST_DAY_REPEATS", "DEADBAND", "LOAD_DEADBAND_N",
           "topic_root",
           "event_payload", "state_payload", "load_payload", "day_message", "significant",
           "load_due", "StatePacer", "DayPacer"]

EVENT_TYPES = ("wb_session", "vibration_session", "fault_raised", "fault_cleared", "alert", "spasm", "outbox_dropped",
               "exercise_session")
"""Events published on ``event`` (through the durable outbox); ``outbox_dropped`` is the
link's own: events the bounded outbox could not keep while the broker was away."""
STATE_EVENTS = ("position", "fault_raised", "fault_cleared", "wb_session_started", "wb_session",
                "vibration_started", "vibration_session", "spasm_started", "spasm", "alert", "command",
                "exercise_started", "exercise_session")
"""Events after which the state is looked at again at once (not only each second)."""
DAY_EVERY_S = 300.0
"""Today's summary changes all day: it is published at most this often (seconds)."""
SETTLE_S = 60.0
"""An earlier day that changes again is published once it has not changed for this long."""
PAST_DAY_REPEATS = 3
"""An earlier day is published at most this many times after the first look after midnight."""
DEADBAND = {"flex": 5.0, "force": 1.0, "load_cell": 1.0}
"""A channel's change that matters in the state: degrees (flex), newtons (force, load_cell).
Well above a sensor's noise (about 1 degree, 0.2 N): at 2 degrees and 0.5 N a hand lying
still republished the retained state about once a second, to the broker and to Home
Assistant's database; the state still goes out every ``heartbeat_s`` with the exact values."""
LOAD_DEADBAND_N = 2.0
"""A change of the pad's load that matters in the state, in newtons."""
STATE_KEYS = ("position", "worn", "faults", "weight_bearing", "spasm", "pressure", "therapy", "goal_h", "targets",
              "exercise")
"""State keys whose every change matters."""


def topic_root(device: str) -> str:
    """Every topic of a device lives under this."""
    return f"openpalm/{device}"


def event_payload(event: Event, event_id: str, device: str, zone) -> dict:
    """An ``event`` message: its id (a retry carries the same one), type, time and details."""
    return {"id": event_id, "type": event.type, "time": iso(event.wall, zone), "device": device, **event.data}


def day_message(day: str, record: Day, today: str) -> str:
    """A ``day/<date>`` message as JSON text; ``final`` once the day is over."""
    return json.dumps({"date": day, **report_day(record), "final": day < today}, sort_keys=True)


def significant(new: dict, old: dict | None, kinds: Mapping[str, str]) -> bool:
    """Whether state ``new`` differs from the last published ``old`` enough to publish it:
    any change of position, wear, faults, weight bearing (a repetition among them), a
    spasm or high pressure beginning or ending, therapy or settings; a channel
    or the load moving beyond its deadband, or appearing or going (``kinds``: channel ->
    'flex', 'force' or 'load_cell')."""
    if old is None:
        return True
    for key in STATE_KEYS:
        if new[key] != old[key]:
            return True
    for name, value in new["channels"].items():
        before = old["channels"].get(name)
        if (value is None) != (before is None):
            return True
        if value is not None and abs(value - before) > DEADBAND[kinds[name]]:
            return True
    a, b = new["load_n"], old["load_n"]
    return (a is None) != (b is None) or (a is not None and abs(a - b) > LOAD_DEADBAND_N)


class StatePacer:
    """When to publish the ``state``: at least every ``heartbeat_s``; otherwise when it
    changed beyond the deadband, looked at no more than 4 times a second after an event
    that matters (``changed()``) and once a second for the values."""

    def __init__(self, heartbeat_s: float, kinds: Mapping[str, str]) -> None:
        self.heartbeat_s = heartbeat_s
        self.kinds = dict(kinds)
        self.last: dict | None = None
        self.last_at = float("-inf")
        self.pending = True          # an event that matters came since the last look
        self.published = 0

    def changed(self) -> None:
        self.pending = True

    def forget(self) -> None:
        """A new connection or a new listener: the next look publishes."""
        self.last, self.last_at = None, float("-inf")

    def may_be_due(self, now: float) -> bool:
        """Whether ``due`` would look at the state at all at ``now`` (a cheap check)."""
        since = now - self.last_at
        return since >= 1.0 or (self.pending and since >= 0.25)

    def due(self, now: float, render: Callable[[], dict]) -> dict | None:
        """The state to publish at monotonic time ``now`` (``render`` builds it), or None."""
        since = now - self.last_at
        heartbeat = since >= self.heartbeat_s
        if not heartbeat and (since < 0.25 or (not self.pending and since < 1.0)):
            return None
        self.pending = False
        state = render()
        if not (heartbeat or significant(state, self.last, self.kinds)):
            return None
        self.last, self.last_at = state, now
        self.published += 1
        return state


class DayPacer:
    """When to publish each ``day/<date>`` (retained): few messages, the last one final.

    - a day never sent: at once;
    - today, changed: at most every ``DAY_EVERY_S``;
    - at the first look after the local date changed (midnight, or a clock step): every
      changed day at once (an earlier day now says ``final``);
    - an earlier day that changes after that (an open bout that runs past midnight
      lengthens yesterday's longest bout at every reading): only once its summary has
      stood still for ``SETTLE_S``, and at most ``PAST_DAY_REPEATS`` times a day. So a
      bout that goes on for hours after midnight gives one more message when it ends,
      not one a reading."""

    def __init__(self) -> None:
        self.sent: dict[str, tuple[float, str]] = {}    # day -> (when, text) last published
        self.seen: dict[str, tuple[float, str]] = {}    # day -> (since when, text) as last looked at
        self.repeats: dict[str, int] = {}               # earlier day -> messages since the date changed
        self.today: str | None = None

    def forget(self) -> None:
        """A new connection: every day is sent again."""
        self.sent.clear()

    def due(self, days: Mapping[str, Day], today: str, now: float) -> list[tuple[str, str]]:
        """The (day, text) messages to publish at monotonic time ``now``, ``today`` being
        the local date; they are counted as sent."""
        new_day = self.today is not None and self.today != today
        if new_day:
            self.repeats.clear()
        out = []
        for day, record in days.items():
            text = day_message(day, record, today)
            seen = self.seen.get(day)
            if seen is None or seen[1] != text:
                self.seen[day] = seen = (now, text)
            sent = self.sent.get(day)
            if sent is not None and sent[1] == text:
                continue
            if sent is None or new_day:
                due = True
            elif day >= today:
                due = now - sent[0] >= DAY_EVERY_S
            else:
                due = now - seen[0] >= SETTLE_S and self.repeats.get(day, 0) < PAST_DAY_REPEATS
                if due:
                    self.repeats[day] = self.repeats.get(day, 0) + 1
            if due:
                out.append((day, text))
                self.sent[day] = (now, text)
        self.today = today
        return out


def load_due(snapshot: Snapshot, last_t: float, rate_hz: float) -> bool:
    """Whether a ``load`` message is due: the pad is read fast (a session, a press or a
    tare), its load is known, and a pad reading at least ``1 / rate_hz`` after the one
    last sent (``last_t``) is new: a message follows a reading of the pad, never one of
    the splint. A tenth of a period's give keeps the rate when readings come a little
    early (100 pad readings a second give exactly 20 messages a second, not 16.7)."""
    t = snapshot.load_t
    return (snapshot.pad_fast and t is not None and t - last_t >= 0.9 / rate_hz
            and snapshot.load_n is not None)

