"""Event delivery is at least once; what consumes events counts each id once."""

from __future__ import annotations

import json

from pi_agent.dashboard.fleet import Fleet


def event(i: int, kind: str = "fault_raised") -> bytes:
    return json.dumps({"id": f"{i:032x}", "type": kind, "time": "2026-05-01T10:00:00.000+02:00",
                       "device": "dev1"}).encode()


def test_the_dashboard_takes_a_repeated_event_once():
    """The same event delivered twice (after a reconnect) changes the fleet once; a new id changes it."""
    fleet = Fleet(clock=lambda: 0.0, wall=lambda: 0.0)
    fleet.receive("openpalm/dev1/event", event(1))
    version = fleet.version
    fleet.receive("openpalm/dev1/event", event(1))
    assert fleet.version == version, "a repeat is no news"
    fleet.receive("openpalm/dev1/event", event(2))
    assert fleet.version == version + 1
