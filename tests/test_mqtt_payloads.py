"""MQTT's payloads, pacing and Home Assistant discovery, straight on the pure modules:
no broker, no paho client, no files (the snapshots come from a real core fed in memory)."""

from __future__ import annotations

import json
import re
import zoneinfo

import pytest

from pi_agent.core import Core
from pi_agent.core.commands import COMMANDS
from pi_agent.core.days import Day, report_day
from pi_agent.core.events import Event
from pi_agent.mqtt.discovery import discovery_payload, discovery_topic
from pi_agent.mqtt.payloads import (load_payload, DAY_EVERY_S, PAST_DAY_REPEATS, SETTLE_S, DayPacer, StatePacer, day_message, event_payload, load_due,
                                    significant, state_payload, topic_root)
from sensors.channel import Reading

ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
WALL0 = 1_777_629_600.0          # 2026-05-01 12:00 in Berlin
KINDS = {"wrist": "flex", "pad_palm": "force"}


def fed_core(cfg, seconds: float, values: dict, every: float = 0.25) -> Core:
    core = Core(cfg, ZONE)
    t = 0.0
    while t < seconds - 1e-9:
        t += every
        core.feed([Reading(ch, t, 0, v) for ch, v in values.items()], WALL0 + t)
    return core


def state(**changes) -> dict:
    """A state payload's comparable part, with ``changes`` applied."""
    base = {"position": "open", "worn": True, "faults": [], "weight_bearing": {"active": False},
            "spasm": {"active": False, "since": None}, "pressure": {"high": False, "since": None},
            "therapy": {"running": False}, "goal_h": 6.0, "targets": {"low": 20, "high": 60},
            "channels": {"wrist": 10.0, "pad_palm": 3.0}, "load_n": 5.0, "exercise": {"active": False, "reps": None}}
    for key, value in changes.items():
        if key in KINDS:
            base["channels"] = {**base["channels"], key: value}
        else:
            base[key] = value
    return base


# -- payloads ----------------------------------------------------------------------------------
def test_event_payload_carries_id_type_local_time_device_and_details():
    """An event message: its id, type, device, local ISO time in milliseconds and its data, flat."""
    event = Event("alert", t=5.0, wall=WALL0 + 0.25, data={"text": "open your hand", "kind": "reminder"})
    payload = event_payload(event, "abc123", "dev1", ZONE)
    assert payload == {"id": "abc123", "type": "alert", "time": "2026-05-01T12:00:00.250+02:00",
                       "device": "dev1", "text": "open your hand", "kind": "reminder"}


def test_day_message_is_the_report_day_and_final_only_once_the_day_is_over():
    """A day message is report_day's record plus its date, sorted JSON, final only for a day before today."""
    record = Day(worn_s=3600.0, open_s=1800.0, goal_s=7200.0)
    today = json.loads(day_message("2026-05-01", record, "2026-05-01"))
    earlier = json.loads(day_message("2026-05-01", record, "2026-05-02"))
    assert today == {"date": "2026-05-01", **report_day(record), "final": False}
    assert earlier["final"] is True and today["goal_pct"] == 25.0
    text = day_message("2026-05-01", record, "2026-05-01")
    assert text == json.dumps(json.loads(text), sort_keys=True)


def test_topic_root_is_under_openpalm():
    """Every topic of a device is under openpalm/<device>."""
    assert topic_root("op-12ab") == "openpalm/op-12ab"


@pytest.mark.parametrize("new, expected", [
    (state(), False),
    (state(position="closed"), True),
    (state(worn=False), True),
    (state(faults=[{"channel": "wrist", "kind": "open"}]), True),
    (state(goal_h=7.0), True),
    (state(targets={"low": 25, "high": 60}), True),
    (state(therapy={"running": True}), True),
    (state(weight_bearing={"active": True}), True),
    (state(exercise={"active": True, "reps": 3}), True),     # a repetition: the live count
    (state(weight_bearing={"active": False, "reps": 1}), True),     # a repetition
    (state(spasm={"active": True, "since": "2026-05-01T12:00:00.000+02:00"}), True),
    (state(pressure={"high": True, "since": "2026-05-01T12:00:00.000+02:00"}), True),
    (state(wrist=14.9), False),         # flex: 5 degrees of deadband
    (state(wrist=15.1), True),
    (state(wrist=None), True),          # a channel going into fault
    (state(pad_palm=3.9), False),       # force: 1 N
    (state(pad_palm=1.9), True),
    (state(load_n=6.9), False),         # load: 2 N
    (state(load_n=7.1), True),
    (state(load_n=None), True),
])
def test_significant_change_uses_each_kinds_deadband(new, expected):
    """A state is worth publishing on any change of a discrete key, or a value beyond its deadband."""
    assert significant(new, state(), KINDS) is expected


def test_the_first_state_is_always_significant():
    """With nothing published yet, the state is published."""
    assert significant(state(), None, KINDS) is True


# -- the state's pacing --------------------------------------------------------------------------
class Renders:
    """A render function that counts its calls and returns the current state."""

    def __init__(self):
        self.calls, self.current = 0, state()

    def __call__(self):
        self.calls += 1
        return self.current


def test_state_is_published_first_then_only_on_change_or_heartbeat():
    """The first look publishes; an unchanged state waits for the heartbeat, then goes again."""
    pacer, render = StatePacer(30.0, KINDS), Renders()
    assert pacer.due(100.0, render) == state()
    assert pacer.due(101.5, render) is None and pacer.due(129.9, render) is None
    assert pacer.due(130.0, render) == state()
    assert pacer.published == 2


def test_an_event_that_matters_gets_a_look_after_a_quarter_second_values_each_second():
    """After changed(): looked at from 0.25 s; without it, a value change waits 1 s."""
    pacer, render = StatePacer(30.0, KINDS), Renders()
    pacer.due(0.0, render)
    render.current = state(position="closed")
    pacer.changed()
    assert pacer.due(0.2, render) is None and render.calls == 1      # not even rendered
    assert pacer.due(0.3, render) == state(position="closed")
    render.current = state(position="closed", wrist=20.0)
    assert pacer.due(0.9, render) is None and render.calls == 2
    assert pacer.due(1.3, render) == state(position="closed", wrist=20.0)


def test_a_change_within_the_deadband_is_not_published_and_not_remembered():
    """Small drifts are held back; the comparison stays against the last state published."""
    pacer, render = StatePacer(30.0, KINDS), Renders()
    pacer.due(0.0, render)
    render.current = state(wrist=14.5)
    assert pacer.due(1.0, render) is None
    render.current = state(wrist=15.5)      # 5.5 degrees from the published 10
    assert pacer.due(2.0, render) == state(wrist=15.5)


def test_a_hand_lying_still_with_sensor_noise_is_published_about_at_the_heartbeat():
    """An hour of a still hand, looked at each second, its sensors with the scenarios' noise
    (1 degree on a flex sensor, 0.2 N on a force sensor and each pad zone): the state goes
    out about every heartbeat (120 times), not on noise (about once a second at a 2-degree
    and 0.5-N deadband: 3,000 messages an hour to the broker and Home Assistant)."""
    import random
    kinds = {"wrist": "flex", "fingers": "flex", "palm": "force", "pad_palm": "load_cell", "pad_fingers": "load_cell"}
    base = {"wrist": 25.0, "fingers": 5.0, "palm": 3.0, "pad_palm": 0.0, "pad_fingers": 0.0}
    noise = {"flex": 1.0, "force": 0.2, "load_cell": 0.2}
    rng, pacer = random.Random(3), StatePacer(30.0, kinds)
    for second in range(3600):
        values = {ch: v + rng.gauss(0, noise[kinds[ch]]) for ch, v in base.items()}
        current = {**state(), "channels": values, "load_n": values["pad_palm"] + values["pad_fingers"]}
        pacer.due(float(second), lambda: current)
    assert 120 <= pacer.published <= 135, pacer.published


def test_forget_publishes_at_the_next_look():
    """After a new connection the state goes out at once, changed or not."""
    pacer, render = StatePacer(30.0, KINDS), Renders()
    pacer.due(0.0, render)
    pacer.forget()
    assert pacer.due(0.1, render) == state()


# -- the days' pacing ---------------------------------------------------------------------------
def test_days_are_sent_once_then_today_at_most_every_five_minutes():
    """A new day goes out at once; today's changes wait DAY_EVERY_S; an unchanged day never repeats."""
    pacer = DayPacer()
    assert [d for d, _ in pacer.due({"2026-05-01": Day(open_s=10.0)}, "2026-05-01", 0.0)] == ["2026-05-01"]
    assert pacer.due({"2026-05-01": Day(open_s=10.0)}, "2026-05-01", 100.0) == []
    assert pacer.due({"2026-05-01": Day(open_s=20.0)}, "2026-05-01", DAY_EVERY_S - 1) == []
    sent = pacer.due({"2026-05-01": Day(open_s=20.0)}, "2026-05-01", DAY_EVERY_S)
    assert [json.loads(t)["open_s"] for _, t in sent] == [20.0]
    assert pacer.due({"2026-05-01": Day(open_s=30.0)}, "2026-05-01", 2 * DAY_EVERY_S - 1) == []


def test_a_day_that_is_over_goes_out_at_once_and_final():
    """After midnight yesterday's last change is published at once, marked final."""
    pacer = DayPacer()
    pacer.due({"2026-05-01": Day(open_s=10.0)}, "2026-05-01", 0.0)
    sent = dict(pacer.due({"2026-05-01": Day(open_s=12.0), "2026-05-02": Day()}, "2026-05-02", 10.0))
    assert set(sent) == {"2026-05-01", "2026-05-02"}
    assert json.loads(sent["2026-05-01"])["final"] is True and json.loads(sent["2026-05-02"])["final"] is False


def test_a_past_day_that_changes_after_midnight_waits_until_it_stands_still():
    """After the midnight message, a changing earlier day goes out only once it has not
    changed for SETTLE_S, and at most PAST_DAY_REPEATS times."""
    pacer = DayPacer()
    pacer.due({"2026-05-01": Day(open_s=10.0)}, "2026-05-01", 0.0)
    assert [d for d, _ in pacer.due({"2026-05-01": Day(open_s=11.0)}, "2026-05-02", 1.0)] == ["2026-05-01"]
    sent = []
    for i in range(1, 1000):                      # changes every second for 1,000 s
        sent += pacer.due({"2026-05-01": Day(open_s=11.0, longest_bout_s=float(i))}, "2026-05-02", 1.0 + i)
    assert sent == []
    still = {"2026-05-01": Day(open_s=11.0, longest_bout_s=999.0)}
    assert pacer.due(still, "2026-05-02", 1000.0 + SETTLE_S - 1) == []
    assert [d for d, _ in pacer.due(still, "2026-05-02", 1000.0 + SETTLE_S)] == ["2026-05-01"]
    now, count = 2000.0, 0
    for i in range(20):                           # change, stand still, change...: capped
        changed = {"2026-05-01": Day(open_s=11.0, longest_bout_s=2000.0 + i)}
        pacer.due(changed, "2026-05-02", now)
        count += len(pacer.due(changed, "2026-05-02", now + SETTLE_S))
        now += 2 * SETTLE_S
    assert count == PAST_DAY_REPEATS - 1


def test_an_open_bout_past_midnight_publishes_yesterday_a_handful_of_times(cfg):
    """A real core with the hand open from 23:30 to 01:30 (yesterday's longest bout grows
    at every reading after midnight): yesterday's topic goes out at most a handful of
    times after midnight, the last one final and with the whole bout (a reading every 2 s)."""
    core, pacer = Core(cfg, ZONE), DayPacer()
    start = WALL0 + 11.5 * 3600                   # 2026-05-01 23:30 in Berlin
    open_hand, closed_hand = {"wrist": 25.0, "fingers": 5.0, "palm": 3.0}, {"wrist": -5.0, "fingers": 60.0, "palm": 3.0}
    after_midnight, t = [], 0.0
    while t < 2.5 * 3600:
        t += 2.0
        values = open_hand if t < 2 * 3600 else closed_hand
        core.feed([Reading(ch, t, 0, v) for ch, v in values.items()], start + t)
        for day, text in pacer.due(core.days(), core.snapshot().day, t):
            if day == "2026-05-01" and t >= 1800:
                after_midnight.append(json.loads(text))
    assert 1 <= len(after_midnight) <= 1 + PAST_DAY_REPEATS
    assert all(m["final"] for m in after_midnight)
    assert after_midnight[-1]["longest_bout_s"] >= 1.9 * 3600


def test_a_clock_stepped_back_resends_a_changed_later_day_at_once():
    """When the local date changes (even backwards), a changed day is sent at the first look."""
    pacer = DayPacer()
    pacer.due({"2026-05-02": Day(open_s=5.0)}, "2026-05-02", 0.0)
    sent = pacer.due({"2026-05-02": Day(open_s=6.0)}, "2026-05-01", 10.0)
    assert [d for d, _ in sent] == ["2026-05-02"]


def test_forget_sends_every_day_again():
    """After a new connection every day is sent again, unchanged or not."""
    pacer = DayPacer()
    days = {"2026-04-30": Day(open_s=1.0), "2026-05-01": Day(open_s=2.0)}
    pacer.due(days, "2026-05-01", 0.0)
    pacer.forget()
    assert [d for d, _ in pacer.due(days, "2026-05-01", 1.0)] == ["2026-04-30", "2026-05-01"]


# -- the live load ---------------------------------------------------------------------------------
def test_load_is_due_only_while_the_pad_is_read_fast_and_at_its_rate(cfg):
    """No load messages for an empty pad; pressing on it: at most load_rate_hz of them,
    each after a pad reading at least a period (less a tenth) after the last one sent."""
    idle = fed_core(cfg, 2, {"pad_palm": 0.0, "pad_fingers": 0.0}).snapshot()
    pressed = fed_core(cfg, 2, {"pad_palm": 30.0, "pad_fingers": 10.0}).snapshot()   # last pad reading at 2.0
    assert idle.load_n is not None and not load_due(idle, float("-inf"), 20.0)
    assert pressed.pad_fast and load_due(pressed, float("-inf"), 20.0)
    assert not load_due(pressed, 2.0, 20.0), "that reading was sent already"
    assert not load_due(pressed, 1.96, 20.0) and load_due(pressed, 1.95, 20.0)


def test_load_is_stamped_with_the_pad_reading_and_not_due_after_a_splint_reading(cfg):
    """A splint reading after the pad's: the load keeps the pad reading's time (wall and
    monotonic), so no new message is due and none carries the splint's time."""
    core = fed_core(cfg, 2, {"pad_palm": 30.0, "pad_fingers": 10.0})
    core.feed([Reading("wrist", 2.07, 0, 25.0)], WALL0 + 2.07)
    snap = core.snapshot()
    assert snap.load_t == 2.0 and abs(snap.load_wall - (WALL0 + 2.0)) < 1e-6
    assert load_payload(snap)["ts"] == round(WALL0 + 2.0, 3)
    assert not load_due(snap, 2.0, 20.0)


def test_state_payload_from_a_core_is_json_and_has_the_keys_the_deadband_compares(cfg):
    """The rendered state is JSON-able and compares with itself as unchanged."""
    snap = fed_core(cfg, 2, {"wrist": 25.0, "fingers": 5.0, "palm": 3.0}).snapshot()
    payload = json.loads(json.dumps(state_payload(snap, ZONE, snap.wall)))
    assert payload["position"] in ("open", "unknown") and payload["channels"]["wrist"] == 25.0
    assert significant(payload, payload, {n: s.kind for n, s in cfg.sensors.items()}) is False


# -- Home Assistant discovery ---------------------------------------------------------------------
def test_discovery_goes_to_the_device_topic_under_the_prefix():
    """One retained device-based config per device, under Home Assistant's prefix."""
    assert discovery_topic("homeassistant", "dev1") == "homeassistant/device/openpalm_dev1/config"


def test_discovery_names_the_device_its_availability_and_unique_entities():
    """The device block, availability on our status topic, and entity ids unique to the device."""
    d = discovery_payload("dev1")
    assert d["dev"]["ids"] == ["openpalm_dev1"] and d["availability_topic"] == "openpalm/dev1/status"
    assert (d["payload_available"], d["payload_not_available"]) == ("online", "offline")
    ids = [c["unique_id"] for c in d["cmps"].values()]
    assert len(set(ids)) == len(ids) and all(i.startswith("openpalm_dev1_") for i in ids)
    for c in d["cmps"].values():
        assert c["default_entity_id"] == f"{c['p']}.{c['unique_id']}"


def test_discovery_commands_are_requests_the_core_knows():
    """Every command topic is openpalm/<device>/request/<a command of the core>."""
    d = discovery_payload("dev1")
    topics = [c["command_topic"] for c in d["cmps"].values() if "command_topic" in c]
    assert topics
    for topic in topics:
        prefix, name = topic.rsplit("/", 1)
        assert prefix == "openpalm/dev1/request" and name in COMMANDS


def test_discovery_templates_read_keys_the_state_payload_has(cfg):
    """Every value_json path in a template exists in a state payload rendered from a real core."""
    snap = fed_core(cfg, 2, {"wrist": 25.0, "fingers": 5.0, "palm": 3.0, "pad_palm": 0.0,
                             "pad_fingers": 0.0}).snapshot()
    payload = state_payload(snap, ZONE, snap.wall)
    d = discovery_payload("dev1")
    paths = set()
    for c in d["cmps"].values():
        if c.get("state_topic") != "openpalm/dev1/state":
            assert c["p"] in ("button", "event")       # events read the event topic
            continue
        for key in ("value_template", "json_attributes_template"):
            paths |= set(re.findall(r"value_json((?:\.\w+)+)", c.get(key, "")))
    assert len(paths) >= 8
    for path in paths:
        node = payload
        for part in path.strip(".").split("."):
            assert part in node, f"value_json{path}: no '{part}' in the state"
            node = node[part]
