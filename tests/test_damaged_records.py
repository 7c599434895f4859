"""A store damaged in its values (not in its file): a day's totals that are no totals, settings
that no command would set, a schema of a newer OpenPalm. Never a crash, never NaN shown or
published, never a limit computed from one."""

from __future__ import annotations

import json
import math
import re
import sqlite3

import pytest

from conftest import run_cli
from pi_agent.core.commands import stored_settings
from pi_agent.core.days import Day, damaged_fields, report_day
from pi_agent.errors import StoreAccessError
from pi_agent.store import FILENAME, Store


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, -1e308, 1e308, "90", None, True, [1]])
def test_a_damaged_days_value_counts_as_nothing_and_is_named(value):
    """Each damaged value is named by damaged_fields and left at its default by from_json;
    the day's good values are kept."""
    record = {"worn_s": 3600.0, "vibration_s": value, "weight_bearing": {"sessions": 2, "peak_n": value}}
    assert any(why.startswith("vibration_s") for why in damaged_fields(record))
    assert any(why.startswith("weight_bearing.peak_n") for why in damaged_fields(record))
    day = Day.from_json(record)
    assert day.vibration_s == 0.0 and day.weight_bearing.peak_n == 0.0
    assert day.worn_s == 3600.0 and day.weight_bearing.sessions == 2


def test_a_stored_day_with_a_goal_of_next_to_nothing_gets_no_share_of_it():
    """An older store's day with a goal of 1e-300 s or 1 s: named as damaged, the goal in
    force holds, and no percentage of the tiny goal is reported (it was a 300-digit one);
    a goal of 0 is none, and gets no percentage either."""
    assert damaged_fields(Day(goal_s=0.0).to_json()) == [] and "goal_pct" not in report_day(Day(open_s=1.0))
    for goal_s in (1e-300, 1.0):
        record = Day(open_s=3600.0, goal_s=goal_s).to_json()
        assert damaged_fields(record) == [f"goal_s is {goal_s:g}, outside the goal's 0.5 to 24 hours"]
        day = Day.from_json(record, goal_s=6 * 3600.0)
        assert day.goal_s == 6 * 3600.0 and report_day(day)["goal_pct"] == 16.7
        assert "goal_pct" not in report_day(Day.from_json(record))
        assert "goal_pct" not in report_day(Day(open_s=3600.0, goal_s=goal_s))


def test_good_days_have_no_damage():
    """A real day's record, as the agent writes it, has nothing damaged."""
    assert damaged_fields(Day(worn_s=86400.0, open_s=3600.0, spasms=3, vibration_s=5400.0).to_json()) == []
    assert damaged_fields([1, 2]) == ["the record is list, not an object"]


@pytest.mark.parametrize("raw, kept, damaged", [
    ({"goal_s": 21600.0, "targets": {"low": 50.0, "high": 100.0, "unit": "N"}}, {"goal_s", "targets"}, 0),
    ({"goal_s": "x", "targets": {"low": 50.0, "high": 100.0, "unit": "N"}}, {"targets"}, 1),
    ({"goal_s": math.nan}, set(), 1),
    ({"goal_s": 10 ** 400}, set(), 1),
    ({"goal_s": 1e-300}, set(), 1),          # an older agent let set_goal store a goal of next to nothing
    ({"goal_s": 0.0}, set(), 1),
    ({"targets": {"low": 100.0, "high": 50.0, "unit": "N"}}, set(), 1),
    ({"targets": {"low": 50.0, "high": math.inf, "unit": "N"}}, set(), 1),
    ({"targets": {"low": 50.0, "high": 100.0, "unit": "stone"}}, set(), 1),
    ({"targets": "50-100"}, set(), 1),
    (None, set(), 0),
])
def test_stored_settings_are_checked_as_their_commands_check_them(raw, kept, damaged):
    """Only what set_goal / set_targets would accept is kept; each damaged one is one phrase."""
    good, bad = stored_settings(raw)
    assert set(good) == kept and len(bad) == damaged


# scenarios/example-day.json's evening and night, shortened (its holds cut, the same moves in
# the same order: splint off, a weight-bearing session, worn open, curled, open, a wall-clock
# step, off) and moved to 23:00 so that it still crosses midnight: the day the agent writes
# last, and then goes on adding to, is the second. A simulated hour and a half instead of
# nine: the agent reads a damaged day the same way at the start of either.
NIGHT = {"start": "2026-04-14T23:00:00", "timezone": "Europe/Amsterdam", "seed": 1,
         "noise": {"deg": 1.0, "newton": 0.2},
         "steps": [{"hold": 600, "set": {"palm": 0.0, "wrist": 0, "fingers": 35}},
                   {"ramp": 3, "to": {"pad_palm": 35, "pad_fingers": 25}}, {"hold": 180},
                   {"ramp": 2, "to": {"pad_palm": 0, "pad_fingers": 0}}, {"hold": 600},
                   {"hold": 1800, "set": {"palm": 3.0, "wrist": 25, "fingers": 5}},
                   {"ramp": 15, "to": {"palm": 3.5, "wrist": 0, "fingers": 60}}, {"hold": 300},
                   {"ramp": 20, "to": {"palm": 3.0, "wrist": 25, "fingers": 5}}, {"hold": 1200},
                   {"clock_step": 45}, {"hold": 600},
                   {"hold": 300, "set": {"palm": 0.0, "wrist": 0, "fingers": 35}}]}


def _night(tmp_path) -> str:
    path = tmp_path / "night.json"
    path.write_text(json.dumps(NIGHT))
    return str(path)


def _store_with(tmp_path, day_data: dict, settings: dict | None = None):
    result = run_cli("simulate", _night(tmp_path), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(tmp_path / "state" / FILENAME)
    day = db.execute("SELECT day, data FROM days ORDER BY day DESC LIMIT 1").fetchone()
    data = json.loads(day[1])
    data.update(day_data)
    db.execute("UPDATE days SET data = ? WHERE day = ?", (json.dumps(data), day[0]))   # NaN written as NaN
    if settings is not None:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('settings', ?)", (json.dumps(settings),))
    db.commit()
    db.close()
    return day[0]


def test_status_and_report_on_damaged_values_show_no_nan_and_do_not_crash(tmp_path):
    """A day with vibration_s NaN and a goal of text: status and every report format exit 0,
    say nothing of 'nan', and the report's JSON is valid JSON; a simulation on that store
    names the damage and carries on."""
    day = _store_with(tmp_path, {"vibration_s": math.nan, "open_s": -1e308}, {"goal_s": "x"})
    status = run_cli("status", "--state-dir", str(tmp_path / "state"), "--date", day)
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    assert "nan" not in status.stdout.lower()
    for fmt in ("json", "csv", "html"):
        report = run_cli("report", "--state-dir", str(tmp_path / "state"), "--from", day, "--to", day, "--format", fmt)
        assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
        assert "nan" not in report.stdout.lower().replace("nanosecond", ""), fmt
        if fmt == "json":
            json.loads(report.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the report's JSON"))
    again = run_cli("simulate", _night(tmp_path), "--state-dir", str(tmp_path / "state"))
    assert again.returncode == 0, again.stderr
    assert "damaged values (open_s is -1e+308; vibration_s is nan)" in again.stderr
    assert "damaged settings left out" in again.stderr and "nan" not in again.stdout.lower()


def test_an_older_stores_goal_of_next_to_nothing_falls_back_to_the_configured_goal(tmp_path):
    """A store an older agent wrote with set_goal 1e-300: status and the report show no
    percentage of it (it was 300 digits); the agent names the setting and the day's goal as
    damaged, runs on the configured goal (6 h), and says so in its report."""
    day = _store_with(tmp_path, {"goal_s": 3.6e-297}, {"goal_s": 3.6e-297})
    status = run_cli("status", "--state-dir", str(tmp_path / "state"), "--date", day)
    assert status.returncode == 0 and not re.search(r"\d{7}|e\+", status.stdout), status.stdout
    report = run_cli("report", "--state-dir", str(tmp_path / "state"), "--from", day, "--to", day, "--format", "json")
    assert report.returncode == 0 and "goal_pct" not in json.loads(report.stdout)["days"][day], report.stdout
    again = run_cli("simulate", _night(tmp_path), "--state-dir", str(tmp_path / "state"), "--report", "json")
    assert again.returncode == 0, again.stderr
    assert "damaged settings left out, the configuration's hold: goal_s (set_goal.hours: expected a number " \
           "from 0.5 to 24, got 1e-300)" in again.stderr
    assert "goal_s is 3.6e-297, outside the goal's 0.5 to 24 hours" in again.stderr
    days = json.loads(again.stdout)["days"]
    assert days[day]["goal_s"] == 6 * 3600 and days[day]["goal_pct"] < 1000


@pytest.mark.parametrize("schema, says", [("'99'", "newer OpenPalm .*schema 99"),
                                           ("'-1'", "its store schema is '-1', not a version number"),
                                           ("'2.0'", "its store schema is '2.0', not a version number"),
                                           ("'abc'", "its store schema is 'abc', not a version number")])
def test_a_store_of_a_newer_openpalm_or_of_no_version_is_left_alone(tmp_path, schema, says):
    """meta schema 99: StoreAccessError in one line, for the agent and for status; the file
    unchanged. A schema that is no version number is said so (it was called 'newer')."""
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / FILENAME)
    db.execute(f"UPDATE meta SET value = {schema} WHERE key = 'schema'")
    db.commit()
    db.close()
    before = (tmp_path / FILENAME).read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreAccessError, match=says):
            Store(tmp_path, readonly=readonly)
    assert (tmp_path / FILENAME).read_bytes() == before


@pytest.mark.parametrize("stored", [math.nan, -1e308, "5400"])
def test_a_damaged_vibration_total_never_opens_the_daily_maximum(stored):
    """Today's vibration_s damaged in the store, 90 minutes in today's dose log: a new dose
    is refused, as with the true total (the dose log, not the damaged row, holds the limit)."""
    import zoneinfo
    from pi_agent import config
    from pi_agent.core import Core, orders
    from conftest import CONFIG
    zone, wall0 = zoneinfo.ZoneInfo("Europe/Berlin"), 1_777_618_800.0 + 3 * 3600     # 2026-05-01 12:00
    core = Core(config.load(CONFIG), zone, t=0.0, stored_days={"2026-05-01": {"vibration_s": stored}})
    doses = [{"id": i, "day": "2026-05-01", "start": wall0 - 3 * 3600 + i * 2410, "seconds": 1800.0,
              "stop": wall0 - 3 * 3600 + i * 2410 + 1800, "level": "low", "source": "command",
              "reason": "completed", "planned_end": wall0 - 3 * 3600 + i * 2410 + 1800} for i in range(3)]
    core.recover(doses, 0.0, wall0)
    step = core.command("vibration_start", {"minutes": 30}, 1.0, wall0 + 1.0)
    [answer] = [o for o in step.orders if isinstance(o, orders.Response)]
    assert answer.status == "error" and "daily maximum" in answer.error
    assert not [o for o in step.orders if isinstance(o, orders.Therapy)]


def _small_store(path) -> None:
    """A store as the agent leaves it: two days, a bout, a dose, the live record and settings."""
    from pi_agent.core.days import Day
    store = Store(path)
    day = Day(goal_s=21600.0, open_s=1000.0, worn_s=1000.0).to_json()
    store.checkpoint({"2026-06-01": day, "2026-06-02": day},
                     [{"day": "2026-06-01", "start_wall": 1.78e9, "duration_s": 60.0}],
                     {"live": {"position": "open", "state": "open", "worn": True, "since": 1.78e9,
                               "updated": 1.78e9 + 60, "zone": "Europe/Berlin"},
                      "settings": {"goal_s": 21600.0}, "exercise": None})
    store.dose_start("2026-06-01", 1.78e9, 1.78e9 + 600, "low", "command")
    store.close()


DEEP = "'[' || replace(hex(zeroblob(5000)), '00', '[')"        # 10,001 nested arrays
# (what is damaged, SQL that damages it, the reader that meets it)
DAMAGE = [
    ("nested too deep", f"UPDATE days SET data = {DEEP}", lambda s: s.days()),
    ("not JSON", "UPDATE days SET data = '{\"open_s\": ' WHERE day = '2026-06-01'", lambda s: s.load_day("2026-06-01")),
    ("a list, not an object", "UPDATE days SET data = '[1, 2]'", lambda s: s.days()),
    ("a number, not text", "UPDATE days SET data = 5", lambda s: s.days()),
    ("live updated out of range", "UPDATE meta SET value = '{\"updated\": -1e308}' WHERE key = 'live'",
     lambda s: s.meta("live")),
    ("live state not text", "UPDATE meta SET value = '{\"state\": [1]}' WHERE key = 'live'", lambda s: s.meta("live")),
    ("live a list", "UPDATE meta SET value = '[1]' WHERE key = 'live'", lambda s: s.meta("live")),
    ("settings nested too deep", f"UPDATE meta SET value = {DEEP} WHERE key = 'settings'",
     lambda s: s.meta("settings")),
    ("exercise a list", "UPDATE meta SET value = '[]' WHERE key = 'exercise'", lambda s: s.meta("exercise")),
    ("a day as a BLOB", "UPDATE days SET day = X'C3A9FF' WHERE day = '2026-06-02'", lambda s: s.day_span()),
    ("a day before 1971", "UPDATE days SET day = '0001-01-01' WHERE day = '2026-06-01'", lambda s: s.day_span()),
    ("a dose's start as text", "UPDATE doses SET start = 'soon'", lambda s: s.doses()),
    ("a dose's seconds NaN-like", "UPDATE doses SET seconds = 1e999", lambda s: s.doses()),
    ("a bout's duration negative", "UPDATE bouts SET duration_s = -5", lambda s: s.bouts("2026-06-01")),
    ("the outbox's drops nested too deep", f"INSERT INTO meta VALUES ('outbox_dropped', {DEEP})",
     lambda s: s.meta("outbox_dropped")),
    ("the outbox's drops counted in text", "INSERT INTO meta VALUES ('outbox_dropped', '{\"count\": \"3\"}')",
     lambda s: s.meta("outbox_dropped")),
]


def _damage(path, sql: str) -> None:
    db = sqlite3.connect(path / FILENAME)
    db.execute(sql)
    db.commit()
    db.close()


@pytest.mark.parametrize("sql, reader", [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_a_value_no_openpalm_writes_is_a_damaged_store_for_every_reader(tmp_path, caplog, sql, reader):
    """Read-only (status, report): the reader raises StoreDamagedError of one line, the file
    unchanged. The agent's open: the store is moved aside with one log line and a new one starts."""
    from pi_agent.errors import StoreDamagedError
    _small_store(tmp_path)
    _damage(tmp_path, sql)
    before = (tmp_path / FILENAME).read_bytes()
    store = Store(tmp_path, readonly=True)
    try:
        with pytest.raises(StoreDamagedError, match="the store is damaged") as err:
            reader(store)
    finally:
        store.close()
    assert "\n" not in str(err.value) and (tmp_path / FILENAME).read_bytes() == before
    with caplog.at_level("ERROR", logger="pi_agent.store"):
        fresh = Store(tmp_path)
    [line] = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert "moved aside" in line and "\n" not in line
    assert fresh.days() == {} and fresh.meta("live") is None and fresh.doses() == []
    fresh.close()
    [aside] = [p for p in tmp_path.glob(FILENAME + ".damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes() == before, "the damaged store is kept as it was"


def test_an_outbox_event_of_no_time_is_a_damaged_store_for_the_agent(tmp_path, caplog):
    """An event in the outbox whose time is text (the outbox compares and subtracts it): the
    agent's open moves the store aside with one log line naming it."""
    _small_store(tmp_path)
    _damage(tmp_path, "INSERT INTO outbox VALUES ('e1', 'openpalm/dev1/event', '{}', 'soon')")
    with caplog.at_level("ERROR", logger="pi_agent.store"):
        Store(tmp_path).close()
    [line] = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert "outbox event 'e1': created is 'soon'" in line and "moved aside" in line


def test_a_store_the_agent_writes_has_nothing_damaged(tmp_path, caplog):
    """Every value the agent writes (the outbox's events and drops too) passes the checks: its
    store is kept and reads back whole."""
    from pi_agent.mqtt.outbox import Outbox
    _small_store(tmp_path)
    outbox = Outbox(tmp_path, max_events=1, wall=lambda: 1.78e9)
    for i in range(3):
        outbox.add(f"e{i}", "openpalm/dev1/event", "{}")
    outbox.close()
    with caplog.at_level("ERROR", logger="pi_agent.store"):
        store = Store(tmp_path)
    assert not [r for r in caplog.records if r.name == "pi_agent.store"] and not list(tmp_path.glob("*.damaged-*"))
    assert set(store.days()) == {"2026-06-01", "2026-06-02"} and store.day_span() == ("2026-06-01", "2026-06-02")
    assert store.meta("live")["updated"] == 1.78e9 + 60 and store.meta("exercise") is None
    assert len(store.doses()) == 1 and store.bouts("2026-06-01") == [{"start": 1.78e9, "duration_s": 60.0}]
    assert store.meta("outbox_dropped")["count"] == 2
    store.close()


@pytest.mark.parametrize("sql", ["UPDATE days SET data = " + DEEP,
                                 "UPDATE meta SET value = '{\"updated\": -1e308}' WHERE key = 'live'",
                                 "UPDATE days SET day = X'C3A9FF' WHERE day = '2026-06-02'"],
                         ids=["deep JSON", "live updated -1e308", "a day as a BLOB"])
def test_status_and_report_on_a_damaged_value_say_so_in_one_line(tmp_path, sql):
    """status and report --format json: exit 69, one line naming the damage, no traceback."""
    _small_store(tmp_path)
    _damage(tmp_path, sql)
    for args in (("status",), ("report", "--format", "json", "--from", "2026-06-01", "--to", "2026-06-01")):
        result = run_cli(*args, "--state-dir", str(tmp_path))
        assert result.returncode == 69 and "Traceback" not in result.stderr, result.stderr
        [line] = [x for x in result.stderr.splitlines() if " INFO " not in x]
        assert "the store is damaged" in line, line


def test_run_on_a_store_of_too_deep_json_moves_it_aside_and_runs(tmp_path):
    """`run --simulate` on a store whose day is 10,001 arrays deep: one log line, the store
    moved aside, a new one started, exit 0 (no RecursionError, no restart loop)."""
    _small_store(tmp_path / "st")
    _damage(tmp_path / "st", "UPDATE days SET data = " + DEEP)
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps({"start": "2026-06-03T10:00:00", "timezone": "Europe/Berlin",
                                    "steps": [{"hold": 5, "set": {"wrist": 25, "fingers": 5, "palm": 3}}]}))
    result = run_cli("run", "--simulate", str(scenario), "--speed", "20", "--state-dir", str(tmp_path / "st"))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    [line] = [x for x in result.stderr.splitlines() if " ERROR " in x]
    assert "is damaged (day 2026-06-01 is not readable: JSON nested more than 100 deep): moved aside" in line
    assert list((tmp_path / "st").glob(FILENAME + ".damaged-*"))


@pytest.mark.parametrize("name", ["openpalm.db-journal", "openpalm.db-wal"])
def test_a_folder_beside_the_store_is_refused_and_the_store_kept(tmp_path, name):
    """A folder named like SQLite's journal beside a sound store: one line, exit-77 kind,
    and the store left in place (it was moved aside as damaged, 'disk I/O error')."""
    Store(tmp_path).close()
    (tmp_path / name).mkdir()
    before = (tmp_path / FILENAME).read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreAccessError, match=f"{name}: is not a file"):
            Store(tmp_path, readonly=readonly)
    assert (tmp_path / FILENAME).read_bytes() == before and not list(tmp_path.glob("*.damaged-*"))


def test_a_damaged_store_never_goes_aside_over_another(tmp_path, monkeypatch):
    """Two damaged stores in the same second, beside a folder already named like the copy:
    each goes to a name of its own (the folder gave a traceback, a second copy overwrote the first)."""
    import pi_agent.store as store_mod
    monkeypatch.setattr(store_mod.time, "strftime", lambda _format: "20260501T090000")
    (tmp_path / f"{FILENAME}.damaged-20260501T090000").mkdir()
    for text in (b"not a store, first", b"not a store, second"):
        (tmp_path / FILENAME).write_bytes(text * 100)
        Store(tmp_path).close()
    copies = sorted((p for p in tmp_path.glob(f"{FILENAME}.damaged-*") if p.is_file()), key=lambda p: p.stat().st_mtime_ns)
    assert [p.read_bytes() for p in copies] == [b"not a store, first" * 100, b"not a store, second" * 100], copies
