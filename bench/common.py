"""What the measurements share: the configuration, the hand's states, scenarios, and
`pi-agent run --simulate --speed 1` as a process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "agent.toml"
OPEN = {"palm": 3.0, "wrist": 25.0, "fingers": 5.0}
PRESSED = {**OPEN, "pad_palm": 40, "pad_fingers": 25}


def bench_config():
    from pi_agent import config
    return config.load(CONFIG)


def bench_scenario(cfg, steps, start="2026-05-01T10:00:00", noise=True):
    from mock_hw import scenario_file
    data = {"start": start, "timezone": "UTC", "seed": 9, "steps": steps}
    if noise:
        data["noise"] = {"deg": 1.0, "newton": 0.2}
    return scenario_file.parse(data, {n: s.kind for n, s in cfg.sensors.items()})


# -- processes of `pi-agent run --simulate --speed 1` -----------------------------------------------
def _systemd_socket(folder: Path) -> str:
    """A notification socket as systemd's (READY, STATUS, WATCHDOG datagrams), read by a
    thread of this process, so the agent's own sends never wait for room."""
    path = str(folder / f"notify-{len(list(folder.glob('notify-*')))}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)

    def drain() -> None:
        while True:
            sock.recv(4096)
    threading.Thread(target=drain, daemon=True).start()
    return path


def agent_process(folder: Path, steps: list, *extra: str) -> subprocess.Popen:
    """The agent as the shipped unit runs it under systemd: its standard output is the
    journal (so no status line a second), it notifies systemd and pings the watchdog
    (``WatchdogSec=20``)."""
    scenario = folder / f"scenario-{len(list(folder.glob('scenario-*')))}.json"
    scenario.write_text(json.dumps({"start": "2026-05-01T10:00:00", "timezone": "UTC", "seed": 9,
                                    "noise": {"deg": 1.0, "newton": 0.2}, "steps": steps}))
    with open(os.devnull, "w") as out:
        st = os.fstat(out.fileno())
        env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}", NOTIFY_SOCKET=_systemd_socket(folder),
                   WATCHDOG_USEC="20000000")
        env.pop("WATCHDOG_PID", None)
        return subprocess.Popen([sys.executable, "-m", "pi_agent", "run", "--simulate", str(scenario), "--speed", "1",
                                 "--state-dir", str(folder / f"state-{scenario.stem}"), *extra], cwd=ROOT,
                                stdout=out, stderr=subprocess.DEVNULL, env=env)
