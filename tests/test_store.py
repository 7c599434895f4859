"""The durable store: real SQLite files, integrity at start, damaged files moved aside."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time

import pytest

from conftest import CONFIG, SCENARIOS, run_cli
from pi_agent.core.days import Day
from pi_agent.store import FILENAME, Store, integrity_problem


def test_checkpoint_round_trip(tmp_path):
    """Days and bouts written in a checkpoint are read back as written."""
    store = Store(tmp_path)
    day = Day(goal_s=21600.0).to_json()
    day["open_s"] = 1234.5
    store.checkpoint({"2026-06-01": day}, [{"day": "2026-06-01", "start_wall": 1.0e9, "duration_s": 99.0}],
                     {"live": {"position": "open"}})
    store.close()
    again = Store(tmp_path)
    assert again.load_day("2026-06-01")["open_s"] == 1234.5
    assert again.bouts("2026-06-01") == [{"start": 1.0e9, "duration_s": 99.0}]
    assert again.meta("live") == {"position": "open"}
    assert again.integrity_ok()


def test_damaged_store_is_moved_aside_never_silently_reset(tmp_path, caplog):
    """A damaged file is moved aside with a clear log line; a new store starts beside it."""
    path = tmp_path / FILENAME
    store = Store(tmp_path)
    day = Day(goal_s=21600.0).to_json()
    day["open_s"] = 500.0
    store.checkpoint({"2026-06-01": day})
    store.close()
    data = bytearray(path.read_bytes())
    data[100:4000] = b"\xde\xad\xbe\xef" * 975
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="pi_agent.store"):
        fresh = Store(tmp_path)
    aside = [p for p in tmp_path.iterdir() if p.name.startswith(FILENAME + ".damaged-")]
    assert aside, list(tmp_path.iterdir())
    assert any("is damaged" in r.getMessage() and "moved aside" in r.getMessage() for r in caplog.records)
    assert fresh.load_day("2026-06-01") is None and fresh.integrity_ok()
    assert min(aside).read_bytes() == bytes(data), "the damaged file is kept as it was"


def test_not_a_database_is_moved_aside(tmp_path):
    """A file that is not SQLite at all is kept aside, not deleted."""
    (tmp_path / FILENAME).write_text("hello, I am not a database")
    Store(tmp_path).close()
    aside = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert aside and aside[0].read_text() == "hello, I am not a database"


def test_a_damaged_stores_log_line_is_one_line_with_its_first_problem_and_how_many_more(tmp_path, caplog):
    """Three pages' headers broken: the log line names the first problem and counts the others,
    not SQLite's integrity_check output pasted over many lines."""
    store = Store(tmp_path)
    store.checkpoint({f"2026-06-{i:02d}": {"open_s": float(i), "note": "x" * 3000} for i in range(1, 20)})
    store.close()
    data = bytearray((tmp_path / FILENAME).read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for number in (2, 3, 4):
        data[(number - 1) * page + 5:(number - 1) * page + 7] = b"\xff\xf0"    # cell content past the page's end
    (tmp_path / FILENAME).write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="pi_agent.store"):
        Store(tmp_path).close()
    [line] = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert "\n" not in line and "***" not in line, line
    assert re.search(r"is damaged \(Page \d: free space corruption, and \d+ more problems\): moved aside", line), line


@pytest.mark.parametrize("rows, said", [
    ([("ok",)], None),
    ([("*** in database main ***\nPage 2: free space corruption",)], "Page 2: free space corruption"),
    ([("*** in database main ***\nPage 2: free space corruption\nPage 9 is never used",)],
     "Page 2: free space corruption, and 1 more problem"),
    ([("row 3 missing from index bouts_day",), ("row 4 missing from index bouts_day",),
      ("wrong # of entries in index bouts_day",)], "row 3 missing from index bouts_day, and 2 more problems"),
])
def test_integrity_problems_in_one_line(rows, said):
    """integrity_check's rows (one row of many lines, or many rows): the first problem and a count."""
    assert integrity_problem(rows) == said


def test_status_on_an_empty_file_says_what_the_agent_sees_a_store_with_no_day(tmp_path):
    """A 0-byte openpalm.db: status and report say in one line that the store is empty (no day
    yet), exit 69 as with no store, and leave the file as it was. The agent, which writes its
    tables at once, never leaves one: it moves it aside as damaged (a file system that lost a
    store's writes leaves it at 0 bytes, and a fresh store forgot the day's doses) and starts
    a new store."""
    (tmp_path / FILENAME).write_bytes(b"")
    for args in (("status",), ("report", "--format", "json")):
        result = run_cli(*args, "--state-dir", str(tmp_path))
        assert result.returncode == 69 and "Traceback" not in result.stderr, result.stderr
        [line] = [x for x in result.stderr.splitlines() if " INFO " not in x]
        assert "an empty store, no day recorded yet" in line and "no such table" not in line, line
    assert (tmp_path / FILENAME).read_bytes() == b""
    store = Store(tmp_path)
    assert store.days() == {} and store.moved_aside and list(tmp_path.glob("*.damaged-*"))
    store.close()


def test_steady_state_writes_at_most_once_a_minute(cfg, tmp_path):
    """In steady state the agent commits at most once per checkpoint interval (60 s)."""
    from mock_hw import scenario_file
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun
    scen = scenario_file.parse({"start": "2026-06-01T10:00:00", "steps": [
        {"hold": 3600, "set": {"palm": 3, "wrist": 25, "fingers": 5}}]},
        {n: s.kind for n, s in cfg.sensors.items()})
    with SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path) as sim:
        sim.run()
    assert 55 <= sim.agent.store.commits <= 61


def test_status_prints_today_and_last_seven_days(tmp_path):
    """`pi-agent status` reads the store: today's totals (spasms, alerts and reps too) and the last 7 days."""
    import datetime as dt
    store = Store(tmp_path)
    today = dt.datetime.now(dt.timezone.utc).date()          # the day in the zone `status` runs in (UTC)
    days = {}
    for i in range(0, 9):
        d = Day(goal_s=21600.0).to_json()
        d["open_s"] = 3600.0 * i
        d["worn_s"] = 3600.0 * (i + 1)
        d["spasms"], d["pressure_alerts"] = i + 2, i + 1
        d["weight_bearing"]["reps"] = 7 * (i + 1)
        days[(today - dt.timedelta(days=i)).isoformat()] = d
    store.checkpoint(days, meta={"live": {"position": "open", "worn": True, "since": None,
                                          "updated": time.time() - 30}})
    store.close()
    env = {"TZ": "UTC"}
    cfgfile = tmp_path / "agent.toml"
    cfgfile.write_text("[device]\ntimezone = 'UTC'\n")
    (tmp_path / "calibration.toml").write_text((CONFIG.parent / "calibration.toml").read_text())
    result = run_cli("status", "--config", str(cfgfile), "--state-dir", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert "today: open 0.0 h of 6.0 h goal" in result.stdout
    assert "now: hand open (as of " in result.stdout          # a reading of 30 s ago is "now"
    assert "spasms: 2 (0.0 min); skin-pressure alerts: 1 (high pressure 0.0 min); weight-shift reps: 7" in result.stdout
    for i in range(1, 8):
        assert (today - dt.timedelta(days=i)).isoformat() in result.stdout
    assert (today - dt.timedelta(days=8)).isoformat() not in result.stdout
    as_json = json.loads(run_cli("status", "--config", str(cfgfile), "--state-dir", str(tmp_path), "--json").stdout)
    assert as_json["days"][(today - dt.timedelta(days=3)).isoformat()]["open_s"] == 3 * 3600


def test_status_without_a_store_is_one_clear_line(tmp_path):
    """`pi-agent status` before the agent ever ran says so in one line."""
    result = run_cli("status", "--state-dir", str(tmp_path / "nothing"))
    assert result.returncode != 0 and "no store yet" in result.stderr and "Traceback" not in result.stderr
