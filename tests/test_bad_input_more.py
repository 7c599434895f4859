"""More bad input, each a one-line error that changes nothing: report outputs that are no
regular file, huge integers in commands, deep JSON on the dashboard, scenario command
arguments, unwritable traces, implausible calibrations and dates that are no YYYY-MM-DD."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from pi_agent.errors import InputError
from pi_agent.store import Store
from test_bad_input import _one_line_error


@pytest.fixture
def store_dir(tmp_path):
    folder = tmp_path / "state"
    store = Store(folder)
    store.checkpoint({"2026-06-01": {"open_s": 1.0}})
    store.close()
    return folder


def _report(store_dir, *args):
    return run_cli("report", "--state-dir", str(store_dir), "--format", "csv",
                   "--from", "2026-06-01", "--to", "2026-06-01", *args)


def test_report_output_to_a_fifo_writes_into_it_and_keeps_it_a_fifo(tmp_path, store_dir):
    """`report --output FIFO`: the reader gets the report; the FIFO is still a FIFO, no temporary file beside it."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = _report(store_dir, "--output", str(fifo))
    reader.join(10)
    assert result.returncode == 0, result.stderr
    assert got and got[0].startswith(b"date,") and b"2026-06-01" in got[0]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "state"]


def test_report_output_to_dev_null_leaves_it_a_character_device(store_dir):
    """`report --output /dev/null`: exit 0 and /dev/null is still a character device (never replaced)."""
    if not Path("/dev/null").exists() or not os.access("/dev/null", os.W_OK):
        pytest.skip("no writable /dev/null")
    result = _report(store_dir, "--output", "/dev/null")
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not Path("/dev/.null.tmp").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_report_output_to_a_full_device_is_one_line_with_exit_74(store_dir):
    """`report --output /dev/full`: one line 'cannot write ...: No space left on device', exit 74; still a device."""
    line = _one_line_error(_report(store_dir, "--output", "/dev/full"), 74)
    assert "cannot write /dev/full: No space left on device" in line
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_report_to_a_full_standard_output_is_one_line_with_exit_74(store_dir):
    """`report > /dev/full`: one line saying the standard output cannot be written, exit 74."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "pi_agent", "report", "--state-dir", str(store_dir),
                                 "--format", "csv", "--from", "2026-06-01", "--to", "2026-06-01"],
                                cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    line = _one_line_error(result, 74)
    assert "cannot write the standard output: No space left on device" in line


@pytest.mark.parametrize("output, words", [("", "--output: expected a file name"),
                                           (".", "--output: expected a file name")])
def test_report_output_with_no_name_is_one_line(store_dir, output, words):
    """`report --output ""`: one line, exit 65, nothing written."""
    line = _one_line_error(_report(store_dir, "--output", output), 65)
    assert words in line


def test_report_output_to_a_regular_file_is_still_replaced_whole(tmp_path, store_dir):
    """A regular file given to --output is replaced by the report (the atomic path), nothing left beside it."""
    out = tmp_path / "r.csv"
    out.write_text("old")
    result = _report(store_dir, "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("date,") and not (tmp_path / ".r.csv.tmp").exists()


HUGE = int("9" * 400)


@pytest.mark.parametrize("name, key", [("exercise_start", "minutes"), ("vibration_start", "minutes"),
                                       ("set_goal", "hours"), ("set_targets", "low"), ("set_targets", "high")])
@pytest.mark.parametrize("sign", [1, -1])
def test_an_integer_too_large_for_a_float_is_an_error_naming_the_argument(name, key, sign):
    """A 400-digit integer in a command (as MQTT delivers it): an error 'expected a number',
    no traceback, no order, nothing changed."""
    from pi_agent.core import orders
    from test_bad_input import _core, _moves_or_stores, WALL0
    core = _core()
    before = core.snapshot()
    payload = b'{"%s": %s%s}' % (key.encode(), b"-" if sign < 0 else b"", b"9" * 400)
    step = core.command(name, payload, 1.0, WALL0 + 1.0)
    [response] = [o for o in step.orders if isinstance(o, orders.Response)]
    assert response.status == "error" and f"{name}.{key}: expected a number" in response.error
    assert "digits" in response.error and len(response.error) < 200
    assert _moves_or_stores(step) == [] and core.snapshot() == before


def test_checks_outside_the_core_refuse_an_integer_too_large_for_a_float():
    """The shared number check (scenarios, calibration, configuration) and the dashboard's: a
    400-digit int is no number (no OverflowError)."""
    from pi_agent.dashboard import schema
    from pi_agent.dashboard.schema import Unreadable
    from sensors.units import is_number
    assert not is_number(HUGE) and not is_number(-HUGE) and is_number(12) and not is_number(True)
    with pytest.raises(Unreadable, match="expected a number"):
        schema.number(0, 10)(HUGE, "x")


def test_the_dashboard_answers_deeply_nested_json_with_400(dashboard_base):
    """POST /api/command with ~2,040 nested arrays (under 4 KiB): 400 with a one-line reason, connection answered."""
    import http.client
    import json
    host, cookie = dashboard_base
    body = b"[" * 2040 + b"]" * 2040
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.request("POST", "/api/command", body=body, headers={"Content-Type": "application/json",
                                                             "Cookie": cookie})
    response = conn.getresponse()
    answer = json.loads(response.read())
    assert response.status == 400 and answer == {"error": "the JSON body is nested too deeply"}


@pytest.mark.parametrize("asked, status, words", [
    ({"device": "kitchen", "command": "vibration_start"}, 400, "command: expected one of exercise_start"),
    ({"device": "nobody", "command": "exercise_start"}, 404, "device: no device 'nobody' is known"),
])
def test_a_command_the_page_may_not_send_is_400_and_an_unknown_device_404(dashboard_base, asked, status, words):
    """POST /api/command: a command other than the exercise's start and stop is a bad request
    (400, it was 409), a device the dashboard does not know is not found (404)."""
    import http.client
    import json
    host, cookie = dashboard_base
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.request("POST", "/api/command", body=json.dumps(asked), headers={"Content-Type": "application/json",
                                                                          "Cookie": cookie})
    response = conn.getresponse()
    answer = json.loads(response.read())
    assert response.status == status and answer["error"].startswith(words), (response.status, answer)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_the_dashboard_refuses_a_request_in_utf16_or_32_as_the_agent_does(dashboard_base, encoding):
    """POST /api/command with a well-formed request in UTF-16 or 32, or UTF-8 after a byte
    order mark: 400 'expected a JSON body in UTF-8' (it was taken, though the agent and
    scenarios refuse such text)."""
    import http.client
    import json
    host, cookie = dashboard_base
    body = json.dumps({"device": "dev1", "command": {"name": "status"}}).encode(encoding)
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.request("POST", "/api/command", body=body, headers={"Content-Type": "application/json", "Cookie": cookie})
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())) == (
        400, {"error": "expected a JSON body in UTF-8 (without a byte order mark)"})


def test_the_dashboard_refuses_nan_as_the_agent_does_and_reads_any_case_of_its_media_type(dashboard_base):
    """{"device": NaN}: 400 (it was asked of a device 'nan'), and 1e999 (read as infinity: it
    was sent); Content-Type APPLICATION/JSON
    is application/json (media types are case-insensitive; it got 415)."""
    import http.client
    import json
    host, cookie = dashboard_base
    for body, kind, status in ((b'{"device": NaN, "command": {"name": "status"}}', "application/json", 400),
                               (b'{"device": "dev1", "command": "exercise_start", "x": 1e999}', "application/json", 400),
                               (b'{"device": "dev1"}', "APPLICATION/JSON; charset=utf-8", 400)):
        conn = http.client.HTTPConnection(host, timeout=10)
        conn.request("POST", "/api/command", body=body, headers={"Content-Type": kind, "Cookie": cookie})
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())) == (
            status, {"error": 'expected {"device": ..., "command": ...}'}), kind


def test_a_deeply_nested_mqtt_message_is_unreadable_not_a_crash():
    """A message from MQTT nested 2,000 deep: the schema says Unreadable in one line (no RecursionError)."""
    from pi_agent.dashboard import schema
    with pytest.raises(schema.Unreadable, match="nested too deeply"):
        schema.read("state", b"[" * 2000 + b"]" * 2000)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_motor_trace_that_cannot_be_written_is_one_line_with_exit_74(tmp_path):
    """`run --simulate ... --motor-trace /dev/full`: one line naming the trace, exit 74 (no OSError traceback)."""
    path = tmp_path / "short.json"
    path.write_text('{"start": "2026-05-01T09:00:00", "steps": [{"hold": 60}]}')
    line = _one_line_error(run_cli("run", "--simulate", str(path), "--speed", "1000",
                                   "--motor-trace", "/dev/full"), 74)
    assert line == "pi-agent run: --motor-trace: cannot write the motor trace /dev/full: No space left on device"


@pytest.mark.parametrize("value", ["1e-300", "0.5", "4.9"])
def test_a_maximum_push_too_small_to_be_one_is_refused_by_check_config(tmp_path, value):
    """[weight_bearing] max_push_n = 1e-300 (a band in % of it would be ~0 N): one line naming it, exit 78."""
    from agentproc import write_config
    cfgfile = write_config(tmp_path / "cfg")
    cal = cfgfile.parent / "calibration.toml"
    cal.write_text(cal.read_text() + f'\n[weight_bearing]\nmax_push_n = {value}\ndate = "2026-05-01"\n')
    line = _one_line_error(run_cli("check-config", "--config", str(cfgfile)), 78)
    assert "weight_bearing.max_push_n: expected a maximum push from 5 to 10000 newtons" in line


def test_a_plausible_maximum_push_passes_check_config(tmp_path):
    """max_push_n = 140 in the calibration: check-config passes (the bound refuses only the implausible)."""
    from agentproc import write_config
    cfgfile = write_config(tmp_path / "cfg")
    cal = cfgfile.parent / "calibration.toml"
    cal.write_text(cal.read_text() + '\n[weight_bearing]\nmax_push_n = 140\ndate = "2026-05-01"\n')
    result = run_cli("check-config", "--config", str(cfgfile))
    assert result.returncode == 0, result.stderr


WEEK_DATE = "2026-W18-1"          # 10 characters that date.fromisoformat takes as 27 April 2026


def test_report_refuses_a_week_date(store_dir):
    """`report --from 2026-W18-1`: one line 'expected a date as YYYY-MM-DD', exit 65."""
    line = _one_line_error(run_cli("report", "--state-dir", str(store_dir), "--from", WEEK_DATE), 65)
    assert line == f"pi-agent report: --from: expected a date as YYYY-MM-DD, got '{WEEK_DATE}'"


def test_status_refuses_a_week_date(store_dir):
    """`status --date 2026-W18-1`: refused as no YYYY-MM-DD (argparse's one line), exit 2."""
    result = run_cli("status", "--state-dir", str(store_dir), "--date", WEEK_DATE)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"expected a day as YYYY-MM-DD, got '{WEEK_DATE}'" in result.stderr


def test_the_mqtt_report_request_refuses_a_week_date():
    """The `report` command with from = 2026-W18-1: an error naming report.from, no order."""
    from pi_agent.core import orders
    from test_bad_input import _core, _moves_or_stores, WALL0
    core = _core()
    step = core.command("report", {"from": WEEK_DATE, "to": "2026-05-01"}, 1.0, WALL0 + 1.0)
    [response] = [o for o in step.orders if isinstance(o, orders.Response)]
    assert response.status == "error" and "report.from: expected a date as YYYY-MM-DD" in response.error
    assert _moves_or_stores(step) == []


@pytest.mark.parametrize("first, last, said", [
    ("0001-01-01", "0001-01-02", "report.from: expected a date from 1971 to 9998, got '0001-01-01'"),
    ("9999-12-30", "9999-12-31", "report.from: expected a date from 1971 to 9998, got '9999-12-30'"),
    ("1970-12-31", "1971-01-01", "report.from: expected a date from 1971 to 9998, got '1970-12-31'"),
    ("9998-12-31", "9999-01-01", "report.to: expected a date from 1971 to 9998, got '9999-01-01'"),
])
def test_the_mqtt_report_request_takes_the_years_pi_agent_report_takes(first, last, said):
    """The `report` command refuses what `pi-agent report --from/--to` refuses (before 1971,
    after 9998), in the same words: one bound for both; no order."""
    from pi_agent.core import orders
    from pi_agent.report.period import parse_date
    from test_bad_input import _core, _moves_or_stores, WALL0
    step = _core().command("report", {"from": first, "to": last}, 1.0, WALL0 + 1.0)
    [response] = [o for o in step.orders if isinstance(o, orders.Response)]
    assert response.status == "error" and response.error == said
    assert _moves_or_stores(step) == []
    bad = first if "from" in said.split(":")[0] else last
    with pytest.raises(InputError, match=said.split(": ", 1)[1]):
        parse_date(bad, "--from")
    ok = _core().command("report", {"from": "1971-01-01", "to": "1971-01-02"}, 1.0, WALL0 + 1.0)
    assert [o for o in ok.orders if isinstance(o, orders.ReportRequest)]


def test_a_default_period_never_starts_before_1971():
    """--to 1971-01-05 without --from: the period starts on 1 January 1971, not in 1970 (and ends by 9998)."""
    import datetime as dt
    from pi_agent.report.period import choose
    period = choose(None, "1971-01-05", latest=dt.date(2026, 5, 1))
    assert period.first == dt.date(1971, 1, 1) and period.last == dt.date(1971, 1, 5)
    late = choose("9998-12-20", None, latest=dt.date(2026, 5, 1))
    assert late.last == dt.date(9998, 12, 31)


def test_the_dashboard_report_refuses_a_week_date_and_names_a_missing_device():
    """/api/report: from = 2026-W18-1 is a 400 naming 'from'; no device is a 400 saying it is missing."""
    import datetime as dt
    from pi_agent.dashboard.fleet import Fleet
    from pi_agent.dashboard.report import download
    status, body, _, _ = download(Fleet(), {})
    assert status == 400 and body == b"device: missing (the device's id: ?device=ID)\n"
    from pi_agent.errors import InputError
    from pi_agent.report.period import choose      # what /api/report (and `report`) read dates with
    with pytest.raises(InputError, match="expected a date as YYYY-MM-DD"):
        choose(WEEK_DATE, None, latest=dt.date(2026, 5, 1))


@pytest.mark.parametrize("used_s, granted_s, words", [
    (5400 - 60, 60.0, "cut to 1.0 minutes in 1 block: the daily maximum of 90 minutes is then reached"),
    (5400 - 100, 100.0, "cut: its block 2 of 2 to 40 seconds: the daily maximum of 90 minutes is nearly reached"),
])
def test_a_therapy_cut_by_the_daily_maximum_says_what_is_granted(used_s, granted_s, words):
    """Two 1-minute blocks with 1 minute (or 100 s) left today: the note names what is granted, never '0.0 minutes'."""
    from pi_agent.core import therapy
    limits = therapy.Limits(max_continuous_s=1800.0, max_daily_s=5400.0, rest_s=0.0)
    plan, notes = therapy.cut_to_limits(therapy.protocol("low", 2, 1.0, 1.0, "test"), limits, used_s)
    assert plan.on_s == pytest.approx(granted_s)
    assert notes == [words] and "0.0 minutes" not in " ".join(notes)


def test_a_protocol_cut_by_the_continuous_maximum_says_which_block():
    """The 3 x 10-minute protocol 50 s after a therapy (its 1-minute breaks are no rest): 29.2
    minutes in all, and the note says its third block was cut to 9.2, not the therapy (it read
    'cut to 9.2 minutes', beside 'minutes: 29.17')."""
    from pi_agent.core import therapy
    limits = therapy.Limits(max_continuous_s=1800.0, max_daily_s=5400.0, rest_s=600.0)
    plan, notes = therapy.cut_to_limits(therapy.protocol("low", 3, 10.0, 1.0, "protocol"), limits, 50.0, 50.0)
    assert plan.on_s == pytest.approx(1750.0)
    assert notes == ["cut: its block 3 of 3 to 9.2 minutes: the continuous maximum of 30 minutes counts the "
                     "vibration since the last rest of 10 minutes"]


@pytest.mark.parametrize("args, words", [
    ({"hours": "lots"}, "steps[1].command: set_goal.hours: expected a number from 0.5 to 24"),
    ({"hours": float("nan")}, "steps[1].command: set_goal.hours: expected a number from 0.5 to 24"),
    ({"hours": float("inf")}, "steps[1].command: set_goal.hours"),
    ({"hours": 4, "speed": 2}, "steps[1].command: set_goal: unknown argument 'speed'"),
    ({"hours": 4, "transaction": "x" * 5000}, "steps[1].command: args: expected at most 4096 bytes"),
])
def test_a_scenario_command_the_agent_would_refuse_is_refused_at_parse_time(args, words):
    """A command step with NaN, Infinity, a wrong type, an unknown argument or 5 KB of arguments:
    the scenario is refused naming the step (not run to fail later)."""
    from mock_hw import scenario_file
    from pi_agent.errors import ScenarioError
    data = {"start": "2026-06-01T10:00:00", "steps": [{"hold": 60}, {"command": {"name": "set_goal", "args": args}},
                                                     {"hold": 60}]}
    with pytest.raises(ScenarioError) as info:
        scenario_file.parse(data, {"wrist": "flex", "fingers": "flex", "palm": "force"})
    assert words in str(info.value)


@pytest.mark.parametrize("where", ["seed", "hold"])
def test_a_scenario_integer_of_5000_digits_is_one_line_with_exit_65(tmp_path, where):
    """A 5,000-digit integer (past Python's 4,300-digit conversion limit) as seed or hold: one line, exit 65."""
    huge = "9" * 5000
    path = tmp_path / "huge.json"
    seed = huge if where == "seed" else "1"
    hold = huge if where == "hold" else "60"
    path.write_text('{"start": "2026-05-01T09:00:00", "seed": %s, "steps": [{"hold": %s}]}' % (seed, hold))
    line = _one_line_error(run_cli("simulate", str(path)), 65)
    assert "not valid JSON: a number with more digits than any setting takes" in line


def test_a_scenario_with_nan_in_a_command_is_one_line_with_exit_65(tmp_path):
    """`simulate` of a scenario whose command has NaN (as JSON lets Python write it): one line, exit 65."""
    path = tmp_path / "nan.json"
    path.write_text('{"start": "2026-05-01T09:00:00", "steps": [{"hold": 60}, '
                    '{"command": {"name": "set_goal", "args": {"hours": NaN}}}, {"hold": 60}]}')
    line = _one_line_error(run_cli("simulate", str(path)), 65)
    assert "steps[1].command: set_goal.hours" in line
