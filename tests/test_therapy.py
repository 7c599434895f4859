"""Vibration therapy end to end: scripted scenarios, the dose in the report and the
store, the button, reminders, and the motor off on every way out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import CONFIG, ROOT, run_cli
from mock_hw import scenario_file
from pi_agent import config
from pi_agent.clock import VirtualClock
from pi_agent.simulated_run import SimulatedRun, run_scenario
from pi_agent.store import Store


def cmd(name, **args):
    return {"command": {"name": name, "args": args}}


def run(cfg, tmp_path, steps, start="2026-05-01T09:00:00"):
    events = []
    data = {"start": start, "timezone": "Europe/Berlin", "steps": steps}
    scen = scenario_file.parse(data, {n: s.kind for n, s in cfg.sensors.items()})
    _, report = run_scenario(cfg, scen, state_dir=tmp_path, zone=scen.zone(), on_event=events.append)
    return report, events


def sessions(events):
    return [e.data for e in events if e.type == "vibration_session"]


def responses(events):
    return [e.data for e in events if e.type == "command"]


def test_session_ends_at_its_requested_duration(cfg, tmp_path):
    """A 5-minute session ends at 5 minutes (within 1 s); vibration_s in the report matches."""
    report, events = run(cfg, tmp_path, [{"hold": 10}, cmd("vibration_start", level="high", minutes=5),
                                         {"hold": 600}])
    [s] = sessions(events)
    ended = next(e for e in events if e.type == "vibration_session")
    assert s["reason"] == "completed" and s["level"] == "high"
    assert abs(ended.t - (10 + 300)) <= 1.0
    assert report["days"]["2026-05-01"]["vibration_s"] == pytest.approx(300, abs=1)
    haptic = [e.data for e in events if e.type == "haptic"]
    assert haptic[0]["reason"] == "vibration_therapy" and haptic[-1]["pattern"] == "stop"


def test_session_is_cut_at_the_continuous_maximum(cfg, tmp_path):
    """Asked for 45 minutes, therapy is cut to the 30-minute maximum (and says so), with no stop command."""
    report, events = run(cfg, tmp_path, [cmd("vibration_start", level="low", minutes=45), {"hold": 3600}])
    [response] = responses(events)
    assert response["status"] == "ok"
    started = next(e.data for e in events if e.type == "vibration_started")
    assert started["minutes"] == 30 and "continuous maximum" in started["notes"][0]
    [s] = sessions(events)
    assert s["reason"] == "continuous_limit"
    assert report["days"]["2026-05-01"]["vibration_s"] == pytest.approx(1800, abs=1)
    alerts = [e.data for e in events if e.type == "alert"]
    assert [a["reason"] for a in alerts] == ["vibration_cut", "continuous_limit"]
    assert all(a["text"].startswith("Vibration therapy") for a in alerts)


def test_stop_command_is_obeyed_mid_session(cfg, tmp_path):
    """vibration_stop after 2 minutes stops a 10-minute session at once."""
    report, events = run(cfg, tmp_path, [cmd("vibration_start", level="low", minutes=10), {"hold": 120},
                                         cmd("vibration_stop"), {"hold": 600}])
    [s] = sessions(events)
    assert s["reason"] == "stopped"
    assert report["days"]["2026-05-01"]["vibration_s"] == pytest.approx(120, abs=1)


def test_daily_maximum_refuses_further_therapy(cfg, tmp_path):
    """After 90 minutes in a day, more therapy is refused; the next day it is allowed again."""
    steps = []
    for _ in range(3):
        steps += [cmd("vibration_start", level="low", minutes=30), {"hold": 1800 + 610}]   # with its rest
    steps += [cmd("vibration_start", level="low", minutes=5), {"hold": 60}]
    report, events = run(cfg, tmp_path, steps, start="2026-05-01T12:00:00")
    r = responses(events)
    assert [x["status"] for x in r] == ["ok", "ok", "ok", "error"]
    assert "daily maximum of 90 minutes" in r[-1]["error"]
    assert report["days"]["2026-05-01"]["vibration_s"] == pytest.approx(5400, abs=2)


def test_daily_maximum_cuts_a_request_that_would_pass_it(cfg, tmp_path):
    """With 80 minutes used, a 30-minute request is cut to 10 and says so."""
    steps = [cmd("vibration_start", level="low", minutes=30), {"hold": 1800 + 610},
             cmd("vibration_start", level="low", minutes=30), {"hold": 1800 + 610},
             cmd("vibration_start", level="low", minutes=20), {"hold": 1200 + 610},
             cmd("vibration_start", level="high", minutes=30), {"hold": 1830}]
    report, events = run(cfg, tmp_path, steps)
    last = [e.data for e in events if e.type == "vibration_started"][-1]
    assert last["minutes"] == pytest.approx(10) and "daily maximum" in last["notes"][0]
    assert report["days"]["2026-05-01"]["vibration_s"] == pytest.approx(5400, abs=2)


@pytest.mark.parametrize("args, message", [
    ({"level": "medium", "minutes": 5}, "vibration_start.level: expected one of 'low', 'high', got 'medium'"),
    ({"level": "low", "minutes": -5}, "vibration_start.minutes: expected a number above 0"),
    ({"level": "low", "minutes": "ten"}, "vibration_start.minutes: expected a number"),
])
def test_invalid_requests_are_refused(args, message):
    """An unknown level or a negative duration is refused and nothing vibrates (a scenario
    with such a step is refused before it runs; over MQTT it is an error response)."""
    from pi_agent.core import orders
    from pi_agent.errors import ScenarioError
    from test_bad_input import WALL0, _core, _moves_or_stores
    core = _core()
    step = core.command("vibration_start", args, 1.0, WALL0 + 1.0)
    [r] = [o for o in step.orders if isinstance(o, orders.Response)]
    assert r.status == "error" and message in r.error
    assert _moves_or_stores(step) == []
    with pytest.raises(ScenarioError, match=message):
        scenario_file.parse({"start": "2026-05-01T09:00:00", "steps": [cmd("vibration_start", **args), {"hold": 60}]},
                            {"wrist": "flex"})


def test_protocol_three_blocks_and_the_dose_log(cfg, tmp_path):
    """Without minutes, the configured protocol runs (3 x 10 min, 1-min breaks); the dose log
    has its start, stop, level and reason; status shows the day's vibration."""
    report, events = run(cfg, tmp_path, [cmd("vibration_start", level="low"), {"hold": 2000}])
    assert report["days"]["2026-05-01"]["vibration_s"] == pytest.approx(1800, abs=2)
    [s] = sessions(events)
    assert s["reason"] == "completed"
    store = Store(tmp_path, readonly=True)
    [dose] = store.doses("2026-05-01")
    assert dose["level"] == "low" and dose["reason"] == "completed" and dose["source"] == "command"
    assert dose["stop"] - dose["start"] == pytest.approx(32 * 60, abs=2)
    assert dose["seconds"] == pytest.approx(1800, abs=2)


def test_button_starts_and_stops_the_protocol(cfg, tmp_path):
    """A press on the button starts the protocol; another press stops it."""
    cfg = config.changed(cfg, therapy={"button_pin": 17})
    scen = scenario_file.parse({"start": "2026-05-01T09:00:00", "steps": [{"hold": 600}]},
                              {n: s.kind for n, s in cfg.sensors.items()})
    events = []
    sim = SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path,
                        on_event=events.append)
    pin = sim.rig.pins.pin(17)
    sim._run_until(10)
    pin.drive_low()
    pin.drive_high()
    sim._run_until(130)
    assert sim.agent.player.therapy_running and sim.rig.motor.value == pytest.approx(0.5)
    pin.drive_low()
    pin.drive_high()
    sim._run_until(140)
    [s] = sessions(events)
    assert s["reason"] == "button" and s["source"] == "button"
    assert sim.rig.motor.value == 0
    sim.finish()


def test_reminder_when_worn_but_not_open(cfg, tmp_path):
    """With reminders on, a splint worn closed for 30 minutes gets one gentle cue, and not at night."""
    cfg = config.changed(cfg, reminders={"enabled": True})
    closed = {"palm": 3, "wrist": 0, "fingers": 60}
    _, events = run(cfg, tmp_path, [{"hold": 45 * 60, "set": closed}], start="2026-05-01T10:00:00")
    reminders = [e for e in events if e.type == "haptic" and e.data["reason"] == "reminder"]
    assert len(reminders) == 1 and 30 * 60 <= reminders[0].t <= 30 * 60 + 5
    _, events = run(cfg, tmp_path / "night", [{"hold": 45 * 60, "set": closed}], start="2026-05-01T23:00:00")
    assert not [e for e in events if e.type == "haptic" and e.data["reason"] == "reminder"]


def test_exception_in_the_sampling_loop_turns_the_motor_off(cfg, tmp_path):
    """An exception inside the loop during therapy: the motor is off afterwards."""
    scen = scenario_file.parse({"start": "2026-05-01T09:00:00", "steps": [{"hold": 600}]},
                              {n: s.kind for n, s in cfg.sensors.items()})
    sim = SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path)
    agent = sim.agent
    agent.command("vibration_start", {"level": "high", "minutes": 10})
    agent.run_until(5)
    assert sim.rig.motor.value > 0

    def broken(chip, index, *rest):
        agent.stop()
        raise RuntimeError("a bug in the sampling path")
    agent.sensors.read_channel = broken
    agent.run_forever()
    assert sim.rig.motor.value == 0
    assert not agent.player.therapy_running and agent.core.snapshot().therapy is None
    sim.close()


def _start_agent(tmp_path, scenario, trace):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("JOURNAL_STREAM", None)
    proc = subprocess.Popen([sys.executable, "-m", "pi_agent", "run", "--config", str(CONFIG),
                             "--simulate", str(scenario), "--speed", "10", "--state-dir", str(tmp_path / "st"),
                             "--motor-trace", str(trace)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = threading.Event()
    lines = []

    def watch():
        for line in proc.stderr:
            lines.append(line)
            if "command vibration_start: ok" in line:
                seen.set()
    threading.Thread(target=watch, daemon=True).start()
    return proc, seen, lines


def test_sigterm_during_therapy_leaves_the_motor_off(tmp_path):
    """SIGTERM to a real `pi-agent run --simulate` during therapy: exit 0, motor off."""
    scenario = tmp_path / "therapy.json"
    scenario.write_text(json.dumps({"start": "2026-05-01T09:00:00", "steps": [
        {"hold": 5}, cmd("vibration_start", level="high", minutes=20), {"hold": 3600}]}))
    trace = tmp_path / "motor.trace"
    proc, seen, lines = _start_agent(tmp_path, scenario, trace)
    assert seen.wait(30), "".join(lines)

    def levels():
        return [float(line.split()[1]) for line in trace.read_text().splitlines()] or [0.0]
    deadline = time.monotonic() + 30
    while not levels()[-1] > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert levels()[-1] > 0, "the motor runs before the signal"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert levels()[-1] == 0, "the motor is off after SIGTERM"
    db = Store(tmp_path / "st", readonly=True)
    [dose] = db.doses()
    assert dose["reason"] == "shutdown" and dose["seconds"] > 0
