"""Bad input that must stay one short line: long values and names in errors (they were
echoed whole, or forged a second line), state directories that cannot be folders, and
integers too long for Python to read."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from test_bad_input import _one_line_error


@pytest.mark.parametrize("where, says", [
    ("/dev/null", "/dev/null: is not a folder"),
    ("a file", "store-file: is not a folder"),
    ("below a file", "store-file/sub: cannot be a folder: "),
    ("a link to nothing", "dangling: is a symbolic link to nothing"),
    ("below a link to nothing", "dangling/sub: cannot be a folder: "),
    ("a name too long", "cannot be the state directory: File name too long"),
])
def test_a_state_directory_that_cannot_be_a_folder_is_refused_in_one_line(tmp_path, where, says):
    """device.state_dir naming a device, a file, a folder below a file, a symbolic link to
    nothing or a name too long: check-config says so in one line naming the key (exit 78;
    it said OK); status and run refuse it in one line too (exit 77), never a traceback."""
    from agentproc import write_config
    (tmp_path / "store-file").write_text("")
    (tmp_path / "dangling").symlink_to(tmp_path / "nothing" / "here")
    path = {"/dev/null": "/dev/null", "a file": tmp_path / "store-file", "below a file": tmp_path / "store-file" / "sub",
            "a link to nothing": tmp_path / "dangling", "below a link to nothing": tmp_path / "dangling" / "sub",
            "a name too long": tmp_path / ("x" * 300)}[where]
    cfgfile = write_config(tmp_path / "cfg", f'[device]\nstate_dir = "{path}"')
    line = _one_line_error(run_cli("check-config", "--config", str(cfgfile)), 78)
    assert line.startswith(f"{cfgfile}: device.state_dir: ") and says in line, line
    assert says in _one_line_error(run_cli("status", "--state-dir", str(path)), 77)
    scenario = tmp_path / "short.json"
    scenario.write_text('{"start": "2026-05-01T09:00:00", "steps": [{"hold": 60}]}')
    assert says in _one_line_error(run_cli("run", "--simulate", str(scenario), "--state-dir", str(path)), 77)
    fine = write_config(tmp_path / "ok", f'[device]\nstate_dir = "{tmp_path / "new" / "folder"}"')
    assert run_cli("check-config", "--config", str(fine)).returncode == 0


def test_an_empty_state_dir_is_refused_not_taken_as_the_current_folder(tmp_path):
    """`status --state-dir ""` (an unset variable in a script): a usage error, exit 2; it
    read or wrote the store of the current folder."""
    result = run_cli("status", "--state-dir", "")
    assert result.returncode == 2 and "--state-dir: expected a folder, got an empty name" in result.stderr


def test_a_long_bad_value_in_a_scenario_command_is_cut_short(tmp_path):
    """A 3,000-character argument of a scenario's command: one line under 200 characters,
    saying how long the value was (it was echoed whole)."""
    scenario = tmp_path / "long.json"
    scenario.write_text(json.dumps({"start": "2026-05-01T10:00:00", "timezone": "UTC", "steps": [
        {"hold": 5}, {"command": {"name": "set_goal", "args": {"hours": "x" * 3000}}}]}))
    line = _one_line_error(run_cli("simulate", str(scenario)), 65)
    assert "set_goal.hours: expected a number from 0.5 to 24" in line and "(3000 characters)" in line
    assert len(line) < 200 + len(str(scenario))


FORGED_LINE = "2026-04-14 10:00:00 ERROR pi_agent.motor: forged"


@pytest.mark.parametrize("where", ["channel", "top key", "command name"])
def test_a_bad_name_in_a_scenario_stays_on_one_short_line(tmp_path, where):
    """A scenario's unknown channel, key or command name holding a line break and a forged
    log line, or 100,000 characters: one line (the break escaped), at most about 1,000
    characters with the length said; it printed two lines, or 100 KB."""
    for name in (f"pal\n{FORGED_LINE}", "x" * 100_000):
        steps = [{"hold": 5, "set": {"wrist": 25}}]
        data = {"start": "2026-05-01T10:00:00", "timezone": "UTC", "steps": steps}
        if where == "channel":
            steps[0]["set"][name] = 1
        elif where == "top key":
            data[name] = 1
        else:
            steps.append({"command": {"name": name, "args": {}}})
        scenario = tmp_path / "bad.json"
        scenario.write_text(json.dumps(data))
        result = run_cli("simulate", str(scenario))
        assert result.returncode == 65 and result.stdout == "", result.stderr[:300]
        lines = [line for line in result.stderr.splitlines() if " INFO " not in line]
        assert len(lines) == 1 and not lines[0].startswith("2026-04-14"), result.stderr[:300]
        assert len(lines[0]) < 1100, len(lines[0])


def test_a_bad_key_in_the_configuration_stays_on_one_line(tmp_path):
    """An unknown TOML section holding a line break and a forged log line: check-config says so
    on one line, the break escaped, exit 78."""
    from agentproc import write_config
    cfgfile = write_config(tmp_path / "cfg")
    cfgfile.write_text(cfgfile.read_text() + f'\n["a\\n{FORGED_LINE}"]\nx = 1\n')
    line = _one_line_error(run_cli("check-config", "--config", str(cfgfile)), 78)
    assert "\\n2026-04-14 10:00:00 ERROR" in line


@pytest.mark.parametrize("file", ["agent.toml", "calibration.toml"])
def test_an_integer_of_5000_digits_in_a_toml_file_is_one_line(tmp_path, file):
    """`vdd = 1000...0` (5,000 digits) in the configuration, or a gain so written in the
    calibration: one line, exit 78 (Python's bound on an integer's digits gave a traceback)."""
    from agentproc import write_config
    cfgfile = write_config(tmp_path / "cfg")
    target = cfgfile.parent / file
    target.write_text(target.read_text() + "\n[zz]\nbig = 1" + "0" * 5000 + "\n")
    line = _one_line_error(run_cli("check-config", "--config", str(cfgfile)), 78)
    assert line == f"{target}: not valid TOML here: an integer of more than 4300 digits"


def test_a_bad_date_on_the_command_line_stays_on_one_line():
    """`status --date` with a line break and a forged log line, 100,000 characters, or a day
    that does not exist: the usage error is one line (argparse printed its usage first, and
    the value as it was), exit 2."""
    for text in (f"x\n{FORGED_LINE}\u2028", "x" * 100_000, "2026-02-29"):
        result = run_cli("status", "--date", text)
        [line] = result.stderr.splitlines()
        assert result.returncode == 2 and line.startswith("pi-agent status: argument --date: expected a day as "
                                                          "YYYY-MM-DD, got '") and line.endswith("(see pi-agent status --help)")
        assert not any(line.startswith("2026-04-14") for line in result.stderr.splitlines()) and len(line) < 200


def test_a_word_too_many_is_said_by_the_command():
    """`status --json x`: the usage error names the command whose usage it is, in one line."""
    result = run_cli("status", "--json", "x")
    assert result.returncode == 2 and result.stderr == (
        "pi-agent status: unrecognized arguments: x (see pi-agent status --help)\n")


@pytest.fixture(scope="module")
def a_store(tmp_path_factory):
    """A state directory with a store in it (a short simulated morning)."""
    folder = tmp_path_factory.mktemp("own") / "state"
    scenario = folder.parent / "morning.json"
    scenario.write_text('{"start": "2026-05-01T09:00:00", "steps": [{"hold": 600, "set": {"palm": 3}}]}')
    assert run_cli("simulate", str(scenario), "--state-dir", str(folder)).returncode == 0
    return folder


@pytest.mark.parametrize("command, name", [
    (("report", "--output"), "openpalm.db"),
    (("report", "--format", "csv", "--output"), "openpalm.db-wal"),
    (("report", "--output"), "a link to the store"),
    (("simulate", "SCENARIO", "--events"), "openpalm.db"),
    (("run", "--simulate", "SCENARIO", "--speed", "1000", "--motor-trace"), "simulation.json"),
])
def test_an_output_file_that_is_the_stores_own_is_refused(a_store, command, name):
    """`report --output`, `simulate --events` or `run --simulate --motor-trace` naming the
    store's file, its log, the resume marker, or a link to one of them: one line, and the
    store is as it was (a report replaced the store, exit 0: every day of history lost)."""
    link = a_store.parent / "report.db"
    if not link.exists():
        link.symlink_to(a_store / "openpalm.db")
    target = link if name == "a link to the store" else a_store / name
    before = (a_store / "openpalm.db").read_bytes()
    scenario = a_store.parent / "morning.json"
    args = [str(scenario) if a == "SCENARIO" else a for a in command]
    line = _one_line_error(run_cli(*args, str(target), "--state-dir", str(a_store)), 65)
    assert "that is the store's own file in the state directory" in line and "nothing was changed" in line, line
    assert (a_store / "openpalm.db").read_bytes() == before
    assert run_cli("status", "--state-dir", str(a_store), "--date", "2026-05-01").returncode == 0


def test_the_configured_stores_files_are_refused_too(a_store, tmp_path):
    """The store named by device.state_dir, while the command works elsewhere (simulate's
    own temporary store, report --state-dir another): its files are refused as outputs
    too, and as dashboard.password_file (`dashboard-password` replaced the store with the
    password's hash)."""
    from agentproc import write_config
    cfgfile = write_config(tmp_path / "etc", f'[device]\nstate_dir = "{a_store}"\n'
                                             f'[dashboard]\npassword_file = "{a_store / "openpalm.db"}"')
    before = (a_store / "openpalm.db").read_bytes()
    scenario = str(a_store.parent / "morning.json")
    for args in (("simulate", scenario, "--events"), ("report", "--state-dir", str(tmp_path / "other"), "--output")):
        line = _one_line_error(run_cli(*args, str(a_store / "openpalm.db"), "--config", str(cfgfile)), 65)
        assert "that is the store's own file" in line, line
    result = run_cli("dashboard-password", "--config", str(cfgfile), input="a long password\n")
    assert "dashboard.password_file" in _one_line_error(result, 65)
    assert (a_store / "openpalm.db").read_bytes() == before
