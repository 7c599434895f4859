"""The command line as a Unix tool: a reader that goes away ends it quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import CONFIG, HANG_S, ROOT


@pytest.mark.parametrize("report", ["json", "text"])
def test_closed_pipe_ends_simulate_quietly(tmp_path, report):
    """`pi-agent simulate … | head -1`: when the reader has gone, the command exits with
    141 (as if killed by SIGPIPE) and prints no traceback."""
    scenario = tmp_path / "short.json"
    scenario.write_text(json.dumps({"start": "2026-04-15T10:00:00", "timezone": "Europe/Amsterdam",
                                    "steps": [{"hold": 5, "set": {"palm": 3}}]}))
    read_end, write_end = os.pipe()
    os.close(read_end)           # the reader is gone before anything is written, as `head` after its line
    try:
        result = subprocess.run([sys.executable, "-m", "pi_agent", "simulate", "--config", str(CONFIG),
                                 str(scenario), "--report", report], cwd=ROOT, stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=HANG_S)
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert "Traceback" not in result.stderr and "Error" not in result.stderr, result.stderr
