"""What the dashboard knows of each device, from its MQTT topics (kept in memory), and of
its own link to the broker.

The retained topics carry what a new dashboard needs at once: ``status``, ``state``
and the ``day/<date>`` summaries (the history of the last days). ``load`` and ``event``
come live. Every message is read through the schema (``schema.py``) first: a message
that does not fit marks its device (``problem``), is logged once, and changes nothing
else; the page only ever receives what fitted.

Each device has a *condition*, decided here from what the dashboard itself saw, so that
nothing on the page claims to be current when it is not:

- ``online``: the device said so and has been heard from within ``silent_after_s``;
- ``offline``: its ``status`` is ``offline`` (it stopped cleanly, or the broker sent its
  last will: its connection was silent for 1.5 keep-alive intervals);
- ``silent``: connected as far as the broker knows, but no message for ``silent_after_s``
  (2.5 heartbeats: the agent publishes its ``state`` at least every heartbeat), as when
  the agent hangs while its network thread still answers the broker's pings;
- ``unknown``: the dashboard has no broker, so it cannot know.

Ages are measured on the dashboard's monotonic clock; wall times are derived from it for
the page to show ("last seen 10:32").

The page may ask a device for one thing: to start or stop an exercise session (``ASKS``).
``ask`` records the request (its transaction) and the device's ``response/<command>`` to
it is kept beside it, so the page can say what the monitor answered.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from pi_agent.config.checks import got
from pi_agent.dashboard.schema import DEVICE, Unreadable, read

log = logging.getLogger("pi_agent.dashboard")

MAX_SESSIONS = 20       # weight-bearing sessions kept per device
MAX_ALERTS = 10         # alerts kept per device
MAX_DAYS = 31           # day summaries kept per device (the page shows 14)
MAX_DEVICES = 500       # beyond this, new device ids are ignored (and said once)
LOAD_LIVE_S = 3.0       # a load message older than this is not live any more
SEEN_IDS = 200          # event ids remembered per device, to drop repeats
ASKS = ("exercise_start", "exercise_stop")    # the commands the page may send a device


class Refused(ValueError):
    """The page asked for something the fleet cannot send (one line, for the page), with the
    HTTP status that says why: 400 a command the page may not send, 404 a device unknown
    here, 409 a device that cannot take a request now."""

    def __init__(self, text: str, status: int = 409) -> None:
        super().__init__(text)
        self.status = status


@dataclass
class Device:
    id: str
    status: str | None = None             # 'online' / 'offline' as last published
    status_at: float | None = None        # monotonic, when that status was heard live
    heard: float | None = None            # monotonic, the last live (not retained) message
    state: dict | None = None             # the last state that fitted the schema
    state_heard: float | None = None      # monotonic, when it came live (None: retained)
    days: dict[str, dict] = field(default_factory=dict)
    sessions: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    load: dict | None = None
    load_heard: float | None = None
    problems: dict[str, tuple[str, float]] = field(default_factory=dict)   # topic -> (text, monotonic)
    logged: set[str] = field(default_factory=set)
    seen_ids: deque = field(default_factory=lambda: deque(maxlen=SEEN_IDS))
    asked: dict | None = None             # the page's last request: command, transaction, at, answer


class Fleet:
    def __init__(self, *, heartbeat_s: float = 30.0, keepalive_s: float = 30.0, broker: str = "",
                 wall: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic) -> None:
        self.wall, self.clock = wall, clock
        self.offline_after_s = 1.5 * keepalive_s     # the broker's last will, for a device that vanished
        self.silent_after_s = 2.5 * heartbeat_s      # no state for this long: not heard from
        self.heartbeat_s, self.keepalive_s = heartbeat_s, keepalive_s
        self.devices: dict[str, Device] = {}
        self.link = {"state": "connecting", "address": broker, "since": clock(), "connected_at": None,
                     "ever": False, "error": None}
        self.version = 0
        self._seen_until = clock()
        self.changed = threading.Condition()
        self._ignored: set[str] = set()

    # -- the broker link -------------------------------------------------------------------
    def link_up(self) -> None:
        with self.changed:
            now = self.clock()
            self.link.update(state="connected", since=now, connected_at=now, ever=True, error=None)
            self._bump()

    def link_down(self, error: str | None = None, refused: bool = False) -> None:
        """The link is lost (or a connection failed, or the broker refused us)."""
        with self.changed:
            if self.link["state"] == "refused" and not refused:
                return                          # the disconnect that follows a refusal says less
            state = "refused" if refused else ("lost" if self.link["ever"] else "connecting")
            if self.link["state"] != state or self.link["error"] != error:
                since = self.link["since"] if self.link["state"] == state else self.clock()
                self.link.update(state=state, since=since, connected_at=None, error=error)
                self._bump()

    # -- messages ----------------------------------------------------------------------------
    def receive(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """One MQTT message on ``openpalm/<device>/<kind>[/<date>]``."""
        parts = topic.split("/")
        if len(parts) < 3 or parts[0] != "openpalm":
            return
        name, kind = parts[1], parts[2]
        if kind == "response":
            if len(parts) == 4 and parts[3] in ASKS:
                self._answer(name, parts[3], payload)
            return
        if kind not in ("status", "state", "load", "day", "event") or (kind == "day") != (len(parts) == 4) \
                or len(parts) > 4:
            return
        with self.changed:
            device = self.devices.get(name)
            if device is None:
                if not DEVICE.fullmatch(name) or len(self.devices) >= MAX_DEVICES:
                    self._ignore(name, "an id of letters, digits, _ and -" if not DEVICE.fullmatch(name)
                                 else f"at most {MAX_DEVICES} devices")
                    return
                device = self.devices[name] = Device(name)
            key = "/".join(parts[2:])
            now = self.clock()
            try:
                value = read(kind, payload, parts[3] if kind == "day" else None)
            except Unreadable as exc:
                if not retained and kind != "status":
                    device.heard = now               # unreadable, but the device is there
                self._problem(device, key, str(exc), now)
                return
            device.problems.pop(key, None)
            if not retained and not (kind == "status" and value == "offline"):
                device.heard = now           # 'offline' may be the broker's last will, 1.5 keep-alives late,
                                             # and anyone may publish on status: only 'online' is the device
            if kind == "status":
                device.status = value
                device.status_at = None if retained else now
            elif kind == "state":
                device.state, device.state_heard = value, None if retained else now
            elif kind == "day":
                device.days[value["date"]] = value
                if len(device.days) > MAX_DAYS:
                    del device.days[min(device.days)]
            elif kind == "load":
                device.load, device.load_heard = value, None if retained else now
            elif kind == "event":
                if value["id"] in device.seen_ids:
                    return
                device.seen_ids.append(value["id"])
                if value["type"] == "wb_session":
                    device.sessions = (device.sessions + [value])[-MAX_SESSIONS:]
                elif value["type"] == "alert":
                    device.alerts = (device.alerts + [value])[-MAX_ALERTS:]
            self._bump()

    def _answer(self, name: str, command: str, payload: bytes) -> None:
        """A device's response to a command: kept when it answers the page's last request."""
        with self.changed:
            device = self.devices.get(name)
            asked = device.asked if device is not None else None
            if asked is None or asked["command"] != command or asked["answer"] is not None:
                return
            try:
                value = read("response", payload)
            except Unreadable as exc:
                self._problem(device, f"response/{command}", str(exc), self.clock())
                return
            if value.get("transaction") != asked["transaction"]:
                return                                  # someone else's request
            asked["answer"] = {"status": value["status"], "error": value.get("error")}
            self._bump()

    # -- what the page asks ------------------------------------------------------------------
    def ask(self, name: str, command: str) -> str:
        """Record the page's request ``command`` to device ``name``: its transaction (to
        publish with it). Raises Refused when it cannot be sent: an unknown command or
        device, or a device that is not online (a request is not kept for it)."""
        if command not in ASKS:
            raise Refused(f"command: expected one of {', '.join(ASKS)}, {got(command)}", 400)
        with self.changed:
            device = self.devices.get(name) if isinstance(name, str) else None
            if device is None:
                raise Refused(f"device: no device {str(name)[:64]!r} is known to this dashboard", 404)
            condition = self.condition(device, self.clock())
            if condition != "online":
                raise Refused(f"{name} is {'not heard from' if condition == 'silent' else condition}: "
                              f"a request now would not reach it")
            transaction = f"dashboard-{secrets.token_hex(6)}"
            device.asked = {"command": command, "transaction": transaction, "at": self.clock(), "answer": None}
            self._bump()
            return transaction

    def _problem(self, device: Device, key: str, text: str, now: float) -> None:
        device.problems[key] = (text, now)
        if len(device.problems) > 8:                      # bounded: keep the newest
            del device.problems[min(device.problems, key=lambda k: device.problems[k][1])]
        said = f"{key}: {text}"
        if said not in device.logged and len(device.logged) < 100:
            device.logged.add(said)
            log.warning("%s: data that could not be read on openpalm/%s/%s (said once): %s",
                        device.id, device.id, key, text)
        self._bump()

    def _ignore(self, name: str, expected: str) -> None:
        if name not in self._ignored and len(self._ignored) < 100:
            self._ignored.add(name)
            log.warning("ignored messages from device %r: expected %s (said once)", name[:80], expected)

    def _bump(self) -> None:
        self.version += 1
        self._seen_until = self.clock()      # a snapshot from now on shows every change until now
        self.changed.notify_all()

    # -- what the page gets -----------------------------------------------------------------
    def condition(self, d: Device, now: float) -> str:
        if self.link["state"] != "connected":
            return "unknown"
        if d.status == "offline":
            return "offline"
        # Retained messages come at once on (re)connecting: give the device the silent
        # window from then before calling it silent.
        since = max(d.heard if d.heard is not None else float("-inf"), self.link["connected_at"])
        return "silent" if now - since > self.silent_after_s else "online"

    def snapshot(self) -> dict:
        """Everything the page shows, with wall times (the dashboard's clock) for when each
        thing was heard; JSON-ready."""
        with self.changed:
            now, wall = self.clock(), self.wall()

            def at(t: float | None) -> float | None:
                return None if t is None else round(wall - (now - t), 3)

            devices = []
            for d in sorted(self.devices.values(), key=lambda d: d.id):
                condition = self.condition(d, now)
                live_load = (condition == "online" and d.load is not None and d.load_heard is not None
                             and now - d.load_heard <= LOAD_LIVE_S and d.load["session"])
                problem = max(d.problems.items(), key=lambda kv: kv[1][1], default=None)
                devices.append({
                    "id": d.id, "condition": condition, "status": d.status,
                    "last_seen": at(d.heard), "state": d.state, "state_at": at(d.state_heard),
                    "days": dict(sorted(d.days.items())[-14:]), "sessions": list(d.sessions),
                    "alerts": list(d.alerts), "load": d.load if live_load else None,
                    "problem": None if problem is None else {"topic": problem[0], "text": problem[1][0],
                                                             "at": at(problem[1][1])},
                    "asked": None if d.asked is None else {"command": d.asked["command"], "at": at(d.asked["at"]),
                                                           **(d.asked["answer"] or {"status": None})},
                })
            link = self.link
            return {"version": self.version, "now": round(wall, 3), "devices": devices,
                    "broker": {"state": link["state"], "address": link["address"], "since": at(link["since"]),
                               "error": link["error"]},
                    "limits": {"offline_after_s": self.offline_after_s, "silent_after_s": self.silent_after_s,
                               "keepalive_s": self.keepalive_s, "heartbeat_s": self.heartbeat_s}}

    def _next_transition(self, after: float) -> float | None:
        """The first monotonic time after ``after`` at which time alone changes what the
        page shows (a device turning silent, a live load going stale), if any."""
        if self.link["state"] != "connected":
            return None
        times = []
        for d in self.devices.values():
            if d.status != "offline":
                times.append(max(d.heard if d.heard is not None else float("-inf"), self.link["connected_at"])
                             + self.silent_after_s)
            if d.load_heard is not None:
                times.append(d.load_heard + LOAD_LIVE_S)
        return min((t for t in times if t > after), default=None)

    def history(self, device: str) -> tuple[dict[str, dict], dict | None] | None:
        """Every day message and the last state of a device (None: not known)."""
        with self.changed:
            d = self.devices.get(device)
            return None if d is None else (dict(d.days), d.state)

    def wait(self, version: int, timeout: float) -> int:
        """Until the fleet changes (a new version) or ``timeout``. A change that time alone
        makes (a device turning silent) counts as one, even one that fell between two
        waits, so the page learns it at once."""
        with self.changed:
            due = self._next_transition(self._seen_until)
            if due is not None and due > self.clock():
                timeout = min(timeout, due - self.clock() + 0.05)
            if due is None or due > self.clock():
                self.changed.wait_for(lambda: self.version != version, timeout)
            if self.version == version and due is not None and self.clock() >= due:
                self._bump()
            return self.version
