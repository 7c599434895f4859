"""`pi-agent run --simulate` as a real process: no hardware, no broker needed."""

from __future__ import annotations

import json
import re

from conftest import run_cli


def test_run_simulate_shows_what_it_sees_line_by_line(tmp_path):
    """Off a terminal, `run --simulate` prints one readable line at a time and exits 0."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"start": "2026-05-01T09:00:00", "timezone": "Europe/Paris", "steps": [
        {"hold": 20, "set": {"wrist": 25, "fingers": 5, "palm": 3, "pad_palm": 30, "pad_fingers": 20}},
        {"fault": {"kind": "disconnected", "channel": "fingers", "for": 10}},
        {"hold": 10}]}))
    result = run_cli("run", "--simulate", str(path), "--speed", "20", "--state-dir", str(tmp_path / "st"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) >= 2
    assert lines[0].startswith("2026-05-01 09:00:")
    assert "wrist 25°" in result.stdout and re.search(r"load (49|50)\.\d N", result.stdout)
    assert "finger sensor disconnected" in result.stdout + result.stderr
    assert "\r" not in result.stdout


def test_version():
    """`pi-agent --version` names the version."""
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("pi-agent ")
