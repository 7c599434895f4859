"""Weight bearing against ground truth, cue timing, tare, and the calibration wizard."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import CONFIG, SCENARIOS, run_cli
from mock_hw import scenario_file
from pi_agent import config
from pi_agent.simulated_run import run_scenario
from sensors.calibration import load_calibration
from truth import weight_bearing as wb_truth

NOISE = {"deg": 0.5, "newton": 0.2}


def simulate(cfg, tmp_path, data, events=None):
    scen = scenario_file.parse(data, {n: s.kind for n, s in cfg.sensors.items()})
    _, report = run_scenario(cfg, scen, state_dir=tmp_path, zone=scen.zone(),
                             on_event=events.append if events is not None else None)
    return scen, report


def pad(start, steps, seed=4):
    return {"start": start, "timezone": "Europe/Amsterdam", "seed": seed, "noise": NOISE, "steps": steps}


def ramp(s, palm, fingers):
    return {"ramp": s, "to": {"pad_palm": palm, "pad_fingers": fingers}}


SCENES = {
    "example": json.loads((SCENARIOS / "example-weight-bearing.json").read_text()),
    "never starts": pad("2026-05-01T10:00:00", [{"hold": 5}, ramp(2, 12, 6), {"hold": 60}, ramp(2, 0, 0),
                                                {"hold": 10}]),
    "straight to over max": pad("2026-05-01T10:00:00", [{"hold": 5}, ramp(1, 90, 40), {"hold": 30},
                                                        ramp(1, 0, 0), {"hold": 10}]),
    "slow ramps": pad("2026-05-01T10:00:00", [{"hold": 5}, ramp(60, 55, 35), {"hold": 60}, ramp(90, 0, 0),
                                              {"hold": 10}]),
    "short dip stays one session": pad("2026-05-01T10:00:00", [{"hold": 5}, ramp(2, 40, 30), {"hold": 30},
                                                               ramp(0.2, 3, 2), {"hold": 1.0}, ramp(0.2, 40, 30),
                                                               {"hold": 30}, ramp(2, 0, 0), {"hold": 10}]),
    "steps without ramps": pad("2026-05-01T10:00:00", [
        {"hold": 40, "set": {"pad_palm": 50, "pad_fingers": 20}}, {"hold": 20, "set": {"pad_palm": 0, "pad_fingers": 0}},
        {"hold": 40, "set": {"pad_palm": 30, "pad_fingers": 5}}, {"hold": 20, "set": {"pad_palm": 0, "pad_fingers": 0}}]),
}


@pytest.mark.parametrize("name", sorted(SCENES))
def test_sessions_match_ground_truth(cfg, tmp_path, name):
    """Session count exact; total and in-target seconds within 2 s per session (plus 1 %
    and 2 %); mean within 3 %; peak within 5 %."""
    scen, report = simulate(cfg, tmp_path, SCENES[name])
    truth = wb_truth(scen)
    days = report["days"]
    got = days[next(iter(days))]["weight_bearing"] if days else {"sessions": 0}
    assert got["sessions"] == len(truth), (got, truth)
    if not truth:
        return
    n = len(truth)
    total = sum(s["total_s"] for s in truth)
    in_target = sum(s["in_target_s"] for s in truth)
    mean = sum(s["load_ns"] for s in truth) / total
    peak = max(s["peak_n"] for s in truth)
    assert abs(got["total_s"] - total) <= 2 * n + 0.01 * total, (got["total_s"], total)
    assert abs(got["in_target_s"] - in_target) <= 2 * n + 0.02 * in_target, (got["in_target_s"], in_target)
    assert abs(got["mean_n"] - mean) <= 0.03 * mean, (got["mean_n"], mean)
    assert abs(got["peak_n"] - peak) <= 0.05 * peak, (got["peak_n"], peak)


def _moment(snap):
    return snap.t, snap.load_n, snap.session


def test_cues_follow_the_crossing_within_a_tenth_of_a_second(cfg, tmp_path):
    """target_reached and over_max follow the sample that crossed the threshold within 0.1 s."""
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun
    scen = scenario_file.parse(SCENES["example"], {n: s.kind for n, s in cfg.sensors.items()})
    events, samples = [], []
    sim = SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path,
                        on_event=events.append,
                        after_step=lambda agent: samples.append(_moment(agent.core.snapshot())))
    with sim:
        sim.run()
    haptic = [e for e in events if e.type == "haptic"]
    band = cfg.weight_bearing
    margin = max(1.0, 0.03 * band.target_low)       # the tracker's hysteresis for leaving a zone

    def into_band(a, b):
        """Into the band: up through its bottom, or down from over its top (past the margin)."""
        return (a < band.target_low <= b <= band.target_high) or (a > band.target_high - margin >= b >= band.target_low)

    def over(a, b):
        return a <= band.target_high < b

    for reason, crossed in (("target_reached", into_band), ("over_max", over)):
        cues = [e.t for e in haptic if e.data["reason"] == reason and e.t]
        # The samples that crossed the threshold, in a session.
        crossings = [t for (t0, a, _), (t, b, active) in zip(samples, samples[1:])
                     if active and a is not None and b is not None and crossed(a, b)]
        assert crossings and cues, reason
        first_cues = [c for c in cues if reason == "target_reached" or not [x for x in cues if 0 < c - x <= 1.5]]
        for cue in first_cues:                     # (a repeated alarm follows its own first one)
            before = [t for t in crossings if t <= cue]
            assert before and cue - before[-1] <= 0.1, (reason, cue, before[-1:])
    reasons = {e.data["reason"] for e in haptic}
    assert {"target_reached", "near_max", "over_max", "too_light"} <= reasons
    assert all(e.data["pattern"] for e in haptic)


def test_events_file_has_haptic_commands_and_sessions(tmp_path):
    """`simulate --events` writes every haptic command with pattern and reason, and each session."""
    out = tmp_path / "events.jsonl"
    result = run_cli("simulate", str(SCENARIOS / "example-weight-bearing.json"), "--events", str(out))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert all("t" in e and "type" in e for e in lines)
    assert [e["t"] for e in lines] == sorted(e["t"] for e in lines)
    haptic = [e for e in lines if e["type"] == "haptic"]
    assert haptic and all({"pattern", "reason"} <= set(e) for e in haptic)
    assert len([e for e in lines if e["type"] == "wb_session"]) == 3


def test_load_in_kg_and_percent_of_body_weight(cfg, tmp_path):
    """A target in % of body weight resolves to newtons; sessions report the % reached."""
    cfg = config.changed(cfg, weight_bearing={"body_weight_kg": 70.0, "target_unit": "percent_body_weight",
                                              "target_low": 5.0, "target_high": 15.0})   # 34 N to 103 N
    events = []
    simulate(cfg, tmp_path, pad("2026-05-01T10:00:00", [{"hold": 2}, ramp(2, 45, 25), {"hold": 20},
                                                        ramp(1, 0, 0), {"hold": 5}]), events)
    session = next(e for e in events if e.type == "wb_session")
    assert session.data["target_n"] == [pytest.approx(34.3, abs=0.1), pytest.approx(103.0, abs=0.1)]
    assert session.data["mean_pct_body_weight"] == pytest.approx(100 * 70 / (70 * 9.80665), rel=0.05)


TRUE_TARE = load_calibration(CONFIG.parent / "calibration.toml")["pad_palm"].tare   # the simulated empty pad


def _tare_run(cfg, tmp_path, steps):
    from pi_agent.agent import Agent, load_channels
    from pi_agent.clock import VirtualClock
    from mock_hw.rig import Rig
    scen = scenario_file.parse(pad("2026-05-01T10:00:00", steps), {n: s.kind for n, s in cfg.sensors.items()})
    clock = VirtualClock(scen.start_wall())
    channels = load_channels(cfg)
    with Rig(cfg, channels, clock, scen) as rig:
        # The agent believes a tare 20 counts under the truth: the empty pad reads 4.6 N.
        channels = load_channels(cfg)
        for ch in ("pad_palm", "pad_fingers"):
            channels[ch].calibration = channels[ch].calibration.with_tare(TRUE_TARE - 20, "")
        agent = Agent(cfg, clock, rig.bus, channels, zone=scen.zone(), calibration_path=cfg.calibration_path)
        responses = []
        agent.run_until(5.0)
        agent.command("tare", b'{"transaction": "tare-1"}', responses.append)
        agent.run_until(10.0)
    return agent, responses


def test_tare_on_a_steady_empty_pad_sets_and_saves_the_tare(tmp_path):
    """Tare averages the empty pad; the new tare is used at once and saved, dated."""
    cfg = _private_config(tmp_path)
    agent, responses = _tare_run(cfg, tmp_path, [{"hold": 30}])
    assert responses and responses[0]["status"] == "ok", responses
    assert responses[0]["transaction"] == "tare-1"
    # The true empty pad now reads 0 N within the tare's doubt (200 readings a zone); it read 4.6 N.
    assert abs(agent.channels["pad_palm"].calibration.to_physical(TRUE_TARE)) < 0.05
    saved = load_calibration(cfg.calibration_path)
    assert saved["pad_palm"].tare == agent.channels["pad_palm"].calibration.tare and saved["pad_palm"].date
    assert saved["wrist"].points == load_calibration(CONFIG.parent / "calibration.toml")["wrist"].points


def test_tare_refuses_an_unsteady_pad_and_changes_nothing(tmp_path):
    """A pad that is pressed during tare: refused with a clear message, nothing changed."""
    cfg = _private_config(tmp_path)
    before = cfg.calibration_path.read_text()
    agent, responses = _tare_run(cfg, tmp_path, [{"hold": 5}, ramp(1, 4, 2), ramp(1, 0, 0), ramp(1, 4, 2),
                                                 ramp(1, 0, 0), {"hold": 10}])
    assert responses and responses[0]["status"] == "error"
    assert "not steady" in responses[0]["error"] and "Nothing changed" in responses[0]["error"]
    assert agent.channels["pad_palm"].calibration.tare == TRUE_TARE - 20
    assert cfg.calibration_path.read_text() == before


def _private_config(tmp_path):
    shutil.copy(CONFIG, tmp_path / "agent.toml")
    shutil.copy(CONFIG.parent / "calibration.toml", tmp_path / "calibration.toml")
    return config.load(tmp_path / "agent.toml")


def test_calibrate_pad_wizard_on_simulated_hardware(tmp_path):
    """`pi-agent calibrate pad`, driven through its standard input on simulated hardware,
    produces a calibration that reads known simulated loads within 3 %."""
    cfg = _private_config(tmp_path)
    physics = load_calibration(cfg.calibration_path)
    weights = [1, 2, 5, 10]
    steps = [{"hold": 8}]
    for zone in ("pad_palm", "pad_fingers"):
        for kg in weights:
            steps += [{"ramp": 1, "to": {zone: kg * 9.80665}}, {"hold": 8}, {"ramp": 1, "to": {zone: 0}}, {"hold": 6}]
    steps += [{"ramp": 1, "to": {"pad_palm": 90, "pad_fingers": 50}}, {"hold": 6},
              {"ramp": 1, "to": {"pad_palm": 0, "pad_fingers": 0}}, {"hold": 5}]
    scenario = tmp_path / "calibration-session.json"
    scenario.write_text(json.dumps(pad("2026-05-01T10:00:00", steps)))
    answers = "\n" + ("\n".join(str(w) for w in weights) + "\n\n") * 2 + "\n"
    result = run_cli("calibrate", "pad", "--config", str(tmp_path / "agent.toml"), "--simulate", str(scenario),
                     input=answers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Step 1 of 3" in result.stdout and "Maximum push" in result.stdout
    new = load_calibration(cfg.calibration_path)
    for zone in ("pad_palm", "pad_fingers"):
        cal = new[zone]
        assert len(cal.points) == 1 + len(weights) and cal.date == "2026-05-01"
        for load in [kg * 9.80665 for kg in weights] + [40.0, 75.0]:
            read = cal.to_physical(physics[zone].to_counts(load))
            assert abs(read - load) <= 0.03 * load, (zone, load, read)
    assert new["weight_bearing"].max_push_n == pytest.approx(140, rel=0.05)


def test_calibrate_refuses_an_unsteady_empty_pad(tmp_path):
    """The wizard's tare refuses a pad that is not steady, three times, and saves nothing."""
    cfg = _private_config(tmp_path)
    before = cfg.calibration_path.read_text()
    wobble = []
    for _ in range(30):
        wobble += [{"ramp": 0.5, "to": {"pad_palm": 3}}, {"ramp": 0.5, "to": {"pad_palm": 0}}]
    scenario = tmp_path / "wobbly.json"
    scenario.write_text(json.dumps(pad("2026-05-01T10:00:00", wobble)))
    result = run_cli("calibrate", "pad", "--config", str(tmp_path / "agent.toml"), "--simulate", str(scenario),
                     input="\n\n\n")
    assert result.returncode == 1
    assert "not steady" in result.stdout and "Nothing was changed" in result.stderr
    assert cfg.calibration_path.read_text() == before
