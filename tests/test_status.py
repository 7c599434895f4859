"""`pi-agent status`: which day it shows, and a position that says how old it is."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import zoneinfo

import pytest

from conftest import CONFIG, run_cli
from pi_agent.core.days import Day, WeightBearingDay
from pi_agent.render import WEEK_HEAD, Goals, day_lines, report_table, week_row
from pi_agent.render import live_line
from pi_agent.store import Store

LONDON = zoneinfo.ZoneInfo("Europe/London")
UTC = zoneinfo.ZoneInfo("UTC")


def _wall(text: str, zone=LONDON) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


@pytest.fixture
def simulated_store(tmp_path):
    """A store as a simulated run leaves it: days in March 2026, the last reading the
    evening of the 29th, in London."""
    store = Store(tmp_path / "state")
    days = {}
    for n in range(20, 30):
        d = Day(goal_s=21600.0).to_json()
        d["open_s"] = 600.0 * n
        d["worn_s"] = 900.0 * n
        days[f"2026-03-{n:02d}"] = d
    store.checkpoint(days, meta={"live": {"position": "off", "state": "off", "worn": False,
                                          "since": _wall("2026-03-29T17:40:00"),
                                          "updated": _wall("2026-03-29T17:58:00"), "zone": "Europe/London"}})
    store.close()
    return tmp_path / "state"


def _status(state_dir, *more):
    return run_cli("status", "--config", str(CONFIG), "--state-dir", str(state_dir), *more)


def test_status_shows_the_stores_last_day_when_today_has_nothing(simulated_store):
    """With nothing stored for today, `status` shows the store's last day and the 7 before
    it, and dates the old reading instead of calling it "now"."""
    result = _status(simulated_store)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("OpenPalm status for 2026-03-29 (Europe/London)"), out
    assert "nothing is stored for today" in out and "the store's last day" in out
    assert "2026-03-29: open 4.8 h of 6.0 h goal (81%), worn 7.2 h" in out
    assert "last known: splint off (as of 2026-03-29 17:58)" in out
    assert not re.search(r"\bnow\b", out)
    for n in range(22, 29):
        assert f"2026-03-{n:02d}     {600 * n / 3600:.1f}" in out
    assert "2026-03-21" not in out


def test_status_shows_the_date_asked_for(simulated_store):
    """`status --date` shows that day (by its date, not as "today") and the 7 days before it."""
    result = _status(simulated_store, "--date", "2026-03-24")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OpenPalm status for 2026-03-24 (Europe/London)")
    assert "2026-03-24: open 4.0 h of 6.0 h goal" in result.stdout and "today:" not in result.stdout
    assert "2026-03-17       -" in result.stdout and "2026-03-23     3.8" in result.stdout
    assert "2026-03-25" not in result.stdout
    as_json = json.loads(_status(simulated_store, "--date", "2026-03-24", "--json").stdout)
    assert as_json["day"] == "2026-03-24" and set(as_json["days"]) == {f"2026-03-{n}" for n in range(20, 25)}


def test_status_refuses_a_date_it_cannot_read(simulated_store):
    """A --date that is not YYYY-MM-DD is one clear line and exit 2, no traceback."""
    result = _status(simulated_store, "--date", "29/03/2026")
    assert result.returncode == 2
    assert "expected a day as YYYY-MM-DD, got '29/03/2026'" in result.stderr and "Traceback" not in result.stderr


NOW = _wall("2026-06-10T15:00:00", UTC)


@pytest.mark.parametrize("live, expected", [
    ({"state": "open", "since": NOW - 4000, "updated": NOW - 40}, "  now: hand open (as of 14:59)"),
    ({"state": "open", "since": NOW - 9000, "updated": NOW - 3 * 3600}, "  last known: hand open (as of 12:00 today)"),
    ({"state": "closed", "since": 1.0, "updated": _wall("2026-06-09T23:30:00", UTC)},
     "  last known: hand closed (as of 2026-06-09 23:30)"),
    ({"state": "unknown", "since": None, "updated": NOW - 10}, "  now: no reading yet (as of 14:59)"),
    ({"state": "worn_unknown", "since": NOW - 60, "updated": NOW - 10},
     "  now: splint on, position unknown (sensor fault) (as of 14:59)"),
    ({"position": "off", "since": NOW - 60, "updated": None}, "  last known: splint off (when is not known)"),
    ({"state": "open", "since": NOW, "updated": NOW + 86400}, "  last known: hand open (as of 2026-06-11 15:00)"),
])
def test_the_position_is_now_only_while_fresh(live, expected):
    """The hand's position is "now" only within the freshness limit; older, it is dated,
    with the day when it is not today (a reading from the future is not "now" either)."""
    assert live_line(live, NOW, UTC, fresh_s=180.0) == expected


def test_a_days_lines_count_long_bouts_against_the_configured_length():
    """A day's lines name the configured long-bout length, not a fixed 20 minutes, and
    every total in a person's units."""
    day = Day(worn_s=10800.0, open_s=9000.0, goal_s=21600.0, open_bouts=3, long_bouts=2, longest_bout_s=2700.0,
              vibration_s=90.0, weight_bearing=WeightBearingDay(sessions=2, total_s=300.0, in_target_s=240.0))
    assert day_lines("today", day, 45) == [
        "  today: open 2.5 h of 6.0 h goal (42%), worn 3.0 h, 3 open bouts (2 of 45 min or more), longest 45 min",
        "    weight bearing: 2 sessions, 5.0 min, 4.0 min in the target band; vibration 1.5 min",
        "    spasms: 0 (0.0 min); skin-pressure alerts: 0 (high pressure 0.0 min); weight-shift reps: 0",
        "    exercise: 0 extension repetitions, 0.0 min"]
    assert day_lines("2026-03-01", None, 45) == ["  2026-03-01: nothing tracked"]
    assert day_lines("today", Day(extension_reps=42, exercise_s=750.0), 45, Goals(extension_reps=60))[-1] == \
        "    exercise: 42 extension repetitions of 60 goal (70%), 12.5 min"
    shifts = Day(weight_bearing=WeightBearingDay(sessions=1, reps=15))
    assert day_lines("today", shifts, 45, Goals(weight_shifts=20))[2].endswith("weight-shift reps: 15 of 20 goal (75%)")


def test_status_and_the_simulate_table_show_the_same_day_the_same_way():
    """The status table's row and the simulate report's row of one day agree on its hours,
    goal %, sessions and vibration."""
    day = Day(worn_s=7200.0, open_s=5400.0, goal_s=21600.0, vibration_s=600.0, spasms=2, pressure_alerts=1,
              weight_bearing=WeightBearingDay(sessions=4, reps=9), extension_reps=37, exercise_s=450.0)
    assert week_row("2026-03-02", day).split() == ["2026-03-02", "1.5", "2.0", "25", "4", "9", "10.0", "2", "1", "37"]
    assert len(week_row("2026-03-03", None)) <= len(WEEK_HEAD), "an empty day's dashes stay under the headings"
    assert len(week_row("2026-03-02", day)) == len(WEEK_HEAD), "the last figure ends under its heading"
    table = report_table({"2026-03-02": day}).splitlines()
    assert table[0].split()[:4] == ["day", "worn", "h", "open"]
    assert table[0].split()[-4:] == ["ext", "reps", "exercise", "min"]
    cells = table[1].split()
    assert cells[:4] == ["2026-03-02", "2.00", "1.50", "25"] and cells[6] == "4" and cells[-3] == "10.0"
    assert cells[-2:] == ["37", "7.5"], "the day's extension repetitions and exercise minutes"


def test_the_simulate_table_shows_the_clinical_signals():
    """`simulate --report text`: the day's weight-shift repetitions, spasms and their seconds,
    skin-pressure alerts and high-pressure seconds, each under its own heading."""
    day = Day(spasms=3, spasm_s=41.6, pressure_alerts=1, high_pressure_s=372.2,
              weight_bearing=WeightBearingDay(sessions=2, reps=17))
    head, row, legend = report_table({"2026-03-02": day}).splitlines()
    assert legend.startswith("WB: weight bearing"), "the abbreviation is said"
    columns = [name for name in re.split(r"\s{2,}", head.strip())]
    cells = dict(zip(columns, row.split()))
    assert (cells["WB reps"], cells["spasms"], cells["spasm s"], cells["pressure alerts"],
            cells["high pressure s"]) == ("17", "3", "42", "1", "372")


def test_status_says_the_configured_long_bout_length(simulated_store, tmp_path):
    """`pi-agent status` counts long bouts against positioning.long_bout_min, as configured."""
    agent_toml = tmp_path / "agent.toml"
    text = CONFIG.read_text(encoding="utf-8")
    assert "long_bout_min = 20\n" in text
    agent_toml.write_text(text.replace("long_bout_min = 20\n", "long_bout_min = 35\n"), encoding="utf-8")
    shutil.copy(CONFIG.parent / "calibration.toml", tmp_path / "calibration.toml")
    result = run_cli("status", "--config", str(agent_toml), "--state-dir", str(simulated_store))
    assert result.returncode == 0, result.stderr
    assert "(0 of 35 min or more)" in result.stdout and "20 min" not in result.stdout


@pytest.mark.parametrize("n, word", [(0, "s"), (1, ""), (2, "s")])
def test_every_count_a_person_reads_is_singular_for_one(n, word):
    """Sessions, open bouts, repetitions and weight shifts in the day's lines and the journal
    read '1 session', never '1 sessions' (and '0 sessions', '2 sessions')."""
    from pi_agent.core.events import Event
    from pi_agent.render import journal_line
    day = Day(open_bouts=n, extension_reps=n, weight_bearing=WeightBearingDay(sessions=n, reps=n))
    lines = "\n".join(day_lines("today", day, 45))
    assert f" {n} open bout{word} (" in lines and f" {n} extension repetition{word}," in lines, lines
    assert f"weight bearing: {n} session{word}," in lines
    session = Event("wb_session", 0.0, 0.0, {"duration_s": 60.0, "mean_n": 50.0, "peak_n": 70.0, "in_target_s": 40.0,
                                              "reps": n})
    assert journal_line(session)[1].endswith(f"in the target band, {n} weight shift{word}")
