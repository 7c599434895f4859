"""MQTT: live state, daily totals and events for caregivers; commands in.

Topics under ``openpalm/<device_id>/``:

| topic | what | QoS, retain |
| --- | --- | --- |
| ``status`` | ``online`` / ``offline`` (the last will, also sent on a clean stop) | 1, retained |
| ``state`` | one JSON snapshot, on change (with a deadband) and as a heartbeat | 1, retained |
| ``load`` | live load during weight bearing, ``load_rate_hz`` a second | 0 |
| ``day/<YYYY-MM-DD>`` | the day's summary, as ``pi-agent simulate`` reports it | 1, retained |
| ``event`` | sessions, therapy, faults raised and cleared, alerts; each with an ``id`` | 1 |
| ``request/<command>`` | commands in (JSON); a retained request is ignored | |
| ``response/<command>`` | ``{"status", "transaction", "data" or "error"}`` | 1 |

Events go through the durable outbox: written to the store when they happen, removed
when the broker acknowledges them. paho-mqtt's network loop runs in its own thread; its
callbacks never let an exception escape, take none of our locks (paho holds its own
while it calls them), hand commands to the agent's queue, and leave everything that
reads the agent's state to the agent's own thread (``after_step``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import logging
import socket
import ssl
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as paho

from pi_agent import __version__
from pi_agent.core.days import Day, report_day
from pi_agent.errors import ConfigError, StoreError
from pi_agent.core.events import Event
from pi_agent.render import iso, load_payload, state_payload

log = logging.getLogger("pi_agent.mqtt")

EVENT_TYPES = ("wb_session", "vibration_session", "fault_raised", "fault_cleared", "alert")
STATE_EVENTS = ("position", "fault_raised", "fault_cleared", "wb_session_started", "wb_session",
                "vibration_started", "vibration_session", "command")
DAY_EVERY_S = 300.0
DEADBAND = {"flex": 2.0, "force": 0.5}
MAX_COMMANDS_PER_STEP = 20


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
    """``mqtt://host:port`` or ``mqtts://host:port`` -> (scheme, host, port)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"--broker: expected mqtt://host:port or mqtts://host:port, got '{url}'")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ConfigError(f"--broker: expected a port number from 1 to 65535, got '{url}'") from None
    return parts.scheme, parts.hostname, port


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


class MqttLink:
    def __init__(self, cfg, agent, outbox, *, device: str, broker: str, password: str | None, zone) -> None:
        self.cfg = cfg
        self.outbox = outbox
        self.device = device
        self.zone = zone
        self.root = f"openpalm/{device}"
        self.scheme, self.host, self.port = parse_broker(broker)
        m = cfg.mqtt
        check_credentials(cfg, broker, password)
        credentials = bool(m.username or password)
        protocol = paho.MQTTv5 if m.protocol == "5" else paho.MQTTv311
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"openpalm-{device}",
                                  protocol=protocol)
        self.client.reconnect_delay_set(1, int(m.reconnect_max_s))
        self.client.will_set(f"{self.root}/status", "offline", qos=1, retain=True)
        if credentials:
            self.client.username_pw_set(m.username or device, password)
        if self.scheme == "mqtts":
            self.client.tls_set(ca_certs=self._path(m.ca_file), certfile=self._path(m.cert_file),
                                keyfile=self._path(m.key_file), cert_reqs=ssl.CERT_REQUIRED)
            self.client.tls_insecure_set(False)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_connect_fail = self._on_connect_fail
        self.connected = threading.Event()
        self._resync = threading.Event()
        self._inflight: dict[str, paho.MQTTMessageInfo] = {}   # event id -> its publication (agent thread only)
        self._said_down = False
        self._last_state: dict | None = None
        self._last_state_at = float("-inf")
        self._state_changed = True
        self._last_load_at = float("-inf")
        self._days_sent: dict[str, tuple[float, str]] = {}
        self._today: str | None = None
        self.state_published = 0
        self.attach(agent)

    def attach(self, agent) -> None:
        """Serve ``agent`` (a restarted agent after a simulated power cut takes over the link)."""
        self.agent = agent
        agent.on_refresh = self._resync.set
        agent.inbox_budget = MAX_COMMANDS_PER_STEP
        agent.listeners.append(self.on_event)

    def _path(self, name: str) -> str | None:
        if not name:
            return None
        path = Path(name)
        if not path.is_absolute() and self.cfg.path is not None:
            path = self.cfg.path.parent / path
        return str(path)

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=self.cfg.mqtt.keepalive_s)
        self.client.loop_start()

    def stop(self, timeout: float = 2.0) -> None:
        """A clean stop: ``offline`` (retained), then disconnect."""
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
    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        try:
            if reason_code.is_failure:
                if not self._said_down:
                    log.error("the broker at %s:%d refused the connection: %s", self.host, self.port, reason_code)
                    self._said_down = True
                return
            log.info("connected to the broker at %s:%d as %s", self.host, self.port, self.device)
            self._said_down = False
            client.publish(f"{self.root}/status", "online", qos=1, retain=True)
            client.subscribe([(f"{self.root}/request/+", 1), (f"{self.cfg.mqtt.discovery_prefix}/status", 1)])
            self.connected.set()
            self._resync.set()
            self.agent.wake()
        except Exception:
            log.exception("error in the MQTT connect callback")

    def _on_connect_fail(self, client, userdata) -> None:
        try:
            if not self._said_down:
                log.warning("no MQTT broker at %s:%d; tracking goes on, events wait in the outbox",
                            self.host, self.port)
                self._said_down = True
        except Exception:
            log.exception("error in the MQTT connect-fail callback")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        try:
            self.connected.clear()
            if not self._said_down:
                log.warning("lost the MQTT broker (%s); reconnecting, events wait in the outbox", reason_code)
                self._said_down = True
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
                log.warning("ignored a retained request %s: commands never run again after a restart", name)
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
            payload = {"id": uuid.uuid4().hex, "type": event.type, "time": iso(event.wall, self.zone),
                       "device": self.device, **event.data}
            try:
                self.outbox.add(payload["id"], f"{self.root}/event", json.dumps(payload))
            except StoreError as exc:
                log.error("%s: the event is published but not kept for later", exc)
                self.client.publish(f"{self.root}/event", json.dumps(payload), qos=1)
            self._flush_outbox()
        if event.type in STATE_EVENTS:
            self._state_changed = True       # a change that matters: publish the state soon

    def after_step(self, agent) -> None:
        now = agent.clock.monotonic()
        if self._resync.is_set() and self.connected.is_set():
            self._resync.clear()
            self._inflight.clear()             # a new connection: send what waits once more
            self._republish_all()
        self._acknowledged()
        if not self.connected.is_set():
            return
        self._maybe_state(now)
        self._maybe_load(now)
        self._maybe_days(now)

    def _republish_all(self) -> None:
        if self.cfg.mqtt.discovery:
            self.publish_discovery()
        self._last_state, self._last_state_at = None, float("-inf")
        self._days_sent.clear()
        self._maybe_state(self.agent.clock.monotonic())
        self._maybe_days(self.agent.clock.monotonic(), history=True)
        self._flush_outbox()

    def _flush_outbox(self) -> None:
        if not self.connected.is_set():
            return
        for event_id, topic, payload in self.outbox.pending():
            if event_id in self._inflight:
                continue
            info = self.client.publish(topic, payload, qos=1)
            if info.rc == paho.MQTT_ERR_SUCCESS:
                self._inflight[event_id] = info

    def _acknowledged(self) -> None:
        """Events the broker has acknowledged leave the outbox (checked in the agent's
        thread: paho's callbacks hold paho's own locks, so none of ours are taken there)."""
        for event_id in [e for e, info in self._inflight.items() if info.is_published()]:
            del self._inflight[event_id]
            self.outbox.remove(event_id)

    # -- state ---------------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        return state_payload(self.agent.core.snapshot(), self.zone, self.agent.clock.wall())

    def _significant(self, new: dict, old: dict | None) -> bool:
        if old is None:
            return True
        for key in ("position", "worn", "faults", "weight_bearing", "therapy", "goal_h", "targets"):
            if new[key] != old[key]:
                return True
        for name, value in new["channels"].items():
            before = old["channels"].get(name)
            if (value is None) != (before is None):
                return True
            if value is not None and abs(value - before) > DEADBAND[self.cfg.sensors[name].kind]:
                return True
        a, b = new["load_n"], old["load_n"]
        return (a is None) != (b is None) or (a is not None and abs(a - b) > 2.0)

    def _maybe_state(self, now: float) -> None:
        """Publish the state as a heartbeat, or when it changed beyond the deadband (at
        most 4 times a second; an event that matters is checked at once, values each second)."""
        since = now - self._last_state_at
        heartbeat = since >= self.cfg.mqtt.heartbeat_s
        if not heartbeat and (since < 0.25 or (not self._state_changed and since < 1.0)):
            return
        self._state_changed = False
        snap = self.snapshot()
        if heartbeat or self._significant(snap, self._last_state):
            self.client.publish(f"{self.root}/state", json.dumps(snap), qos=1, retain=True)
            self._last_state, self._last_state_at = snap, now
            self.state_published += 1

    def _maybe_load(self, now: float) -> None:
        core = self.agent.core
        if not core.pad_fast or now - self._last_load_at < 1.0 / self.cfg.mqtt.load_rate_hz:
            return
        snap = core.snapshot()
        if snap.load_n is None:
            return
        self._last_load_at = now
        self.client.publish(f"{self.root}/load", json.dumps(load_payload(snap)), qos=0)

    def _maybe_days(self, now: float, history: bool = False) -> None:
        core = self.agent.core
        today = core.snapshot().day
        if not today:
            return
        days = core.days()
        if history and self.agent.store is not None:
            first = (dt.date.fromisoformat(today) - dt.timedelta(days=30)).isoformat()
            days = {**{d: Day.from_json(r) for d, r in self.agent.store.days(first, today).items()}, **days}
        final_day = self._today is not None and self._today != today
        for day, record in days.items():
            text = json.dumps({"date": day, **report_day(record), "final": day < today}, sort_keys=True)
            sent = self._days_sent.get(day)
            due = sent is None or (sent[1] != text and (now - sent[0] >= DAY_EVERY_S or day < today
                                                        or final_day))
            if due:
                self.client.publish(f"{self.root}/day/{day}", text, qos=1, retain=True)
                self._days_sent[day] = (now, text)
        self._today = today

    # -- Home Assistant ------------------------------------------------------------------------------
    def discovery(self) -> dict:
        d, root = self.device, self.root
        uid = f"openpalm_{d}"
        state = f"{root}/state"

        def sensor(key, name, template, **extra):
            return {"p": "sensor", "name": name, "unique_id": f"{uid}_{key}",
                    "default_entity_id": f"sensor.{uid}_{key}", "state_topic": state,
                    "value_template": template, **extra}

        components = {
            "open_today": sensor("open_today", "Open time today", "{{ (value_json.today.open_s / 3600) | round(2) }}",
                                 device_class="duration", unit_of_measurement="h", state_class="total_increasing",
                                 icon="mdi:hand-back-right"),
            "worn_today": sensor("worn_today", "Worn time today", "{{ (value_json.today.worn_s / 3600) | round(2) }}",
                                 device_class="duration", unit_of_measurement="h", state_class="total_increasing"),
            "goal_progress": sensor("goal_progress", "Goal progress", "{{ value_json.today.goal_pct }}",
                                    unit_of_measurement="%", state_class="measurement"),
            "position": sensor("position", "Position", "{{ value_json.position }}", device_class="enum",
                               options=["open", "closed", "off", "unknown"]),
            "load": sensor("load", "Load", "{{ value_json.load_n }}", unit_of_measurement="N",
                           state_class="measurement", icon="mdi:weight"),
            "wb_sessions": sensor("wb_sessions", "Weight-bearing sessions today",
                                  "{{ value_json.today.weight_bearing.sessions }}", state_class="total_increasing"),
            "vibration_today": sensor("vibration_today", "Vibration today",
                                      "{{ (value_json.today.vibration_s / 60) | round(1) }}", device_class="duration",
                                      unit_of_measurement="min", state_class="total_increasing"),
            "faults": {"p": "binary_sensor", "name": "Sensor fault", "unique_id": f"{uid}_faults",
                       "default_entity_id": f"binary_sensor.{uid}_faults", "device_class": "problem",
                       "state_topic": state, "value_template": "{{ 'ON' if value_json.faults else 'OFF' }}",
                       "json_attributes_topic": state,
                       "json_attributes_template": "{{ {'faults': value_json.faults | map(attribute='text') | list} | tojson }}"},
            "goal": {"p": "number", "name": "Daily open goal", "unique_id": f"{uid}_goal",
                     "default_entity_id": f"number.{uid}_goal", "entity_category": "config",
                     "state_topic": state, "value_template": "{{ value_json.goal_h }}",
                     "command_topic": f"{root}/request/set_goal", "command_template": '{"hours": {{ value }}}',
                     "min": 0, "max": 24, "step": 0.5, "unit_of_measurement": "h", "mode": "box"},
            "target_low": {"p": "number", "name": "Target band bottom", "unique_id": f"{uid}_target_low",
                           "default_entity_id": f"number.{uid}_target_low", "entity_category": "config",
                           "state_topic": state, "value_template": "{{ value_json.targets.low }}",
                           "command_topic": f"{root}/request/set_targets", "command_template": '{"low": {{ value }}}',
                           "min": 0, "max": 2000, "step": 1, "mode": "box"},
            "target_high": {"p": "number", "name": "Target band top", "unique_id": f"{uid}_target_high",
                            "default_entity_id": f"number.{uid}_target_high", "entity_category": "config",
                            "state_topic": state, "value_template": "{{ value_json.targets.high }}",
                            "command_topic": f"{root}/request/set_targets", "command_template": '{"high": {{ value }}}',
                            "min": 0, "max": 2000, "step": 1, "mode": "box"},
            "therapy_start": {"p": "button", "name": "Start vibration therapy", "unique_id": f"{uid}_therapy_start",
                              "default_entity_id": f"button.{uid}_therapy_start",
                              "command_topic": f"{root}/request/vibration_start", "payload_press": "{}"},
            "therapy_stop": {"p": "button", "name": "Stop vibration therapy", "unique_id": f"{uid}_therapy_stop",
                             "default_entity_id": f"button.{uid}_therapy_stop",
                             "command_topic": f"{root}/request/vibration_stop", "payload_press": "{}"},
            "identify": {"p": "button", "name": "Identify", "unique_id": f"{uid}_identify",
                         "default_entity_id": f"button.{uid}_identify", "device_class": "identify",
                         "command_topic": f"{root}/request/identify", "payload_press": "{}"},
        }
        return {
            "dev": {"ids": [uid], "name": f"OpenPalm {d}", "mf": "OpenPalm", "mdl": "pi-agent hand monitor",
                    "sw": __version__},
            "o": {"name": "openpalm-pi-agent", "sw": __version__},
            "cmps": components,
            "availability_topic": f"{root}/status",
            "payload_available": "online",
            "payload_not_available": "offline",
            "qos": 1,
        }

    def publish_discovery(self) -> None:
        topic = f"{self.cfg.mqtt.discovery_prefix}/device/openpalm_{self.device}/config"
        self.client.publish(topic, json.dumps(self.discovery()), qos=1, retain=True)
