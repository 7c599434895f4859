"""The example broker configuration (config/mosquitto/): TLS with certificates the test
generates, passwords, and the ACL that keeps each device to its own topics."""

from __future__ import annotations

import re
import ssl
import subprocess
import time

import paho.mqtt.client as paho
import pytest

from agentproc import AgentProcess, write_config
from broker import Broker, Listener
from conftest import ROOT
from test_mqtt import scenario

EXAMPLE = ROOT / "config" / "mosquitto"
PASSWORDS = {"devA": "apple-pie-7", "devB": "blue-moon-3", "dashboard": "dash-board-1",
             "homeassistant": "home-assist-2", "clinic": "clin-ic-cards-4"}


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder, names="DNS:localhost,IP:127.0.0.1"):
    """A CA of our own, and a broker certificate for ``names`` (localhost and 127.0.0.1) signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=OpenPalm test CA", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
             "-subj", "/CN=localhost", cwd=folder)
    (folder / "san.ext").write_text(f"subjectAltName={names}\n")
    _openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "broker.crt", "-days", "2", "-extfile", "san.ext", cwd=folder)
    return folder


class ExampleBroker(Broker):
    """Mosquitto with config/mosquitto/ as shipped, only its paths and port changed."""

    def __init__(self, folder, names="DNS:localhost,IP:127.0.0.1"):
        super().__init__(folder)
        self.certs = make_certificates(folder / "certs", names)
        passwd = folder / "openpalm.passwd"
        for i, (user, password) in enumerate(PASSWORDS.items()):
            flags = ["-c"] if i == 0 else []
            subprocess.run(["mosquitto_passwd", *flags, "-b", str(passwd), user, password], check=True)
        self.acl = folder / "acl"
        self.acl.write_text((EXAMPLE / "acl").read_text())

    def config(self) -> str:
        text = (EXAMPLE / "mosquitto.conf").read_text()
        text = text.replace("/etc/mosquitto/openpalm.passwd", str(self.folder / "openpalm.passwd"))
        text = text.replace("/etc/mosquitto/conf.d/openpalm/acl", str(self.acl))
        text = text.replace("/etc/mosquitto/certs/", f"{self.certs}/")
        text = text.replace("/var/lib/mosquitto/", f"{self.folder}/")
        text = re.sub(r"^listener 8883$", f"listener {self.port} 127.0.0.1", text, flags=re.M)
        return text + f"log_dest file {self.folder / 'mosquitto.log'}\n"


@pytest.fixture
def secure(tmp_path):
    b = ExampleBroker(tmp_path / "broker").start()
    yield b
    b.stop()
    opened = re.findall(r"Opening ipv\d listen socket on port (\d+)", (b.folder / "mosquitto.log").read_text())
    assert set(opened) == {str(b.port)}, f"the shipped configuration opened other listeners: {opened}"


def tls(broker):
    return {"ca_certs": str(broker.certs / "ca.crt"), "cert_reqs": ssl.CERT_REQUIRED}


def test_agent_over_tls_with_a_password(tmp_path, secure):
    """The agent connects with TLS (hostname verified) and its password from a file."""
    (tmp_path / "pw").write_text(PASSWORDS["devA"] + "\n")
    cfg = write_config(tmp_path / "cfg", f"[mqtt]\nusername = \"devA\"\npassword_file = \"{tmp_path / 'pw'}\"\n"
                                         f"ca_file = \"{secure.certs / 'ca.crt'}\"\n")
    watcher = Listener(secure.port, topics=("openpalm/#",), host="localhost", username="dashboard",
                       password=PASSWORDS["dashboard"], tls=tls(secure))
    assert watcher.connected.wait(10)
    agent = AgentProcess(scenario([{"hold": 600, "set": {"palm": 3, "wrist": 25, "fingers": 5}}]), tmp_path / "a",
                         speed=2, broker=f"mqtts://localhost:{secure.port}", device="devA", config=cfg)
    try:
        assert watcher.wait_for(lambda ms: any(m["topic"] == "openpalm/devA/state" for m in ms), 20), agent.log()
        assert PASSWORDS["devA"] not in agent.log(), "the password is never logged"
    finally:
        agent.terminate()
        watcher.close()


def test_wrong_password_and_no_tls_are_refused(tmp_path, secure):
    """A wrong password is refused; a client that does not trust the CA cannot connect."""
    wrong = Listener(secure.port, host="localhost", username="devA", password="not-it", tls=tls(secure))
    assert wrong.refused.wait(10) and not wrong.connected.is_set()
    wrong.close()
    untrusting = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="untrusting")
    untrusting.username_pw_set("devA", PASSWORDS["devA"])
    untrusting.tls_set(cert_reqs=ssl.CERT_REQUIRED)          # the system's CAs, not ours
    with pytest.raises(ssl.SSLCertVerificationError):
        untrusting.connect("localhost", secure.port, keepalive=10)


def test_device_a_cannot_write_device_b_topics(tmp_path, secure):
    """The ACL: device A writes its own topics, never device B's; it reads only its requests."""
    watcher = Listener(secure.port, topics=("openpalm/#",), host="localhost", username="dashboard",
                       password=PASSWORDS["dashboard"], tls=tls(secure))
    a = Listener(secure.port, topics=("openpalm/devB/#", "openpalm/devA/request/#"), host="localhost",
                 username="devA", password=PASSWORDS["devA"], tls=tls(secure))
    b = Listener(secure.port, topics=("openpalm/devB/request/#",), host="localhost", username="devB",
                 password=PASSWORDS["devB"], tls=tls(secure))
    for c in (watcher, a, b):
        assert c.connected.wait(10)
    a.publish("openpalm/devB/state", b"forged by A")
    a.publish("openpalm/devB/request/vibration_start", b'{"level": "high", "minutes": 30}')
    a.publish("openpalm/devA/state", b"A's own")
    b.publish("openpalm/devB/event", b"B's own")
    allowed = {"openpalm/devA/state", "openpalm/devB/event"}
    assert watcher.wait_for(lambda ms: allowed <= {m["topic"] for m in ms}, 10)
    # The broker has handled every message above (the dashboard has the last ones); now
    # each device sends itself a request: once it has it, anything routed to it before is in.
    b.publish("openpalm/devB/request/identify", b"{}")
    a.publish("openpalm/devA/request/identify", b"{}")
    assert b.wait_for(lambda ms: any(m["topic"] == "openpalm/devB/request/identify" for m in ms), 10)
    assert a.wait_for(lambda ms: any(m["topic"] == "openpalm/devA/request/identify" for m in ms), 10)
    topics = [m["topic"] for m in watcher.messages]
    assert "openpalm/devA/state" in topics and "openpalm/devB/event" in topics
    assert "openpalm/devB/state" not in topics
    assert b.on("/request/vibration_start") == [], "A cannot command B"
    assert a.on("openpalm/devB/event") == [], "A cannot read B"
    for c in (watcher, a, b):
        c.close()


def device_config(tmp_path, broker, device, ca=None, password=None, extra=""):
    """A configuration for ``device`` on the example broker: its user, password file and CA."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    pw = tmp_path / f"{device}.pw"
    pw.write_text((password or PASSWORDS[device]) + "\n")
    return write_config(tmp_path / f"cfg-{device}",
                        f"[mqtt]\nusername = \"{device}\"\npassword_file = \"{pw}\"\n"
                        f"ca_file = \"{ca or broker.certs / 'ca.crt'}\"\nreconnect_max_s = 1\n{extra}")


def as_user(broker, user, topics=("openpalm/#",), client_id=None):
    c = Listener(broker.port, topics=topics, host="localhost", username=user, password=PASSWORDS[user],
                 tls=tls(broker), client_id=client_id)
    assert c.connected.wait(10), f"{user} could not connect"
    return c


def test_home_assistant_birth_message_and_commands_with_the_shipped_acl(tmp_path, secure):
    """With config/mosquitto/ as shipped: Home Assistant's 'online' on homeassistant/status makes
    every device publish its discovery again; Home Assistant's user may command a device (and
    reads its response); a client with another device's client id does not disconnect it."""
    agents = {d: AgentProcess(scenario([{"hold": 600, "set": {"palm": 3, "wrist": 25, "fingers": 5}}]),
                              tmp_path / d, speed=2, broker=f"mqtts://localhost:{secure.port}", device=d,
                              config=device_config(tmp_path, secure, d)) for d in ("devA", "devB")}
    ha = as_user(secure, "homeassistant", ("homeassistant/device/#", "openpalm/+/response/#", "openpalm/+/state"))
    try:
        def discoveries(device):
            return lambda ms: len([m for m in ms if m["topic"] == f"homeassistant/device/openpalm_{device}/config"])
        for d in agents:
            assert ha.wait_for(lambda ms, d=d: discoveries(d)(ms) >= 1, 30), agents[d].log()
        before = {d: discoveries(d)(ha.messages) for d in agents}
        ha.publish("homeassistant/status", "online")
        for d in agents:
            assert ha.wait_for(lambda ms, d=d: discoveries(d)(ms) > before[d], 15), f"{d} did not rediscover"
        ha.publish("openpalm/devA/request/set_goal", b'{"hours": 7, "transaction": "ha-1"}')
        assert ha.wait_for(lambda ms: any(m["topic"] == "openpalm/devA/response/set_goal" for m in ms), 15)
        assert ha.json("openpalm/devA/response/set_goal")[0] == {"status": "ok", "transaction": "ha-1",
                                                                 "data": {"goal_h": 7}}
        # Another user connecting with devA's client id (what the agent asks for) gets its own
        # user name as its id instead, so devA's connection stays.
        intruder = Listener(secure.port, topics=("openpalm/devA/state",), host="localhost", username="dashboard",
                            password=PASSWORDS["dashboard"], tls=tls(secure), client_id="openpalm-devA")
        assert intruder.connected.wait(10)
        ha.publish("openpalm/devA/request/set_goal", b'{"hours": 6, "transaction": "ha-2"}')     # devA still answers
        assert ha.wait_for(lambda ms: any(m["topic"] == "openpalm/devA/response/set_goal" and b'"ha-2"' in m["payload"]
                                          for m in ms), 20)
        intruder.close()
        assert "lost the MQTT broker" not in agents["devA"].log(), "devA kept its connection"
    finally:
        for agent in agents.values():
            agent.terminate()
        ha.close()


def test_the_dashboard_user_reads_everything_and_only_starts_and_stops_exercise(tmp_path, secure):
    """The dashboard's user reads every device; of what it publishes, only the exercise
    session's start and stop requests arrive, never another command, a forged device under
    its own name or Home Assistant's birth message."""
    ha = as_user(secure, "homeassistant", ("openpalm/#", "homeassistant/#"))
    dash = as_user(secure, "dashboard", ("openpalm/#",))
    device = as_user(secure, "devA", ("openpalm/devA/request/#", "homeassistant/status"))
    dash.publish("openpalm/devA/request/vibration_start", b'{"minutes": 5}')
    dash.publish("openpalm/devA/request/set_goal", b'{"hours": 1}')
    dash.publish("openpalm/dashboard/state", b"{}")
    dash.publish("homeassistant/device/openpalm_dashboard/config", b"{}")
    dash.publish("homeassistant/status", b"online")
    dash.publish("openpalm/devA/request/exercise_start", b"{}")
    dash.publish("openpalm/devA/request/exercise_stop", b"{}")
    device.publish("openpalm/devA/state", b'{"from": "devA"}')
    assert dash.wait_for(lambda ms: any(m["topic"] == "openpalm/devA/state" for m in ms), 10), "the dashboard reads"
    assert ha.wait_for(lambda ms: any(m["topic"] == "openpalm/devA/state" for m in ms), 10)
    assert device.wait_for(lambda ms: len(ms) == 2, 10)
    assert [m["topic"] for m in device.messages] == ["openpalm/devA/request/exercise_start",
                                                     "openpalm/devA/request/exercise_stop"]
    assert ha.wait_for(lambda ms: len(ms) == 3, 10)
    assert sorted(m["topic"] for m in ha.messages) == ["openpalm/devA/request/exercise_start",
                                                       "openpalm/devA/request/exercise_stop",
                                                       "openpalm/devA/state"], "nothing else the dashboard sent arrived"
    for c in (ha, dash, device):
        c.close()


def test_tls_and_password_failures_each_have_their_own_line_once(tmp_path, secure):
    """A CA that did not sign the broker's certificate, a certificate for another name, and a
    wrong password: each its own log line, said once while the agent keeps retrying."""
    other_ca = make_certificates(tmp_path / "other", "DNS:localhost")
    wrong_name = ExampleBroker(tmp_path / "named", names="DNS:broker.openpalm.invalid").start()
    steps = scenario([{"hold": 600, "set": {"palm": 3, "wrist": 25, "fingers": 5}}])
    cases = {
        "untrusted": (secure, device_config(tmp_path / "u", secure, "devA", ca=other_ca / "ca.crt"),
                      "certificate at localhost:{port} is not trusted"),
        "hostname": (wrong_name, device_config(tmp_path / "h", wrong_name, "devA"),
                     "is not valid for the name 'localhost'"),
        "password": (secure, device_config(tmp_path / "p", secure, "devB", password="not-this-one"),
                     "refused user 'devB': bad user name or password"),
    }
    agents = {}
    try:
        for name, (broker, cfg, _) in cases.items():
            agents[name] = AgentProcess(steps, tmp_path / f"agent-{name}", speed=2,
                                        broker=f"mqtts://localhost:{broker.port}", device="devA" if name != "password"
                                        else "devB", config=cfg)
        for name, (broker, _, line) in cases.items():
            text = line.format(port=broker.port)
            assert agents[name].wait_log(text, 30), agents[name].log()
        deadline = time.monotonic() + 30          # the agents go on trying: several more attempts each
        while time.monotonic() < deadline:
            logs = {b: (b.folder / "mosquitto.log").read_text().count("New connection from") for b in (secure, wrong_name)}
            if all(n >= 8 for n in logs.values()):
                break
            time.sleep(0.2)
        for name, (broker, _, line) in cases.items():
            log = agents[name].log()
            assert log.count(line.format(port=broker.port)) == 1, log
            assert "no MQTT broker" not in log, "not taken for a missing broker"
        assert "mqtt.ca_file" in agents["untrusted"].log() and "mqtt.password_file" in agents["password"].log()
    finally:
        for agent in agents.values():
            agent.terminate()
        wrong_name.stop()
