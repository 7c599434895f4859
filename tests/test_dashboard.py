"""The caregiver dashboard without a browser: the schema every message is read through,
the fleet's picture of each device and of the broker link, the password and its gate.

The payloads checked against the schema are made by the agent's own renderers from a
real core, so that the schema and what the agent publishes cannot drift apart. The
browser tests are in test_dashboard_browser.py.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentproc import write_config
from conftest import run_cli
from pi_agent import config
from pi_agent.core import Core
from pi_agent.core.days import report_day
from pi_agent.dashboard.auth import LoginGate, Sessions, check_password, hash_password, valid_hash
from pi_agent.dashboard.fleet import MAX_DEVICES, Fleet
from pi_agent.dashboard.schema import MAX_PAYLOAD, Unreadable, read
from pi_agent.render import load_payload, state_payload
from sensors.channel import Reading

PASSWORD = "open-hand-2026"
ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
WALL0 = 1_777_629_600.0          # 2026-05-01 12:00 in Berlin


# -- what a real agent publishes ---------------------------------------------------------------
def real_payloads(cfg) -> dict:
    """State, load, day and event payloads as the agent renders them, from a core fed a
    minute open, a weight-bearing session over the maximum, a finger-sensor fault and a
    vibration request cut to its limit."""
    core = Core(cfg, ZONE)
    events, t = [], 0.0
    out: dict = {}

    def feed(seconds, values, fault=None):
        nonlocal t
        end = t + seconds
        while t < end - 1e-9:
            t += 0.25
            readings = [Reading(ch, t, 0, v) for ch, v in values.items()]
            if fault:
                readings.append(Reading(fault, t, 0, None, "disconnected"))
            events.extend(core.feed(readings, WALL0 + t).events)

    splint = {"wrist": 25.0, "fingers": 5.0, "palm": 3.0}
    feed(60, {**splint, "pad_palm": 0.0, "pad_fingers": 0.0})
    feed(20, {**splint, "pad_palm": 80.0, "pad_fingers": 50.0})
    out["state_in_session"] = state_payload(core.snapshot(), ZONE, WALL0 + t)
    out["load"] = load_payload(core.snapshot())
    feed(10, {**splint, "pad_palm": 0.0, "pad_fingers": 0.0})
    events.extend(core.command("vibration_start", {"level": "low", "minutes": 600}, t, WALL0 + t).events)
    feed(5, {"wrist": 25.0, "palm": 3.0, "pad_palm": 0.0, "pad_fingers": 0.0}, fault="fingers")
    snap = core.snapshot()
    out["state"] = state_payload(snap, ZONE, WALL0 + t)
    out["day"] = {"date": snap.day, **report_day(snap.today), "final": False}
    for e in events:
        if e.type in ("wb_session", "alert"):
            out[e.type] = {"id": f"id-{e.type}", "type": e.type, "time": "2026-05-01T12:01:00.000+02:00",
                           "device": "dev1", **e.data}
    core.close()
    return out


@pytest.fixture(scope="module")
def payloads():
    return real_payloads(config.load(config.locate(None)))


def encode(value) -> bytes:
    return json.dumps(value).encode()


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


def _without(value: dict, path: str) -> dict:
    value = json.loads(json.dumps(value))
    *parents, last = path.split(".")
    node = value
    for p in parents:
        node = node[p]
    del node[last]
    return value


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


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 20, 10 ** 20) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["state", "load", "day", "event", "status"]), value=json_values)
def test_anything_is_either_refused_cleanly_or_safe_to_send(kind, value):
    """Whatever JSON arrives, reading it raises nothing but Unreadable, and anything accepted
    is finite JSON (the page's JSON.parse never meets NaN or Infinity)."""
    try:
        got = read(kind, json.dumps(value).encode(), "2026-05-01")
    except Unreadable:
        return
    json.dumps(got, allow_nan=False)


@settings(max_examples=200, deadline=None)
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


# -- the fleet ------------------------------------------------------------------------------------
class Clocks:
    def __init__(self):
        self.mono, self.wall = 100.0, 1_800_000_000.0

    def advance(self, s):
        self.mono += s
        self.wall += s


def fleet_with(clocks, **kw) -> Fleet:
    fleet = Fleet(heartbeat_s=10, keepalive_s=4, broker="127.0.0.1:1883", wall=lambda: clocks.wall,
                  clock=lambda: clocks.mono, **kw)
    return fleet


def device(fleet, name):
    return next(d for d in fleet.snapshot()["devices"] if d["id"] == name)


def test_a_device_is_online_then_silent_after_two_and_a_half_heartbeats(payloads):
    """Heard from within 2.5 heartbeats: online; longer: 'silent' (connected but hung),
    with its last-seen time where it was heard, not now."""
    c = Clocks()
    fleet = fleet_with(c)
    fleet.link_up()
    fleet.receive("openpalm/dev1/status", b"online")
    fleet.receive("openpalm/dev1/state", encode(payloads["state"]))
    heard_at = c.wall
    assert device(fleet, "dev1")["condition"] == "online"
    c.advance(24.9)
    assert device(fleet, "dev1")["condition"] == "online"
    c.advance(0.2)
    d = device(fleet, "dev1")
    assert d["condition"] == "silent" and d["last_seen"] == pytest.approx(heard_at)
    assert fleet.snapshot()["limits"] == {"offline_after_s": 6.0, "silent_after_s": 25.0, "keepalive_s": 4,
                                          "heartbeat_s": 10}
    fleet.receive("openpalm/dev1/state", encode(payloads["state"]))
    assert device(fleet, "dev1")["condition"] == "online"


def test_waiting_for_the_fleet_wakes_when_a_device_turns_silent(payloads):
    """The stream's wait ends when time alone changes the page (a device turning silent),
    not only when a message comes: a new version, before the wait's own timeout."""
    import time
    fleet = Fleet(heartbeat_s=0.2, keepalive_s=2)
    fleet.link_up()
    fleet.receive("openpalm/dev1/state", encode(payloads["state"]))
    version = fleet.version
    started = time.monotonic()
    assert fleet.wait(version, 30.0) != version
    assert time.monotonic() - started < 29, "woken by the transition, not by the timeout"
    assert device(fleet, "dev1")["condition"] == "silent"


def test_a_transition_that_fell_between_two_waits_is_not_missed(payloads):
    """A device that turned silent while no one was waiting (the stream was sending) makes
    the next wait return a new version at once."""
    c = Clocks()
    fleet = fleet_with(c)
    fleet.link_up()
    fleet.receive("openpalm/dev1/state", encode(payloads["state"]))
    version = fleet.version
    c.advance(26)                                     # past the 25-s silent window
    assert fleet.wait(version, 30.0) == version + 1
    assert fleet.wait(version + 1, 0.01) == version + 1, "and only once"


def test_offline_status_and_a_lost_broker(payloads):
    """'offline' (a clean stop or the last will) makes the device offline; without the
    broker every device is 'unknown', never offline, and the link says since when."""
    c = Clocks()
    fleet = fleet_with(c)
    assert fleet.snapshot()["broker"]["state"] == "connecting"
    fleet.link_down("could not connect")
    assert fleet.snapshot()["broker"] == {"state": "connecting", "address": "127.0.0.1:1883",
                                          "since": pytest.approx(c.wall), "error": "could not connect"}
    fleet.link_up()
    for name in ("a", "b"):
        fleet.receive(f"openpalm/{name}/status", b"online")
        fleet.receive(f"openpalm/{name}/state", encode(payloads["state"]))
    fleet.receive("openpalm/a/status", b"offline")
    assert [d["condition"] for d in fleet.snapshot()["devices"]] == ["offline", "online"]
    c.advance(3)
    lost_at = c.wall
    fleet.link_down("connection lost")
    c.advance(60)
    snap = fleet.snapshot()
    assert [d["condition"] for d in snap["devices"]] == ["unknown", "unknown"]
    assert snap["broker"]["state"] == "lost" and snap["broker"]["since"] == pytest.approx(lost_at)
    fleet.link_down("connection lost")                # a failed retry: still lost since then
    assert fleet.snapshot()["broker"]["since"] == pytest.approx(lost_at)
    fleet.link_up()
    assert [d["condition"] for d in fleet.snapshot()["devices"]] == ["offline", "online"]
    fleet.link_down("refused: Not authorized", refused=True)
    fleet.link_down("connection lost")
    assert fleet.snapshot()["broker"]["state"] == "refused"


def test_retained_messages_are_not_taken_for_the_device_being_there(payloads):
    """A retained state is shown, but 'last seen' is not set by it, and the device goes
    'silent' if nothing live follows within 2.5 heartbeats of connecting."""
    c = Clocks()
    fleet = fleet_with(c)
    fleet.link_up()
    fleet.receive("openpalm/dev1/status", b"online", retained=True)
    fleet.receive("openpalm/dev1/state", encode(payloads["state"]), retained=True)
    d = device(fleet, "dev1")
    assert d["state"] == payloads["state"] and d["last_seen"] is None and d["state_at"] is None
    assert d["condition"] == "online"
    c.advance(26)
    assert device(fleet, "dev1")["condition"] == "silent"


def test_a_bad_message_marks_its_device_only_and_is_logged_once(payloads, caplog):
    """A malformed state keeps the device's last good state, marks that device (until a
    good state comes), leaves the others alone, and is logged once however often it comes."""
    c = Clocks()
    fleet = fleet_with(c)
    fleet.link_up()
    for name in ("good", "bad"):
        fleet.receive(f"openpalm/{name}/state", encode(payloads["state"]))
    broken = _without(payloads["state"], "today.weight_bearing.mean_n")
    with caplog.at_level(logging.WARNING, logger="pi_agent.dashboard"):
        for _ in range(5):
            fleet.receive("openpalm/bad/state", encode(broken))
    said = [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(said) == 1 and "bad" in said[0] and "today.weight_bearing.mean_n: missing" in said[0]
    bad, good = device(fleet, "bad"), device(fleet, "good")
    assert bad["problem"]["topic"] == "state" and "mean_n" in bad["problem"]["text"]
    assert bad["state"] == payloads["state"] and good["problem"] is None
    fleet.receive("openpalm/bad/state", encode(payloads["state"]))
    assert device(fleet, "bad")["problem"] is None
    json.dumps(fleet.snapshot(), allow_nan=False)


def test_the_fleet_keeps_history_sessions_and_alerts_once(payloads):
    """Day summaries by date, sessions and alerts de-duplicated by event id, the live load
    only while it is fresh; topics that are not a device's are ignored."""
    c = Clocks()
    fleet = fleet_with(c)
    fleet.link_up()
    fleet.receive("openpalm/dev1/status", b"online")
    fleet.receive("openpalm/dev1/state", encode(payloads["state"]))
    fleet.receive(f"openpalm/dev1/day/{payloads['day']['date']}", encode(payloads["day"]))
    for _ in range(2):
        fleet.receive("openpalm/dev1/event", encode(payloads["alert"]))
        fleet.receive("openpalm/dev1/event", encode(payloads["wb_session"]))
    fleet.receive("openpalm/dev1/load", encode(payloads["load"]))
    fleet.receive("elsewhere/dev9/state", b"{}")
    fleet.receive("openpalm/dev1/unknown_kind", b"{}")
    d = device(fleet, "dev1")
    assert list(d["days"]) == [payloads["day"]["date"]]
    assert [a["id"] for a in d["alerts"]] == ["id-alert"] and [s["id"] for s in d["sessions"]] == ["id-wb_session"]
    assert d["load"]["load_n"] == payloads["load"]["load_n"]
    c.advance(3.5)
    assert device(fleet, "dev1")["load"] is None, "a load of 3.5 s ago is not live"
    assert [x["id"] for x in fleet.snapshot()["devices"]] == ["dev1"]


def test_device_ids_and_numbers_are_bounded(payloads, caplog):
    """A topic with an id the agent could not have is ignored (said once); at most
    MAX_DEVICES devices are kept."""
    c = Clocks()
    fleet = fleet_with(c)
    with caplog.at_level(logging.WARNING, logger="pi_agent.dashboard"):
        fleet.receive("openpalm/<script>/state", encode(payloads["state"]))
        fleet.receive("openpalm/<script>/state", encode(payloads["state"]))
        for i in range(MAX_DEVICES + 5):
            fleet.receive(f"openpalm/d{i}/status", b"online")
    assert len(fleet.devices) == MAX_DEVICES and "<script>" not in fleet.devices
    assert sum("ignored messages from device '<script>'" in r.getMessage() for r in caplog.records) == 1


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



# -- what the page asks a device ---------------------------------------------------------------------
def test_the_page_asks_only_for_exercise_and_only_of_an_online_device(payloads):
    """ask: exercise_start/stop of a known online device gets a transaction; another command,
    an unknown device, an offline device or a silent one is refused in one line."""
    from pi_agent.dashboard.fleet import Refused
    c = Clocks()
    fleet = fleet_with(c)
    fleet.link_up()
    fleet.receive("openpalm/dev1/status", b"online")
    fleet.receive("openpalm/dev1/state", encode(payloads["state"]))
    transaction = fleet.ask("dev1", "exercise_start")
    assert transaction.startswith("dashboard-") and fleet.ask("dev1", "exercise_stop") != transaction
    for name, command, said in [("dev1", "vibration_start", "command: expected one of exercise_start, exercise_stop"),
                                ("dev9", "exercise_start", "no device 'dev9'"),
                                (["dev1"], "exercise_start", "no device")]:
        with pytest.raises(Refused, match=said):
            fleet.ask(name, command)
    c.advance(26)
    with pytest.raises(Refused, match="dev1 is not heard from"):
        fleet.ask("dev1", "exercise_start")
    fleet.receive("openpalm/dev1/status", b"offline")
    with pytest.raises(Refused, match="dev1 is offline"):
        fleet.ask("dev1", "exercise_start")


def test_the_devices_answer_to_the_pages_request_is_kept_and_no_one_elses(payloads):
    """The response that carries the page's transaction is shown with the request; a response to
    another client's request, or to another command, changes nothing; an unreadable one marks the device."""
    c = Clocks()
    fleet = fleet_with(c)
    fleet.link_up()
    fleet.receive("openpalm/dev1/state", encode(payloads["state"]))
    assert device(fleet, "dev1")["asked"] is None
    transaction = fleet.ask("dev1", "exercise_start")
    asked = device(fleet, "dev1")["asked"]
    assert asked == {"command": "exercise_start", "at": pytest.approx(c.wall), "status": None}
    refused = {"status": "error", "transaction": transaction,
               "error": "exercise_start refused: an exercise session is already running"}
    fleet.receive("openpalm/dev1/response/exercise_start", encode({**refused, "transaction": "ha-1"}))
    fleet.receive("openpalm/dev1/response/exercise_stop", encode(refused))
    assert device(fleet, "dev1")["asked"]["status"] is None
    fleet.receive("openpalm/dev1/response/exercise_start", b"not json")
    assert device(fleet, "dev1")["problem"]["topic"] == "response/exercise_start"
    fleet.receive("openpalm/dev1/response/exercise_start", encode(refused))
    assert device(fleet, "dev1")["asked"] == {**asked, "status": "error", "error": refused["error"]}
    fleet.receive("openpalm/dev1/response/vibration_start", encode({"status": "ok", "transaction": transaction}))
    assert device(fleet, "dev1")["asked"]["status"] == "error", "other commands' answers are not read"
