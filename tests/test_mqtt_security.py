"""The example broker configuration (config/mosquitto/): TLS with certificates the test
generates, passwords, and the ACL that keeps each device to its own topics."""

from __future__ import annotations

import re
import ssl
import subprocess
import time

import pytest

from agentproc import AgentProcess, write_config
from broker import Broker, Listener
from conftest import ROOT
from test_mqtt import scenario

EXAMPLE = ROOT / "config" / "mosquitto"
PASSWORDS = {"devA": "apple-pie-7", "devB": "blue-moon-3", "dashboard": "dash-board-1"}


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder):
    """A CA of our own, and a broker certificate for localhost and 127.0.0.1 signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=OpenPalm test CA", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
             "-subj", "/CN=localhost", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "broker.crt", "-days", "2", "-extfile", "san.ext", cwd=folder)
    return folder


class ExampleBroker(Broker):
    """Mosquitto with config/mosquitto/ as shipped, only its paths and port changed."""

    def __init__(self, folder):
        super().__init__(folder)
        self.certs = make_certificates(folder / "certs")
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
    untrusting = Listener(secure.port, host="localhost", username="devA", password=PASSWORDS["devA"],
                          tls={"cert_reqs": ssl.CERT_REQUIRED})
    time.sleep(2)
    assert not untrusting.connected.is_set()
    untrusting.close()


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
    assert watcher.wait_for(lambda ms: len(ms) >= 2, 10)
    time.sleep(1.0)
    topics = [m["topic"] for m in watcher.messages]
    assert "openpalm/devA/state" in topics and "openpalm/devB/event" in topics
    assert "openpalm/devB/state" not in topics
    assert b.on("/request/vibration_start") == [], "A cannot command B"
    assert a.on("openpalm/devB/event") == [], "A cannot read B"
    for c in (watcher, a, b):
        c.close()
