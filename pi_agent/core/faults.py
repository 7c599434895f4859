"""Which channels are in fault, from readings: raised and cleared events, pure."""

from __future__ import annotations

from pi_agent.core.events import Event
from sensors.channel import FAULT_TEXT, Reading, label


def describe(channel: str, kind: str) -> str:
    """Plain words for a person: 'wrist sensor disconnected'."""
    name = "finger" if channel == "fingers" else label(channel)
    return f"{name} sensor {FAULT_TEXT.get(kind, kind)}"


class FaultTracker:
    def __init__(self) -> None:
        self.active: dict[str, str] = {}   # channel -> fault kind
        self.since: dict[str, float] = {}

    def feed(self, reading: Reading, wall: float) -> Event | None:
        ch, fault = reading.channel, reading.fault
        current = self.active.get(ch)
        if fault == current:
            return None
        if fault is None:
            del self.active[ch]
            since = self.since.pop(ch)
            return Event("fault_cleared", reading.t, wall,
                         {"channel": ch, "kind": current, "lasted_s": round(reading.t - since, 3),
                          "text": describe(ch, current).split(" sensor ")[0] + " sensor OK again"})
        if current is not None:
            self.since[ch] = reading.t
        self.active[ch] = fault
        self.since.setdefault(ch, reading.t)
        return Event("fault_raised", reading.t, wall,
                     {"channel": ch, "kind": fault, "text": describe(ch, fault)})
