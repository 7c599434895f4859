"""What the core reports: events with their monotonic and wall times."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at monotonic time ``t`` (wall time ``wall``).

    ``type`` is one of a fixed vocabulary (``fault_raised``, ``fault_cleared``,
    ``position``, ``haptic``, ...); ``data`` carries its details as JSON-able values.
    """
    type: str
    t: float
    wall: float
    data: dict[str, Any] = field(default_factory=dict)
