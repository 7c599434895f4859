"""Exercise through the simulated splint, the agent's schedule and the store, with noise: the
rule against the tests' own truth, power cuts, the reward on the motor, the button, status."""

from __future__ import annotations

import pytest

from exercise_steps import assert_as_truth, cmd, movements
from motor_recorder import motor_rises
from pi_agent import config


# -- end to end: the simulated splint, the agent's schedule, the store, with noise -------------
def simulate(cfg, tmp_path, steps, start="2026-05-01T09:00:00", seed=5, trace=None):
    from mock_hw import scenario_file as scenario_mod
    from pi_agent.simulated_run import run_scenario
    data = {"start": start, "timezone": "Europe/Berlin", "seed": seed, "noise": {"deg": 0.7, "newton": 0.2},
            "steps": [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, *steps]}
    scen = scenario_mod.parse(data, {n: s.kind for n, s in cfg.sensors.items()})
    events = []
    _, report = run_scenario(cfg, scen, state_dir=tmp_path, zone=scen.zone(), on_event=events.append,
                             motor_trace=trace)
    return scen, report, events


def test_a_morning_of_exercise_matches_the_truth(cfg, tmp_path):
    """With 0.7 degrees of noise, through the simulated chips: flickers counted, twitches not, a
    slow full opening once, nothing outside the sessions, a session ending at its time limit;
    the report's extension_reps exactly the truth's and exercise_s within 2 s a session."""
    steps = [*movements(7, 1),                                   # before any session
             cmd("exercise_start"), {"hold": 2}, *movements(7), *movements(3),
             {"ramp": 15, "to": {"fingers": 0}}, {"hold": 3}, {"ramp": 15, "to": {"fingers": 40}}, {"hold": 2},
             cmd("exercise_stop"), *movements(7, 1),               # after the stop
             cmd("exercise_start", minutes=1), {"hold": 1}, *movements(7, 1), {"hold": 60}, *movements(7, 1)]
    scen, report, events = simulate(cfg, tmp_path, steps)
    sessions = assert_as_truth(scen, report)
    assert [len(reps) for _, _, reps in sessions] == [10 + 1, 5]
    ended = [e.data for e in events if e.type == "exercise_session"]
    assert [s["ended"] for s in ended] == ["stopped", "time_limit"]
    assert [s["repetitions"] for s in ended] == [11, 5]
    limit = next(e for e in events if e.type == "exercise_session" and e.data["ended"] == "time_limit")
    started = [e for e in events if e.type == "exercise_started"][1]
    assert limit.t == pytest.approx(started.t + 60, abs=0.02)


def test_a_power_cut_ends_the_session_and_keeps_its_count(cfg, tmp_path):
    """A power cut in a session: every repetition before it stays in the day, the session's
    time up to it too (within 2 s); the agent that starts again runs no session, counts
    nothing more, and reports the cut session as interrupted."""
    steps = [cmd("exercise_start", minutes=10), {"hold": 1}, *movements(7), {"hold": 0.5},
             {"power_cut": {"off": 20}}, {"hold": 5}, *movements(7, 1), {"hold": 5}]
    scen, report, events = simulate(cfg, tmp_path, steps)
    [(start, end, reps)] = assert_as_truth(scen, report)
    assert len(reps) == 10
    [s] = [e.data for e in events if e.type == "exercise_session"]
    assert s["ended"] == "interrupted" and s["repetitions"] == 10
    assert s["duration_s"] == pytest.approx(end - start, abs=2)


def test_a_reward_follows_each_repetition_within_50_ms_and_nothing_else_buzzes(cfg, tmp_path):
    """The motor's trace: a buzz starts within 50 ms of each counted reading, and every
    buzz is a repetition's reward or the session's start or end cue; twitches get none."""
    trace = tmp_path / "motor.trace"
    steps = [cmd("exercise_start", minutes=5), {"hold": 1}, *movements(3), *movements(7), *movements(3),
             cmd("exercise_stop"), {"hold": 1}]
    scen, report, events = simulate(cfg, tmp_path / "st", steps, trace=trace)
    assert_as_truth(scen, report)
    rises = motor_rises(trace)
    cues = [e for e in events if e.type == "haptic"]
    rewards = [e.t for e in cues if e.data["reason"] == "rep"]
    assert len(rewards) == report["days"]["2026-05-01"]["extension_reps"] == 10
    for t in rewards:
        assert any(-1e-4 <= r - t <= 0.05 for r in rises), f"no buzz within 50 ms of the repetition at {t:.3f}"
    for r in rises:
        [cue] = [e for e in cues if -1e-4 <= r - e.t <= 0.05]
        assert cue.data["reason"] in ("rep", "exercise_start", "exercise_end")
    assert len(rises) == len(rewards) + 2


def test_the_button_held_starts_and_stops_a_session_a_press_still_toggles_therapy(cfg, tmp_path, monkeypatch):
    """On gpiozero's mock pins: held (for HOLD_S, 2 s unless shortened here) the
    button starts a session and then stops it, its release no press; a short press starts
    the therapy."""
    import time

    from mock_hw import scenario_file as scenario_mod
    from pi_agent import button as button_mod
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun as Simulation
    assert button_mod.HOLD_S == 2.0
    monkeypatch.setattr(button_mod, "HOLD_S", 0.3)
    cfg = config.changed(cfg, therapy={"button_pin": 17})
    scen = scenario_mod.parse({"start": "2026-05-01T09:00:00", "steps": [
        {"hold": 600, "set": {"palm": 3, "wrist": 20, "fingers": 40}}]}, {n: s.kind for n, s in cfg.sensors.items()})
    events = []
    with Simulation(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path,
                    on_event=events.append) as sim:
        agent, pin = sim.agent, sim.rig.pins.pin(17)
        assert agent.button.hold_time == 0.3

        def hold():
            pin.drive_low()
            deadline = time.monotonic() + 30
            while agent.inbox.empty() and time.monotonic() < deadline:
                time.sleep(0.01)                   # gpiozero's hold thread reports in real time
            pin.drive_high()

        sim._run_until(5)
        hold()
        sim._run_until(10)
        assert agent.core.snapshot().exercise.source == "button" and agent.core.exercise.running
        assert not agent.player.therapy_running
        hold()
        sim._run_until(15)
        [s] = [e.data for e in events if e.type == "exercise_session"]
        assert s["ended"] == "button" and s["duration_s"] == pytest.approx(5, abs=0.1)
        assert not agent.player.therapy_running and agent.core.snapshot().exercise is None
        pin.drive_low()
        pin.drive_high()
        sim._run_until(20)
        assert agent.player.therapy_running and agent.core.snapshot().exercise is None
        sim.finish()


def test_the_fingers_are_read_fast_only_during_a_session(cfg, tmp_path):
    """In a session the fingers are read at exercise.rate_hz with exercise.data_rate, the
    wrist and palm still at their chip's rate; before and after, the fingers at 4 a second."""
    from mock_hw import scenario_file as scenario_mod
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun as Simulation
    scen = scenario_mod.parse({"start": "2026-05-01T09:00:00", "steps": [
        {"hold": 10, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, cmd("exercise_start", minutes=0.5),
        {"hold": 50}]}, {n: s.kind for n, s in cfg.sensors.items()})
    reads = []
    with Simulation(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path) as sim:
        sensors = sim.agent.sensors
        original = sensors.read_channel

        def read_channel(chip, index, data_rate=None, then=None):
            out = original(chip, index, data_rate, then)
            reads.append((out[0].channel, out[0].t, data_rate or sensors.by_chip[chip][index].data_rate))
            return out
        sensors.read_channel = read_channel
        sim.run()
        sim.finish()

    def rate(channel, a, b):
        return len([r for r in reads if r[0] == channel and a <= r[1] < b]) / (b - a)
    assert rate("fingers", 2, 10) == pytest.approx(4, abs=0.2)
    assert rate("fingers", 12, 38) == pytest.approx(cfg.exercise.rate_hz, rel=0.03)
    assert rate("wrist", 12, 38) == pytest.approx(4, abs=0.2) and rate("palm", 12, 38) == pytest.approx(4, abs=0.2)
    assert rate("fingers", 42, 60) == pytest.approx(4, abs=0.2)
    assert {r[2] for r in reads if r[0] == "fingers" and 12 <= r[1] < 38} == {cfg.exercise.data_rate}


def test_status_shows_todays_repetitions_and_exercise_minutes(tmp_path):
    """`pi-agent status`: today's extension repetitions against the goal, and the minutes."""
    import datetime as dt

    from conftest import CONFIG, run_cli
    from pi_agent.core.days import Day
    from pi_agent.store import Store
    store = Store(tmp_path)
    today = dt.date.today().isoformat()
    day = Day(goal_s=21600.0, extension_reps=42, exercise_s=750.0)
    store.checkpoint({today: day.to_json()})
    store.close()
    cfgfile = tmp_path / "agent.toml"
    cfgfile.write_text("[device]\ntimezone = 'UTC'\n[exercise]\ngoal_reps = 60\n")
    (tmp_path / "calibration.toml").write_text((CONFIG.parent / "calibration.toml").read_text())
    result = run_cli("status", "--config", str(cfgfile), "--state-dir", str(tmp_path), env={"TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    assert "exercise: 42 extension repetitions of 60 goal (70%), 12.5 min" in result.stdout

