"""`pi-agent run --simulate` as a real process: no hardware, no broker needed."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from conftest import ROOT, run_cli


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


def _scenario(tmp_path, start, steps, zone="Europe/London"):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"start": start, "timezone": zone, "seed": 1, "noise": {"deg": 0.5, "newton": 0.2},
                                "steps": steps}))
    return path


def test_run_simulate_ends_with_the_days_and_the_command_that_shows_them(tmp_path):
    """`run --simulate --state-dir` ends with each simulated day's totals and the exact
    `status` command, which then shows those days; its log is dated in the simulated day
    and the line names channels as people do."""
    path = _scenario(tmp_path, "2031-05-01T23:59:20", [
        {"hold": 60, "set": {"wrist": 25, "fingers": 5, "palm": 3, "pad_palm": 30, "pad_fingers": 10}}])
    state = tmp_path / "demo state"
    result = run_cli("run", "--simulate", str(path), "--speed", "20", "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "The simulated days:" in out
    assert re.search(r"^  2031-05-01: open 0\.0 h of 6\.0 h goal", out, re.M)
    assert re.search(r"^  2031-05-02: open 0\.0 h of 6\.0 h goal .* worn 0\.0 h", out, re.M)
    command = f"pi-agent status --state-dir '{state}'"
    assert out.rstrip().splitlines()[-1] == f"To look at it again: {command}"
    assert "pad (heel of the hand)" in out and "pad_palm" not in out
    dates = set(re.findall(r"^(\d{4}-\d\d-\d\d) \d\d:\d\d:\d\d ", result.stderr, re.M))
    assert dates and dates <= {"2031-05-01", "2031-05-02"}, result.stderr
    status = run_cli("status", "--state-dir", str(state))
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("OpenPalm status for 2031-05-02 (Europe/London)")
    assert "2031-05-01" in status.stdout
    assert re.search(r"last known: hand open \(as of 2031-05-02 00:0\d\)", status.stdout), status.stdout   # 00:00:20, or
                                                                                        # a little later on a busy disk


def test_run_simulate_starts_its_scenario_when_sampling_starts(tmp_path):
    """At 100,000 times real time, start-up (imports, the store: tens of milliseconds)
    took minutes of the scenario: 'sampling started ... at 0 s' was stamped well after the
    scenario's start. The simulated clock now stands still until sampling starts."""
    path = _scenario(tmp_path, "2031-05-01T10:00:00", [{"hold": 600, "set": {"wrist": 25, "fingers": 5, "palm": 3}}])
    result = run_cli("run", "--simulate", str(path), "--speed", "100000", "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    started = [line for line in result.stderr.splitlines() if "sampling started" in line]
    assert len(started) == 1 and started[0].startswith("2031-05-01 10:00:00 "), result.stderr


def test_run_simulate_removes_its_temporary_store(tmp_path):
    """Without --state-dir, the run's temporary store is gone when it ends, and it says so."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    path = _scenario(tmp_path, "2031-05-01T10:00:00", [{"hold": 20, "set": {"wrist": 25, "fingers": 5, "palm": 3}}])
    result = run_cli("run", "--simulate", str(path), "--speed", "20", env={"TMPDIR": str(tmp)})
    assert result.returncode == 0, result.stderr
    assert "openpalm-run-" in result.stderr                         # it did use a temporary store
    assert list(tmp.iterdir()) == []
    assert "temporary and is removed now" in result.stdout and "2031-05-01: open" in result.stdout


@contextlib.contextmanager
def _guarded(proc: subprocess.Popen, seconds: float = 120):
    """A hung run fails the test instead of hanging it: killed after ``seconds``, and
    killed at the end if it still runs, whatever the test found."""
    guard = threading.Timer(seconds, proc.kill)
    guard.start()
    try:
        yield proc
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_run_removes_its_temporary_store(tmp_path, signum):
    """Stopped by Ctrl+C or SIGTERM, a run without --state-dir removes its temporary store
    and still shows the days so far. SIGUSR1 before it shows the threads and does not stop it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    path = _scenario(tmp_path, "2031-05-01T10:00:00", [{"hold": 36000, "set": {"wrist": 25, "fingers": 5, "palm": 3}}])
    env = dict(os.environ, PYTHONUNBUFFERED="1", TMPDIR=str(tmp))
    env.pop("JOURNAL_STREAM", None)
    proc = subprocess.Popen([sys.executable, "-m", "pi_agent", "run", "--simulate", str(path), "--speed", "60"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with _guarded(proc):
        for line in proc.stdout:                 # the agent's own word that a minute was tracked
            held = re.search(r"hand open for (\d+):(\d\d)", line)
            if held and int(held[1]) * 60 + int(held[2]) >= 1:
                break
        assert [p.name[:13] for p in tmp.iterdir()] == ["openpalm-run-"]
        proc.send_signal(signal.SIGUSR1)         # a look at its threads, which does not stop it
        for line in proc.stdout:
            if "hand open for" in line:         # it goes on after the dump
                break
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Current thread 0x" in err and "in cmd_run" in err, err       # SIGUSR1: where each thread was
    assert list(tmp.iterdir()) == []
    assert "The simulated day, so far:" in out and "2031-05-01: open" in out


def test_a_run_stopped_during_a_simulated_power_cut_ends_cleanly(tmp_path):
    """SIGTERM while a scenario's power cut holds the power off: exit 0 with the days so
    far, no traceback, the motor's last level 0, the store readable (the handler stopped
    an agent that did not exist then: a traceback, exit 1, no totals)."""
    path = _scenario(tmp_path, "2031-05-01T10:00:00", [{"hold": 150, "set": {"wrist": 25, "fingers": 5, "palm": 3}},
                                                       {"power_cut": {"off": 36000}}, {"hold": 60}])
    state, trace = tmp_path / "state", tmp_path / "motor.trace"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("JOURNAL_STREAM", None)
    proc = subprocess.Popen([sys.executable, "-m", "pi_agent", "run", "--simulate", str(path), "--speed", "60",
                             "--state-dir", str(state), "--motor-trace", str(trace)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = []
    with _guarded(proc):
        for line in proc.stderr:                 # the agent's own word that the power is off
            err.append(line)
            if "scenario: power cut for" in line:
                break
        proc.send_signal(signal.SIGTERM)
        out, rest = proc.communicate(timeout=60)
    err = "".join(err) + rest
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "The simulated day" in out and "2031-05-01: open" in out, out
    assert float(trace.read_text().splitlines()[-1].split()[1]) == 0
    assert run_cli("status", "--state-dir", str(state)).returncode == 0


def test_run_help_explains_every_word_the_line_can_say():
    """Each fixed phrase of the status line (positions, band words, faults, no value) is in `run --help`."""
    from pi_agent.cli.run import LINE_HELP
    from pi_agent.core.position import NO_READING, WORDS
    from sensors.channel import FAULT_TEXT
    help_text = " ".join(LINE_HELP.split())
    phrases = [*WORDS.values(), NO_READING, "in the band", "below the band", "over the maximum", "load --",
               "faults: none", "% of body weight", "fingers 30%", "--", "for 1:05", "today: open", "worn",
               "palm (in the splint)", "pad (heel of the hand)", "pad (fingers)"]
    missing = [p for p in phrases if p not in help_text]
    assert not missing, missing
    assert any(words in help_text for words in FAULT_TEXT.values())


@pytest.mark.parametrize("times, coarse", [([0.0, 0.05, 0.1, 0.15], False), ([0.0, 0.05, 150.0, 150.05], True),
                                           ([0.0], False)])
def test_a_sped_up_run_says_when_it_looked_too_seldom_for_exact_totals(times, coarse):
    """Pace: a gap of over 2 s of scenario between looks at the sensors earns a note naming
    the mean and worst gaps and the exact alternative (`pi-agent simulate`)."""
    from pathlib import Path
    from pi_agent.cli.run import Pace
    pace = Pace()
    for t in times:
        pace.step(t)
    assert pace.coarse() == coarse
    if coarse:
        note = pace.note(1440, Path("scenarios/demo-day.json"))
        assert "at worst 150 s apart" in note and "simulate scenarios/demo-day.json --report text" in note


STOP_STORM = r"""
import json, signal, sys, time, zoneinfo
from mock_hw import scenario_file
from pi_agent import config
from pi_agent.clock import ScaledClock
from pi_agent.simulated_run import SimulatedRun

cfg = config.defaults()
scen = scenario_file.parse({"start": "2026-05-01T09:00:00", "steps": [{"hold": 3600, "set": {"palm": 3, "wrist": 20}}]},
                           {n: s.kind for n, s in cfg.sensors.items()})
zone = zoneinfo.ZoneInfo("Europe/Berlin")
sim = SimulatedRun(cfg, scen, ScaledClock(scen.start_wall(zone.key), 1.0), zone=zone, bus_time=False, real_time=True)
stops = 0

def handler(signum, frame):
    global stops
    stops += 1
    sim.agent.stop()

signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 0.3, 0.00005)    # from 0.3 s on, a signal every 50 us
try:
    sim.run()
finally:
    signal.setitimer(signal.ITIMER_REAL, 0)
    sim.finish()
print(json.dumps({"stops": stops}))
"""


def test_a_storm_of_stop_signals_stops_the_loop_and_never_deadlocks(tmp_path):
    """Signals every 50 us, each calling Agent.stop() from its handler, even inside another
    handler's stop(): the real-time loop ends within seconds (a lock taken in stop() would
    let a nested handler wait on its own thread for ever, as SIGTERM once did)."""
    script = tmp_path / "storm.py"
    script.write_text(STOP_STORM)
    result = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1])["stops"] >= 1


def test_under_systemd_the_journal_gets_no_status_line_a_second(tmp_path):
    """Standard output connected to the journal (``$JOURNAL_STREAM`` names it) gets no
    status line a second, only the events: 86,400 lines a day would bury them and cost a
    Pi's journal and SD card. Redirected elsewhere, the same run shows its lines."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"start": "2026-05-01T09:00:00", "timezone": "UTC", "steps": [
        {"hold": 20, "set": {"wrist": 25, "fingers": 5, "palm": 3}}]}))
    outputs = {}
    for where in ("journal", "file"):
        out = tmp_path / f"{where}.txt"
        with open(out, "w") as f:
            st = os.fstat(f.fileno())
            journal = f"{st.st_dev}:{st.st_ino}" if where == "journal" else f"{st.st_dev}:{st.st_ino + 1}"
            env = dict(os.environ, PYTHONUNBUFFERED="1", JOURNAL_STREAM=journal)
            done = subprocess.run([sys.executable, "-m", "pi_agent", "run", "--simulate", str(path), "--speed", "20",
                                   "--state-dir", str(tmp_path / f"st-{where}")],
                                  cwd=ROOT, env=env, stdout=f, stderr=subprocess.PIPE, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs[where] = [line for line in out.read_text().splitlines() if line.startswith("2026-05-01 09:00:")]
    assert outputs["journal"] == []
    assert len(outputs["file"]) >= 2


def test_run_with_standard_output_closed_runs_to_the_end(tmp_path):
    """Started with standard output closed (`>&-`, Python's ``sys.stdout`` is None), `run
    --simulate` plays the scenario and exits 0, without a traceback."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"start": "2026-05-01T09:00:00", "timezone": "UTC", "steps": [
        {"hold": 10, "set": {"wrist": 25, "fingers": 5, "palm": 3}}]}))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("JOURNAL_STREAM", None)
    done = subprocess.run([sys.executable, "-m", "pi_agent", "run", "--simulate", str(path), "--speed", "20",
                           "--state-dir", str(tmp_path / "st")], cwd=ROOT, env=env, stderr=subprocess.PIPE,
                          text=True, timeout=120, preexec_fn=lambda: os.close(1))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "scenario finished" in done.stderr
