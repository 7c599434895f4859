"""The caregiver dashboard's fleet without a browser: its picture of each device (online,
silent, offline, unknown), of the broker link, of a device's history, and of what the page
asks a device and the answer it gets.

The payloads it reads are made by the agent's own renderers from a real core
(tests/dashboard_payloads.py).
"""

from __future__ import annotations

import json
import logging

import pytest

from dashboard_payloads import _without, encode, real_payloads
from pi_agent import config
from pi_agent.dashboard.fleet import MAX_DEVICES, Fleet


@pytest.fixture(scope="module")
def payloads():
    return real_payloads(config.load(config.locate(None)))


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


def heard_online(payloads):
    """A fleet connected to its broker, with dev1 online and its state just heard: (the
    clocks, the fleet, the wall time it was heard)."""
    c = Clocks()
    fleet = fleet_with(c)
    fleet.link_up()
    fleet.receive("openpalm/dev1/status", b"online")
    fleet.receive("openpalm/dev1/state", encode(payloads["state"]))
    return c, fleet, c.wall


def test_a_device_is_online_then_silent_after_two_and_a_half_heartbeats(payloads):
    """Heard from within 2.5 heartbeats: online; longer: 'silent' (connected but hung),
    with its last-seen time where it was heard, not now."""
    c, fleet, heard_at = heard_online(payloads)
    assert device(fleet, "dev1")["condition"] == "online"
    c.advance(24.9)
    assert device(fleet, "dev1")["condition"] == "online"
    c.advance(0.2)
    d = device(fleet, "dev1")
    assert d["condition"] == "silent" and d["last_seen"] == pytest.approx(heard_at, abs=1e-3)
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
                                          "since": pytest.approx(c.wall, abs=1e-3), "error": "could not connect"}
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
    assert snap["broker"]["state"] == "lost" and snap["broker"]["since"] == pytest.approx(lost_at, abs=1e-3)
    fleet.link_down("connection lost")                # a failed retry: still lost since then
    assert fleet.snapshot()["broker"]["since"] == pytest.approx(lost_at, abs=1e-3)
    fleet.link_up()
    assert [d["condition"] for d in fleet.snapshot()["devices"]] == ["offline", "online"]
    fleet.link_down("refused: Not authorized", refused=True)
    fleet.link_down("connection lost")
    assert fleet.snapshot()["broker"]["state"] == "refused"


def test_last_seen_is_the_last_word_from_the_device_not_its_last_will(payloads):
    """A monitor that lost its power is reported 'offline' by the broker's last will 1.5
    keep-alives later: last seen stays when it was last heard, not when the will came."""
    c, fleet, heard_at = heard_online(payloads)
    c.advance(6)
    fleet.receive("openpalm/dev1/status", b"offline")
    d = device(fleet, "dev1")
    assert d["condition"] == "offline" and d["last_seen"] == pytest.approx(heard_at, abs=1e-3)
    for odd in (b"garbage", b""):                        # anyone's, or a retained status cleared
        c.advance(1)
        fleet.receive("openpalm/dev1/status", odd)
        assert device(fleet, "dev1")["last_seen"] == pytest.approx(heard_at, abs=1e-3), odd
    c.advance(30)
    fleet.receive("openpalm/dev1/status", b"online")
    assert device(fleet, "dev1")["last_seen"] == pytest.approx(c.wall, abs=1e-3), "back: heard again"


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
    assert asked == {"command": "exercise_start", "at": pytest.approx(c.wall, abs=1e-3), "status": None}
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
