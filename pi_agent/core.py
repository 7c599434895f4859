"""The pure core: fed timestamped readings, it says what happened.

No I/O, no sleeping, no clock of its own: the caller passes each batch of readings
with the wall time at which it was taken (monotonic times are in the readings). The
same core runs on a Pi in real time, in ``pi-agent simulate`` in virtual time, and in
a unit test with three lines of set-up.
"""

from __future__ import annotations

from pi_agent.events import Event
from pi_agent.faults import FaultTracker
from sensors.channel import Reading


class Core:
    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self.faults = FaultTracker()
        self.latest: dict[str, Reading] = {}
        self.pad_channels = [n for n, s in cfg.sensors.items() if s.chip == "pad" and s.kind == "force"]

    def feed(self, readings: list[Reading], wall: float) -> list[Event]:
        events = []
        for r in readings:
            self.latest[r.channel] = r
            e = self.faults.feed(r, wall)
            if e is not None:
                events.append(e)
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
