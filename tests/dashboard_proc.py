"""The caregiver dashboard as a real process, for the tests that talk to it: its password
set with ``pi-agent dashboard-password``, the server started on a free port and stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from agentproc import write_config
from broker import free_port
from conftest import ROOT

PASSWORD = "open-hand-2026"


def start_dashboard(tmp_path: Path, broker_url: str, extra: str = "[mqtt]\nkeepalive_s = 5\n"):
    """``pi-agent dashboard-password`` then ``pi-agent dashboard`` on a free port: (process, base URL)."""
    cfg = write_config(tmp_path / "dash", extra)
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)
    set_pw = subprocess.run([sys.executable, "-m", "pi_agent", "dashboard-password", "--config", str(cfg)],
                            input=PASSWORD + "\n", capture_output=True, text=True, cwd=ROOT, env=env)
    assert set_pw.returncode == 0, set_pw.stderr
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pi_agent", "dashboard", "--config", str(cfg),
                             "--broker", broker_url, "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "dashboard.log", "w"), text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return proc, base
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError((tmp_path / "dashboard.log").read_text())


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
