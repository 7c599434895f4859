"""An installed copy runs anywhere: the wheel built from this source, installed in a fresh
virtual environment and run from a folder outside the source tree with no configuration
file anywhere, finds the defaults shipped inside the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from pi_agent import config

from conftest import CONFIG, HANG_S, ROOT, SCENARIOS, run_cli, run_once

QUIET = ["--disable-pip-version-check", "--quiet"]
# What would point an installed copy at a configuration or at this source tree.
NOT_INHERITED = {config.PATH_ENV, "PYTHONPATH", "VIRTUAL_ENV", "STATE_DIRECTORY", "JOURNAL_STREAM",
                 "CREDENTIALS_DIRECTORY", config.PASSWORD_ENV}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed: its folder (made once for the
    whole run, also when several pytest workers run these tests)."""
    return Path(run_once(tmp_path_factory, "installed-wheel", lambda base: str(_install(base))))


def _install(base: Path) -> Path:
    # Build from a copy, so that the build leaves nothing in the source tree.
    src = base / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
        "tests", "bench", "state"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", *QUIET, "--no-deps", "--no-build-isolation", "--no-index",
                    "--wheel-dir", str(base / "dist"), str(src)], check=True, capture_output=True, timeout=HANG_S)
    wheel, = (base / "dist").glob("openpalm_pi_agent-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=HANG_S)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", *QUIET, "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True, timeout=HANG_S)
    # The dependencies (gpiozero, the Adafruit driver, paho-mqtt...) come from the test
    # environment, as --system-site-packages would give them, so nothing is downloaded.
    # Only the new environment's own site-packages is processed as a site folder, so the
    # development install of this project there is not seen.
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "test-dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    return venv


def run_installed(venv: Path, *args: str, cwd: Path, timeout: float = HANG_S) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return subprocess.run([str(venv / "bin" / "pi-agent"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """An empty folder outside the source tree; the system's configuration must not exist."""
    if config.SYSTEM_PATH.exists():
        pytest.skip(f"{config.SYSTEM_PATH} exists on this machine: the defaults would not be used")
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_the_installed_copy_is_the_one_that_runs(installed, elsewhere):
    """pi_agent, sensors and mock_hw are imported from the new environment, not from the source tree."""
    result = subprocess.run([str(installed / "bin" / "python"), "-c",
                             "import pi_agent.config, sensors, mock_hw; print(pi_agent.__file__, sensors.__file__, "
                             "mock_hw.__file__, pi_agent.config.SHIPPED_CALIBRATION.is_file())"],
                            cwd=elsewhere, capture_output=True, text=True, check=True, timeout=HANG_S,
                            env={k: v for k, v in os.environ.items() if k not in NOT_INHERITED})
    *files, calibration = result.stdout.split()
    assert all(Path(f).is_relative_to(installed) for f in files), files
    assert calibration == "True"


def test_installed_simulate_runs_on_the_shipped_defaults(installed, elsewhere):
    """`pi-agent simulate` of the installed wheel, in an empty folder with no configuration,
    says it uses the shipped defaults and reports exactly what config/agent.toml gives."""
    scenario = elsewhere / "weight-bearing.json"
    shutil.copy(SCENARIOS / "example-weight-bearing.json", scenario)
    result = run_installed(installed, "simulate", str(scenario), "--report", "json", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert f"configuration: {config.SHIPPED}" in result.stderr
    report = json.loads(result.stdout)
    reference = run_cli("simulate", "--config", str(CONFIG), str(scenario), "--report", "json")
    assert reference.returncode == 0, reference.stderr
    assert report == json.loads(reference.stdout)
    assert report["days"]["2026-04-15"]["weight_bearing"]["sessions"] == 3


def test_installed_run_simulate_runs_for_a_few_seconds(installed, elsewhere):
    """`pi-agent run --simulate` of the installed wheel plays a 4-second scenario in real time
    to its end, in an empty folder with no configuration, reading the simulated sensors."""
    scenario = elsewhere / "short.json"
    scenario.write_text(json.dumps({
        "name": "a few seconds", "start": "2026-04-15T10:00:00", "timezone": "Europe/Amsterdam",
        "steps": [{"hold": 2, "set": {"palm": 3, "wrist": 20}}, {"hold": 2}]}))
    result = run_installed(installed, "run", "--simulate", str(scenario), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert f"configuration: {config.SHIPPED}" in result.stderr
    assert "scenario finished" in result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("2026-04-15 ")]   # the status lines
    assert lines[-1][:19] >= "2026-04-15 10:00:04", lines           # it played the whole scenario
    assert "wrist 20°" in lines[-1] and "palm (in the splint) 3.0 N" in lines[-1], lines[-1]
    assert "The simulated day:" in result.stdout                    # and ended with the day's totals
