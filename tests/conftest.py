"""Shared fixtures: the shipped configuration, simulated hardware, virtual time."""

from __future__ import annotations

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
