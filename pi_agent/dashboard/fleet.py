"""What the dashboard knows of each device, from its MQTT topics (kept in memory).

The retained topics carry what a new dashboard needs at once: ``status``, ``state``
and the ``day/<date>`` summaries (the history of the last days). ``load`` and ``event``
come live.
"""

from __future__ import annotations

import json
import logging
import threading
import time

log = logging.getLogger("pi_agent.dashboard")

MAX_SESSIONS = 20


class Fleet:
    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self.devices: dict[str, dict] = {}
        self.version = 0
        self.changed = threading.Condition()

    def _device(self, device: str) -> dict:
        d = self.devices.get(device)
        if d is None:
            d = self.devices[device] = {"id": device, "online": None, "last_seen": None, "state": None,
                                        "state_at": None, "days": {}, "sessions": [], "alerts": [],
                                        "load": None}
        return d

    def receive(self, topic: str, payload: bytes) -> None:
        """One MQTT message on ``openpalm/<device>/...``; anything malformed is skipped."""
        parts = topic.split("/")
        if len(parts) < 3 or parts[0] != "openpalm":
            return
        device, kind = parts[1], parts[2]
        try:
            with self.changed:
                d = self._device(device)
                now = self.clock()
                if kind == "status":
                    d["online"] = payload == b"online"
                    if d["online"]:
                        d["last_seen"] = now
                elif kind == "state":
                    d["state"] = json.loads(payload)
                    d["state_at"] = now          # the agent's clock may be far from ours
                    d["last_seen"] = now
                elif kind == "day" and len(parts) == 4:
                    d["days"][parts[3]] = json.loads(payload)
                elif kind == "load":
                    d["load"] = {**json.loads(payload), "received": now}
                    d["last_seen"] = now
                elif kind == "event":
                    event = json.loads(payload)
                    if event.get("type") == "wb_session" and event["id"] not in {s["id"] for s in d["sessions"]}:
                        d["sessions"] = (d["sessions"] + [event])[-MAX_SESSIONS:]
                    elif event.get("type") == "alert" and event["id"] not in {a["id"] for a in d["alerts"]}:
                        d["alerts"] = (d["alerts"] + [event])[-5:]
                    d["last_seen"] = now
                else:
                    return
                self.version += 1
                self.changed.notify_all()
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipped a malformed message on %s: %s", topic, exc)

    def snapshot(self) -> dict:
        with self.changed:
            devices = []
            for d in sorted(self.devices.values(), key=lambda d: d["id"]):
                days = dict(sorted(d["days"].items())[-14:])
                devices.append({**d, "days": days})
            return {"version": self.version, "now": self.clock(), "devices": devices}

    def wait(self, version: int, timeout: float) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.version != version, timeout)
            return self.version
