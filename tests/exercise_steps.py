"""Scenario steps of finger movements and exercise requests, and the check of a report
against the tests' own truth, for the exercise tests."""

from __future__ import annotations

import pytest

import truth


def flicker(depth, down, up, hold=0.0, rest=1.5, base=40.0):
    steps = [{"ramp": down, "to": {"fingers": base - depth}} if down else {"hold": 0, "set": {"fingers": base - depth}}]
    if hold:
        steps.append({"hold": hold})
    steps.append({"ramp": up, "to": {"fingers": base}} if up else {"hold": 0, "set": {"fingers": base}})
    return steps + [{"hold": rest}]


def movements(depth, times=2):
    out = []
    for _ in range(times):
        out += flicker(depth, 0.1, 0.1) + flicker(depth, 0.25, 0.25) + flicker(depth, 0, 0, hold=0.15) \
            + flicker(depth, 0.5, 0.5, hold=1.0) + flicker(depth, 1.5, 1.5)
    return out


def cmd(name, **args):
    return {"command": {"name": name, "args": args}}


def assert_as_truth(scen, report):
    """extension_reps exactly as the truth, exercise_s within 2 s per session, per day."""
    sessions, days = truth.exercise(scen)
    assert sessions, "the scenario has sessions"
    for day in set(days) | set(report["days"]):
        got = report["days"].get(day, {"extension_reps": 0, "exercise_s": 0.0})
        want = days.get(day, {"extension_reps": 0, "exercise_s": 0.0})
        assert got["extension_reps"] == want["extension_reps"], day
        assert got["exercise_s"] == pytest.approx(want["exercise_s"], abs=2.0 * len(sessions)), day
    return sessions
