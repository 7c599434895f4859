"""Clinical signals against an independent truth (tests/truth.py): spasms, skin pressure,
weight-shift repetitions and the confirmed start of a weight-bearing session.

Most scenarios run straight on the core (``ScenarioFeeder``: the scenario's values, with
seeded Gaussian noise, read in the agent's order and at its rates), in well under a
second each; a few run end to end through ``simulate`` on the simulated hardware.
Tolerances are those of the contract: per day, spasm count exact, spasm seconds within
2 s per spasm, pressure alerts exact, high-pressure seconds within 10 s + 1 %,
repetitions exact, session count exact and session seconds within 2 s per session.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import zoneinfo

import pytest

from conftest import CONFIG, run_cli
from mock_hw import scenario_file as scenario_mod
from pi_agent import config
from pi_agent.core import Core, orders
from pi_agent.core.days import report_day
from pi_agent.render import iso, state_payload
from pi_agent.simulated_run import run_scenario
from sensors.channel import Reading
import truth

SPLINT = ("wrist", "fingers", "palm")        # the order the agent reads the splint chip's inputs
PAD = ("pad_palm", "pad_fingers")
ON = {"palm": 3.0, "wrist": 25, "fingers": 5}
OFF = {"palm": 0.0, "wrist": 0, "fingers": 35}
NOISES = [{"deg": 1.0, "newton": 0.5}, {"deg": 0.7, "newton": 0.2}]


def scene(steps, noise=None, seed=0, start="2026-05-01T10:00:00"):
    return {"start": start, "timezone": "Europe/Amsterdam", "seed": seed, "noise": noise or {}, "steps": steps}


def custom_config(tmp_path, text):
    """The shipped configuration with a few keys changed, loaded like a user's file."""
    path = tmp_path / "agent.toml"
    path.write_text(f'[hardware]\ncalibration = "{CONFIG.parent / "calibration.toml"}"\n{text}')
    return config.load(path)


class ScenarioFeeder:
    """Runs a scenario straight on the core: the splint chip's three inputs one after the
    other at its rate, the pad's two zones together (fast while the core asks for it),
    each reading the scenario's value plus seeded Gaussian noise (the scenario's own)."""

    def __init__(self, cfg, data):
        kinds = {n: s.kind for n, s in cfg.sensors.items()}
        self.scenario = scenario_mod.parse(data, kinds)
        self.core = Core(cfg, self.scenario.zone(), t=0.0)
        self.splint_period = 1.0 / cfg.chips["splint"].rate_hz / len(SPLINT)
        self.pad_slow = 1.0 / cfg.chips["pad_palm"].rate_hz
        self.pad_fast = 1.0 / cfg.weight_bearing.active_rate_hz
        rng = random.Random(self.scenario.seed)
        sigma = {n: self.scenario.noise_deg if k == "flex" else self.scenario.noise_newton for n, k in kinds.items()}
        tl = self.scenario.timeline
        self.value = lambda ch, t: tl.value(ch, t) + (rng.gauss(0.0, sigma[ch]) if sigma[ch] else 0.0)
        self.events, self.orders = [], []

    def run(self):
        tl, wall0, core = self.scenario.timeline, self.scenario.start_wall(), self.core
        i, t_pad = 0, 0.0
        while True:
            t_splint = i * self.splint_period
            t = min(t_splint, t_pad)
            if t > tl.duration:
                break
            splint = t_splint <= t_pad
            if splint:
                ch = SPLINT[i % len(SPLINT)]
                readings = [Reading(ch, t, 0, self.value(ch, t))]
                i += 1
            else:
                readings = [Reading(ch, t, 0, max(0.0, self.value(ch, t))) for ch in PAD]
            step = core.feed(readings, wall0 + t)
            if not splint:
                t_pad = t + (self.pad_fast if core.pad_fast else self.pad_slow)
            self.events += step.events
            self.orders += step.orders
        return self

    def report(self):
        return {day: report_day(d) for day, d in self.core.days().items()}

    def of(self, kind):
        return [e for e in self.events if e.type == kind]


# -- spasms -------------------------------------------------------------------------------------
def fast_spasm(to, rise_s=0.5, hold=4.0, back_s=1.0, back_to=5):
    return [{"ramp": rise_s, "to": {"fingers": to}}, {"hold": hold}, {"ramp": back_s, "to": {"fingers": back_to}},
            {"hold": 20}]


SPASMS = {
    "fast spasms": [{"hold": 20, "set": ON}] + fast_spasm(50) + fast_spasm(70, rise_s=1, hold=10, back_s=3)
                   + fast_spasm(45, rise_s=0.3, hold=1, back_s=0.3) + fast_spasm(40, rise_s=2, hold=2, back_s=2),
    "slow curls": [{"hold": 20, "set": ON}, {"ramp": 20, "to": {"fingers": 45}}, {"hold": 30},
                   {"ramp": 20, "to": {"fingers": 5}}, {"ramp": 8, "to": {"fingers": 40}}, {"hold": 10},
                   {"ramp": 5, "to": {"fingers": 5}}, {"hold": 20}],
    "slow to settle, from a curled hand": [{"hold": 20, "set": ON}] + fast_spasm(55, hold=5, back_s=15)
                   + [{"ramp": 10, "to": {"fingers": 30, "wrist": 0}}, {"hold": 10}]
                   + fast_spasm(65, rise_s=0.8, hold=3, back_to=30),
    "taken off mid-spasm": [{"hold": 20, "set": ON}, {"ramp": 0.5, "to": {"fingers": 60}}, {"hold": 3},
                            {"hold": 30, "set": OFF}, {"hold": 20, "set": ON}, {"ramp": 0.5, "to": {"fingers": 60}},
                            {"hold": 3}, {"hold": 30, "set": {"palm": 0}}, {"hold": 20, "set": ON}, {"hold": 10}],
    "put on and off with a jump of the fingers": [{"hold": 20, "set": OFF}, {"hold": 20, "set": ON},
                                                  {"hold": 20, "set": OFF}, {"hold": 20, "set": {**ON, "fingers": 60}},
                                                  {"hold": 20, "set": OFF}],
}


def assert_spasms_match(report, found, scenario):
    """Per day: the count exact (a spasm counts on the day it began), the seconds (split at
    midnight) within 2 s per spasm that day."""
    for day in set(report) | {s["day"] for s in found}:
        want = [s for s in found if s["day"] == day]
        inside = [s for s in found if day in s["seconds_by_day"]]
        got = report.get(day, {"spasms": 0, "spasm_s": 0.0})
        assert got["spasms"] == len(want), (day, got["spasms"], want)
        want_s = sum(s["seconds_by_day"][day] for s in inside)
        assert abs(got["spasm_s"] - want_s) <= 2.0 * max(1, len(inside)), (day, got["spasm_s"], want_s)


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
def episode(newtons, seconds, then=3.0, rest=60):
    return [{"ramp": 5, "to": {"palm": newtons}}, {"hold": seconds}, {"ramp": 5, "to": {"palm": then}},
            {"hold": rest}]


PRESSURE = {
    "4 and 6 minutes": [{"hold": 60, "set": ON}] + episode(10, 240) + episode(10, 360),
    "a long one": [{"hold": 60, "set": ON}] + episode(12, 1200),
    "a dip that does not re-arm": [{"hold": 60, "set": ON}] + episode(9, 360, then=7, rest=30) + episode(9, 400),
    "a dip that re-arms": [{"hold": 60, "set": ON}] + episode(9, 360, then=4, rest=30) + episode(9, 400),
    "a dip before five minutes": [{"hold": 60, "set": ON}] + episode(10, 200, then=7, rest=20) + episode(10, 200),
    "close to the threshold": [{"hold": 60, "set": ON}] + episode(8.7, 420) + [{"hold": 10, "set": {"palm": 0}}],
}


def assert_pressure_matches(report, want):
    """Per day: alerts exact, high-pressure seconds within 10 s + 1 %."""
    for day in set(report) | set(want):
        got = report.get(day, {"pressure_alerts": 0, "high_pressure_s": 0.0})
        w = want.get(day, {"pressure_alerts": 0, "high_pressure_s": 0.0})
        assert got["pressure_alerts"] == w["pressure_alerts"], (day, got, w)
        assert abs(got["high_pressure_s"] - w["high_pressure_s"]) <= 10 + 0.01 * w["high_pressure_s"], (day, got, w)


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
def pad(palm, fingers, s):
    return {"ramp": s, "to": {"pad_palm": palm, "pad_fingers": fingers}}


def rocks(low, high, n):
    return [pad(*low, 1.5), {"hold": 0.5}, pad(*high, 1.5), {"hold": 1}] * n


WEIGHT_BEARING = {
    "rocking that leaves the band": [{"hold": 5}, pad(45, 25, 2), {"hold": 5}] + rocks((20, 10), (45, 25), 6)
                                    + [pad(0, 0, 1), {"hold": 10}],
    "shallow rocking under the band's edge": [{"hold": 5}, pad(45, 25, 2), {"hold": 5}] + rocks((28, 17), (45, 25), 6)
                                             + [pad(0, 0, 1), {"hold": 10}],
    "rocking inside the band": [{"hold": 5}, pad(45, 25, 2), {"hold": 5}] + rocks((35, 25), (55, 30), 6)
                               + [pad(0, 0, 1), {"hold": 10}],
    "two sessions of rocks": [{"hold": 5}, pad(45, 25, 2)] + rocks((15, 10), (45, 25), 3)
                             + [pad(0, 0, 1), {"hold": 10}, pad(50, 30, 1)] + rocks((20, 8), (60, 20), 4)
                             + [pad(0, 0, 1), {"hold": 10}],
    "a load hovering just under start_n": [{"hold": 5}, pad(12, 6, 2), {"hold": 120}, pad(0, 0, 2), {"hold": 10}],
    "hovering, then a session": [{"hold": 5}, pad(12.5, 6.5, 2), {"hold": 30}, pad(40, 30, 1), {"hold": 20},
                                 pad(12.5, 6.5, 1), {"hold": 30}, pad(0, 0, 2), {"hold": 10}],
    "a load just over start_n": [{"hold": 5}, pad(14, 8, 2), {"hold": 60}, pad(0, 0, 2), {"hold": 10}],
    "a spike shorter than the confirmation": [{"hold": 5}, {"hold": 0.2, "set": {"pad_palm": 60, "pad_fingers": 30}},
                                              {"hold": 10, "set": {"pad_palm": 0, "pad_fingers": 0}}],
}


def assert_sessions_match(report, sessions):
    """Session count exact, session seconds within 2 s per session, repetitions exact."""
    wb = next(iter(report.values()))["weight_bearing"] if report else {"sessions": 0, "total_s": 0.0, "reps": 0}
    assert wb["sessions"] == len(sessions), (wb, sessions)
    assert wb["reps"] == sum(s["reps"] for s in sessions), (wb, sessions)
    total = sum(s["total_s"] for s in sessions)
    assert abs(wb["total_s"] - total) <= 2.0 * max(1, len(sessions)), (wb["total_s"], total)


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
def motor_runs(trace_path):
    """(start, end, highest level) of each time the motor was on, in scenario time, from the
    rig's motor trace (one 'time level' line per change)."""
    runs, start, top = [], None, 0.0
    for line in trace_path.read_text().splitlines():
        t, level = (float(x) for x in line.split())
        if level > 0 and start is None:
            start, top = t, level
        elif level > 0:
            top = max(top, level)
        elif start is not None:
            runs.append((start, t, top))
            start = None
    assert start is None, "the motor is off at the end"
    return runs


def test_spasm_vibration_starts_within_1_s_of_detection_in_real_time(cfg, tmp_path):
    """The real agent in real time (its motor thread, the rig's motor): each detected spasm is
    followed by the motor within 1 s of the detection, by the agent's clock on the motor's own
    trace (less any time the kernel kept the process from a CPU), for spasm.vibrate_s at the
    protocol's level."""
    import os
    import time

    from agentproc import CpuWait
    from pi_agent.clock import ScaledClock
    from pi_agent.simulated_run import SimulatedRun
    cfg = custom_config(tmp_path, "[spasm]\nvibrate = true\nvibrate_s = 5\n")
    steps = ([{"hold": 8, "set": ON}] + fast_spasm(60, hold=2, back_s=0.5)[:-1] + [{"hold": 8}]
             + fast_spasm(55, rise_s=0.3, hold=1.5, back_s=0.5)[:-1] + [{"hold": 8}])
    scen = scenario_mod.parse(scene(steps, NOISES[0]), {n: s.kind for n, s in cfg.sensors.items()})
    trace, events = tmp_path / "motor.trace", []
    clock = ScaledClock(scen.start_wall(), 1.0)
    waits = CpuWait(os.getpid())
    try:
        with SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=tmp_path / "state", bus_time=False,
                          real_time=True, motor_trace=trace, on_event=events.append) as sim:
            real = time.monotonic() - clock.monotonic()          # the agent's clock runs at real speed
            sim.run()
            sim.finish()
            origin = sim.origin
    finally:
        waits.stop()
    detected = [e.t - origin for e in events if e.type == "spasm_started"]
    runs = motor_runs(trace)
    assert len(detected) == 2 and len(runs) == 2, (detected, runs)
    for d, (on, off, level) in zip(detected, runs):
        waited = waits.between(d + origin + real, on + origin + real)
        assert 0 <= on - d <= 1.0 + waited, f"the motor {on - d:.3f} s after the detection ({waited:.3f} s waited)"
        assert off - on == pytest.approx(5.0, abs=0.25) and level == pytest.approx(cfg.therapy.low_level, abs=0.01)
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
