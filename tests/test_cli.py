"""The command line as a Unix tool: a reader that goes away ends it quietly."""

from __future__ import annotations

import json
import os
import signal
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


SIGUSR1_CAUGHT = 1 << (signal.SIGUSR1 - 1)      # its bit in /proc/PID/status SigCgt

# Run as a child Python: each import of the command line's own modules notes whether
# SIGUSR1 has a handler yet (faulthandler sets it below Python's signal module, so only the
# kernel's SigCgt mask says), then the command runs as ``python -m pi_agent`` runs it.
_IMPORTS_PROBE = """
import json, runpy, sys
seen = {}
def caught():
    for line in open("/proc/self/status"):
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & %d)
def hook(event, args):
    if event == "import" and (args[0] in ("argparse", "pi_agent.config") or args[0].startswith("pi_agent.cli.")):
        seen.setdefault(args[0], caught())
sys.addaudithook(hook)
import pi_agent
seen["import pi_agent"] = caught()
sys.argv = ["pi_agent", "--version"]
try:
    runpy.run_module("pi_agent", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
print(json.dumps(seen))
"""


def _caught(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as f:
        return any(int(line.split()[1], 16) & SIGUSR1_CAUGHT for line in f if line.startswith("SigCgt:"))


def test_sigusr1_has_its_handler_before_the_command_lines_imports():
    """`python -m pi_agent`: SIGUSR1's handler is set before argparse, the configuration or
    any command module is imported; a plain `import pi_agent` sets none."""
    result = subprocess.run([sys.executable, "-c", _IMPORTS_PROBE % SIGUSR1_CAUGHT], cwd=ROOT,
                            capture_output=True, text=True, timeout=HANG_S)
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen.pop("import pi_agent") is False
    assert {"argparse", "pi_agent.config", "pi_agent.cli.run"} <= set(seen) and all(seen.values()), seen


def test_sigusr1_sent_as_soon_as_the_handler_is_set_dumps_threads_and_stops_nothing(tmp_path):
    """`pi-agent status`, sent SIGUSR1 the moment its handler shows in /proc: it writes the
    threads' stacks and ends as it would have (69: no store), not killed by the signal."""
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)
    for _ in range(5):            # the command lives a third of a second: a busy machine can let it
        proc = subprocess.Popen([sys.executable, "-m", "pi_agent", "status", "--state-dir", str(tmp_path)],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:                      # end before this loop looks again: then try once more
            while not _caught(proc.pid) and proc.poll() is None:
                pass
            if proc.poll() is not None:
                proc.communicate()
                continue
            proc.send_signal(signal.SIGUSR1)
            _, err = proc.communicate(timeout=HANG_S)
            break
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    else:
        raise AssertionError("the command ended five times before its SIGUSR1 handler was seen")
    assert proc.returncode == 69, err
    assert "most recent call first" in err, err
