"""Scenario files: docs/scenario-format.md's steps become the right physical timeline; mistakes are
reported one line each."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, run_cli
from mock_hw import scenario_file
from pi_agent.errors import ScenarioError

CHANNELS = {"wrist": "flex", "fingers": "flex", "palm": "force", "pad_palm": "force", "pad_fingers": "force"}


def test_timeline_follows_holds_ramps_and_sets():
    """hold/set jump at once, ramps are linear from where the channel is, faults pass time."""
    s = scenario_file.parse({"start": "2026-01-01T00:00:00", "steps": [
        {"hold": 10, "set": {"wrist": 20}},
        {"ramp": 10, "to": {"wrist": 40, "palm": 5}},
        {"clock_step": -3600},
        {"fault": {"kind": "stuck", "channel": "palm", "for": 5}},
        {"power_cut": {"off": 30}},
        {"command": {"name": "identify", "args": {}}},
        {"hold": 1, "set": {"wrist": -10}},
    ]}, CHANNELS)
    tl = s.timeline
    assert tl.value("wrist", 0) == 20 and tl.value("wrist", 9.99) == 20
    assert tl.value("wrist", 15) == pytest.approx(30) and tl.value("palm", 15) == pytest.approx(2.5)
    assert tl.value("wrist", 20) == 40 and tl.value("wrist", 55) == -10
    assert tl.value("fingers", 30) == 0, "channels start at 0"
    assert [(i.t, i.kind) for i in tl.instants] == [(20, "clock_step"), (25, "power_cut"), (55, "command")]
    assert tl.faults[0].start == 20 and tl.faults[0].end == 25
    assert tl.duration == 56


def test_set_holds_each_value_until_the_next_set():
    """A channel set by one hold keeps that value, unchanged, until a later step changes it."""
    s = scenario_file.parse({"start": "2026-01-01T00:00:00", "steps": [
        {"hold": 100, "set": {"palm": 0.0}}, {"hold": 100, "set": {"palm": 3.0}},
        {"hold": 50}, {"hold": 10, "set": {"palm": 1.0, "wrist": 5}}, {"ramp": 0, "to": {"palm": 2.0}},
        {"hold": 10}]}, CHANNELS)
    tl = s.timeline
    assert [tl.value("palm", t) for t in (0, 50, 99.999, 100, 150, 249.9, 250, 259.9, 260, 265)] == \
        [0, 0, 0, 3, 3, 3, 1, 1, 2, 2]
    assert tl.value("wrist", 249) == 0 and tl.value("wrist", 251) == 5


def test_shipped_examples_parse():
    """The example scenarios in scenarios/ follow the format."""
    for path in sorted((ROOT / "scenarios").glob("*.json")):
        scenario_file.load(path, CHANNELS)


@pytest.mark.parametrize("data, message", [
    ({"steps": []}, "start: missing"),
    ({"start": "2026-01-01T00:00:00+01:00", "steps": []}, "start: expected a local ISO 8601 time without offset"),
    ({"start": "2026-01-01T00:00:00", "steps": [{"hodl": 5}]}, "steps[0]: unknown step 'hodl' (did you mean 'hold'?)"),
    ({"start": "2026-01-01T00:00:00", "steps": [{"hold": 5, "set": {"wirst": 3}}]},
     "steps[0].set.wirst: unknown channel (did you mean 'wrist'?)"),
    ({"start": "2026-01-01T00:00:00", "steps": [{"hold": -5}]}, "steps[0].hold: expected seconds from 0 to 31622400 (a year), got -5"),
    ({"start": "2026-01-01T00:00:00", "steps": [{"fault": {"kind": "melted", "channel": "palm", "for": 1}}]},
     "steps[0].fault.kind: expected one of disconnected, stuck, i2c_error"),
    ({"start": "2026-01-01T00:00:00", "timezone": "Nowhere/City", "steps": []}, "timezone: expected an IANA time zone"),
    ({"name": "x" * 10_000_000, "start": "2026-01-01T00:00:00", "steps": []},
     "name: expected at most 300 characters, got 10000000"),
    ({"name": ["a", "list"], "start": "2026-01-01T00:00:00", "steps": []},
     "name: expected a short description (text), got list"),
    ({"start": "1980-06-01T09:00:00", "steps": [{"hold": 5}, {"clock_step": -315360000}, {"hold": 30}]},
     "steps[1]: the wall clock would leave the years 1971 to 9998 here (-3650 days from the start)"),
    ({"start": "8999-06-01T00:00:00", "steps": [{"hold": 1}, *[{"clock_step": 315360000}] * 101]},
     "steps[101]: the wall clock would leave the years 1971 to 9998 here"),
])
def test_bad_scenarios_are_refused_with_one_clear_line(data, message):
    """Each mistake in a scenario is named with its place in the file."""
    with pytest.raises(ScenarioError) as info:
        scenario_file.parse(data, CHANNELS, "s.json")
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("s.json: ") and message in info.value.problems[0]


def test_bad_scenario_on_the_command_line(tmp_path):
    """`pi-agent run --simulate` with a broken scenario: one line per problem, no traceback."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"start": "2026-01-01T00:00:00", "steps": [{"hold": "long"}]}))
    result = run_cli("run", "--simulate", str(path))
    assert result.returncode == 65
    assert result.stderr.strip().endswith("steps[0].hold: expected seconds from 0 to 31622400 (a year), got 'long'")
    assert "Traceback" not in result.stderr
    result = run_cli("run", "--simulate", str(tmp_path / "missing.json"))
    assert result.returncode == 65 and "scenario file not found" in result.stderr


@pytest.mark.parametrize("start, warned", [("2026-03-29T01:30:00", True), ("2026-03-29T02:30:00", False),
                                           ("2026-10-25T01:30:00", False)])
def test_a_start_in_the_spring_gap_is_said_with_the_time_it_becomes(caplog, start, warned):
    """01:30 on the London spring-forward day does not exist: a warning names 02:30 instead;
    ordinary and autumn (ambiguous, first occurrence) starts say nothing."""
    s = scenario_file.parse({"start": start, "timezone": "Europe/London", "steps": [{"hold": 1}]}, CHANNELS)
    with caplog.at_level("WARNING", logger="mock_hw.scenario"):
        s.start_wall()
    assert bool(caplog.records) == warned
    if warned:
        assert "does not exist in Europe/London" in caplog.text and "2026-03-29T02:30:00" in caplog.text


def test_a_scenario_that_gives_a_key_twice_is_refused(tmp_path):
    """Two "steps" (or any key twice in one object): one line, since which one counts is not
    clear (Python's JSON kept the last one silently)."""
    path = tmp_path / "twice.json"
    path.write_text('{"start": "2026-05-01T09:00:00", "steps": [{"hold": 1}], "steps": [{"hold": 2}]}')
    with pytest.raises(ScenarioError) as info:
        scenario_file.load(path, CHANNELS)
    assert info.value.problems == [f"{path}: the key 'steps' is given twice in one object (which one counts "
                                   "is not clear)"]


def test_a_system_clock_never_set_is_held_in_1971(monkeypatch):
    """A Pi without a real-time clock and no network time reads 1970: the agent's clock holds it
    at 1971-01-02 00:00 UTC, a day of 1971 in every zone (1970 is outside the years the store
    takes, and the agent damaged its own store with it); a set clock is untouched."""
    import datetime as dt
    import time
    import zoneinfo
    from pi_agent.clock import UNSET_WALL, SystemClock
    from pi_agent.core.days import FIRST_YEAR
    monkeypatch.setattr(time, "time", lambda: 12.5)
    assert SystemClock().wall() == UNSET_WALL
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):                   # UTC+14, UTC-12
        assert dt.datetime.fromtimestamp(UNSET_WALL, zoneinfo.ZoneInfo(zone)).year == FIRST_YEAR
    monkeypatch.setattr(time, "time", lambda: 1_777_629_600.25)
    assert SystemClock().wall() == 1_777_629_600.25
