"""The broker link: paho-mqtt's client, its connection, and what it publishes when.

Topics under ``openpalm/<device_id>/``:

| topic | what | QoS, retain |
| --- | --- | --- |
| ``status`` | ``online`` / ``offline`` (the last will, also sent on a clean stop) | 1, retained |
| ``state`` | one JSON snapshot, on change (with a deadband) and as a heartbeat | 1, retained |
| ``load`` | live load during weight bearing, ``load_rate_hz`` a second | 0 |
| ``day/<YYYY-MM-DD>`` | the day's summary, as ``pi-agent simulate`` reports it | 1, retained |
| ``event`` | sessions, therapy, faults raised and cleared, alerts, outbox drops; each with an ``id`` | 1 |
| ``request/<command>`` | commands in (JSON), MQTT 5 only; a retained request is ignored | |
| ``response/<command>`` | ``{"status", "transaction", "data" or "error"}`` | 1 |

Events go through the durable outbox (``outbox.py``); the payloads and when they are due
are in ``payloads.py``, Home Assistant's discovery in ``discovery.py``. paho-mqtt's
network loop runs in its own thread; its callbacks never let an exception escape, take
none of our locks (paho holds its own while it calls them), hand commands to the agent's
queue, and leave everything that reads the agent's state to the agent's own thread
(``after_step``), which reads it only through the core's snapshot and days.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import logging
import socket
import ssl
import sys
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.subscribeoptions import SubscribeOptions

from pi_agent.config.checks import broker_parts
from pi_agent.core.days import Day
from pi_agent.core.events import Event
from pi_agent.core.snapshot import Snapshot
from pi_agent.errors import ConfigError
from pi_agent.mqtt.discovery import discovery_payload, discovery_topic
from pi_agent.mqtt.outbox import InFlight, Outbox
from pi_agent.mqtt.payloads import (EVENT_TYPES, STATE_EVENTS, DayPacer, StatePacer, event_payload, load_due,
                                    load_payload, state_payload, topic_root)
from pi_agent.mqtt.problems import Problem, connect_problem, refusal_problem
from pi_agent.render import iso

log = logging.getLogger("pi_agent.mqtt")

MAX_COMMANDS_PER_STEP = 20
HISTORY_DAYS = 30          # days of the store sent again (retained) on a new connection


def device_id(cfg, override: str | None = None) -> str:
    """The configured id, or one derived from the machine id (stable, not revealing it)."""
    if override:
        return override
    if cfg.device.id:
        return cfg.device.id
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            mid = Path(path).read_text().strip()
            if mid:
                return "op-" + hashlib.sha256(mid.encode()).hexdigest()[:10]
        except OSError:
            continue
    return "op-" + hashlib.sha256(socket.gethostname().encode()).hexdigest()[:10]


def parse_broker(url: str) -> tuple[str, str, int]:
    """``mqtt://host:port`` or ``mqtts://host:port`` -> (scheme, host, port), or ConfigError
    in one line. The configuration's check of mqtt.broker is the same parser
    (``broker_parts``), so a URL that check-config passes is one the agent and the
    dashboard take; one that fails here came from --broker."""
    parts, problem = broker_parts(url)
    if problem:
        raise ConfigError(f"--broker: {problem}")
    return parts


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_credentials(cfg, broker: str, password: str | None) -> None:
    """Credentials never travel in clear text to a broker that is not on this machine,
    unless the configuration says ``allow_insecure = true``."""
    scheme, host, _ = parse_broker(broker)
    if (cfg.mqtt.username or password) and scheme == "mqtt" and not is_loopback(host) and not cfg.mqtt.allow_insecure:
        raise ConfigError(f"mqtt.broker: the user name and password would travel in clear text to {host}; "
                          f"use mqtts:// or set mqtt.allow_insecure = true")


def _beside_config(cfg, name: str) -> str | None:
    """A file named in the configuration, relative to the configuration's folder."""
    if not name:
        return None
    path = Path(name)
    if not path.is_absolute() and cfg.path is not None:
        path = cfg.path.parent / path
    return str(path)


def _may_be_due(link: "MqttLink", pad_t: float | None, now: float) -> tuple[bool, bool, bool]:
    """(a load message, the state, the days) may be due after this turn of the loop. The
    loop turns up to a hundred times a second, and a snapshot costs more than a reading:
    one is taken only for a load message after a new pad reading, the state when its
    pacer would look, the days once a second. (The resync after a new connection sends
    what waits, once; an event flushed before it would go twice, so none is.)"""
    load = pad_t is not None and pad_t - link._last_load_at >= 0.9 / link.cfg.mqtt.load_rate_hz
    return load, link.state_pacer.may_be_due(now), now - link._days_at >= 1.0


def _say_retained(name: str, payload: bytes) -> None:
    """A retained request is never obeyed (it would run again at every restart); an empty
    retained message is how one is deleted."""
    if payload:
        log.warning("ignored a retained request %s: a retained request is never obeyed (it would run again at "
                    "every restart)", name)
    else:
        log.info("an empty retained message on request/%s (a retained request deleted): nothing to do", name)


class MqttLink:
    def __init__(self, cfg, agent, outbox: Outbox, *, device: str, broker: str, password: str | None,
                 zone) -> None:
        self.cfg = cfg
        self.outbox = outbox
        self.device = device
        self.zone = zone
        self.root = topic_root(device)
        self.scheme, self.host, self.port = parse_broker(broker)
        m = cfg.mqtt
        check_credentials(cfg, broker, password)
        credentials = bool(m.username or password)
        self.v5 = m.protocol == "5"
        self.username = (m.username or device) if credentials else ""
        protocol = paho.MQTTv5 if self.v5 else paho.MQTTv311
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"openpalm-{device}",
                                  protocol=protocol)
        self.client.reconnect_delay_set(1, int(m.reconnect_max_s))
        self.client.will_set(f"{self.root}/status", "offline", qos=1, retain=True)
        if credentials:
            self.client.username_pw_set(m.username or device, password)
        if self.scheme == "mqtts":
            self.client.tls_set(ca_certs=_beside_config(self.cfg, m.ca_file), certfile=_beside_config(self.cfg, m.cert_file),
                                keyfile=_beside_config(self.cfg, m.key_file), cert_reqs=ssl.CERT_REQUIRED)
            self.client.tls_insecure_set(False)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_connect_fail = self._on_connect_fail
        self.connected = threading.Event()
        self._resync = threading.Event()
        self._problem: str | None = None      # the kind of connection problem last logged
        self._discovered_unit: str | None = None
        self._said_v311 = False
        self.in_flight = InFlight(outbox)      # the agent's thread only
        self.state_pacer = StatePacer(m.heartbeat_s, {name: s.kind for name, s in cfg.sensors.items()})
        self.day_pacer = DayPacer()
        self._last_load_at = self._days_at = float("-inf")   # the last load message's reading; the days' last look
        self._load_seq = 0          # numbers the load messages: a gap in it is a message lost on the way
        self.attach(agent)

    @property
    def state_published(self) -> int:
        return self.state_pacer.published

    def attach(self, agent) -> None:
        """Serve ``agent`` (a restarted agent after a simulated power cut takes over the link)."""
        self.agent = agent
        agent.on_refresh = self._resync.set
        agent.inbox_budget = MAX_COMMANDS_PER_STEP
        agent.listeners.append(self.on_event)

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=self.cfg.mqtt.keepalive_s)
        self.client.loop_start()

    def stop(self, timeout: float = 2.0) -> None:
        """A clean stop: ``offline`` (retained), then disconnect."""
        self._problem = "stopping"          # the disconnection that follows is no news
        try:
            if self.connected.is_set():
                info = self.client.publish(f"{self.root}/status", "offline", qos=1, retain=True)
                info.wait_for_publish(timeout)
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning("could not say offline to the broker: %s", exc)
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    # -- paho's thread: never let an exception escape --------------------------------------------
    def _say(self, problem: Problem, level: int = logging.WARNING) -> None:
        """Log a connection problem once (until the link has been up again, or another one)."""
        if problem.kind != self._problem:
            quiet = self._problem == "lost" and problem.kind == "no_broker"    # "lost the broker" said it
            self._problem = problem.kind
            if quiet:
                return
            log.log(level, "%s", problem.text)

    def subscriptions(self) -> list:
        """What the link subscribes to: requests (MQTT 5 only: with retain-as-published, so
        that a retained request is recognised even when delivered live, and never the
        retained ones at subscribing) and Home Assistant's birth message."""
        status = f"{self.cfg.mqtt.discovery_prefix}/status"
        if not self.v5:
            return [(status, 1)]
        never_retained = SubscribeOptions.RETAIN_DO_NOT_SEND
        return [(f"{self.root}/request/+", SubscribeOptions(qos=1, retainAsPublished=True,
                                                            retainHandling=never_retained)),
                (status, SubscribeOptions(qos=1, retainHandling=never_retained))]

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        try:
            if reason_code.is_failure:
                self._say(refusal_problem(reason_code, self.host, self.port, self.username), logging.ERROR)
                return
            log.info("connected to the broker at %s:%d as %s", self.host, self.port, self.device)
            if not self.v5 and not self._said_v311:
                self._said_v311 = True
                log.warning("MQTT 3.1.1: requests are not taken (3.1.1 cannot tell a retained request from a "
                            "fresh one); set mqtt.protocol = \"5\" to command this device over MQTT")
            self._problem = "connected"
            client.publish(f"{self.root}/status", "online", qos=1, retain=True)
            client.subscribe(self.subscriptions())
            self._resync.set()          # first: no event is flushed on this connection before the resync
            self.connected.set()
            self.agent.wake()
        except Exception:
            log.exception("error in the MQTT connect callback")

    def _on_connect_fail(self, client, userdata) -> None:
        try:
            # paho calls this while it handles the attempt's exception: that exception says why.
            exc = sys.exc_info()[1]
            problem = connect_problem(exc, self.host, self.port, ca_file=self.cfg.mqtt.ca_file,
                                      tls=self.scheme == "mqtts")
            self._say(problem, logging.WARNING if problem.kind in ("no_broker", "no_host") else logging.ERROR)
        except Exception:
            log.exception("error in the MQTT connect-fail callback")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        try:
            self.connected.clear()
            if self._problem == "connected":
                self._problem = "lost"
                log.warning("lost the MQTT broker (%s); reconnecting, events wait in the outbox", reason_code)
        except Exception:
            log.exception("error in the MQTT disconnect callback")

    def _on_message(self, client, userdata, msg) -> None:
        try:
            if msg.topic == f"{self.cfg.mqtt.discovery_prefix}/status":
                if msg.payload == b"online":
                    self._resync.set()
                return
            name = msg.topic.rsplit("/", 1)[-1]
            if msg.retain:
                _say_retained(name, msg.payload)
                return

            def respond(response: dict) -> None:
                try:
                    client.publish(f"{self.root}/response/{name}", json.dumps(response), qos=1)
                except Exception:
                    log.exception("could not publish a response")
            self.agent.submit(name, bytes(msg.payload), respond)
        except Exception:
            log.exception("error in the MQTT message callback")

    # -- the agent's thread ------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        if event.type in EVENT_TYPES:
            payload = event_payload(event, uuid.uuid4().hex, self.device, self.zone)
            topic, text = f"{self.root}/event", json.dumps(payload)
            if not self.in_flight.keep(payload["id"], topic, text):
                self.client.publish(topic, text, qos=1)
            self._flush_outbox()
        if event.type in STATE_EVENTS:
            self.state_pacer.changed()             # a change that matters: publish the state soon

    def after_step(self, agent) -> None:
        now, snap = agent.clock.monotonic(), None
        if self._resync.is_set() and self.connected.is_set():
            self._resync.clear()
            self.in_flight.reconnected()
            snap = self.agent.core.snapshot()
            self._republish_all(snap, now)
        self.in_flight.acknowledged()
        if not self.connected.is_set():
            return
        if snap is None and not any(_may_be_due(self, agent.pad_read_at, now)):
            return
        snap = snap or self.agent.core.snapshot()
        if self.cfg.mqtt.discovery and snap.targets.unit != self._discovered_unit:
            self.publish_discovery(snap)            # the band's numbers change unit and range
        self._maybe_state(snap, now)
        self._maybe_load(snap, now)
        self._maybe_days(snap, now)

    def _republish_all(self, snap: Snapshot, now: float) -> None:
        """A new connection, or Home Assistant back online: discovery, the state, the days
        (with the store's last ``HISTORY_DAYS``) and the waiting events, once more."""
        if self.cfg.mqtt.discovery:
            self.publish_discovery(snap)
        self.state_pacer.forget()
        self.day_pacer.forget()
        self._maybe_state(snap, now)
        self._maybe_days(snap, now, history=True)
        self._report_drops()
        self._flush_outbox()

    def _report_drops(self) -> None:
        """Events the bounded outbox dropped while the broker was away: told once, in one event."""
        wall = self.agent.clock.wall()

        def report(drops: dict) -> tuple[str, str, str]:
            first, last = (iso(drops[k], self.zone) for k in ("first", "last"))
            event = Event("outbox_dropped", self.agent.clock.monotonic(), wall, {
                "dropped": drops["count"], "first": first, "last": last,
                "text": f"{drops['count']} events from {first} to {last} were dropped unsent: the broker was "
                        f"away longer than the outbox keeps them (mqtt.outbox_max_events, mqtt.outbox_max_days)"})
            payload = event_payload(event, uuid.uuid4().hex, self.device, self.zone)
            return payload["id"], f"{self.root}/event", json.dumps(payload)

        drops = self.outbox.take_drops(report)
        if drops is not None:
            log.warning("told the broker that %d events were dropped unsent while it was away", drops["count"])

    def _flush_outbox(self) -> None:
        if self.connected.is_set() and not self._resync.is_set():   # a new connection: its resync first
            self.in_flight.flush(self._publish_event)

    def _publish_event(self, topic: str, payload: str) -> paho.MQTTMessageInfo | None:
        info = self.client.publish(topic, payload, qos=1)
        return info if info.rc == paho.MQTT_ERR_SUCCESS else None

    def _maybe_state(self, snap: Snapshot, now: float) -> None:
        state = self.state_pacer.due(now, lambda: state_payload(snap, self.zone, self.agent.clock.wall()))
        if state is not None:
            self.client.publish(f"{self.root}/state", json.dumps(state), qos=1, retain=True)

    def _maybe_load(self, snap: Snapshot, now: float) -> None:
        if load_due(snap, self._last_load_at, self.cfg.mqtt.load_rate_hz):
            self._last_load_at = snap.load_t
            self._load_seq += 1
            self.client.publish(f"{self.root}/load", json.dumps({**load_payload(snap), "seq": self._load_seq}), qos=0)

    def _maybe_days(self, snap: Snapshot, now: float, history: bool = False) -> None:
        today = snap.day
        if not today or (not history and now - self._days_at < 1.0):   # the days: once a second
            return
        self._days_at = now
        days = self.agent.core.days()
        if history and self.agent.store is not None:
            first = (dt.date.fromisoformat(today) - dt.timedelta(days=HISTORY_DAYS)).isoformat()
            days = {**{d: Day.from_json(r) for d, r in self.agent.store.days(first, today).items()}, **days}
        for day, text in self.day_pacer.due(days, today, now):
            self.client.publish(f"{self.root}/day/{day}", text, qos=1, retain=True)

    # -- Home Assistant ------------------------------------------------------------------------------
    def discovery(self, targets_unit: str = "N") -> dict:
        return discovery_payload(self.device, targets_unit)

    def publish_discovery(self, snap: Snapshot) -> None:
        """Discovery, with the target band's numbers in the band's current unit."""
        topic = discovery_topic(self.cfg.mqtt.discovery_prefix, self.device)
        self._discovered_unit = snap.targets.unit
        self.client.publish(topic, json.dumps(self.discovery(snap.targets.unit)), qos=1, retain=True)
