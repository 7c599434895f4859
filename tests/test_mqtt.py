"""MQTT against a real Mosquitto started by the tests on a free loopback port."""

from __future__ import annotations

import json
import re

import pytest

from agentproc import AgentProcess, write_config
from broker import Broker, Listener
from conftest import ROOT

OPEN = {"palm": 3, "wrist": 25, "fingers": 5}


def session_steps(n, gap=20):
    steps = []
    for _ in range(n):
        steps += [{"ramp": 2, "to": {"pad_palm": 40, "pad_fingers": 25}}, {"hold": 10},
                  {"ramp": 1, "to": {"pad_palm": 0, "pad_fingers": 0}}, {"hold": gap}]
    return steps


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


def scenario(steps, start="2026-05-01T10:00:00"):
    return {"start": start, "timezone": "Europe/Berlin", "seed": 3, "noise": {"deg": 0.5, "newton": 0.2},
            "steps": steps}


def test_every_topic_of_the_contract(tmp_path, broker):
    """status, state, load, day, event, request and response: each with its QoS and retain."""
    cfg = write_config(tmp_path / "cfg", "[mqtt]\nheartbeat_s = 2\n")
    live = Listener(broker.port)
    assert live.connected.wait(10)
    steps = [{"hold": 5, "set": OPEN}, *session_steps(2, gap=5),
             {"fault": {"kind": "disconnected", "channel": "wrist", "for": 5}}, {"hold": 600}]
    # Twice real time: 40 load messages a (real) second are within reach of a busy machine.
    agent = AgentProcess(scenario(steps), tmp_path / "agent", speed=2, broker=broker.url, config=cfg)
    try:
        assert live.wait_for(lambda ms: any(m["topic"].endswith("/event") and b"wb_session" in m["payload"]
                                            for m in ms), 30), agent.log()
        live.publish("openpalm/dev1/request/identify", json.dumps({"transaction": "t-9"}))
        live.publish("openpalm/dev1/request/set_goal", b'{"hours": "lots", "transaction": 10}')
        assert live.wait_for(lambda ms: len([m for m in ms if "/response/" in m["topic"]]) >= 2, 10)
        assert live.wait_for(lambda ms: any(m["topic"].endswith("/event") and b"fault_cleared" in m["payload"]
                                            for m in ms), 30), agent.log()
        late = Listener(broker.port)                     # retained messages reach a late subscriber
        retained = ("openpalm/dev1/status", "openpalm/dev1/state", "openpalm/dev1/day/2026-05-01",
                    "homeassistant/device/openpalm_dev1/config")
        assert late.wait_for(lambda ms: set(retained) <= {m["topic"] for m in ms}, 10), \
            [m["topic"] for m in late.messages]
    finally:
        agent.terminate()
    status = late.on("openpalm/dev1/status")
    assert status[0]["payload"] == b"online" and status[0]["retain"] and status[0]["qos"] == 1
    assert live.wait_for(lambda ms: [m for m in ms if m["topic"] == "openpalm/dev1/status"][-1]["payload"]
                         == b"offline", 10), "a clean stop says offline"
    state = late.on("openpalm/dev1/state")[0]
    assert state["retain"] and state["qos"] == 1
    snap = json.loads(state["payload"])
    assert snap["time"][-6] in "+-" and snap["position"] in ("open", "closed", "off", "unknown")
    assert {"worn", "channels", "load_n", "today", "goal_h", "faults", "therapy"} <= set(snap)
    assert snap["today"]["open_s"] > 0
    assert len(live.on("openpalm/dev1/state")) >= 3, "heartbeats"
    loads = live.on("openpalm/dev1/load")
    assert loads and all(m["qos"] == 0 and not m["retain"] for m in loads)
    # The agent's own count (seq) and time stamps (ts): a message lost on the way is still counted.
    stream = sorted((json.loads(m["payload"]) for m in loads), key=lambda p: p["ts"])
    window = [p["seq"] for p in stream if stream[0]["ts"] + 3 <= p["ts"] < stream[0]["ts"] + 8]  # mid-session
    assert window and window == sorted(window), "numbered in order"
    assert window[-1] - window[0] + 1 >= 5 * 10, "at least 10 load messages a second (of the agent's time) in a session"
    day = late.on("openpalm/dev1/day/2026-05-01")
    assert day and day[0]["retain"] and day[0]["qos"] == 1
    assert {"worn_s", "open_s", "weight_bearing", "vibration_s"} <= set(json.loads(day[0]["payload"]))
    events = live.on("openpalm/dev1/event")
    assert all(m["qos"] == 1 and not m["retain"] for m in events)
    decoded = [json.loads(m["payload"]) for m in events]
    assert {"wb_session", "fault_raised", "fault_cleared"} <= {e["type"] for e in decoded}
    assert all(e["id"] and e["time"] for e in decoded) and len({e["id"] for e in decoded}) == len(decoded)
    responses = {m["topic"]: (m, json.loads(m["payload"])) for m in live.on("") if "/response/" in m["topic"]}
    ok_msg, ok = responses["openpalm/dev1/response/identify"]
    assert ok == {"status": "ok", "transaction": "t-9", "data": {}} and ok_msg["qos"] == 1 and not ok_msg["retain"]
    _, bad = responses["openpalm/dev1/response/set_goal"]
    assert bad["status"] == "error" and bad["transaction"] == 10 and "set_goal.hours" in bad["error"]
    discovery = late.on("homeassistant/device/openpalm_dev1/config")
    assert discovery and discovery[0]["retain"]
    check_discovery(json.loads(discovery[0]["payload"]), "dev1")
    live.close()
    late.close()


def check_discovery(d: dict, device: str) -> None:
    """Home Assistant's device-based discovery, by its current rules."""
    assert set(d) >= {"dev", "o", "cmps", "availability_topic"}
    assert d["availability_topic"] == f"openpalm/{device}/status"
    assert d["payload_available"] == "online" and d["payload_not_available"] == "offline"
    assert d["dev"]["ids"] and d["dev"]["name"] and d["dev"]["mf"] and d["dev"]["sw"]
    assert d["o"]["name"] and d["o"]["sw"]
    platforms = {}
    for key, c in d["cmps"].items():
        assert c["p"] in {"sensor", "binary_sensor", "number", "button", "event"} and c["qos"] == 1
        assert c["unique_id"].startswith(f"openpalm_{device}_")
        assert "object_id" not in c and c["default_entity_id"].startswith(f"{c['p']}.")
        assert d["dev"]["name"].lower() not in c["name"].lower(), "no entity name repeats the device name"
        if c["p"] in ("sensor", "binary_sensor"):
            assert c["state_topic"] == f"openpalm/{device}/state" and c["value_template"]
        if c["p"] == "event":
            assert c["state_topic"] == f"openpalm/{device}/event"
        if c["p"] in ("number", "button"):
            assert c["command_topic"].startswith(f"openpalm/{device}/request/")
        if c["p"] == "number":
            assert c["entity_category"] == "config" and c["unit_of_measurement"]
        platforms.setdefault(c["p"], []).append(key)
    names = set(d["cmps"])
    assert {"open_today", "worn_today", "position", "load", "wb_sessions", "vibration_today", "faults",
            "goal", "target_low", "target_high", "therapy_start", "therapy_stop", "identify",
            "exercise_reps", "extension_reps_today", "exercise_today", "exercise_goal_progress",
            "exercise_start", "exercise_stop"} <= names
    assert d["cmps"]["faults"]["device_class"] == "problem"
    assert d["cmps"]["position"]["options"] == ["open", "closed", "off", "sensor_fault", "no_reading"]


def test_discovery_is_republished_when_home_assistant_comes_online(tmp_path, broker):
    """Home Assistant announcing 'online' on homeassistant/status gets the discovery again."""
    live = Listener(broker.port, topics=("homeassistant/device/#",))
    assert live.connected.wait(10)
    agent = AgentProcess(scenario([{"hold": 600, "set": OPEN}]), tmp_path / "a", speed=2, broker=broker.url)
    try:
        assert live.wait_for(lambda ms: len(ms) == 1, 20), agent.log()
        live.publish("homeassistant/status", "online")
        assert live.wait_for(lambda ms: len(ms) == 2, 10)
    finally:
        agent.terminate()
        live.close()


def test_sigkill_gives_offline_through_the_last_will(tmp_path, broker):
    """SIGKILL: 'offline' arrives through the last will; and the agent asks for its
    configured keep-alive, so that a broker notices a silent loss (no closed socket, as
    when the power goes) within 1.5 keep-alive intervals."""
    cfg = write_config(tmp_path / "cfg", "[mqtt]\nkeepalive_s = 2\n")
    live = Listener(broker.port, topics=("openpalm/dev1/status",))
    assert live.connected.wait(10)
    agent = AgentProcess(scenario([{"hold": 600, "set": OPEN}]), tmp_path / "a", speed=2, broker=broker.url,
                         config=cfg)
    assert live.wait_for(lambda ms: any(m["payload"] == b"online" for m in ms), 20), agent.log()
    agent.kill()
    assert live.wait_for(lambda ms: ms[-1]["payload"] == b"offline", 15)
    live.close()
    # The broker's own record of the agent's CONNECT: its keep-alive (k2).
    log = (broker.folder / "mosquitto.log").read_text()
    assert re.search(r"New client connected from \S+ as openpalm-dev1 \(p\d, c\d, k2\)", log), log


def mosquitto_pub(port: int, topic: str, *args: str) -> None:
    """Mosquitto's own command-line client, as a user would run it."""
    import shutil
    import subprocess
    subprocess.run([shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", str(port),
                    "-q", "1", "-t", topic, *args], check=True, timeout=10)


def test_retained_and_empty_requests_never_move_the_motor(tmp_path, broker):
    """MQTT 5 (the default): a retained request left on the broker, `mosquitto_pub -r -n`
    (clearing it) and a retained request published while the agent is connected are never
    obeyed and get no response; an empty request gets an error response; the motor (its
    own trace) never moves. A fresh request after them is answered, so they did arrive."""
    admin = Listener(broker.port, topics=("openpalm/dev1/response/#",))
    assert admin.connected.wait(10)
    request = "openpalm/dev1/request/vibration_start"
    mosquitto_pub(broker.port, request, "-r", "-m", '{"level": "high", "minutes": 5}')
    agent = AgentProcess(scenario([{"hold": 600, "set": OPEN}]), tmp_path / "a", speed=2, broker=broker.url,
                         extra_args=["--motor-trace", str(tmp_path / "motor")])
    try:
        assert agent.wait_log("connected to the broker", 20), agent.log()
        # Its subscription is in place once it answers (it is asked for after the line above).
        mosquitto_pub(broker.port, "openpalm/dev1/request/set_goal", "-m", '{"hours": 6, "transaction": "ready"}')
        assert admin.wait_for(lambda ms: any(m["topic"].endswith("/set_goal") for m in ms), 20), agent.log()
        mosquitto_pub(broker.port, request, "-r", "-n")                                   # clears it
        mosquitto_pub(broker.port, request, "-r", "-m", '{"level": "low", "minutes": 2}')    # live, retained
        mosquitto_pub(broker.port, request, "-n")                                         # empty, not retained
        mosquitto_pub(broker.port, "openpalm/dev1/request/set_goal", "-m", '{"hours": 5, "transaction": "last"}')
        assert admin.wait_for(lambda ms: any(m["topic"].endswith("/set_goal") and b'"last"' in m["payload"]
                                             for m in ms), 20), agent.log()
        assert agent.wait_log("ignored a retained request vibration_start", 10)
    finally:
        agent.terminate()
        admin.close()
        mosquitto_pub(broker.port, request, "-r", "-n")
    answers = admin.json("/response/vibration_start")
    assert len(answers) == 1 and answers[0]["status"] == "error" and "empty payload" in answers[0]["error"]
    assert agent.log().count("ignored a retained request vibration_start") == 1, agent.log()
    assert "an empty retained message on request/vibration_start (a retained request deleted)" in agent.log()
    assert motor_on_times(tmp_path / "motor") == [], "the motor never moved"


def test_mqtt_3_1_1_when_configured_publishes_and_takes_no_requests(tmp_path, broker):
    """With mqtt.protocol = '3.1.1' the agent publishes the same contract, says once that it
    takes no requests, and answers none (3.1.1 cannot tell a retained request delivered live)."""
    cfg = write_config(tmp_path / "cfg", '[mqtt]\nprotocol = "3.1.1"\nheartbeat_s = 2\n')
    live = Listener(broker.port, topics=("openpalm/dev3/#",))
    assert live.connected.wait(10)
    agent = AgentProcess(scenario([{"hold": 600, "set": OPEN}]), tmp_path / "a", speed=2, broker=broker.url,
                         device="dev3", config=cfg, extra_args=["--motor-trace", str(tmp_path / "motor")])
    try:
        assert live.wait_for(lambda ms: any(m["topic"] == "openpalm/dev3/state" for m in ms), 20), agent.log()
        assert agent.wait_log("requests are not taken", 10)
        live.publish("openpalm/dev3/request/vibration_start", b'{"minutes": 5}')
        live.publish("openpalm/dev3/request/identify", b"{}")
        states = len(live.on("openpalm/dev3/state"))
        assert live.wait_for(lambda ms: len([m for m in ms if m["topic"] == "openpalm/dev3/state"]) >= states + 2, 20)
        log = (broker.folder / "mosquitto.log").read_text()
        assert "openpalm-dev3" in log and "p5" not in log.split("openpalm-dev3")[0][-200:]
    finally:
        agent.terminate()
        live.close()
    assert live.on("/response/vibration_start") == [] and live.on("/response/identify") == []
    assert agent.log().count("requests are not taken") == 1
    assert "command vibration_start" not in agent.log() and "command identify" not in agent.log()
    assert motor_on_times(tmp_path / "motor") == []


def motor_on_times(trace) -> list[float]:
    """The scenario times at which the motor was set above zero, from the agent's own motor
    trace (--motor-trace: one "time level" line per change)."""
    from pathlib import Path
    trace = Path(trace)
    if not trace.exists():
        return []
    lines = [line.split() for line in trace.read_text().splitlines() if line.strip()]
    return [float(t) for t, level in lines if float(level) > 0]


def test_clear_text_credentials_to_a_remote_broker_are_refused(tmp_path):
    """A password would travel in clear text to a broker not on this machine: refused, exit 78."""
    from conftest import run_cli
    (tmp_path / "pw").write_text("secret-1234")
    cfg = write_config(tmp_path / "cfg", f'[mqtt]\nusername = "dev1"\npassword_file = "{tmp_path / "pw"}"\n')
    result = run_cli("run", "--config", str(cfg), "--simulate", str(ROOT / "scenarios" / "example-day.json"),
                     "--broker", "mqtt://broker.example.org:1883")
    assert result.returncode == 78
    assert "clear text to broker.example.org" in result.stderr and "secret-1234" not in result.stderr


def test_device_id_and_broker_urls():
    """The device id is derived from the machine id when not set; broker URLs are checked."""
    from pi_agent import config
    from pi_agent.errors import ConfigError
    from pi_agent.mqtt import device_id, parse_broker
    cfg = config.defaults()
    derived = device_id(cfg)
    assert re.fullmatch(r"op-[0-9a-f]{10}", derived) and device_id(cfg) == derived
    assert device_id(cfg, "kitchen") == "kitchen"
    assert parse_broker("mqtts://broker.lan") == ("mqtts", "broker.lan", 8883)
    assert parse_broker("mqtt://127.0.0.1:1884") == ("mqtt", "127.0.0.1", 1884)
    with pytest.raises(ConfigError):
        parse_broker("http://broker.lan")


HOST = "expected a host name, an IPv4 address or an IPv6 address in brackets ([::1])"
PORT = "expected a port number from 1 to 65535"
AFTER = "expected nothing after the host and port but a lone '/' (no path, query or fragment)"
FORM = "expected mqtt://host:port or mqtts://host:port"
BROKER_URLS = [             # (a URL, what it is taken as, or the words of its refusal)
    ("mqtt://broker.lan", ("mqtt", "broker.lan", 1883)),
    ("mqtts://Broker.LAN/", ("mqtts", "broker.lan", 8883)),
    ("mqtt://127.0.0.1:1", ("mqtt", "127.0.0.1", 1)),
    ("mqtts://[::1]:65535", ("mqtts", "::1", 65535)),
    ("mqtt://[2001:db8::7]", ("mqtt", "2001:db8::7", 1883)),
    ("mqtt://[::1", HOST), ("mqtt://[zz]:1883", HOST), ("mqtt://a]:1883", HOST), ("mqtt://::1:1883", HOST),
    ("mqtt://" + "a" * 64 + ":1883", HOST), ("mqtt://" + "a" * 63 + ".lan:1883", ("mqtt", "a" * 63 + ".lan", 1883)),
    ("mqtt://[::1]x", HOST), ("mqtt://[fe80::1%eth0]", HOST), ("mqtt://1.2.3", HOST), ("mqtt://ho st", HOST),
    ("mqtt://:1883", HOST), ("mqtt://", HOST),
    ("mqtt://127.0.0.1:0", PORT), ("mqtt://127.0.0.1:65536", PORT), ("mqtt://127.0.0.1:99999", PORT),
    ("mqtt://h:", PORT), ("mqtt://h:+1", PORT), ("mqtt://[::1]:0", PORT),
    ("mqtts://host:1883/path?x", AFTER), ("mqtts://host:1883#frag", AFTER), ("mqtt://host?x", AFTER),
    ("mqtt://host//", AFTER),
    ("http://broker.lan", FORM), ("broker.lan:1883", FORM),
]


def test_one_parser_takes_or_refuses_a_broker_url_for_the_configuration_and_the_command_line():
    """Each URL is taken, or refused in one line, alike by mqtt.broker's check (check-config)
    and parse_broker (run, dashboard): a host that is no IPv6 address in brackets is refused
    (it was a ValueError's traceback), port 0 too (it connected to 1883), and a path, a
    query or a fragment (they were dropped); user names and passwords, below."""
    from pi_agent.config import SCHEMA
    from pi_agent.errors import ConfigError
    from pi_agent.mqtt import parse_broker
    check = SCHEMA["mqtt"]["broker"].check
    for url, expected in BROKER_URLS:
        if isinstance(expected, tuple):
            assert (parse_broker(url), check(url)) == (expected, (url, None)), url
            continue
        with pytest.raises(ConfigError) as refused:
            parse_broker(url)
        line = str(refused.value)
        assert line.startswith(f"--broker: {expected}, got ") and "\n" not in line, (url, line)
        assert check(url) == (None, line.removeprefix("--broker: ")), url


def test_a_user_name_or_password_in_a_broker_url_is_refused_and_never_shown():
    """mqtt://user:pw@host: refused on the command line as in the configuration, saying where
    credentials go, and without showing them (they were dropped from --broker unsaid)."""
    from pi_agent.config import SCHEMA
    from pi_agent.errors import ConfigError
    from pi_agent.mqtt import parse_broker
    for url in ("mqtt://user:s3cret@host:1883", "mqtts://user@host", "mqtt://user:s3/cret@host"):
        with pytest.raises(ConfigError) as refused:
            parse_broker(url)
        line = str(refused.value)
        assert line == ("--broker: expected no user name or password in the URL (set mqtt.username, and the "
                        "password in mqtt.password_file or $OPENPALM_MQTT_PASSWORD), got "
                        f"'{url.partition('://')[0]}://...@host{url.partition('@host')[2]}'"), line
        assert SCHEMA["mqtt"]["broker"].check(url) == (None, line.removeprefix("--broker: "))


def test_a_tls_handshake_cut_short_names_a_plain_listener_as_its_likeliest_cause():
    """mqtts:// to a plain MQTT port: the broker closes the connection during the handshake,
    and the line says the port may be a plain mqtt:// listener, then what else to check."""
    from pi_agent.mqtt.problems import connect_problem
    problem = connect_problem(ConnectionResetError(104, "Connection reset by peer"), "broker.lan", 1883,
                              ca_file="", tls=True)
    assert problem.kind == "tls"
    assert problem.text == ("TLS: broker.lan:1883 closed the connection during the handshake (Connection reset by "
                            "peer); the port may be a plain mqtt:// listener (such as 1883), not TLS; else check "
                            "the broker's log (a client certificate it wants, a TLS version)")
