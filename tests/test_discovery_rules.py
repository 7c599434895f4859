"""The discovery message against the rules of Home Assistant's MQTT integration that
matter for it, written down here with where each comes from (home-assistant/core,
``homeassistant/components/...``, 2025 releases), and its templates rendered with Jinja2
(Home Assistant's template engine) against payloads from a real core."""

from __future__ import annotations

import json
import zoneinfo

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pi_agent.core import Core
from pi_agent.core.events import Event
from pi_agent.mqtt.discovery import POSITIONS, discovery_payload
from pi_agent.mqtt.payloads import EVENT_TYPES, event_payload, state_payload
from sensors.channel import Reading

ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
WALL0 = 1_777_629_600.0

# mqtt/abbreviations.py: the abbreviations used here (ABBREVIATIONS, DEVICE_ABBREVIATIONS,
# ORIGIN_ABBREVIATIONS); discovery expands them before validating.
ABBREVIATIONS = {"dev": "device", "o": "origin", "cmps": "components", "p": "platform"}
DEVICE_ABBREVIATIONS = {"ids": "identifiers", "mf": "manufacturer", "mdl": "model", "sw": "sw_version",
                        "name": "name"}
ORIGIN_ABBREVIATIONS = {"name": "name", "sw": "sw_version"}
# mqtt/schemas.py DEVICE_DISCOVERY_SCHEMA: the keys a device-based message may have at its top.
DEVICE_LEVEL = {"device", "origin", "components", "availability_topic", "availability", "availability_mode",
                "availability_template", "payload_available", "payload_not_available", "state_topic",
                "command_topic", "qos", "encoding"}
# mqtt/schemas.py SHARED_OPTIONS (used by discovery.py _merge_common_device_options): the only
# device-level options a component inherits. 'qos' is not among them (newer releases add it),
# so a component without its own qos subscribes and commands at QoS 0.
SHARED_OPTIONS = {"availability", "availability_mode", "availability_template", "availability_topic",
                  "command_topic", "payload_available", "payload_not_available", "state_topic"}
# mqtt/const.py SUPPORTED_COMPONENTS (the platforms used here among them).
PLATFORMS = {"sensor", "binary_sensor", "number", "button", "event"}
# homeassistant/const.py STATE_UNKNOWN, STATE_UNAVAILABLE: Home Assistant's own states for
# "no data" and "offline"; an enum that offers them cannot be told from them.
RESERVED_STATES = {"unknown", "unavailable"}
# sensor/const.py DEVICE_CLASS_UNITS (UnitOfTime, UnitOfMass) and DEVICE_CLASS_STATE_CLASSES;
# there is no device class for a force, so newtons go without one, kilograms with 'weight'.
SENSOR_UNITS = {"duration": {"d", "h", "min", "s", "ms", "µs"}, "weight": {"g", "kg", "mg", "µg", "oz", "lb", "st"},
                "enum": set()}
SENSOR_STATE_CLASSES = {"duration": {"measurement", "total", "total_increasing"},
                        "weight": {"measurement", "total", "total_increasing"}, "enum": set()}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
# binary_sensor/__init__.py BinarySensorDeviceClass (the one used; none is optional),
# button/__init__.py ButtonDeviceClass, event/__init__.py EventDeviceClass.
BUTTON_CLASSES = {"identify", "restart", "update"}
EVENT_CLASSES = {"button", "doorbell", "motion"}
NUMBER_MODES = {"auto", "box", "slider"}        # number/const.py NumberMode
PAYLOAD_NONE = "None"       # mqtt/const.py: a sensor that renders this has no value (not an error)


def core_with(values: dict, cfg, seconds: float = 2.0) -> Core:
    core, t = Core(cfg, ZONE), 0.0
    while t < seconds:
        t += 0.25
        core.feed([Reading(ch, t, 0, v) for ch, v in values.items()], WALL0 + t)
    return core


def render(template: str, payload: dict) -> str:
    """A value template as Home Assistant renders it: ``value`` and ``value_json``, sandboxed."""
    env = ImmutableSandboxedEnvironment()
    return env.from_string(template).render(value=json.dumps(payload), value_json=payload).strip()


def expanded(message: dict) -> dict:
    """The message with its abbreviations expanded, as discovery does before validating."""
    out = {ABBREVIATIONS.get(k, k): v for k, v in message.items()}
    out["device"] = {DEVICE_ABBREVIATIONS[k]: v for k, v in out["device"].items()}
    out["origin"] = {ORIGIN_ABBREVIATIONS[k]: v for k, v in out["origin"].items()}
    out["components"] = {key: {ABBREVIATIONS.get(k, k): v for k, v in c.items()}
                         for key, c in out["components"].items()}
    return out


@pytest.fixture(params=["N", "percent_body_weight", "percent_max_push"])
def message(request):
    return expanded(discovery_payload("dev1", request.param)), request.param


def test_the_device_level_follows_the_device_discovery_schema(message):
    """Device, origin and components required; only the schema's keys; a device identifier; qos 0-2."""
    m, _ = message
    assert set(m) <= DEVICE_LEVEL and {"device", "origin", "components"} <= set(m)
    assert m["device"]["identifiers"], "a device needs at least one identifier (schemas.py)"
    assert m["origin"]["name"], "origin: name is required (MQTT_ORIGIN_INFO_SCHEMA)"
    assert m.get("qos", 0) in (0, 1, 2)


def test_every_component_carries_its_own_qos_and_a_unique_id(message):
    """qos is not a shared option: each component says qos 1 itself; unique_id is required in device discovery."""
    m, _ = message
    ids = []
    for key, c in m["components"].items():
        assert c["platform"] in PLATFORMS, key
        assert c.get("qos") == 1, f"{key}: without its own qos it runs at QoS 0 (not in SHARED_OPTIONS)"
        ids.append(c["unique_id"])
    assert len(set(ids)) == len(ids)
    inherited = {k for k in m if k in SHARED_OPTIONS}
    assert inherited == {"availability_topic", "payload_available", "payload_not_available"}


def test_sensors_follow_the_sensor_schema(message):
    """options only on enum sensors, never with a unit or state class, never Home Assistant's own
    states; units and state classes that the device class allows."""
    m, _ = message
    for key, c in m["components"].items():
        if c["platform"] != "sensor":
            continue
        dc = c.get("device_class")
        if "options" in c:
            assert dc == "enum" and c["options"], key
            assert "unit_of_measurement" not in c and "state_class" not in c, key
            assert not set(c["options"]) & RESERVED_STATES, f"{key}: offers {RESERVED_STATES & set(c['options'])}"
        if "state_class" in c:
            assert c["state_class"] in STATE_CLASSES
        if dc in SENSOR_UNITS:
            if SENSOR_UNITS[dc]:
                assert c.get("unit_of_measurement") in SENSOR_UNITS[dc], key
            if "state_class" in c:
                assert c["state_class"] in SENSOR_STATE_CLASSES[dc], key


def test_the_position_enum_says_no_reading_and_sensor_fault_in_its_own_words(message):
    """The position enum has no 'unknown': the device says 'no_reading' or 'sensor_fault'."""
    m, _ = message
    assert m["components"]["position"]["options"] == list(POSITIONS)
    assert {"no_reading", "sensor_fault"} <= set(POSITIONS) and "unknown" not in POSITIONS


def test_numbers_have_a_unit_and_a_range_that_fits_it(message):
    """number.py validate_config: min < max; step >= 0.001; a mode it knows; and here: a unit on
    every number, in % at most 100 and in N what set_targets accepts."""
    m, unit = message
    numbers = {k: c for k, c in m["components"].items() if c["platform"] == "number"}
    assert set(numbers) == {"goal", "target_low", "target_high"}
    for key, c in numbers.items():
        assert c["min"] < c["max"] and c["step"] >= 1e-3 and c["mode"] in NUMBER_MODES, key
        assert c["unit_of_measurement"], f"{key}: no unit"
        if c["unit_of_measurement"] == "%":
            assert 0 <= c["min"] and c["max"] <= 100, key
    band = numbers["target_low"]["unit_of_measurement"]
    assert band == ("N" if unit == "N" else "%")
    assert numbers["target_high"]["unit_of_measurement"] == band
    assert numbers["target_high"]["max"] == (2000 if unit == "N" else 100)


def test_buttons_binary_sensor_and_event_follow_their_schemas(message):
    """Buttons need a command topic and a known device class; the event entity needs event_types."""
    m, _ = message
    for key, c in m["components"].items():
        if c["platform"] == "button":
            assert c["command_topic"] and c.get("device_class", "identify") in BUTTON_CLASSES, key
        if c["platform"] == "event":
            assert c["event_types"] and c["state_topic"] == "openpalm/dev1/event", key
            assert c.get("device_class", "button") in EVENT_CLASSES
        if c["platform"] == "binary_sensor":
            assert c.get("device_class", "problem") == "problem", key
    assert set(m["components"]["events"]["event_types"]) == set(EVENT_TYPES)


def test_kilograms_beside_newtons():
    """The load in newtons (no device class for a force) and in kilograms as a weight sensor."""
    c = discovery_payload("dev1")["cmps"]
    assert c["load"]["unit_of_measurement"] == "N" and "device_class" not in c["load"]
    assert (c["load_kg"]["device_class"], c["load_kg"]["unit_of_measurement"]) == ("weight", "kg")


# -- the templates, rendered ------------------------------------------------------------------------
OPEN = {"wrist": 25.0, "fingers": 5.0, "palm": 3.0, "pad_palm": 30.0, "pad_fingers": 10.0}


@pytest.mark.parametrize("values, position", [
    (OPEN, "open"),
    ({**OPEN, "wrist": -5.0, "fingers": 60.0}, "closed"),
    ({"pad_palm": 0.0, "pad_fingers": 0.0}, "no_reading"),     # the splint not read yet
])
def test_state_templates_render_what_each_entity_accepts(cfg, values, position):
    """Numeric sensors render a number (or None), the enum one of its options, the binary sensors
    ON or OFF, numbers a number, attributes an object; against a state payload from a real core."""
    snap = core_with(values, cfg).snapshot()
    state = json.loads(json.dumps(state_payload(snap, ZONE, WALL0 + 2)))
    for key, c in discovery_payload("dev1")["cmps"].items():
        if c.get("state_topic") != "openpalm/dev1/state":
            continue
        out = render(c["value_template"], state)
        if c["p"] == "sensor" and "options" in c:
            assert out == position and out in c["options"]
        elif c["p"] in ("sensor", "number"):
            if out != PAYLOAD_NONE:
                float(out)
        elif c["p"] == "binary_sensor":
            assert out in ("ON", "OFF")
        if "json_attributes_template" in c:
            attrs = json.loads(render(c["json_attributes_template"], state))
            assert isinstance(attrs, dict) and attrs, key
    attrs = json.loads(render(discovery_payload("dev1")["cmps"]["faults"]["json_attributes_template"], state))
    assert isinstance(attrs["faults"], list)


def test_a_sensor_fault_is_said_as_sensor_fault(cfg):
    """A palm sensor in fault: the position renders 'sensor_fault', the binary sensor ON with the fault's words."""
    core = core_with({"wrist": 25.0, "fingers": 5.0, "palm": 3.0}, cfg)
    t = 2.0
    while t < 10:
        t += 0.25
        core.feed([Reading("wrist", t, 0, 25.0), Reading("fingers", t, 0, 5.0), Reading("palm", t, 0, None, "open")],
                  WALL0 + t)
    state = json.loads(json.dumps(state_payload(core.snapshot(), ZONE, WALL0 + t)))
    assert state["faults"], state
    c = discovery_payload("dev1")["cmps"]
    assert state["position"] == "unknown" and render(c["position"]["value_template"], state) == "sensor_fault"
    assert render(c["faults"]["value_template"], state) == "ON"
    assert json.loads(render(c["faults"]["json_attributes_template"], state))["faults"]


def test_the_event_template_gives_an_event_type_and_keeps_the_id():
    """mqtt/event.py: the rendered payload is a JSON object with an event_type among event_types;
    the other keys (the id among them) become the event's attributes."""
    template = discovery_payload("dev1")["cmps"]["events"]["value_template"]
    for kind in EVENT_TYPES:
        payload = event_payload(Event(kind, 1.0, WALL0, {"text": "x"}), "id-1", "dev1", ZONE)
        out = json.loads(render(template, payload))
        assert out["event_type"] == kind and out["id"] == "id-1"


def event_as_home_assistant_takes_it(template: str, payload: dict, event_types: list[str]) -> dict | None:
    """mqtt/event.py _event_received: an empty rendering is ignored; otherwise a JSON object
    whose event_type must be among event_types (else a warning, and no event)."""
    out = render(template, payload)
    if not out or out in (PAYLOAD_NONE, "{}"):
        return None
    attrs = json.loads(out)
    assert isinstance(attrs, dict) and attrs.pop("event_type") in event_types, out
    return attrs


def test_the_spasm_event_entity_fires_on_spasms_only():
    """The spasm event entity: a spasm event becomes a 'spasm' with its start, duration, peak and
    lowest wrist; every other event renders empty, which Home Assistant ignores without a warning."""
    c = discovery_payload("dev1")["cmps"]["spasms"]
    assert c["p"] == "event" and c["event_types"] == ["spasm"] and c["state_topic"] == "openpalm/dev1/event"
    spasm = event_payload(Event("spasm", 9.0, WALL0, {"start": WALL0 - 5, "duration_s": 4.5, "peak_deg": 61.0,
                                                      "wrist_min_deg": -4.0}), "id-2", "dev1", ZONE)
    attrs = event_as_home_assistant_takes_it(c["value_template"], spasm, c["event_types"])
    assert attrs["duration_s"] == 4.5 and attrs["peak_deg"] == 61.0 and attrs["id"] == "id-2"
    for kind in set(EVENT_TYPES) - {"spasm"}:
        other = event_payload(Event(kind, 1.0, WALL0, {"text": "x"}), "id-1", "dev1", ZONE)
        assert event_as_home_assistant_takes_it(c["value_template"], other, c["event_types"]) is None, kind


def test_clinical_entities_show_what_goes_on_now(cfg):
    """During a spasm, with the palm over pressure.alert_n and a session of two weight shifts, the
    binary sensors say ON and the count sensors render the core's numbers; afterwards OFF and None."""
    core, t = Core(cfg, ZONE), 0.0

    def feed(seconds, fingers, palm, pad):
        nonlocal t
        end = t + seconds
        while t < end - 1e-9:
            t += 0.05
            f = fingers(t) if callable(fingers) else fingers
            p = pad(t) if callable(pad) else pad
            core.feed([Reading("wrist", t, 0, 25.0), Reading("fingers", t, 0, f), Reading("palm", t, 0, palm),
                       Reading("pad_palm", t, 0, p / 2), Reading("pad_fingers", t, 0, p / 2)], WALL0 + t)

    feed(10, 5.0, 3.0, 0.0)
    feed(3, 5.0, 10.0, 0.0)                              # the palm over alert_n
    feed(3, 60.0, 10.0, lambda t: 70.0 if t % 3 < 1.5 else 20.0)   # a spasm; two rocks on the pad
    state = json.loads(json.dumps(state_payload(core.snapshot(), ZONE, WALL0 + t)))
    c = discovery_payload("dev1")["cmps"]
    assert render(c["spasm"]["value_template"], state) == "ON"
    assert render(c["high_pressure"]["value_template"], state) == "ON"
    reps = core.snapshot().reps
    assert reps >= 1 and render(c["wb_session_reps"]["value_template"], state) == str(reps)
    assert render(c["wb_reps_today"]["value_template"], state) == str(reps)
    assert json.loads(render(c["wb_reps_today"]["json_attributes_template"], state)) == {"goal": 0}
    assert render(c["spasms_today"]["value_template"], state) == "1"
    assert float(render(c["high_pressure_today"]["value_template"], state)) > 0
    assert render(c["pressure_alerts_today"]["value_template"], state) == "0"
    feed(10, 5.0, 3.0, 0.0)
    state = json.loads(json.dumps(state_payload(core.snapshot(), ZONE, WALL0 + t)))
    assert render(c["spasm"]["value_template"], state) == "OFF"
    assert render(c["high_pressure"]["value_template"], state) == "OFF"
    assert render(c["wb_session_reps"]["value_template"], state) == PAYLOAD_NONE


def test_command_templates_make_requests_the_core_accepts(message):
    """A number's command template, rendered with a value, is a request the core's parser accepts."""
    from pi_agent.core.commands import parse
    m, _ = message
    for key, c in m["components"].items():
        if c["platform"] == "number":
            value = (c["min"] + c["max"]) / 2
            text = ImmutableSandboxedEnvironment().from_string(c["command_template"]).render(value=value)
            args, _ = parse(c["command_topic"].rsplit("/", 1)[1], text.encode())
            assert list(args.values()) == [value], key
        if c["platform"] == "button":
            parse(c["command_topic"].rsplit("/", 1)[1], c["payload_press"].encode())


def test_exercise_entities_render_the_live_count_the_days_total_and_the_goal(cfg):
    """Exercise: the session's live count renders None (no value) outside a session and the
    count inside one; today's repetitions and minutes and the goal's progress render numbers."""
    from pi_agent import config
    core = core_with({"wrist": 25.0, "fingers": 40.0, "palm": 3.0}, config.changed(cfg, exercise={"goal_reps": 4}))
    c = discovery_payload("dev1")["cmps"]

    def rendered(key, t):
        return render(c[key]["value_template"], json.loads(json.dumps(state_payload(core.snapshot(), ZONE, WALL0 + t))))
    assert rendered("exercise_reps", 2) == PAYLOAD_NONE
    core.command("exercise_start", b"{}", 2.0, WALL0 + 2)
    t = 2.0
    for fingers in [40.0] * 40 + ([30.0] * 40 + [40.0] * 40) * 2:     # two openings of 10 degrees, at 200 a second
        t += 0.005
        core.feed([Reading("fingers", t, 0, fingers)], WALL0 + t)
    for _ in range(240):                                                 # a still minute
        t += 0.25
        core.feed([Reading("fingers", t, 0, 40.0)], WALL0 + t)
    assert rendered("exercise_reps", t) == "2"
    assert rendered("extension_reps_today", t) == "2"
    assert rendered("exercise_goal_progress", t) == "50.0"
    assert rendered("exercise_today", t) == "1.0"
    core.command("exercise_stop", b"{}", t, WALL0 + t)
    assert rendered("exercise_reps", t) == PAYLOAD_NONE and rendered("extension_reps_today", t) == "2"
    assert render(c["exercise_goal_progress"]["value_template"],
                  json.loads(json.dumps(state_payload(core_with({"fingers": 40.0}, cfg).snapshot(), ZONE,
                                                      WALL0 + 2)))) == PAYLOAD_NONE, "no goal: no value"


def test_the_exercise_buttons_send_the_exercise_requests():
    """Home Assistant's start and stop buttons press exercise_start and exercise_stop with no arguments."""
    from pi_agent.core.commands import parse
    c = discovery_payload("dev1")["cmps"]
    for key in ("exercise_start", "exercise_stop"):
        assert c[key]["p"] == "button" and c[key]["command_topic"] == f"openpalm/dev1/request/{key}"
        args, _ = parse(key, c[key]["payload_press"].encode())
        assert args == {}


def test_vibration_today_says_how_much_of_it_is_unconfirmed(cfg):
    """'Vibration today' carries the minutes nobody saw played (an interrupted therapy counted to
    its planned end) as an attribute: 0 on a plain day, the day's figure otherwise."""
    state = json.loads(json.dumps(state_payload(core_with(OPEN, cfg).snapshot(), ZONE, WALL0 + 2)))
    template = discovery_payload("dev1")["cmps"]["vibration_today"]["json_attributes_template"]
    assert json.loads(render(template, state)) == {"unconfirmed_min": 0.0}
    state["today"].update(vibration_s=720.0, vibration_unconfirmed_s=324.0)
    assert json.loads(render(template, state)) == {"unconfirmed_min": 5.4}
    del state["today"]["vibration_unconfirmed_s"]                  # an older agent's state
    assert json.loads(render(template, state)) == {"unconfirmed_min": 0.0}
    for odd in (None, "x", [1]):                                    # not the agent's, but never an error
        state["today"]["vibration_unconfirmed_s"] = odd
        assert json.loads(render(template, state)) == {"unconfirmed_min": 0.0}, odd
