"""Home Assistant MQTT discovery: one retained device-based message (``cmps``) announces
every entity of the device; they read the ``state`` and ``event`` topics and send
``request/...``. Pure: the link publishes it (on connecting, when Home Assistant comes
back online, and when the unit of the target band changes).

Written for what Home Assistant applies (tests/test_discovery_rules.py lists its rules
and where they come from): each component carries its own ``qos`` (the device-level one
is not inherited by every version), every number has a unit and a range in that unit,
and no enum offers ``unknown`` (Home Assistant's own word for "no data").
"""

from __future__ import annotations

from pi_agent import __version__
from pi_agent.config.schema import GOAL_H_MAX, GOAL_H_MIN
from pi_agent.mqtt.payloads import EVENT_TYPES, topic_root

QOS = 1
POSITIONS = ("open", "closed", "off", "sensor_fault", "no_reading")
"""The position sensor's options: the state's ``position``, and for its ``unknown`` the
device's own words: a sensor fault, or no reading yet."""
TARGET_RANGES = {"N": ("N", 0, 2000, 1), "percent": ("%", 0, 100, 1)}
"""The target band's numbers: (unit, min, max, step), in newtons or in % (of the body
weight or of the maximum push), as ``set_targets`` accepts them."""


def discovery_topic(prefix: str, device: str) -> str:
    """Where the device's discovery message goes, under Home Assistant's ``prefix``."""
    return f"{prefix}/device/openpalm_{device}/config"


def target_range(unit: str) -> tuple[str, float, float, float]:
    """The target band's (unit, min, max, step) in Home Assistant for a ``targets.unit``."""
    return TARGET_RANGES["N" if unit == "N" else "percent"]


def discovery_payload(device: str, targets_unit: str = "N") -> dict:
    """The device, its entities (sensors, among them today's spasms, skin-pressure alerts,
    high-pressure minutes and weight shifts, and the session's weight shifts; today's
    extension repetitions, exercise minutes and their goal's progress, and the exercise
    session's live count; binary sensors for a fault, a spasm and high pressure now; an
    event entity for every event and one for spasms; the goal and band numbers in the
    band's current unit; therapy, exercise and identify buttons) and its availability. The
    exercise session's live count renders None (no value) while no session runs, its goal
    progress None when ``exercise.goal_reps`` is 0."""
    d, root = device, topic_root(device)
    uid = f"openpalm_{d}"
    state = f"{root}/state"

    def entity(platform, key, name, **extra):
        return {"p": platform, "name": name, "unique_id": f"{uid}_{key}",
                "default_entity_id": f"{platform}.{uid}_{key}", "qos": QOS, **extra}

    def sensor(key, name, template, **extra):
        return entity("sensor", key, name, state_topic=state, value_template=template, **extra)

    def minutes_today(key, name, field):
        """A day's seconds of ``field``, in minutes, as Home Assistant sums a duration."""
        return sensor(key, name, f"{{{{ (value_json.today.{field} / 60) | round(1) }}}}", device_class="duration",
                      unit_of_measurement="min", state_class="total_increasing")

    def count_today(key, name, field, icon):
        """A day's count of ``field``: it only grows until midnight."""
        return sensor(key, name, f"{{{{ value_json.today.{field} }}}}", state_class="total_increasing", icon=icon)

    def number(key, name, template, command, command_template, unit, lo, hi, step):
        return entity("number", key, name, entity_category="config", state_topic=state,
                      value_template=template, command_topic=f"{root}/request/{command}",
                      command_template=command_template, min=lo, max=hi, step=step,
                      unit_of_measurement=unit, mode="box")

    def button(key, name, command, **extra):
        return entity("button", key, name, command_topic=f"{root}/request/{command}", payload_press="{}", **extra)

    band_unit, band_lo, band_hi, band_step = target_range(targets_unit)
    position = ("{% set p = value_json.position %}"
                "{{ p if p in ['open', 'closed', 'off'] else ('sensor_fault' if value_json.faults else 'no_reading') }}")
    components = {
        "open_today": sensor("open_today", "Open time today", "{{ (value_json.today.open_s / 3600) | round(2) }}",
                             device_class="duration", unit_of_measurement="h", state_class="total_increasing",
                             icon="mdi:hand-back-right"),
        "worn_today": sensor("worn_today", "Worn time today", "{{ (value_json.today.worn_s / 3600) | round(2) }}",
                             device_class="duration", unit_of_measurement="h", state_class="total_increasing"),
        "goal_progress": sensor("goal_progress", "Goal progress", "{{ value_json.today.goal_pct }}",
                                unit_of_measurement="%", state_class="measurement"),
        "position": sensor("position", "Position", position, device_class="enum", options=list(POSITIONS)),
        "load": sensor("load", "Load", "{{ value_json.load_n }}", unit_of_measurement="N",
                       state_class="measurement", icon="mdi:weight"),
        "load_kg": sensor("load_kg", "Load in kilograms", "{{ value_json.load_kg }}", device_class="weight",
                          unit_of_measurement="kg", state_class="measurement"),
        "wb_sessions": sensor("wb_sessions", "Weight-bearing sessions today",
                              "{{ value_json.today.weight_bearing.sessions }}", state_class="total_increasing"),
        # Of which unconfirmed: counted to a planned end after an interruption, not seen played.
        "vibration_today": {**minutes_today("vibration_today", "Vibration today", "vibration_s"),
                            "json_attributes_topic": state,
                            "json_attributes_template": "{{ {'unconfirmed_min': ((value_json.today"
                                                        ".vibration_unconfirmed_s | default(0) | float(0)) / 60)"
                                                        " | round(1)}"
                                                        " | tojson }}"},
        "wb_reps_today": sensor("wb_reps_today", "Weight shifts today", "{{ value_json.today.weight_bearing.reps }}",
                                state_class="total_increasing", icon="mdi:swap-vertical", json_attributes_topic=state,
                                json_attributes_template="{{ {'goal': value_json.weight_bearing.reps_goal}"
                                                         " | tojson }}"),
        "wb_session_reps": sensor("wb_session_reps", "Weight shifts this session",
                                  "{{ value_json.weight_bearing.reps }}", state_class="measurement",
                                  icon="mdi:swap-vertical"),
        "spasms_today": count_today("spasms_today", "Spasms today", "spasms", "mdi:hand-back-left"),
        "pressure_alerts_today": count_today("pressure_alerts_today", "Skin-pressure alerts today",
                                             "pressure_alerts", "mdi:alert"),
        "high_pressure_today": minutes_today("high_pressure_today", "High pressure today", "high_pressure_s"),
        "spasm": entity("binary_sensor", "spasm", "Spasm", state_topic=state,
                        value_template="{{ 'ON' if value_json.spasm.active else 'OFF' }}"),
        "high_pressure": entity("binary_sensor", "high_pressure", "High pressure under the palm",
                                device_class="problem", state_topic=state,
                                value_template="{{ 'ON' if value_json.pressure.high else 'OFF' }}"),
        "faults": entity("binary_sensor", "faults", "Sensor fault", device_class="problem", state_topic=state,
                         value_template="{{ 'ON' if value_json.faults else 'OFF' }}", json_attributes_topic=state,
                         json_attributes_template="{{ {'faults': value_json.faults | map(attribute='text') | list}"
                                                  " | tojson }}"),
        "events": entity("event", "events", "Events", state_topic=f"{root}/event", event_types=list(EVENT_TYPES),
                         value_template="{{ dict(value_json, event_type=value_json.type) | tojson }}"),
        # The spasms alone, for automations: any other event renders empty, which Home
        # Assistant's MQTT event entity ignores (mqtt/event.py).
        "spasms": entity("event", "spasms", "Spasms", state_topic=f"{root}/event", event_types=["spasm"],
                         value_template="{{ dict(value_json, event_type='spasm') | tojson "
                                        "if value_json.type == 'spasm' else '' }}"),
        "goal": number("goal", "Daily open goal", "{{ value_json.goal_h }}", "set_goal", '{"hours": {{ value }}}',
                       "h", GOAL_H_MIN, GOAL_H_MAX, 0.5),
        "target_low": number("target_low", "Target band bottom", "{{ value_json.targets.low }}", "set_targets",
                             '{"low": {{ value }}}', band_unit, band_lo, band_hi, band_step),
        "target_high": number("target_high", "Target band top", "{{ value_json.targets.high }}", "set_targets",
                              '{"high": {{ value }}}', band_unit, band_lo, band_hi, band_step),
        "therapy_start": button("therapy_start", "Start vibration therapy", "vibration_start"),
        "therapy_stop": button("therapy_stop", "Stop vibration therapy", "vibration_stop"),
        "exercise_reps": sensor("exercise_reps", "Exercise session repetitions", "{{ value_json.exercise.reps }}",
                                state_class="measurement", icon="mdi:hand-wave"),
        "extension_reps_today": count_today("extension_reps_today", "Extension repetitions today",
                                            "extension_reps", "mdi:counter"),
        "exercise_today": minutes_today("exercise_today", "Exercise today", "exercise_s"),
        "exercise_goal_progress": sensor("exercise_goal_progress", "Exercise goal progress",
                                         "{{ value_json.exercise.goal_pct }}", unit_of_measurement="%",
                                         state_class="measurement"),
        "exercise_start": button("exercise_start", "Start exercise session", "exercise_start"),
        "exercise_stop": button("exercise_stop", "Stop exercise session", "exercise_stop"),
        "identify": button("identify", "Identify", "identify", device_class="identify"),
    }
    return {
        "dev": {"ids": [uid], "name": f"OpenPalm {d}", "mf": "OpenPalm", "mdl": "pi-agent hand monitor",
                "sw": __version__},
        "o": {"name": "openpalm-pi-agent", "sw": __version__},
        "cmps": components,
        "availability_topic": f"{root}/status",
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": QOS,
    }
