"""All-day positioning against ground truth: worn and open seconds per local day."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, SCENARIOS, run_cli
from mock_hw import scenario_file
from pi_agent.simulated_run import run_scenario
from truth import assert_positioning_close, positioning

OPEN = {"palm": 3.0, "wrist": 25, "fingers": 5}
CLOSED = {"palm": 3.0, "wrist": 0, "fingers": 60}
OFF = {"palm": 0.0, "wrist": 0, "fingers": 35}
NOISE = {"deg": 1.0, "newton": 0.2}


def simulate(cfg, tmp_path, data):
    scen = scenario_file.parse(data, {n: s.kind for n, s in cfg.sensors.items()})
    _, report = run_scenario(cfg, scen, state_dir=tmp_path, zone=scen.zone())
    return scen, report


def scenario(start, steps, zone="Europe/London", noise=NOISE, seed=5):
    return {"start": start, "timezone": zone, "seed": seed, "noise": noise, "steps": steps}


@pytest.mark.parametrize("name", ["example-day", "demo-day"])
def test_realistic_days_match_ground_truth(cfg, shipped_day, name):
    """Realistic days with noise: worn and open seconds per day within max(60 s, 1 %)."""
    scen = scenario_file.load(SCENARIOS / f"{name}.json", {n: s.kind for n, s in cfg.sensors.items()})
    report, _ = shipped_day(name)
    truth = positioning(scen)
    assert truth, "the scenario has worn time"
    assert_positioning_close(report, truth)


def test_splint_lying_open_on_a_table_counts_nothing(cfg, tmp_path):
    """An open splint with nothing in it (palm at 0 N) is neither worn nor open."""
    _, report = simulate(cfg, tmp_path, scenario("2026-06-01T09:00:00", [
        {"hold": 3600, "set": {"palm": 0.0, "wrist": 25, "fingers": 5}},
        {"hold": 600, "set": {"palm": 0.5}}]))
    for day in report["days"].values():
        assert day["worn_s"] == 0 and day["open_s"] == 0


def test_curled_fingers_in_a_worn_splint_are_not_open(cfg, tmp_path):
    """Worn with curled fingers is worn but not open: the success temperature loggers miscount."""
    scen, report = simulate(cfg, tmp_path, scenario("2026-06-01T09:00:00", [
        {"hold": 3600, "set": CLOSED}, {"hold": 1800, "set": {"wrist": 25}}]))
    day = report["days"]["2026-06-01"]
    assert day["worn_s"] == pytest.approx(5400, abs=60) and day["open_s"] < 60
    assert_positioning_close(report, positioning(scen))


def test_midnight_crossing_splits_time_between_days(cfg, tmp_path):
    """An open night from 22:00 to 03:00 is 2 h on the first day and 3 h on the next."""
    scen, report = simulate(cfg, tmp_path, scenario("2026-06-01T22:00:00", [
        {"hold": 5 * 3600, "set": OPEN}, {"hold": 60, "set": OFF}]))
    assert report["days"]["2026-06-01"]["open_s"] == pytest.approx(7200, abs=60)
    assert report["days"]["2026-06-02"]["open_s"] == pytest.approx(3 * 3600, abs=60)
    assert report["days"]["2026-06-01"]["open_bouts"] == 1, "a bout belongs to the day it began"
    assert_positioning_close(report, positioning(scen))


@pytest.mark.parametrize("start, hours, open_hours", [
    ("2026-03-28T22:00:00", 6, {"2026-03-28": 2, "2026-03-29": 4}),   # spring forward: ends 05:00 local
    ("2026-10-24T22:00:00", 6, {"2026-10-24": 2, "2026-10-25": 4}),   # fall back: ends 03:00 local
])
def test_dst_changes(cfg, tmp_path, start, hours, open_hours):
    """Across a DST change each local day holds the real elapsed time, not the clock's."""
    scen, report = simulate(cfg, tmp_path, scenario(start, [{"hold": hours * 3600, "set": OPEN}]))
    for day, h in open_hours.items():
        assert report["days"][day]["open_s"] == pytest.approx(h * 3600, abs=60), day
    assert_positioning_close(report, positioning(scen))


@pytest.mark.parametrize("step", [3600, -3600])
def test_wall_clock_steps_neither_add_nor_remove_time(cfg, tmp_path, step):
    """A wall-clock jump of an hour while the hand is open changes no total."""
    scen, report = simulate(cfg, tmp_path, scenario("2026-06-01T10:00:00", [
        {"hold": 3600, "set": OPEN}, {"clock_step": step}, {"hold": 3600}, {"hold": 60, "set": OFF}]))
    day = report["days"]["2026-06-01"]
    assert day["open_s"] == pytest.approx(7200, abs=60)
    assert day["worn_s"] == pytest.approx(7200, abs=60)
    assert_positioning_close(report, positioning(scen))


def test_wall_clock_step_across_midnight_moves_no_time(cfg, tmp_path):
    """A step back over midnight books time by the clock, and the sum stays the real time."""
    scen, report = simulate(cfg, tmp_path, scenario("2026-06-01T23:30:00", [
        {"hold": 3600, "set": OPEN}, {"clock_step": -3600}, {"hold": 3600}]))
    total = sum(d["open_s"] for d in report["days"].values())
    assert total == pytest.approx(7200, abs=60)
    assert_positioning_close(report, positioning(scen))


def test_power_cuts_lose_at_most_one_checkpoint_interval_each(cfg, tmp_path):
    """Each power cut loses at most one checkpoint interval; off time is in no one's truth."""
    steps = [{"hold": 1800, "set": OPEN}]
    for _ in range(4):
        steps += [{"hold": 907}, {"power_cut": {"off": 300}}, {"hold": 600}]
    scen, report = simulate(cfg, tmp_path, scenario("2026-06-01T10:00:00", steps))
    truth = positioning(scen)
    lost = truth["2026-06-01"]["open_s"] - report["days"]["2026-06-01"]["open_s"]
    assert 0 <= lost <= 4 * cfg.store.checkpoint_s + 5
    assert_positioning_close(report, truth, extra_loss_s=4 * cfg.store.checkpoint_s)


@pytest.mark.parametrize("kind", ["disconnected", "stuck", "i2c_error"])
@pytest.mark.parametrize("channel", ["wrist", "fingers", "palm"])
def test_fault_time_is_never_counted_as_open(cfg, tmp_path, kind, channel):
    """Ten minutes of a fault on a splint channel during an open hour: none of it is open."""
    scen, report = simulate(cfg, tmp_path, scenario("2026-06-01T10:00:00", [
        {"hold": 1800, "set": OPEN}, {"fault": {"kind": kind, "channel": channel, "for": 600}},
        {"hold": 1800}]))
    day = report["days"]["2026-06-01"]
    assert day["open_s"] <= 3600 + 5, "at most the stuck detector's delay is open"
    assert day["unknown_s"] == pytest.approx(600, abs=5)
    assert_positioning_close(report, positioning(scen))


def test_report_follows_the_format(tmp_path):
    """`pi-agent simulate --report json` prints docs/scenario-format.md's object; --report text a table."""
    path = SCENARIOS / "example-weight-bearing.json"
    result = run_cli("simulate", str(path), "--report", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert list(report) == ["days"] and list(report["days"]) == ["2026-04-15"]
    for day, d in report["days"].items():
        assert len(day) == 10 and day[4] == "-"
        assert {"worn_s", "open_s", "weight_bearing", "vibration_s"} <= set(d)
        assert {"sessions", "total_s", "in_target_s", "mean_n", "peak_n"} <= set(d["weight_bearing"])
    text = run_cli("simulate", str(path), "--report", "text")
    assert text.returncode == 0 and "worn h" in text.stdout and "2026-04-15" in text.stdout


def test_goal_and_bouts(cfg, tmp_path):
    """Bouts: counted on their first day, the longest, and those of 20 minutes or more."""
    _, report = simulate(cfg, tmp_path, scenario("2026-06-01T10:00:00", [
        {"hold": 600, "set": OPEN}, {"hold": 300, "set": CLOSED}, {"hold": 1500, "set": OPEN},
        {"hold": 300, "set": OFF}, {"hold": 1260, "set": OPEN}, {"hold": 60, "set": OFF}]))
    day = report["days"]["2026-06-01"]
    assert day["open_bouts"] == 3 and day["long_bouts"] == 2
    assert day["longest_bout_s"] == pytest.approx(1500, abs=10)
    assert day["goal_s"] == cfg.positioning.goal_h * 3600
    assert day["goal_pct"] == pytest.approx(100 * day["open_s"] / day["goal_s"], abs=0.1)


@pytest.mark.parametrize("date, hours", [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-01", 24)])
def test_dst_days_have_23_or_25_hours(date, hours):
    """Booking 72 real hours from the local midnight before gives the DST day 23 or 25 hours."""
    import datetime as dt
    import zoneinfo
    from pi_agent.core.days import DayLedger
    zone = zoneinfo.ZoneInfo("Europe/London")
    ledger = DayLedger(zone, 6 * 3600)
    day = dt.date.fromisoformat(date)
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(), zone).timestamp()
    ledger.book("open_s", 72 * 3600, start + 72 * 3600)
    assert ledger.days[date].open_s == hours * 3600
    assert sum(d.open_s for d in ledger.days.values()) == 72 * 3600
