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
    return proc, time.time()


def _stored_open(state_dir):
    db = sqlite3.connect(f"file:{state_dir / 'openpalm.db'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        row = db.execute("SELECT data FROM days WHERE day = '2026-06-01'").fetchone()
        return json.loads(row[0])["open_s"] if row else 0.0
    finally:
        db.close()


def test_sigkill_at_random_moments_loses_at_most_one_checkpoint_each(tmp_path, cfg):
    """20 SIGKILLs: never backwards, at most one checkpoint interval lost per kill, store intact."""
    scenario = tmp_path / "open-all-day.json"
    scenario.write_text(json.dumps({"start": "2026-06-01T08:00:00", "timezone": "Europe/London",
                                    "noise": {"deg": 1.0, "newton": 0.2},
                                    "steps": [{"hold": 12 * 3600, "set": {"palm": 3, "wrist": 25, "fingers": 5}}]}))
    state_dir = tmp_path / "state"
    rng = random.Random(20261126)
    checkpoint = cfg.store.checkpoint_s
    slack = 5.0                         # scenario seconds between the log line and the first reading
    previous = 0.0
    for kill in range(20):
        proc, ready_at = _start(scenario, state_dir)
        time.sleep(rng.uniform(0.3, 2.5))
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.time()
        proc.wait(10)
        alive = (killed_at - ready_at) * SPEED
        now = _stored_open(state_dir)
        credited = now - previous
        assert credited >= 0, f"kill {kill}: totals went backwards ({previous:.1f} -> {now:.1f})"
        assert credited <= alive + slack, f"kill {kill}: credited {credited:.1f} s of {alive:.1f} s alive"
        assert alive - credited <= checkpoint + slack, \
            f"kill {kill}: lost {alive - credited:.1f} s, more than one checkpoint ({checkpoint} s)"
        previous = now
