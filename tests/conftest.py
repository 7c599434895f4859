"""Shared fixtures: the shipped configuration, simulated hardware, virtual time."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "agent.toml"
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def cfg():
    from pi_agent import config
    return config.load(CONFIG)


@pytest.fixture
def channels(cfg):
    from pi_agent.agent import load_channels
    return load_channels(cfg)


@pytest.fixture
def clock():
    from pi_agent.clock import VirtualClock
    return VirtualClock(start_wall=1_776_000_000.0)


# A guard against a hang, not a time limit: on a busy machine a whole simulated day can
# take minutes, and a test that asserts no speed must not fail for want of one.
HANG_S = 600


def run_cli(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = HANG_S,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``pi-agent`` as a real process, as a person would."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1")
    full_env.pop("JOURNAL_STREAM", None)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "pi_agent", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


@pytest.fixture(autouse=True)
def gpiozero_default_is_left_as_found():
    """Whatever a test builds on gpiozero's mock pins (a simulated rig, a simulation), it
    closes: gpiozero's default pin factory is the same after the test as before."""
    from gpiozero import Device
    before = Device.pin_factory
    yield
    assert Device.pin_factory is before, "a Rig or SimulatedRun was left open (close it, or use `with`)"


def run_once(tmp_path_factory, key: str, make):
    """``make(folder)`` once per test run, also across pytest-xdist's workers: the first
    process to ask makes it (the others wait on a lock), and every one reads the JSON of
    its result. For what costs many seconds of CPU and is the same for every test."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                      # this run's folder, shared by its workers
    folder = root / f"once-{key}"
    with open(root / f"once-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "result.json"
        if not done.exists():
            folder.mkdir(exist_ok=True)
            result = make(folder)
            done.write_text(json.dumps(result))
        return json.loads(done.read_text())


@pytest.fixture(scope="session")
def shipped_day(tmp_path_factory):
    """``shipped_day(name)``: the report and the events of ``pi-agent simulate`` on
    scenarios/<name>.json, run once: a whole simulated day costs many seconds of CPU, and
    the golden and the ground-truth tests read the same run."""
    def simulate(name: str, folder: Path) -> tuple[dict, list[str]]:
        events = folder / "events.jsonl"
        result = run_cli("simulate", str(SCENARIOS / f"{name}.json"), "--report", "json", "--events", str(events))
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout), events.read_text().splitlines()
    return lambda name: run_once(tmp_path_factory, f"simulate-{name}", lambda folder: simulate(name, folder))
