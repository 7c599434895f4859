"""The scenarios and checks shared by the clinical tests (test_clinical.py on the core,
test_clinical_sim.py end to end): scenario steps of spasms, skin pressure and weight
bearing, the feeder that runs a scenario straight on the core, and the per-day comparison
of a report with the independent truth (tests/truth.py) within the contract's tolerances.
"""

from __future__ import annotations

import random

from conftest import CONFIG
from mock_hw import scenario_file as scenario_mod
from pi_agent import config
from pi_agent.core import Core
from pi_agent.core.days import report_day
from sensors.channel import Reading

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
