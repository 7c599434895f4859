"""What a real agent publishes, for the dashboard's tests: the state, load, day and event
payloads its own renderers make from a real core, and small changes to them."""

from __future__ import annotations

import json
import zoneinfo

from pi_agent.core import Core
from pi_agent.core.days import report_day
from pi_agent.render import load_payload, state_payload
from sensors.channel import Reading

ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
WALL0 = 1_777_629_600.0          # 2026-05-01 12:00 in Berlin


def real_payloads(cfg) -> dict:
    """State, load, day and event payloads as the agent renders them, from a core fed a
    minute open, a weight-bearing session over the maximum, a finger-sensor fault and a
    vibration request cut to its limit."""
    core = Core(cfg, ZONE)
    events, t = [], 0.0
    out: dict = {}

    def feed(seconds, values, fault=None):
        nonlocal t
        end = t + seconds
        while t < end - 1e-9:
            t += 0.25
            readings = [Reading(ch, t, 0, v) for ch, v in values.items()]
            if fault:
                readings.append(Reading(fault, t, 0, None, "disconnected"))
            events.extend(core.feed(readings, WALL0 + t).events)

    splint = {"wrist": 25.0, "fingers": 5.0, "palm": 3.0}
    feed(60, {**splint, "pad_palm": 0.0, "pad_fingers": 0.0})
    feed(20, {**splint, "pad_palm": 80.0, "pad_fingers": 50.0})
    out["state_in_session"] = state_payload(core.snapshot(), ZONE, WALL0 + t)
    out["load"] = load_payload(core.snapshot())
    feed(10, {**splint, "pad_palm": 0.0, "pad_fingers": 0.0})
    events.extend(core.command("vibration_start", {"level": "low", "minutes": 600}, t, WALL0 + t).events)
    feed(5, {"wrist": 25.0, "palm": 3.0, "pad_palm": 0.0, "pad_fingers": 0.0}, fault="fingers")
    snap = core.snapshot()
    out["state"] = state_payload(snap, ZONE, WALL0 + t)
    out["day"] = {"date": snap.day, **report_day(snap.today), "final": False}
    for e in events:
        if e.type in ("wb_session", "alert"):
            out[e.type] = {"id": f"id-{e.type}", "type": e.type, "time": "2026-05-01T12:01:00.000+02:00",
                           "device": "dev1", **e.data}
    core.close()
    return out


def encode(value) -> bytes:
    return json.dumps(value).encode()


def _without(value: dict, path: str) -> dict:
    value = json.loads(json.dumps(value))
    *parents, last = path.split(".")
    node = value
    for p in parents:
        node = node[p]
    del node[last]
    return value
