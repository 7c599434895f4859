"""A clinic on this machine: one Mosquitto, one `pi-agent dashboard`, and many simulated
devices, each in a weight-bearing session (its worst case): a retained ``state`` a
second and 20 ``load`` messages a second, in the agent's own payload shapes. In a clinic
every agent runs on its own Pi, so the devices here are light publishers; what is
measured is what the clinic shares: the broker and the dashboard.

An update is *shown* when the dashboard's live stream (server-sent events, what the
page draws) carries it; its delay is the stream's arrival time minus the state's own
time stamp (both this machine's wall clock).

``python -m bench.clinic publish PORT N SECONDS``: the devices' publisher (a process of
its own, so that its work is not counted against the dashboard's reader).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "clinic-bench-1"


def _payloads() -> tuple[dict, dict]:
    """A state and a load payload as the agent renders them (pi_agent.render), from a real
    core fed two seconds of a worn, open hand pressing on the pad."""
    from pi_agent import config
    from pi_agent.core import Core
    from pi_agent.render import load_payload, state_payload
    from sensors.channel import Reading
    cfg = config.load(ROOT / "config" / "agent.toml")
    zone = dt.datetime.now().astimezone().tzinfo
    core, wall, t = Core(cfg, zone), time.time(), 0.0
    values = {"palm": 3.0, "wrist": 25.0, "fingers": 5.0, "pad_palm": 40.0, "pad_fingers": 25.0}
    while t < 2.0:
        t += 0.05
        core.feed([Reading(ch, t, 0, v) for ch, v in values.items() if ch in cfg.sensors], wall + t)
    snap = core.snapshot()
    return state_payload(snap, zone, snap.wall), load_payload(snap)


def _stamp(now: float) -> str:
    return dt.datetime.fromtimestamp(now).astimezone().isoformat(timespec="milliseconds")


def publish(port: int, devices: int, seconds: float) -> None:
    """The devices: each a state a second (staggered) and 20 loads a second, for ``seconds``."""
    import paho.mqtt.client as paho
    state, load = _payloads()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="clinic-devices")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.time()
    tick = 0
    while True:
        due = start + tick * 0.05
        now = time.time()
        if due > now:
            time.sleep(due - now)
        if time.time() - start > seconds:
            break
        for d in range(devices):
            topic = f"openpalm/clinic-{d:03d}"
            if tick % 20 == d % 20:
                client.publish(f"{topic}/state", json.dumps({**state, "time": _stamp(time.time())}), qos=1,
                               retain=True)
            client.publish(f"{topic}/load", json.dumps({**load, "ts": round(time.time(), 3)}))
        tick += 1
    client.loop_stop()
    client.disconnect()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clinic:
    """A broker and a dashboard process, started afresh."""

    def __init__(self, folder: Path) -> None:
        from pi_agent.dashboard.auth import hash_password
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        conf = folder / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        f"max_queued_messages 100000\n" + ("user root\n" if os.geteuid() == 0 else ""))
        mosquitto = "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else "mosquitto"
        self.broker = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        cfg = folder / "agent.toml"
        cfg.write_text((ROOT / "config" / "agent.toml").read_text().replace(
            'password_hash = ""', f'password_hash = "{hash_password(PASSWORD)}"'))
        (folder / "calibration.toml").write_text((ROOT / "config" / "calibration.toml").read_text())
        self.http = _free_port()
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        wait_port(self.port)
        self.dashboard = subprocess.Popen([sys.executable, "-m", "pi_agent", "dashboard", "--config", str(cfg),
                                           "--broker", f"mqtt://127.0.0.1:{self.port}", "--listen",
                                           f"127.0.0.1:{self.http}"], cwd=ROOT, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.http)
        self.cookie = self.login()

    def login(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=10)
        conn.request("POST", "/login", urllib.parse.urlencode({"password": PASSWORD}),
                     {"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
        conn.close()
        if not cookie:
            raise RuntimeError("the dashboard did not let the bench log in")
        return cookie

    def fleet(self) -> dict:
        conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=10)
        conn.request("GET", "/api/fleet", headers={"Cookie": self.cookie})
        data = json.loads(conn.getresponse().read())
        conn.close()
        return data

    def memory_mb(self) -> float:
        status = Path(f"/proc/{self.dashboard.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024

    def close(self) -> None:
        for proc in (self.dashboard, self.broker):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def follow(clinic: Clinic, devices: int, seconds: float) -> dict:
    """Run ``devices`` for ``seconds`` and read the dashboard's stream meanwhile: the delays of
    the states it showed (after a 2-s warm-up) and how many published states it showed."""
    published = subprocess.Popen([sys.executable, "-m", "bench.clinic", "publish", str(clinic.port), str(devices),
                                  str(seconds + 2)], cwd=ROOT)
    delays: list[float] = []
    seen: set[tuple[str, str]] = set()
    start = time.time()
    conn = http.client.HTTPConnection("127.0.0.1", clinic.http, timeout=seconds + 10)
    conn.request("GET", "/events", headers={"Cookie": clinic.cookie})
    response = conn.getresponse()
    stop = threading.Timer(seconds + 2, lambda: conn.sock and conn.sock.shutdown(socket.SHUT_RDWR))
    stop.start()
    try:
        while time.time() - start < seconds + 2:
            chunk = response.fp.readline()
            if not chunk:
                break
            if not chunk.startswith(b"data: "):
                continue
            arrived = time.time()
            for d in json.loads(chunk[6:])["devices"]:
                state = d.get("state") or {}
                stamp = state.get("time")
                if not stamp or (d["id"], stamp) in seen:
                    continue
                seen.add((d["id"], stamp))
                at = dt.datetime.fromisoformat(stamp).timestamp()
                if at - start >= 2.0:
                    delays.append(arrived - at)
    except OSError:
        pass
    finally:
        stop.cancel()
        conn.close()
        published.wait(seconds + 30)
    expected = devices * int(seconds)          # a state a second each, after the warm-up
    delays.sort()
    return {"devices": devices, "shown": len(delays), "expected": expected,
            "max_s": delays[-1] if delays else None,
            "p99_s": delays[min(len(delays) - 1, int(0.99 * len(delays)))] if delays else None}


def clinic_capacity(quick: bool) -> dict:
    """The most devices, of 10, 25, 50, 100, 200, 400 (with ``quick``: of 10 and 25, enough
    for the budget), that one broker and one dashboard follow with every state shown within
    1 s; the dashboard's peak memory at that size."""
    seconds = 4.0 if quick else 10.0
    best, memory, runs = 0, None, []
    for devices in (10, 25) if quick else (10, 25, 50, 100, 200, 400):
        clinic = Clinic(Path(tempfile.mkdtemp(prefix="openpalm-clinic-")))
        try:
            result = follow(clinic, devices, seconds)
            mem = clinic.memory_mb()
        finally:
            clinic.close()
        runs.append(result)
        if memory is None:
            memory = round(mem, 1)
        ok = (result["max_s"] is not None and result["max_s"] <= 1.0
              and result["shown"] >= result["expected"] - devices)      # every state, give or take the edges
        if not ok:
            break
        best, memory = devices, round(mem, 1)
    return {"clinic": best, "clinic_dashboard_mb": memory, "clinic_runs": runs}


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "publish":
        publish(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        print(__doc__)
