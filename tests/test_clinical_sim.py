"""Clinical signals end to end, on the simulated hardware: spasms, skin pressure and
weight-shift repetitions through ``simulate`` against the independent truth (tests/truth.py),
the report's keys as the contract names them, and the vibration that answers a spasm on the
simulated motor's own trace, in real time and against the therapy limits.

The same signals straight on the core, scenario by scenario, are in test_clinical.py.
"""

from __future__ import annotations

import json

import pytest

from clinical_scenes import (NOISES, ON, SPASMS, WEIGHT_BEARING, assert_pressure_matches, assert_sessions_match,
                             assert_spasms_match, custom_config, episode, fast_spasm, scene)
from conftest import run_cli
from mock_hw import scenario_file as scenario_mod
from motor_recorder import motor_runs
from pi_agent.simulated_run import run_scenario
import truth


# -- end to end ---------------------------------------------------------------------------------------
def simulate(cfg, tmp_path, data, events, motor_trace=None):
    scen = scenario_mod.parse(data, {n: s.kind for n, s in cfg.sensors.items()})
    _, report = run_scenario(cfg, scen, state_dir=tmp_path, zone=scen.zone(), on_event=events.append,
                             motor_trace=motor_trace)
    return scen, report["days"]


def test_simulate_measures_spasms_and_skin_pressure_against_the_truth(cfg, tmp_path):
    """On the simulated hardware with noise: spasms (fast counted, slow not, one taken off)
    and pressure alerts match the truth in the report and the events."""
    steps = (SPASMS["fast spasms"] + SPASMS["slow curls"][1:] + SPASMS["taken off mid-spasm"][1:]
             + episode(10, 360, then=7, rest=30) + episode(10, 330, then=2))
    events = []
    scen, days = simulate(cfg, tmp_path, scene(steps, NOISES[0], seed=5), events)
    found = truth.spasms(scen)
    assert len(found) == 6
    assert_spasms_match(days, found, scen)
    assert_pressure_matches(days, truth.pressure(scen))
    assert len([e for e in events if e.type == "spasm"]) == 6
    assert len([e for e in events if e.type == "alert" and e.data["reason"] == "skin_pressure"]) == 1


def test_simulate_counts_repetitions_and_ignores_a_hovering_load(cfg, tmp_path):
    """On the simulated hardware with noise: a hovering load starts nothing, rocking is counted."""
    steps = (WEIGHT_BEARING["a load hovering just under start_n"] + WEIGHT_BEARING["rocking that leaves the band"]
             + WEIGHT_BEARING["shallow rocking under the band's edge"])
    events = []
    scen, days = simulate(cfg, tmp_path, scene(steps, NOISES[0], seed=3), events)
    sessions = truth.weight_bearing(scen)
    assert [s["reps"] for s in sessions] == [7, 1]
    assert_sessions_match(days, sessions)
    assert [e.data["reps"] for e in events if e.type == "wb_session"] == [7, 1]


def test_report_names_the_new_keys_as_the_contract_does(tmp_path):
    """`simulate --report json` has spasms, spasm_s, pressure_alerts, high_pressure_s and weight_bearing.reps."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps(scene([{"hold": 20, "set": ON}] + fast_spasm(60))))
    result = run_cli("simulate", str(path), "--report", "json")
    assert result.returncode == 0, result.stderr
    day = next(iter(json.loads(result.stdout)["days"].values()))
    assert day["spasms"] == 1 and day["spasm_s"] > 4
    assert day["pressure_alerts"] == 0 and day["high_pressure_s"] == 0
    assert day["weight_bearing"]["reps"] == 0


# -- vibration that answers a spasm, on the simulated motor's own trace -------------------------------
def test_spasm_vibration_starts_within_1_s_of_detection_in_real_time(cfg, tmp_path, ram_dir):
    """The real agent in real time (its motor thread, the rig's motor): each detected spasm is
    followed by the motor within 1 s of the detection, by the agent's clock on the motor's own
    trace (less any time the kernel kept the process from a CPU), for spasm.vibrate_s at the
    protocol's level."""
    from agentproc import traced_real_time_run
    cfg = custom_config(tmp_path, "[spasm]\nvibrate = true\nvibrate_s = 5\n")
    steps = ([{"hold": 8, "set": ON}] + fast_spasm(60, hold=2, back_s=0.5)[:-1] + [{"hold": 8}]
             + fast_spasm(55, rise_s=0.3, hold=1.5, back_s=0.5)[:-1] + [{"hold": 8}])
    scen = scenario_mod.parse(scene(steps, NOISES[0]), {n: s.kind for n, s in cfg.sensors.items()})
    trace = tmp_path / "motor.trace"
    events, origin, real, waits = traced_real_time_run(cfg, scen, ram_dir, trace)
    detected = [e.t - origin for e in events if e.type == "spasm_started"]
    runs = motor_runs(trace)
    assert len(detected) == 2 and len(runs) == 2, (detected, runs)
    for d, (on, off, level) in zip(detected, runs):
        waited = waits.between(d + origin + real, on + origin + real)
        assert 0 <= on - d <= 1.0 + waited, f"the motor {on - d:.3f} s after the detection ({waited:.3f} s waited)"
        ran = waits.between(on + origin + real, off + origin + real)
        # 5 s from when it was due: a late start (waited) shortens it, a late stop (ran) lengthens it.
        assert 5.0 - 0.25 - waited <= off - on <= 5.0 + 0.25 + ran, (off - on, waited, ran)
        assert level == pytest.approx(cfg.therapy.low_level, abs=0.01)
    assert [e.data["source"] for e in events if e.type == "vibration_started"] == ["spasm_response"] * 2


def test_spasm_vibration_never_goes_past_a_therapy_limit_on_the_motor(cfg, tmp_path):
    """Spasms every 20 s for ten minutes with a small dose allowed (1 min without a rest of 1 min,
    2 min a day): on the motor's own trace, the day's on-time stays within 2 min and no run of
    vibration without a full minute off lasts over a minute; the refused spasms are logged."""
    cfg = custom_config(tmp_path, "[spasm]\nvibrate = true\nvibrate_s = 30\n[therapy]\nmax_continuous_min = 1\n"
                                  "rest_min = 1\nmax_daily_min = 2\nprotocol_block_min = 1\n")
    steps = [{"hold": 10, "set": ON}] + (fast_spasm(60, hold=2, back_s=0.5)[:-1] + [{"hold": 17}]) * 30
    events = []
    scen, days = simulate(cfg, tmp_path, scene(steps, NOISES[0], seed=2), events, motor_trace=tmp_path / "motor")
    runs = motor_runs(tmp_path / "motor")
    assert len([e for e in events if e.type == "spasm_started"]) == 30
    on = sum(b - a for a, b, _ in runs)
    assert 110 <= on <= 120 + 1e-6, f"{on:.2f} s of vibration against a daily maximum of 120 s"
    stretch, last_off = 0.0, None
    for a, b, _ in runs:
        if last_off is not None and a - last_off >= 60 - 1e-6:
            stretch = 0.0                                   # a real rest
        stretch += b - a
        assert stretch <= 60 + 1e-6, f"{stretch:.2f} s of vibration without a rest of a minute"
        last_off = b
    refused = [e for e in events if e.type == "vibration_refused"]
    assert refused and all(e.data["source"] == "spasm_response" for e in refused)
    assert {"rest" in e.data["text"] for e in refused} == {True, False}, "refused for a rest, then for the day"
    assert next(iter(days.values()))["vibration_s"] == pytest.approx(on, abs=0.5)
