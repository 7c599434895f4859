"""Clinical signals on the core against an independent truth (tests/truth.py): spasms, skin
pressure, weight-shift repetitions and the confirmed start of a weight-bearing session, the
state that says them, and the vibration that answers a spasm.

Each scenario runs straight on the core (``ScenarioFeeder``: the scenario's values, with
seeded Gaussian noise, read in the agent's order and at its rates), in well under a second
each. Tolerances are those of the contract: per day, spasm count exact, spasm seconds within
2 s per spasm, pressure alerts exact, high-pressure seconds within 10 s + 1 %, repetitions
exact, session count exact and session seconds within 2 s per session. The same signals end
to end, on the simulated hardware, are in test_clinical_sim.py.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest

from clinical_scenes import (NOISES, ON, PRESSURE, SPASMS, WEIGHT_BEARING, ScenarioFeeder, assert_pressure_matches,
                             assert_sessions_match, assert_spasms_match, custom_config, fast_spasm, pad, rocks, scene)
from mock_hw import scenario_file as scenario_mod
from pi_agent.core import Core, orders
from pi_agent.render import iso, state_payload
from sensors.channel import Reading
import truth


# -- spasms -------------------------------------------------------------------------------------
@pytest.mark.parametrize("noise", NOISES + [None], ids=["1deg", "0.7deg", "noiseless"])
@pytest.mark.parametrize("name", sorted(SPASMS))
def test_spasms_match_the_truth(cfg, name, noise):
    """Spasm count exact and spasm seconds within 2 s per spasm, per day, with and without noise."""
    for seed in range(3 if noise else 1):
        f = ScenarioFeeder(cfg, scene(SPASMS[name], noise, seed)).run()
        found = truth.spasms(f.scenario)
        assert_spasms_match(f.report(), found, f.scenario)
        assert len(f.of("spasm")) == len(found)


def test_spasms_and_skin_pressure_across_midnight_match_the_truth(cfg):
    """A spasm and a pressure episode that run past local midnight: the spasm counts on the day
    it began, its seconds and the high-pressure seconds on the day they passed, the alert on the
    day it was raised; all against the truth, with noise."""
    steps = ([{"hold": 20, "set": ON}, {"ramp": 5, "to": {"palm": 10}}, {"hold": 40},
              {"ramp": 0.5, "to": {"fingers": 60}}, {"hold": 30}, {"ramp": 1, "to": {"fingers": 5}}]
             + [{"hold": 400}, {"ramp": 5, "to": {"palm": 3}}, {"hold": 30}])
    for seed in range(3):
        f = ScenarioFeeder(cfg, scene(steps, NOISES[0], seed, start="2026-05-01T23:58:30")).run()
        found, want = truth.spasms(f.scenario), truth.pressure(f.scenario)
        [spasm] = found
        assert len(spasm["seconds_by_day"]) == 2 and set(want) == {"2026-05-01", "2026-05-02"}
        assert want["2026-05-02"]["pressure_alerts"] == 1
        report = f.report()
        assert_spasms_match(report, found, f.scenario)
        assert_pressure_matches(report, want)


def test_a_spasm_event_gives_start_duration_peak_and_lowest_wrist(cfg):
    """The spasm event: dated from the rise, its duration, peak flexion and lowest wrist extension."""
    steps = [{"hold": 20, "set": ON}, {"ramp": 0.5, "to": {"fingers": 60, "wrist": -5}}, {"hold": 4},
             {"ramp": 1, "to": {"fingers": 5, "wrist": 25}}, {"hold": 10}]
    f = ScenarioFeeder(cfg, scene(steps, NOISES[0])).run()
    [want] = truth.spasms(f.scenario)
    [event] = f.of("spasm")
    d = event.data
    assert d["start"] - f.scenario.start_wall() == pytest.approx(want["start"], abs=0.5)
    assert d["duration_s"] == pytest.approx(want["duration_s"], abs=1.0)
    assert d["peak_deg"] == pytest.approx(60, abs=2.5) and d["wrist_min_deg"] == pytest.approx(-5, abs=2.5)
    assert d["ended"] == "settled" and event.t > 20 + want["duration_s"]


def test_spasm_time_is_never_open_time(cfg):
    """A spasm with the hand in the open position before and after: the spasm's time is not open time."""
    steps = [{"hold": 60, "set": ON}, {"ramp": 0.5, "to": {"fingers": 60}}, {"hold": 30},
             {"ramp": 0.5, "to": {"fingers": 5}}, {"hold": 60}]
    day = next(iter(ScenarioFeeder(cfg, scene(steps)).run().report().values()))
    assert day["spasms"] == 1 and day["spasm_s"] == pytest.approx(30.5, abs=1)
    assert day["open_s"] <= day["worn_s"] - day["spasm_s"] + 1



# -- skin pressure ------------------------------------------------------------------------------
@pytest.mark.parametrize("noise", NOISES, ids=["0.5N", "0.2N"])
@pytest.mark.parametrize("name", sorted(PRESSURE))
def test_skin_pressure_matches_the_truth(cfg, name, noise):
    """Pressure alerts exact, high-pressure seconds within 10 s + 1 %, per day, with noise."""
    for seed in range(2):
        f = ScenarioFeeder(cfg, scene(PRESSURE[name], noise, seed)).run()
        want = truth.pressure(f.scenario)
        assert_pressure_matches(f.report(), want)
        assert len(f.of("alert")) == sum(d["pressure_alerts"] for d in want.values())


def test_a_pressure_alert_says_what_to_do_and_cues_only_when_asked(cfg, tmp_path):
    """The alert's words are the caregiver's; a haptic nudge only with pressure.cue = true."""
    steps = [{"hold": 10, "set": ON}, {"hold": 310, "set": {"palm": 10}}]
    quiet = ScenarioFeeder(cfg, scene(steps)).run()
    [alert] = quiet.of("alert")
    assert alert.data["reason"] == "skin_pressure"
    assert alert.data["text"] == ("High pressure under the palm for 5 minutes: check the skin and loosen the "
                                  "straps")
    assert alert.t == pytest.approx(310, abs=1.5)
    assert not [e for e in quiet.of("haptic") if e.data["reason"] == "skin_pressure"]
    cued = ScenarioFeeder(custom_config(tmp_path, "[pressure]\ncue = true\n"), scene(steps)).run()
    [cue] = [e for e in cued.of("haptic") if e.data["reason"] == "skin_pressure"]
    assert cue.t == cued.of("alert")[0].t and cue.data["pattern"] == "nudge"
    assert [o.reason for o in cued.orders if isinstance(o, orders.Cue)] == ["skin_pressure"]


# -- weight bearing -----------------------------------------------------------------------------
@pytest.mark.parametrize("noise", NOISES, ids=["0.5N", "0.2N"])
@pytest.mark.parametrize("name", sorted(WEIGHT_BEARING))
def test_sessions_and_repetitions_match_the_truth(cfg, name, noise):
    """Sessions exact, session seconds within 2 s each, repetitions exact, with noise."""
    for seed in range(3):
        f = ScenarioFeeder(cfg, scene(WEIGHT_BEARING[name], noise, seed)).run()
        sessions = truth.weight_bearing(f.scenario)
        assert_sessions_match(f.report(), sessions)
        assert [e.data["reps"] for e in f.of("wb_session")] == [s["reps"] for s in sessions]


def test_truth_counts_the_rocks(cfg):
    """The truth itself: six rocks out of the band and back, plus the first rise, are 7 repetitions;
    rocks that stay over 80 % of the band's bottom are none after the first."""
    kinds = {n: s.kind for n, s in cfg.sensors.items()}
    counts = [[s["reps"] for s in truth.weight_bearing(scenario_mod.parse(scene(WEIGHT_BEARING[name]), kinds))]
              for name in ("rocking that leaves the band", "shallow rocking under the band's edge")]
    assert counts == [[7], [1]]


def test_one_reading_over_start_n_starts_nothing(cfg):
    """A single reading at 30 N among empty ones: no session, no session event."""
    core = Core(cfg, zoneinfo.ZoneInfo("Europe/Amsterdam"), t=0.0)
    wall0 = 1_777_629_600.0
    events = []
    for k in range(200):
        t = k * 0.01
        load = 30.0 if k == 100 else 6.0
        events += core.feed([Reading("pad_palm", t, 0, load / 2), Reading("pad_fingers", t, 0, load / 2)],
                            wall0 + t).events
    assert not [e for e in events if e.type.startswith("wb_session")]
    assert core.days() == {} or all(d.weight_bearing.sessions == 0 for d in core.days().values())


def test_confirmation_dates_the_session_back_and_does_not_delay_the_cue(cfg):
    """A load put straight into the band: the target cue at the first reading, the session
    confirmed 0.3 s later and dated back to that reading, its seconds counted from there."""
    steps = [{"hold": 5}, {"hold": 10, "set": {"pad_palm": 40, "pad_fingers": 25}},
             {"hold": 10, "set": {"pad_palm": 0, "pad_fingers": 0}}]
    f = ScenarioFeeder(cfg, scene(steps)).run()
    [cue] = [e for e in f.of("haptic") if e.data["reason"] == "target_reached"]
    [started] = f.of("wb_session_started")
    first = cue.t
    assert 5.0 <= first <= 5.0 + f.pad_slow
    assert started.t == pytest.approx(first + 0.3, abs=0.015)
    assert started.data["start"] == pytest.approx(f.scenario.start_wall() + first, abs=0.015)
    [session] = f.of("wb_session")
    assert session.data["duration_s"] == pytest.approx(15.0 - first, abs=0.05)


def test_the_live_count_of_repetitions_is_in_the_snapshot(cfg, tmp_path):
    """During a session the snapshot carries its repetitions so far and the daily goal."""
    cfg = custom_config(tmp_path, "[weight_bearing]\ngoal_reps = 20\n")
    f = ScenarioFeeder(cfg, scene([{"hold": 5}, pad(45, 25, 2), {"hold": 2}] + rocks((20, 10), (45, 25), 2)))
    f.run()
    snap = f.core.snapshot()
    assert snap.session and snap.reps == 3 and snap.reps_goal == 20
    assert snap.today.weight_bearing.reps == 3
    state = state_payload(snap, f.scenario.zone(), snap.wall)
    assert state["weight_bearing"]["reps"] == 3 and state["weight_bearing"]["reps_goal"] == 20
    assert state["today"]["weight_bearing"]["reps"] == 3


def test_the_state_says_a_spasm_and_high_pressure_while_they_last(cfg):
    """MQTT's state: a spasm going on and since when (its start), the palm at or above alert_n and
    since when; both off again once over; no session, no session repetitions."""
    steps = [{"hold": 20, "set": ON}, {"ramp": 5, "to": {"palm": 10}}, {"hold": 30},
             {"ramp": 0.5, "to": {"fingers": 60}}, {"hold": 3}]
    f = ScenarioFeeder(cfg, scene(steps)).run()
    snap, zone, wall0 = f.core.snapshot(), f.scenario.zone(), f.scenario.start_wall()
    state = state_payload(snap, zone, snap.wall)
    [started] = f.of("spasm_started")
    assert state["spasm"] == {"active": True, "since": iso(started.data["start"], zone)}
    assert state["pressure"]["high"] is True
    since = dt.datetime.fromisoformat(state["pressure"]["since"]).timestamp() - wall0
    assert since == pytest.approx(20 + 5 * (8 - 3) / (10 - 3), abs=1.0)    # where the ramp crosses 8 N
    assert state["weight_bearing"]["reps"] is None
    over = ScenarioFeeder(cfg, scene(steps + [{"ramp": 0.5, "to": {"fingers": 5, "palm": 3}}, {"hold": 10}])).run()
    snap = over.core.snapshot()
    state = state_payload(snap, zone, snap.wall)
    assert state["spasm"] == {"active": False, "since": None} and state["pressure"] == {"high": False, "since": None}


# -- vibration that answers a spasm ---------------------------------------------------------------
SPASM_THEN_MORE = [{"hold": 20, "set": ON}] + fast_spasm(60) + [{"hold": 60}] + fast_spasm(60) + [{"hold": 60}]


def test_a_spasm_is_answered_with_vibration_only_when_asked(cfg, tmp_path):
    """spasm.vibrate: the therapy order comes with the spasm's detection (within 1 s), from
    source spasm_response, for spasm.vibrate_s, counted in the day; off by default."""
    assert not ScenarioFeeder(cfg, scene(SPASM_THEN_MORE)).run().of("vibration_started")
    f = ScenarioFeeder(custom_config(tmp_path, "[spasm]\nvibrate = true\nvibrate_s = 45\n"),
                       scene(SPASM_THEN_MORE)).run()
    detected = f.of("spasm_started")
    started = f.of("vibration_started")
    assert len(detected) == 2 and len(started) == 2
    for d, s in zip(detected, started):
        assert s.data["source"] == "spasm_response" and s.data["minutes"] == pytest.approx(0.75)
        assert 0 <= s.t - d.t <= 1.0
    therapy = [o for o in f.orders if isinstance(o, orders.Therapy)]
    assert [round(b - a, 6) for o in therapy for a, b in o.intervals] == [45.0, 45.0]
    assert next(iter(f.report().values()))["vibration_s"] == pytest.approx(90, abs=0.5)


def test_the_journal_says_each_spasm_and_the_vibration_that_answers_it(cfg, tmp_path):
    """Journal lines: each spasm with its duration, peak and lowest wrist; the vibration that
    answers it, as reason spasm_response, when it starts and when it ends."""
    import logging

    from pi_agent.render import journal_line
    f = ScenarioFeeder(custom_config(tmp_path, "[spasm]\nvibrate = true\n"), scene(SPASM_THEN_MORE[:6])).run()
    lines = [journal_line(e) for e in f.events]
    said = [text for level, text in filter(None, lines) if level == logging.INFO]
    [spasm] = [t for t in said if t.startswith("spasm: ")]
    assert re.fullmatch(r"spasm: 5\.\d s, fingers up to 60°, wrist down to 25° \(ended: settled\)", spasm), spasm
    assert "vibration therapy started in answer to a spasm: 1 min at low (reason: spasm_response)" in said
    assert "vibration therapy (spasm_response) ended (completed): 1.0 min delivered" in said


def test_a_spasm_does_not_vibrate_past_a_therapy_limit(cfg, tmp_path):
    """With the daily maximum reached, a spasm gets no vibration and no refusal cue; the
    refusal is an event for the log."""
    cfg = custom_config(tmp_path, "[spasm]\nvibrate = true\n[therapy]\nmax_daily_min = 1\n"
                                  "max_continuous_min = 1\nprotocol_block_min = 1\n")
    f = ScenarioFeeder(cfg, scene(SPASM_THEN_MORE)).run()
    assert len(f.of("vibration_started")) == 1
    [refused] = f.of("vibration_refused")
    assert refused.data["source"] == "spasm_response" and "daily maximum" in refused.data["text"]
    assert not [e for e in f.of("haptic") if e.data.get("reason") == "refused"]
    assert next(iter(f.report().values()))["vibration_s"] <= 60 + 1e-6
