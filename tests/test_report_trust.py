"""What status and the report show of a store they cannot fully trust: a day's damaged values
are said (one line on standard error, the day marked), never shown as 0; and days dated
years ahead by a wall clock that jumped do not take over the report's default period."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3

import pytest

from conftest import run_cli
from pi_agent.core.days import Day, damaged_fields, report_day, unsound_values
from pi_agent.report import checked_day, latest_day
from pi_agent.store import FILENAME, Store

GOOD = Day(worn_s=7200.0, open_s=7199.96, goal_s=21600.0, spasms=2).to_json()
ABSENT = object()


def _with(key: str, value) -> dict:
    record = json.loads(json.dumps(GOOD))
    if value is ABSENT:
        del record[key]
    else:
        record[key] = value
    return record


@pytest.mark.parametrize("key, value, flagged", [
    ("worn_s", -5, {"worn_s"}), ("worn_s", 1e300, {"worn_s"}), ("worn_s", 200000, {"worn_s"}),
    ("worn_s", "abc", {"worn_s"}), ("worn_s", True, {"worn_s"}), ("worn_s", None, {"worn_s"}),
    ("worn_s", ABSENT, {"worn_s"}), ("open_s", ABSENT, {"open_s"}),
    ("spasms", -3, {"spasms"}), ("spasms", 1e30, {"spasms"}), ("spasms", 2.5, {"spasms"}),
    ("open_s", 50000, {"open_s", "worn_s"}),
    ("vibration_unconfirmed_s", 5000, {"vibration_s", "vibration_unconfirmed_s"}),   # a part of vibration_s, 0
    ("spasms", 3.0, set()), ("open_s", 7200.5, set()), ("worn_s", 7200.0, set()),
])
def test_the_values_a_reader_must_not_show_as_figures(key, value, flagged):
    """Damaged values, a count that is no whole number, a missing worn or open time, and an
    open time over the worn time are named for a reader; 3.0 spasms and rounding are not."""
    assert set(unsound_values(_with(key, value))) == flagged


def test_a_count_of_no_whole_number_counts_as_nothing_for_the_agent_too():
    """2.5 spasms is damaged (named, left at 0); 3.0 is the count 3, as an int."""
    assert damaged_fields(_with("spasms", 2.5)) == ["spasms is 2.5, not a whole number"]
    assert Day.from_json(_with("spasms", 2.5)).spasms == 0
    day = Day.from_json({"spasms": 3.0, "weight_bearing": {"reps": 2.0}})
    assert (day.spasms, day.weight_bearing.reps) == (3, 2) and type(day.spasms) is int


@pytest.mark.parametrize("record, blank, shown", [
    (_with("worn_s", -5), {"worn_s"}, {"open_s": 7199.96, "goal_pct": 33.3, "spasms": 2}),
    (_with("spasms", 2.5), {"spasms"}, {"worn_s": 7200.0, "open_s": 7199.96}),
    (_with("open_s", 50000), {"open_s", "worn_s", "goal_pct"}, {"spasms": 2}),
    (_with("worn_s", float("nan")), {"worn_s"}, {"open_s": 7199.96}),
])
def test_a_reader_shows_damaged_values_blank_and_the_rest_as_stored(record, blank, shown):
    day, why = checked_day(record)
    assert {k for k, v in day.items() if v is None} == blank and why
    assert all(day[k] == v for k, v in shown.items())
    assert not any("nan" in w for w in why)


def test_a_sound_day_reads_as_the_agent_reports_it():
    assert checked_day(GOOD) == (report_day(Day.from_json(GOOD)), ())


TODAY = dt.date(2026, 5, 10)


@pytest.mark.parametrize("recorded, latest_past, expected", [
    (None, None, TODAY),                                              # no record: today
    (("2026-04-01", "2026-05-04"), "2026-05-04", dt.date(2026, 5, 4)),  # all in the past
    (("2026-04-01", "2036-05-01"), "2026-05-04", dt.date(2026, 5, 4)),  # a day 10 years ahead left out
    (("2026-04-01", "2026-05-11"), "2026-05-11", dt.date(2026, 5, 11)),  # tomorrow (another zone) kept
    (("2030-01-01", "2030-01-05"), None, dt.date(2030, 1, 5)),        # all ahead: a simulated store
])
def test_the_default_period_ends_with_the_last_day_up_to_today(recorded, latest_past, expected):
    assert latest_day(recorded, TODAY, latest_past) == expected


def _store(path, day2: dict) -> None:
    store = Store(path)
    store.checkpoint({"2026-06-01": GOOD, "2026-06-02": GOOD})
    store.close()
    db = sqlite3.connect(path / FILENAME)
    db.execute("UPDATE days SET data = ? WHERE day = '2026-06-02'", (json.dumps(day2),))
    db.commit()
    db.close()


@pytest.mark.parametrize("key, value", [("worn_s", -5), ("worn_s", "abc"), ("worn_s", ABSENT), ("spasms", 2.5),
                                        ("open_s", 50000)])
def test_report_and_status_say_which_days_values_are_damaged(tmp_path, key, value):
    """Exit 0; one line on standard error naming the day and the value; the CSV's cell empty
    (not 0) with a `damaged` column; the JSON null with `damaged`; the HTML's day marked;
    status marks the day. The store is left as it was."""
    _store(tmp_path, _with(key, value))
    before = (tmp_path / FILENAME).read_bytes()
    args = ("--state-dir", str(tmp_path), "--from", "2026-06-01", "--to", "2026-06-02")
    out = {}
    for fmt in ("csv", "json", "html"):
        result = run_cli("report", *args, "--format", fmt)
        assert result.returncode == 0, result.stderr
        [line] = [x for x in result.stderr.splitlines() if " INFO " not in x]
        assert "2026-06-02" in line and key in line and "damaged" in line and "2026-06-01" not in line, line
        out[fmt] = result.stdout
    rows = {r["date"]: r for r in csv.DictReader(io.StringIO(out["csv"]))}
    assert rows["2026-06-02"][key] == "" and key in rows["2026-06-02"]["damaged"]
    assert rows["2026-06-01"]["damaged"] == "" and rows["2026-06-01"][key] != ""
    report = json.loads(out["json"])
    assert report["days"]["2026-06-02"][key] is None and list(report["damaged"]) == ["2026-06-02"]
    assert 'data-damaged="1" data-day="2026-06-02"' in out["html"] and "damaged in the store" in out["html"]
    status = run_cli("status", "--state-dir", str(tmp_path), "--date", "2026-06-02")
    assert status.returncode == 0 and "2026-06-02" in status.stderr and key in status.stderr, status.stderr
    assert "DAMAGED in the store" in status.stdout and key in status.stdout
    assert (tmp_path / FILENAME).read_bytes() == before


def test_a_sound_store_says_nothing(tmp_path):
    _store(tmp_path, GOOD)
    result = run_cli("report", "--state-dir", str(tmp_path), "--from", "2026-06-01", "--to", "2026-06-02",
                     "--format", "csv")
    assert result.returncode == 0 and [x for x in result.stderr.splitlines() if " INFO " not in x] == []
    assert "damaged" not in result.stdout.splitlines()[0]


JUMP = {"start": "2026-05-04T10:00:00", "timezone": "Europe/London", "seed": 1,
        "steps": [{"hold": 1200, "set": {"palm": 3.0, "wrist": 25, "fingers": 5}},
                  {"clock_step": 315360000}, {"hold": 300}, {"clock_step": -315360000}, {"hold": 600}]}


def test_a_day_dated_ten_years_ahead_does_not_take_over_the_default_period(tmp_path):
    """After a wall clock 10 years ahead for 5 minutes, the default report covers the real
    days and one line says which later day was left out and how to see it; --to shows it."""
    scenario = tmp_path / "jump.json"
    scenario.write_text(json.dumps(JUMP))
    state = str(tmp_path / "state")
    assert run_cli("simulate", str(scenario), "--state-dir", state).returncode == 0
    result = run_cli("report", "--state-dir", state, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["from"], report["to"]) == ("2026-04-07", "2026-05-04") and list(report["days"]) == ["2026-05-04"]
    assert report["left_out"] == ["2036-05-01"]
    [line] = [x for x in result.stderr.splitlines() if " INFO " not in x]
    assert "2036-05-01" in line and "--to 2036-05-01" in line, line
    asked = run_cli("report", "--state-dir", state, "--to", "2036-05-01", "--format", "json")
    assert asked.returncode == 0 and "2036-05-01" in json.loads(asked.stdout)["days"]
    assert [x for x in asked.stderr.splitlines() if " INFO " not in x] == []


def test_the_dashboards_default_period_leaves_a_day_dated_ahead_out_too():
    from pi_agent.dashboard.report import download

    class Known:
        def history(self, device):
            return days, None
    today = dt.date.today()
    real = [(today - dt.timedelta(days=i)).isoformat() for i in (3, 2)]
    days = {d: report_day(Day(worn_s=3600.0, open_s=1800.0)) for d in [*real, "9000-01-01"]}
    status, body, _, _ = download(Known(), {"device": ["dev1"], "format": ["json"]})
    report = json.loads(body)
    assert status == 200 and list(report["days"]) == real and report["left_out"] == ["9000-01-01"]


def test_status_opens_on_the_last_day_not_dated_in_the_future(tmp_path):
    """status with no --date, nothing stored today: the store's last day up to tomorrow, as
    the report's period ends (it opened on a day a clock that was ahead had dated 2036)."""
    import datetime as dt
    from conftest import run_cli
    from pi_agent.store import Store
    past = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    store = Store(tmp_path)
    store.checkpoint({past: GOOD, "2036-05-01": GOOD})
    store.close()
    result = run_cli("status", "--state-dir", str(tmp_path))
    assert result.returncode == 0 and result.stdout.startswith(f"OpenPalm status for {past} "), result.stdout
