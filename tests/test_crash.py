"""A real `pi-agent run --simulate` process killed with SIGKILL at random moments and
restarted each time: totals never go backwards, each kill loses at most one checkpoint
interval, and the store passes SQLite's integrity check every time."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from agentproc import CpuWait
from conftest import CONFIG, ROOT

SPEED = 60.0         # one real second is a minute of the scenario


def _start(scenario, state_dir):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("JOURNAL_STREAM", None)
    proc = subprocess.Popen([sys.executable, "-m", "pi_agent", "run", "--config", str(CONFIG),
                             "--simulate", str(scenario), "--speed", str(SPEED), "--state-dir", str(state_dir)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ready = threading.Event()

    def watch():
        for line in proc.stderr:
            if "sampling started" in line:
                ready.set()
    threading.Thread(target=watch, daemon=True).start()
    assert ready.wait(30), "the agent never started sampling"
    return proc, time.monotonic()         # at or after the moment it started sampling


def _stored(state_dir):
    """The day's open seconds and the agent's live record (its own time stamps of the
    current position's start and of its last checkpoint)."""
    db = sqlite3.connect(f"file:{state_dir / 'openpalm.db'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        row = db.execute("SELECT data FROM days WHERE day = '2026-06-01'").fetchone()
        live = db.execute("SELECT value FROM meta WHERE key = 'live'").fetchone()
        return (json.loads(row[0])["open_s"] if row else 0.0), (json.loads(live[0]) if live else None)
    finally:
        db.close()


def test_sigkill_at_random_moments_loses_at_most_one_checkpoint_each(tmp_path, cfg, ram_dir):
    """20 SIGKILLs: never backwards, never more than the agent's own open time, at most one
    checkpoint interval lost per kill, store intact."""
    scenario = tmp_path / "open-all-day.json"
    scenario.write_text(json.dumps({"start": "2026-06-01T08:00:00", "timezone": "Europe/London",
                                    "noise": {"deg": 1.0, "newton": 0.2},
                                    "steps": [{"hold": 12 * 3600, "set": {"palm": 3, "wrist": 25, "fingers": 5}}]}))
    state_dir = ram_dir                 # a SIGKILL keeps what was written; no disk's fsync stalls in the timing
    rng = random.Random(20261126)
    checkpoint = cfg.store.checkpoint_s
    slack = 5.0                         # scenario seconds between the log line and the first reading
    previous, previous_live = 0.0, None
    for kill in range(20):
        proc, ready_at = _start(scenario, state_dir)
        waited = CpuWait(proc.pid)
        time.sleep(rng.uniform(0.3, 2.5))    # a random moment of the agent's run
        waited.sample()
        killed_at = time.monotonic()          # at or before the kill
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        waited.stop()
        alive = (killed_at - ready_at) * SPEED   # at most the time it was sampling
        # A checkpoint comes late by as long as the machine kept the agent
        # waiting for a CPU (the kernel's account), in scenario seconds.
        late = waited.between(ready_at, killed_at) * SPEED
        now, live = _stored(state_dir)
        credited = now - previous
        assert credited >= 0, f"kill {kill}: totals went backwards ({previous:.1f} -> {now:.1f})"
        if live == previous_live:
            assert credited == 0, f"kill {kill}: credited {credited:.1f} s with no checkpoint of its own"
        else:       # by the agent's own clock: open from `since`, written at `updated`
            own = live["updated"] - live["since"] if live["since"] is not None else 0.0
            assert credited <= own + 1, f"kill {kill}: credited {credited:.1f} s of {own:.1f} s open"
        assert alive - credited <= checkpoint + slack + late, \
            f"kill {kill}: lost {alive - credited:.1f} s, more than one checkpoint ({checkpoint} s; {late:.1f} s late)"
        previous, previous_live = now, live
