"""Home Assistant MQTT discovery: one retained device-based message (``cmps``) announces
every entity of the device; they all read the ``state`` topic and send ``request/...``.
Pure: the link publishes it (on connecting, and when Home Assistant comes back online).
"""

from __future__ import annotations

from pi_agent import __version__
from pi_agent.mqtt.payloads import topic_root


def discovery_topic(prefix: str, device: str) -> str:
    """Where the device's discovery message goes, under Home Assistant's ``prefix``."""
    return f"{prefix}/device/openpalm_{device}/config"


def discovery_payload(device: str) -> dict:
    """The device, its entities (sensors, a fault binary sensor, the goal and band numbers,
    therapy and identify buttons) and its availability."""
    d, root = device, topic_root(device)
    uid = f"openpalm_{d}"
    state = f"{root}/state"

    def sensor(key, name, template, **extra):
        return {"p": "sensor", "name": name, "unique_id": f"{uid}_{key}",
                "default_entity_id": f"sensor.{uid}_{key}", "state_topic": state,
                "value_template": template, **extra}

    components = {
        "open_today": sensor("open_today", "Open time today", "{{ (value_json.today.open_s / 3600) | round(2) }}",
                             device_class="duration", unit_of_measurement="h", state_class="total_increasing",
                             icon="mdi:hand-back-right"),
        "worn_today": sensor("worn_today", "Worn time today", "{{ (value_json.today.worn_s / 3600) | round(2) }}",
                             device_class="duration", unit_of_measurement="h", state_class="total_increasing"),
        "goal_progress": sensor("goal_progress", "Goal progress", "{{ value_json.today.goal_pct }}",
                                unit_of_measurement="%", state_class="measurement"),
        "position": sensor("position", "Position", "{{ value_json.position }}", device_class="enum",
                           options=["open", "closed", "off", "unknown"]),
        "load": sensor("load", "Load", "{{ value_json.load_n }}", unit_of_measurement="N",
                       state_class="measurement", icon="mdi:weight"),
        "wb_sessions": sensor("wb_sessions", "Weight-bearing sessions today",
                              "{{ value_json.today.weight_bearing.sessions }}", state_class="total_increasing"),
        "vibration_today": sensor("vibration_today", "Vibration today",
                                  "{{ (value_json.today.vibration_s / 60) | round(1) }}", device_class="duration",
                                  unit_of_measurement="min", state_class="total_increasing"),
        "faults": {"p": "binary_sensor", "name": "Sensor fault", "unique_id": f"{uid}_faults",
                   "default_entity_id": f"binary_sensor.{uid}_faults", "device_class": "problem",
                   "state_topic": state, "value_template": "{{ 'ON' if value_json.faults else 'OFF' }}",
                   "json_attributes_topic": state,
                   "json_attributes_template": "{{ {'faults': value_json.faults | map(attribute='text') | list} | tojson }}"},
        "goal": {"p": "number", "name": "Daily open goal", "unique_id": f"{uid}_goal",
                 "default_entity_id": f"number.{uid}_goal", "entity_category": "config",
                 "state_topic": state, "value_template": "{{ value_json.goal_h }}",
                 "command_topic": f"{root}/request/set_goal", "command_template": '{"hours": {{ value }}}',
                 "min": 0, "max": 24, "step": 0.5, "unit_of_measurement": "h", "mode": "box"},
        "target_low": {"p": "number", "name": "Target band bottom", "unique_id": f"{uid}_target_low",
                       "default_entity_id": f"number.{uid}_target_low", "entity_category": "config",
                       "state_topic": state, "value_template": "{{ value_json.targets.low }}",
                       "command_topic": f"{root}/request/set_targets", "command_template": '{"low": {{ value }}}',
                       "min": 0, "max": 2000, "step": 1, "mode": "box"},
        "target_high": {"p": "number", "name": "Target band top", "unique_id": f"{uid}_target_high",
                        "default_entity_id": f"number.{uid}_target_high", "entity_category": "config",
                        "state_topic": state, "value_template": "{{ value_json.targets.high }}",
                        "command_topic": f"{root}/request/set_targets", "command_template": '{"high": {{ value }}}',
                        "min": 0, "max": 2000, "step": 1, "mode": "box"},
        "therapy_start": {"p": "button", "name": "Start vibration therapy", "unique_id": f"{uid}_therapy_start",
                          "default_entity_id": f"button.{uid}_therapy_start",
                          "command_topic": f"{root}/request/vibration_start", "payload_press": "{}"},
        "therapy_stop": {"p": "button", "name": "Stop vibration therapy", "unique_id": f"{uid}_therapy_stop",
                         "default_entity_id": f"button.{uid}_therapy_stop",
                         "command_topic": f"{root}/request/vibration_stop", "payload_press": "{}"},
        "identify": {"p": "button", "name": "Identify", "unique_id": f"{uid}_identify",
                     "default_entity_id": f"button.{uid}_identify", "device_class": "identify",
                     "command_topic": f"{root}/request/identify", "payload_press": "{}"},
    }
    return {
        "dev": {"ids": [uid], "name": f"OpenPalm {d}", "mf": "OpenPalm", "mdl": "pi-agent hand monitor",
                "sw": __version__},
        "o": {"name": "openpalm-pi-agent", "sw": __version__},
        "cmps": components,
        "availability_topic": f"{root}/status",
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
    }
