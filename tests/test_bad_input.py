"""Bad input of every kind gets a clear one-line error and changes nothing: hostile command
arguments (NaN, infinities, huge, negative, tiny, wrong types, empty payloads), broken
calibration, scenario and store files."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zoneinfo
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentproc import write_config
from conftest import ROOT, SCENARIOS, run_cli
from pi_agent import config
from pi_agent.core import Core, orders
from pi_agent.config.checks import shown
from pi_agent.core.commands import COMMANDS
from pi_agent.errors import StoreAccessError
from pi_agent.store import FILENAME, Store
from sensors.channel import Reading

ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
WALL0 = 1_777_629_600.0
CFG = config.defaults()

bad_numbers = st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.just(1e308),
                        st.just(-1e308), st.floats(-1e6, -0.001), st.just(1e-9), st.just(0.0001),
                        st.text(max_size=5), st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                        st.integers(min_value=10 ** 309, max_value=10 ** 400),      # too large for a float
                        st.integers(min_value=-10 ** 400, max_value=-10 ** 309))


def _core():
    core = Core(CFG, ZONE)
    for t in (0.25, 0.5):
        core.feed([Reading(ch, t, 0, v) for ch, v in {"wrist": 25.0, "fingers": 5.0, "palm": 3.0}.items()],
                  WALL0 + t)
    return core


def _moves_or_stores(step) -> list:
    return [o for o in step.orders if not isinstance(o, orders.Response)]


@settings(max_examples=300)
@given(name=st.sampled_from(sorted(COMMANDS)), arg=st.text(min_size=1, max_size=12), value=bad_numbers,
       raw=st.booleans())
def test_hostile_arguments_get_an_error_and_change_nothing(name, arg, value, raw):
    """Every command given a bad value (for each of its arguments, or an unknown one): an error
    response naming the argument, no motor order, nothing to store, the snapshot unchanged."""
    core = _core()
    before = core.snapshot()
    spec = COMMANDS[name].args
    key = sorted(spec)[hash(arg) % len(spec)] if spec else arg
    if key in spec and spec[key].check(value)[1] is None:
        return                                   # (a value this argument takes, e.g. a text unit)
    payload = {key: value}
    if raw:
        try:
            payload = json.dumps(payload).encode()   # NaN and Infinity are written as JSON allows them
        except (TypeError, ValueError):
            return
    step = core.command(name, payload, 1.0, WALL0 + 1.0)
    [response] = [o for o in step.orders if isinstance(o, orders.Response)]
    named = key if key in spec else shown(key)       # (an unknown name as errors quote it: cut, escaped)
    assert response.status == "error" and named in response.error or "JSON" in response.error
    assert _moves_or_stores(step) == []
    assert core.snapshot() == before


@pytest.mark.parametrize("payload", [b"", b"   ", "", None])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_empty_payload_is_never_a_command(name, payload):
    """An empty message (how a retained request is deleted) gets an error and no action."""
    core = _core()
    step = core.command(name, payload, 1.0, WALL0 + 1.0)
    [response] = [o for o in step.orders if isinstance(o, orders.Response)]
    assert response.status == "error" and "empty payload" in response.error
    assert _moves_or_stores(step) == []


@pytest.mark.parametrize("payload, message", [
    (b'{"hours": NaN}', "NaN, which is not a number JSON allows"),
    (b'{"hours": Infinity}', "Infinity"),
    (b'{"hours": 1e308}', "set_goal.hours: expected a number from 0.5 to 24, got 1e+308"),
    (b'{"hours": 1e-300}', "set_goal.hours: expected a number from 0.5 to 24, got 1e-300"),
    (b'{"hours": 0}', "set_goal.hours: expected a number from 0.5 to 24, got 0"),
    (b'{"hours": -0.0}', "set_goal.hours: expected a number from 0.5 to 24, got -0.0"),
    (b'{"hours": 0.49}', "set_goal.hours: expected a number from 0.5 to 24, got 0.49"),
])
def test_set_goal_refuses_what_json_lets_through(payload, message):
    """Python's json reads NaN and Infinity; the command refuses them, 1e308, and a goal of
    zero or next to it (a share of it would be a 300-digit percentage)."""
    core = _core()
    step = core.command("set_goal", payload, 1.0, WALL0 + 1.0)
    [response] = [o for o in step.orders if isinstance(o, orders.Response)]
    assert response.status == "error" and message in response.error
    assert core.snapshot().goal_s == CFG.positioning.goal_h * 3600


@pytest.mark.parametrize("minutes", [0.01, 1e-300, 0.0166])
def test_vibration_shorter_than_a_second_is_refused(minutes):
    """vibration_start with under one second of vibration: an error naming minutes, no motor order."""
    core = _core()
    step = core.command("vibration_start", {"minutes": minutes}, 1.0, WALL0 + 1.0)
    [response] = [o for o in step.orders if isinstance(o, orders.Response)]
    assert response.status == "error" and "vibration_start.minutes" in response.error
    assert _moves_or_stores(step) == []


# -- files ------------------------------------------------------------------------------------
def _one_line_error(result, code):
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and " INFO " not in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _calibration_with(tmp_path, old, new):
    cfgfile = write_config(tmp_path / "cfg")
    cal = cfgfile.parent / "calibration.toml"
    text = cal.read_text()
    assert old in text
    cal.write_text(text.replace(old, new, 1))
    return cfgfile


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e30"])
def test_a_tare_that_is_no_count_is_refused_by_check_config(tmp_path, value):
    """A tare of nan, inf or 1e30 in the calibration: check-config says so in one line, exit 78."""
    text = (ROOT / "config" / "calibration.toml").read_text()
    old = next(line for line in text.splitlines() if line.startswith("tare ="))
    cfgfile = _calibration_with(tmp_path, old, f"tare = {value}")
    line = _one_line_error(run_cli("check-config", "--config", str(cfgfile)), 78)
    assert ".tare: expected a number of counts" in line


def test_a_table_with_nan_is_refused_by_check_config(tmp_path):
    """A calibration table with nan newtons: one line, exit 78, naming the pair (not 'expected at least two')."""
    text = (ROOT / "config" / "calibration.toml").read_text()
    old = next(line for line in text.splitlines() if line.startswith("table ="))
    first = old.split("]")[0] + "]"                 # 'table = [[c, n]'
    cfgfile = _calibration_with(tmp_path, first, first.rsplit(",", 1)[0] + ", nan]")
    line = _one_line_error(run_cli("check-config", "--config", str(cfgfile)), 78)
    assert ".table[0]: expected two finite numbers" in line and "nan" in line


def test_a_scenario_nested_deeply_is_one_line_with_exit_65(tmp_path):
    """A scenario nested 100,000 deep: one line, exit 65 (no RecursionError)."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    line = _one_line_error(run_cli("simulate", str(path)), 65)
    assert "nested too deeply" in line


@pytest.mark.parametrize("step, words", [({"hold": 1e308}, "steps[0].hold: expected seconds from 0"),
                                         ({"hold": 200 * 86400}, "steps: expected at most 366 days in all"),
                                         ({"clock_step": 1e300}, "steps[0].clock_step"),
                                         ({"hold": 1, "set": {"palm": 1e300}}, "steps[0].set.palm")])
def test_scenario_durations_and_values_are_bounded(tmp_path, step, words):
    """A step of 1e308 seconds (or a value of 1e300) is refused in one line, exit 65: it never runs forever."""
    path = tmp_path / "long.json"
    path.write_text(json.dumps({"start": "2026-05-01T09:00:00", "steps": [step, {"hold": 200 * 86400}]}))
    result = run_cli("simulate", str(path))
    assert result.returncode == 65 and "Traceback" not in result.stderr
    assert words in result.stderr


def test_status_on_a_damaged_store_is_one_line(tmp_path):
    """`status` on a damaged store: one line saying so, exit 69, no traceback; the file is left as it is."""
    store = Store(tmp_path)
    store.checkpoint({"2026-06-01": {"open_s": 1.0}})
    store.close()
    path = tmp_path / FILENAME
    data = bytearray(path.read_bytes())
    data[0:100] = b"\x00" * 100
    path.write_bytes(bytes(data))
    line = _one_line_error(run_cli("status", "--state-dir", str(tmp_path)), 69)
    assert "damaged" in line or "not a database" in line
    assert path.read_bytes() == bytes(data) and not list(tmp_path.glob("*.damaged-*"))


def _as_another_user(args):
    """The command as an unprivileged user (tests run as root in CI, and root may write anywhere)."""
    if os.geteuid() != 0:
        return args
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *args]


def _open_folder():
    folder = Path(tempfile.mkdtemp(prefix="openpalm-perm-"))
    folder.chmod(0o755)
    return folder


def _run_simulated(state, scenario, cwd):
    env = dict(os.environ, PYTHONUNBUFFERED="1", HOME=str(cwd))
    env.pop("JOURNAL_STREAM", None)
    return subprocess.run(_as_another_user([sys.executable, "-m", "pi_agent", "run", "--simulate", str(scenario),
                                            "--speed", "100", "--state-dir", str(state)]),
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"), reason="needs setpriv to drop root")
def test_an_unreadable_store_is_said_and_left_alone(tmp_path):
    """A store this user may not read: one line, exit 77, and the file is neither renamed nor reset."""
    folder = _open_folder()
    try:
        scenario = folder / "s.json"
        shutil.copy(SCENARIOS / "example-weight-bearing.json", scenario)
        state = folder / "state"
        state.mkdir()
        store = Store(state)
        store.checkpoint({"2026-06-01": {"open_s": 5.0}})
        store.close()
        state.chmod(0o777)
        (state / FILENAME).chmod(0o600)           # root's, not readable by the agent's user
        before = (state / FILENAME).read_bytes()
        line = _one_line_error(_run_simulated(state, scenario, folder), 77)
        assert "permission denied" in line and str(state) in line
        assert (state / FILENAME).read_bytes() == before and not list(state.glob("*.damaged-*"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"), reason="needs setpriv to drop root")
def test_a_read_only_state_directory_is_said_with_its_own_exit_status(tmp_path):
    """A state directory the agent may not write: one line, exit 77, no traceback, nothing created."""
    folder = _open_folder()
    try:
        scenario = folder / "s.json"
        shutil.copy(SCENARIOS / "example-weight-bearing.json", scenario)
        state = folder / "state"
        state.mkdir(mode=0o755)                   # root's: read-only for the agent's user
        line = _one_line_error(_run_simulated(state, scenario, folder), 77)
        assert "state directory" in line and "permission denied" in line
        assert list(state.iterdir()) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_store_access_errors_are_never_taken_for_damage(tmp_path, monkeypatch):
    """SQLite's 'unable to open database file' is an access problem: raised as such, nothing moved aside."""
    store = Store(tmp_path)
    store.close()
    from pi_agent import store as store_mod
    from pi_agent.errors import StoreAccessError

    def refuse(self):
        raise sqlite3.OperationalError("unable to open database file")
    monkeypatch.setattr(store_mod.Store, "_connect", refuse)
    with pytest.raises(StoreAccessError):
        Store(tmp_path)
    assert (tmp_path / FILENAME).exists() and not list(tmp_path.glob("*.damaged-*"))


@pytest.mark.parametrize("speed", ["nan", "inf", "1e300"])
def test_a_speed_that_is_no_number_is_refused(speed):
    """`run --simulate --speed nan` (or inf): one line, exit 78, no traceback."""
    line = _one_line_error(run_cli("run", "--simulate", str(SCENARIOS / "example-day.json"), "--speed", speed), 78)
    assert "--speed: expected a number above 0" in line


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00", "9999-12-31T23:59:59"])
def test_a_scenario_start_out_of_the_clocks_range_is_one_line(tmp_path, start):
    """A scenario starting in year 1 or 9999: one line, exit 65 (no OverflowError)."""
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"start": start, "steps": [{"hold": 1}]}))
    result = run_cli("simulate", str(path))
    assert result.returncode == 65 and "Traceback" not in result.stderr and "start: expected a time" in result.stderr


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_status_of_a_day_out_of_range_is_refused(tmp_path, day):
    """`status --date 0001-01-01`: argparse's one line, no traceback."""
    result = run_cli("status", "--state-dir", str(tmp_path), "--date", day)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "expected a day from 1971" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"), reason="needs setpriv to drop root")
def test_status_on_a_state_folder_it_cannot_enter_is_one_line():
    """`status` by a user who may not enter the state folder: one line, exit 77."""
    folder = _open_folder()
    try:
        state = folder / "state"
        store = Store(state)
        store.checkpoint({"2026-06-01": {"open_s": 1.0}})
        store.close()
        state.chmod(0o700)
        env = dict(os.environ, HOME=str(folder))
        result = subprocess.run(_as_another_user([sys.executable, "-m", "pi_agent", "status", "--state-dir",
                                                  str(state)]), cwd=folder, env=env, capture_output=True,
                                text=True, timeout=120)
        line = _one_line_error(result, 77)
        assert "permission denied" in line
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("readonly", [False, True])
def test_a_folder_in_the_stores_place_is_a_set_up_fault(tmp_path, readonly):
    """A folder named openpalm.db: StoreAccessError in one line (exit 77), for the agent and for status."""
    (tmp_path / FILENAME).mkdir()
    with pytest.raises(StoreAccessError, match="is not a file"):
        Store(tmp_path, readonly=readonly)
    assert (tmp_path / FILENAME).is_dir() and not list(tmp_path.glob("*.damaged-*"))


@pytest.mark.parametrize("readonly", [False, True])
def test_another_programs_database_is_never_written_into(tmp_path, readonly):
    """A foreign SQLite file in the store's place is refused and left byte for byte as it was."""
    path = tmp_path / FILENAME
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.execute("INSERT INTO contacts VALUES ('Ada')")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreAccessError, match="not an OpenPalm store .*contacts"):
        Store(tmp_path, readonly=readonly)
    assert path.read_bytes() == before and not list(tmp_path.glob("*.damaged-*"))


def test_run_on_another_programs_database_writes_nothing_in_its_folder(tmp_path):
    """`run --simulate --state-dir DIR` where DIR/openpalm.db is a foreign SQLite file: exit 77,
    one line, and nothing written beside it (no resume marker, simulation.json)."""
    path = tmp_path / FILENAME
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.commit()
    db.close()
    before = path.read_bytes()
    line = _one_line_error(run_cli("run", "--simulate", str(SCENARIOS / "example-day.json"),
                                   "--state-dir", str(tmp_path)), 77)
    assert "is not an OpenPalm store" in line and "nothing was changed" in line
    assert [p.name for p in tmp_path.iterdir()] == [FILENAME] and path.read_bytes() == before


def test_status_on_a_folder_in_the_stores_place_is_one_line(tmp_path):
    """`pi-agent status` where openpalm.db is a folder: one line, exit 77, no traceback."""
    (tmp_path / FILENAME).mkdir()
    line = _one_line_error(run_cli("status", "--state-dir", str(tmp_path)), 77)
    assert "is not a file" in line


def test_a_motor_trace_that_cannot_be_written_is_one_line(tmp_path):
    """`run --simulate --motor-trace FOLDER`: one line, exit 78, before anything starts."""
    line = _one_line_error(run_cli("run", "--simulate", str(SCENARIOS / "example-day.json"), "--speed", "1000",
                                   "--motor-trace", str(tmp_path)), 78)
    assert "--motor-trace" in line and "cannot write the trace file" in line


@pytest.mark.parametrize("make, words", [
    (lambda p: os.mkfifo(p), "not a regular file"),
    (lambda p: p.write_bytes(b" " * 16_000_001), "over 16 MB"),
])
def test_a_scenario_that_is_no_plain_json_file_is_refused_without_hanging(tmp_path, make, words):
    """A FIFO (which would block a reader forever) or a huge file: one line, exit 65, at once."""
    path = tmp_path / "scenario.json"
    make(path)
    assert words in _one_line_error(run_cli("simulate", str(path)), 65)


def test_a_device_as_scenario_is_refused():
    """`simulate /dev/zero` (endless bytes): one line, exit 65, no memory exhausted."""
    assert "not a regular file" in _one_line_error(run_cli("simulate", "/dev/zero"), 65)


def test_events_to_a_dash_is_refused_not_written_to_a_file_named_dash(tmp_path):
    """`simulate --events -`, `--events ''` and `--events /dev/stdout` (the file the report
    goes to): one line each, exit 65, nothing written (no file named `-`, the report file
    untouched); `./-` names a file, and gets one."""
    scenario = ROOT / "scenarios" / "example-day.json"
    for name in ("-", ""):
        line = _one_line_error(run_cli("simulate", str(scenario), "--events", name, cwd=tmp_path), 65)
        assert line.startswith(f"pi-agent simulate: --events {name!r}:")
    assert not (tmp_path / "-").exists()
    out = tmp_path / "report.json"
    out.write_text("kept")
    with open(out, "a") as stdout:
        done = subprocess.run([sys.executable, "-m", "pi_agent", "simulate", str(scenario), "--events", "/dev/stdout"],
                              cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 65 and "that is standard output" in done.stderr, done.stderr
    assert out.read_text() == "kept"
    done = run_cli("simulate", str(scenario), "--events", "./-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "-").read_text().splitlines()[0])["type"]
