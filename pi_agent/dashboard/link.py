"""The dashboard's own link to the broker: a paho client that feeds the fleet from
``openpalm/+/...`` and tells it whether the link is up, lost or refused (the page shows
it: a lost broker must never look like every device going offline); and the one way
the page's requests (``Fleet.ask``) go out, ``sender``."""

from __future__ import annotations

import logging
import ssl
import sys
import time

import paho.mqtt.client as paho

from pi_agent.dashboard.fleet import Fleet
from pi_agent.mqtt.problems import Problem, connect_problem, refusal_problem

log = logging.getLogger("pi_agent.dashboard")

TOPICS = [("openpalm/+/status", 1), ("openpalm/+/state", 1), ("openpalm/+/load", 0),
          ("openpalm/+/day/+", 1), ("openpalm/+/event", 1),
          ("openpalm/+/response/exercise_start", 1), ("openpalm/+/response/exercise_stop", 1)]
STOPPING = "stopping"     # the client's user data once ``stop`` has been called
GOES_ON = "the dashboard keeps trying; its page shows the broker as not reached"


def subscribe(fleet: Fleet, cfg, broker: str, password: str | None) -> paho.Client:
    """Start a client feeding ``fleet``; it reconnects by itself (1 s, doubling up to
    mqtt.reconnect_max_s) and its keep-alive (mqtt.keepalive_s) notices a silent broker."""
    from pi_agent.mqtt import parse_broker
    scheme, host, port = parse_broker(broker)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"openpalm-dashboard-{int(time.time())}",
                         protocol=paho.MQTTv5 if cfg.mqtt.protocol == "5" else paho.MQTTv311)
    username = (cfg.mqtt.username or "dashboard") if (cfg.mqtt.username or password) else ""
    if username:
        client.username_pw_set(username, password)
    if scheme == "mqtts":
        def path(name):
            return str(cfg.path.parent / name) if name and cfg.path is not None else (name or None)
        client.tls_set(ca_certs=path(cfg.mqtt.ca_file), certfile=path(cfg.mqtt.cert_file),
                       keyfile=path(cfg.mqtt.key_file), cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(1, int(cfg.mqtt.reconnect_max_s))

    said = {"kind": None}       # the connection problem last logged, "connected", "lost" or None

    def say(problem: Problem, level: int) -> None:
        """A connection problem in one line, once (until the link has been up again, or
        another problem); after "lost the broker", the failed reconnections say nothing more."""
        if problem.kind != said["kind"]:
            quiet = said["kind"] == "lost" and problem.kind == "no_broker"
            said["kind"] = problem.kind
            if not quiet:
                log.log(level, "%s", problem.text)

    def on_connect(c, userdata, flags, reason_code, properties=None):
        try:
            if reason_code.is_failure:
                problem = refusal_problem(reason_code, host, port, username)
                if problem.kind == "client_id":     # the dashboard's own id, not device.id
                    problem = Problem("client_id", f"the broker at {host}:{port} refused the dashboard's client id")
                say(problem, logging.ERROR)
                fleet.link_down(f"refused: {reason_code}", refused=True)
                return
            said["kind"] = "connected"
            log.info("dashboard connected to the broker at %s:%d", host, port)
            c.subscribe(TOPICS)
            fleet.link_up()
        except Exception:
            log.exception("error in the dashboard's connect callback")

    def on_connect_fail(c, userdata):
        try:
            # paho calls this while it handles the attempt's exception: that exception says why.
            problem = connect_problem(sys.exc_info()[1], host, port, ca_file=cfg.mqtt.ca_file,
                                      tls=scheme == "mqtts", goes_on=GOES_ON)
            say(problem, logging.WARNING if problem.kind in ("no_broker", "no_host") else logging.ERROR)
            fleet.link_down("could not connect")
        except Exception:
            log.exception("error in the dashboard's connect-fail callback")

    def on_disconnect(c, userdata, flags, reason_code, properties=None):
        try:
            if userdata == STOPPING:
                return                      # the disconnection ``stop`` asked for is no news
            if said["kind"] == "connected":     # not the disconnection that follows a refusal
                said["kind"] = "lost"
                log.warning("dashboard lost the broker at %s:%d (%s); reconnecting", host, port, reason_code)
            fleet.link_down(str(reason_code))
        except Exception:
            log.exception("error in the dashboard's disconnect callback")

    def on_message(c, userdata, msg):
        try:
            fleet.receive(msg.topic, bytes(msg.payload), retained=bool(msg.retain))
        except Exception:
            log.exception("error in the dashboard's message callback")

    client.on_connect = on_connect
    client.on_connect_fail = on_connect_fail
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    client.connect_async(host, port, keepalive=cfg.mqtt.keepalive_s)
    client.loop_start()
    return client


def stop(client: paho.Client) -> None:
    """A clean stop of the link ``subscribe`` started: disconnect, quietly."""
    client.user_data_set(STOPPING)
    client.disconnect()
    client.loop_stop()


def sender(client: paho.Client):
    """``send(device, command, transaction)``: publish a request for the page at QoS 1 (not
    retained: the agent ignores retained requests); False when paho could not queue it."""
    import json

    def send(device: str, command: str, transaction: str) -> bool:
        info = client.publish(f"openpalm/{device}/request/{command}", json.dumps({"transaction": transaction}), qos=1)
        return info.rc == paho.MQTT_ERR_SUCCESS
    return send
