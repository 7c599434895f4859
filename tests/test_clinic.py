"""A clinic: 20 real agents (`pi-agent run --simulate`) on one real Mosquitto, followed by
one real `pi-agent dashboard`."""

from __future__ import annotations

import time
from agentproc import AgentProcess
from test_mqtt import scenario

DEVICES = 20
OPEN = {"palm": 3, "wrist": 25, "fingers": 5}


def test_twenty_devices_all_appear_on_one_dashboard_within_30_s(tmp_path):
    """20 agents started together on one broker: once each is running (Python started and
    sampling: on a busy machine that alone can take a while), all 20 appear on the
    dashboard (its data endpoint, what the page reads), online and with their state,
    within 30 s."""
    from bench.clinic import Clinic
    clinic = Clinic(tmp_path / "clinic")
    agents = []
    try:
        for i in range(DEVICES):
            agents.append(AgentProcess(scenario([{"hold": 600, "set": OPEN}]), tmp_path / f"a{i:02d}", speed=1,
                                       broker=f"mqtt://127.0.0.1:{clinic.port}", device=f"ward-{i:02d}"))
        for agent in agents:
            assert agent.wait_log("sampling started", 120), agent.log()
        running = time.monotonic()
        shown: dict = {}
        while True:
            asked = time.monotonic()
            fleet = clinic.fleet()
            shown = {d["id"]: d for d in fleet["devices"] if d["condition"] == "online" and d["state"]}
            if len(shown) == DEVICES or asked - running >= 30:
                break
            time.sleep(0.25)
        assert sorted(shown) == [f"ward-{i:02d}" for i in range(DEVICES)], \
            [a.log()[-500:] for a in agents if a.proc.poll() is not None]
        assert asked - running <= 30, "all shown on a request made within 30 s"
        assert all(d["state"]["today"] and d["state"]["time"] for d in shown.values())
    finally:
        for agent in agents:
            agent.terminate(20)
        clinic.close()
