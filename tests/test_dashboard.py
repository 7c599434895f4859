"""The caregiver dashboard's pure parts without a browser: the schema every message is
read through, the password and its gate, and where the password's hash is kept.

The payloads checked against the schema are made by the agent's own renderers from a
real core (tests/dashboard_payloads.py), so that the schema and what the agent publishes
cannot drift apart. The fleet's picture of each device and of the broker link is in
test_dashboard_fleet.py; the browser tests are in test_dashboard_browser*.py.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentproc import write_config
from conftest import run_cli
from dashboard_payloads import WALL0, ZONE, _without, encode, real_payloads
from pi_agent import config
from pi_agent.core import Core
from pi_agent.dashboard.auth import LoginGate, Sessions, check_password, hash_password, valid_hash
from pi_agent.dashboard.schema import MAX_PAYLOAD, Unreadable, read
from pi_agent.render import state_payload

PASSWORD = "open-hand-2026"


@pytest.fixture(scope="module")
def payloads():
    return real_payloads(config.load(config.locate(None)))


def test_what_the_agent_publishes_fits_the_schema(payloads):
    """State (idle, in a session, with a fault and therapy), load, day, wb_session and alert
    payloads from the agent's renderers are read back whole by the dashboard's schema."""
    assert payloads["state"]["faults"] and payloads["state"]["therapy"]["running"]
    assert payloads["state_in_session"]["weight_bearing"]["active"] and payloads["wb_session"] and payloads["alert"]
    for name in ("state", "state_in_session"):
        assert read("state", encode(payloads[name])) == payloads[name], name
    assert read("load", encode(payloads["load"])) == payloads["load"]
    day = payloads["day"]
    assert read("day", encode(day), day["date"]) == day
    session = read("event", encode(payloads["wb_session"]))
    assert session["duration_s"] == payloads["wb_session"]["duration_s"] and session["day"] == "2026-05-01"
    assert read("event", encode(payloads["alert"]))["reason"] == "vibration_cut"


def test_a_state_before_the_first_reading_fits(cfg):
    """A state rendered before any reading (today is {}, nothing known) is readable."""
    core = Core(cfg, ZONE)
    state = state_payload(core.snapshot(), ZONE, WALL0)
    assert read("state", encode(state))["today"] == {}


def test_keys_of_newer_agents_are_accepted_and_the_known_ones_kept(payloads):
    """Extra keys anywhere are dropped, not refused; the clinical signals the card shows
    (spasms, pressure alerts, repetitions) are kept when present."""
    state = json.loads(json.dumps(payloads["state"]))
    state["brand_new"] = {"x": 1}
    state["today"].update(spasms=3, spasm_s=42.5, pressure_alerts=1, high_pressure_s=320.0, extension_reps=12)
    state["today"]["weight_bearing"]["reps"] = 7
    state["weight_bearing"]["reps"] = 2
    got = read("state", encode(state))
    assert "brand_new" not in got
    assert got["today"]["spasms"] == 3 and got["today"]["pressure_alerts"] == 1 and got["today"]["extension_reps"] == 12
    assert got["today"]["weight_bearing"]["reps"] == 7 and got["weight_bearing"]["reps"] == 2



def _with(value: dict, path: str, new) -> dict:
    value = json.loads(json.dumps(value))
    *parents, last = path.split(".")
    node = value
    for p in parents:
        node = node[p]
    node[last] = new
    return value


@pytest.mark.parametrize("kind, make, said", [
    ("state", lambda p: b"{not json", "expected JSON"),
    ("state", lambda p: b"", "expected JSON"),
    ("state", lambda p: b"\xff\xfe", "expected JSON"),
    ("state", lambda p: b'{"load_n": NaN}', "NaN is not a number JSON allows"),
    ("state", lambda p: encode([1, 2]), "the message: expected an object"),
    ("state", lambda p: encode(_without(p["state"], "today.weight_bearing.mean_n")),
     "today.weight_bearing.mean_n: missing"),
    ("state", lambda p: encode(_without(p["state"], "position")), "position: missing"),
    ("state", lambda p: encode(_with(p["state"], "today.open_s", "3600")), "today.open_s: expected a number"),
    ("state", lambda p: encode(_with(p["state"], "today.open_s", True)), "today.open_s: expected a number"),
    ("state", lambda p: encode(_with(p["state"], "time", "yesterday")), "time: expected a date and time"),
    ("state", lambda p: encode(_with(p["state"], "time", "2026-05-01T10:00:00")), "time: expected a date and time"),
    ("state", lambda p: encode(_with(p["state"], "position", "<img src=x>")), "position: expected 'open'"),
    ("state", lambda p: encode(_with(p["state"], "faults", "none")), "faults: expected a list"),
    ("state", lambda p: encode(_with(p["state"], "weight_bearing.band_n", [100, 50])), "low <= high"),
    ("state", lambda p: encode(_with(p["state"], "goal_h", -1)), "goal_h: expected a number from 0 to 24"),
    ("load", lambda p: encode(_without(p["load"], "load_n")), "load_n: missing"),
    ("event", lambda p: encode(_with(p["wb_session"], "day", "2026-02-30")), "day: expected a date"),
    ("event", lambda p: encode(_without(p["alert"], "text")), "text: missing"),
    ("event", lambda p: encode({"type": "alert"}), "id: missing"),
    ("status", lambda p: b"maybe", "status: expected 'online' or 'offline'"),
    ("state", lambda p: b" " * (MAX_PAYLOAD + 1), "expected at most"),
])
def test_a_message_that_does_not_fit_is_refused_in_one_line(payloads, kind, make, said):
    """Missing keys, wrong types, non-JSON, NaN, bad dates, bad values: Unreadable, with
    one line naming the key and what was expected."""
    with pytest.raises(Unreadable) as info:
        read(kind, make(payloads))
    assert said in str(info.value) and "\n" not in str(info.value)


def test_a_day_message_must_match_its_topic(payloads):
    """A day summary under a bad date, or under another day's topic, is refused."""
    day = payloads["day"]
    with pytest.raises(Unreadable, match="the topic's date: expected a date"):
        read("day", encode(day), "2026-13-01")
    with pytest.raises(Unreadable, match="date: expected the topic's date 2026-04-30"):
        read("day", encode(day), "2026-04-30")


@pytest.mark.parametrize("day, fits", [
    ("0001-01-05", False), ("1970-12-31", False), ("1971-01-01", True), ("2026-05-01", True),
    ("9998-12-31", True), ("9999-12-31", False), ("2026-02-30", False), ("2026-W18-1", False),
])
def test_a_day_is_read_only_in_the_years_the_agent_takes(payloads, day, fits):
    """A day topic, a day summary's date and a session's day: from FIRST_YEAR to LAST_YEAR
    (beyond them the report's period would leave the calendar), and a device whose only day
    is one of those has its report; other dates are refused in one line."""
    from pi_agent.dashboard.report import download
    summary = encode(dict(payloads["day"], date=day))
    session = encode(dict(payloads["wb_session"], day=day))
    if fits:
        assert read("day", summary, day)["date"] == day and read("event", session)["day"] == day
        for fmt in ("json", "csv", "html"):
            status, body, _, headers = download(_Known({day: read("day", summary, day)}, None),
                                                {"device": ["dev1"], "format": [fmt]})
            assert status == 200 and day in body.decode() and day in headers["Content-Disposition"], body[:200]
        return
    for kind, payload, topic in (("day", summary, day), ("event", session, None)):
        with pytest.raises(Unreadable, match="expected a date from 1971 to 9998") as info:
            read(kind, payload, topic)
        assert "\n" not in str(info.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 20, 10 ** 20) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20)


@settings(max_examples=300)
@given(kind=st.sampled_from(["state", "load", "day", "event", "status"]), value=json_values)
def test_anything_is_either_refused_cleanly_or_safe_to_send(kind, value):
    """Whatever JSON arrives, reading it raises nothing but Unreadable, and anything accepted
    is finite JSON (the page's JSON.parse never meets NaN or Infinity)."""
    try:
        got = read(kind, json.dumps(value).encode(), "2026-05-01")
    except Unreadable:
        return
    json.dumps(got, allow_nan=False)


@settings(max_examples=200)
@given(data=st.data())
def test_a_state_with_any_one_value_changed_is_read_or_refused_cleanly(payloads, data):
    """A real state with one value anywhere replaced by any JSON value: read or refused
    with Unreadable, never another error."""
    state = json.loads(json.dumps(payloads["state"]))
    node = state
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = data.draw(st.sampled_from(keys))
        if isinstance(node[key], (dict, list)) and node[key] and data.draw(st.booleans()):
            node = node[key]
            continue
        node[key] = data.draw(json_values)
        break
    try:
        got = read("state", json.dumps(state).encode())
    except Unreadable:
        return
    json.dumps(got, allow_nan=False)


# -- the password and its gate ----------------------------------------------------------------------
def test_password_is_stored_hashed_and_sessions_expire():
    """The password is kept as a salted scrypt hash; a session ends after its lifetime."""
    stored = hash_password(PASSWORD)
    assert PASSWORD not in stored and stored.startswith("scrypt$") and valid_hash(stored)
    assert check_password(PASSWORD, stored) and not check_password("open-hand-2025", stored)
    assert hash_password(PASSWORD) != stored, "salted"
    assert not valid_hash("scrypt$1048576$8$1$c2FsdA==$ZGlnZXN0"), "a hash that would cost 1 GiB to check"
    now = [0.0]
    sessions = Sessions(hours=1, clock=lambda: now[0], limit=3)
    token = sessions.new()
    assert sessions.valid(token) and not sessions.valid("guess") and not sessions.valid(None)
    now[0] = 3599
    assert sessions.valid(token)
    now[0] = 3601
    assert not sessions.valid(token)
    tokens = [sessions.new() for _ in range(5)]
    assert [sessions.valid(t) for t in tokens] == [False, False, True, True, True], "at most 3, the oldest go"


def test_the_gate_backs_off_each_client_after_a_wrong_password():
    """After each wrong password the same client waits 1, 2, 4... s (capped), other
    clients do not; a right password resets it; a refused attempt checks nothing."""
    now = [0.0]
    checked = []
    gate = LoginGate(base_s=1.0, max_s=8.0, clock=lambda: now[0])

    def check(password, stored):
        checked.append(password)
        return password == "right"

    assert gate.attempt("10.0.0.9", "wrong", "h", check).outcome == "wrong"
    verdict = gate.attempt("10.0.0.9", "right", "h", check)
    assert verdict.outcome == "wait" and verdict.retry_s == pytest.approx(1.0)
    assert gate.attempt("10.0.0.7", "right", "h", check).outcome == "ok", "another client is not held back"
    waits = []
    for _ in range(5):
        now[0] += 100
        verdict = gate.attempt("10.0.0.9", "wrong", "h", check)
        waits.append(verdict.retry_s)
    assert waits == pytest.approx([2.0, 4.0, 8.0, 8.0, 8.0])
    assert len(checked) == 7
    now[0] += 8
    assert gate.attempt("10.0.0.9", "right", "h", check).outcome == "ok"
    assert gate.attempt("10.0.0.9", "wrong", "h", check).retry_s == pytest.approx(1.0), "reset by the right one"
    now[0] += 10_000
    assert gate.attempt("10.0.0.9", "wrong", "h", check).retry_s == pytest.approx(1.0), "forgotten after a while"


def test_the_gate_bounds_the_checks_running_and_waiting():
    """With 2 checks at once and 3 waiting, 12 clients at once: 5 admitted, 2 running at
    most, 7 told 'busy' at once; one client's second attempt while its first runs: 'wait'."""
    gate = LoginGate(checks=2, waiting=3)
    release = threading.Event()
    running, most = [0], [0]
    lock = threading.Lock()

    def slow_check(password, stored):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(10)
        with lock:
            running[0] -= 1
        return False

    verdicts = []
    threads = [threading.Thread(target=lambda i=i: verdicts.append(gate.attempt(f"10.0.0.{i}", "x", "h", slow_check)))
               for i in range(12)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + 60          # all twelve in: two checks running, seven told 'busy'
    while time.monotonic() < deadline:
        with lock:
            both = running[0] == 2
        if both and sum(v.outcome == "busy" for v in verdicts) == 7:
            break
        time.sleep(0.01)
    assert gate.attempt("10.0.0.0", "x", "h", slow_check).outcome in ("wait", "busy")
    release.set()
    for th in threads:
        th.join(10)
    outcomes = sorted(v.outcome for v in verdicts)
    assert outcomes == ["busy"] * 7 + ["wrong"] * 5 and most[0] == 2 and gate.peak == 5


# -- where the hash is kept -------------------------------------------------------------------------------
def test_dashboard_password_writes_a_file_only_its_owner_can_read(tmp_path):
    """`pi-agent dashboard-password` writes the hash to dashboard.password_file with mode
    0600 (whatever the umask), moves an older configuration's hash out of agent.toml, and
    the dashboard refuses to start without a password, in one line."""
    cfg = write_config(tmp_path / "dash", f'[dashboard]\npassword_hash = "{hash_password("old-password-1")}"\n')
    old_umask = os.umask(0o022)
    try:
        done = run_cli("dashboard-password", "--config", str(cfg), input=PASSWORD + "\n")
    finally:
        os.umask(old_umask)
    assert done.returncode == 0, done.stderr
    hash_file = tmp_path / "dash" / "dashboard_password"
    assert stat.S_IMODE(hash_file.stat().st_mode) == 0o600
    stored = hash_file.read_text().strip()
    assert check_password(PASSWORD, stored) and PASSWORD not in hash_file.read_text()
    assert "scrypt$" not in cfg.read_text(), "the hash left the configuration"
    assert not list(hash_file.parent.glob(".dashboard_password*")), "no temporary file left"
    too_short = run_cli("dashboard-password", "--config", str(cfg), input="short\n")
    assert too_short.returncode == 1 and "at least 8 characters" in too_short.stderr
    assert hash_file.read_text().strip() == stored, "a refused password changes nothing"
    hash_file.unlink()
    refused = run_cli("dashboard", "--config", str(cfg), "--broker", "mqtt://127.0.0.1:1")
    assert refused.returncode == 78
    assert "dashboard.password_file: expected a password" in refused.stderr and "Traceback" not in refused.stderr


class _Known:
    """A fleet that knows one device: its day messages and last state."""
    def __init__(self, days, state):
        self.known = (days, state)

    def history(self, device):
        return self.known if device == "dev1" else None


def test_the_dashboards_json_report_names_the_zone_the_device_said(payloads):
    """The JSON download's timezone is the zone of the device's state (as `pi-agent report`
    fills it in); a state without one (an older agent) leaves it null."""
    from pi_agent.dashboard.report import download
    state = read("state", encode(payloads["state"]))
    days = {payloads["day"]["date"]: read("day", encode(payloads["day"]), payloads["day"]["date"])}
    status, body, _, _ = download(_Known(days, state), {"device": ["dev1"], "format": ["json"]})
    assert status == 200 and json.loads(body)["timezone"] == ZONE.key == "Europe/Berlin"
    older = {k: v for k, v in state.items() if k != "zone"}
    status, body, _, _ = download(_Known(days, older), {"device": ["dev1"], "format": ["json"]})
    assert status == 200 and json.loads(body)["timezone"] is None
