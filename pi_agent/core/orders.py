"""What the core decides, as values the agent applies: motor orders, records to store,
responses to commands. Each is immutable; ``Step`` carries one feed's worth of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pi_agent.core.days import Day
from pi_agent.core.events import Event


@dataclass(frozen=True, slots=True)
class Cue:
    """Play a named pattern (``pi_agent.core.patterns``) now."""
    pattern: str
    reason: str


@dataclass(frozen=True, slots=True)
class Therapy:
    """Play ``level`` over these monotonic ``intervals``; never more than ``budget_s`` of
    it (what is left of the day's maximum), whatever the intervals say. ``continuous_s``:
    vibration already behind it with no real rest since (it counts toward the continuous
    maximum)."""
    level: float
    intervals: tuple[tuple[float, float], ...]
    budget_s: float
    continuous_s: float = 0.0


@dataclass(frozen=True, slots=True)
class TherapyOff:
    """End the therapy layer now (cues still play)."""
    reason: str


@dataclass(frozen=True, slots=True)
class DoseStart:
    """Record a therapy block before the motor starts it (a crash still leaves it)."""
    key: str
    day: str
    start: float           # wall time
    planned_end: float     # wall time the plan ends
    level: str
    source: str


@dataclass(frozen=True, slots=True)
class DoseEnd:
    key: str
    stop: float            # wall time
    seconds: float         # delivered
    reason: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Write these to the store in one transaction. ``doses``: seconds delivered so far of
    the dose still running, by key (the days include exactly that much of it)."""
    days: dict[str, dict]
    bouts: tuple[dict, ...]
    meta: dict[str, Any]
    doses: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Response:
    """The answer to a command (``data`` on success, ``error`` otherwise)."""
    name: str
    transaction: Any
    status: str
    data: dict | None = None
    error: str | None = None

    def payload(self) -> dict:
        if self.status == "ok":
            return {"status": "ok", "transaction": self.transaction, "data": self.data or {}}
        return {"status": "error", "transaction": self.transaction, "error": self.error}


@dataclass(frozen=True, slots=True)
class SaveTare:
    """Save these tares (raw counts per pad channel), measured on a steady empty pad."""
    tares: dict[str, float]
    transaction: Any


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """Answer the ``report`` command with the days from ``first`` to ``last`` (local dates):
    the store's, overlaid with ``live``, the core's own days of the period (fresher than
    the store's last checkpoint)."""
    first: str
    last: str
    transaction: Any
    live: dict[str, Day]


@dataclass(frozen=True, slots=True)
class Republish:
    """Publish everything again (the ``refresh`` command)."""


@dataclass(frozen=True, slots=True)
class Step:
    events: tuple[Event, ...] = ()
    orders: tuple[object, ...] = ()     # motor orders, records, responses, in the order decided


EMPTY = Step()


@dataclass
class Out:
    """Collects what one call into the core decides (the core's own scratch pad)."""
    events: list[Event] = field(default_factory=list)
    orders: list[object] = field(default_factory=list)

    def step(self) -> Step:
        if not self.events and not self.orders:
            return EMPTY
        return Step(tuple(self.events), tuple(self.orders))
