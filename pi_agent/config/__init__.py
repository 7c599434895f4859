"""The configuration: one TOML file, its schema, its validation, its typed form and its
documentation.

- ``checks``: the value checks (``number``, ``choice``, ``text``...), each giving one
  "expected ..., got ..." line and the type of what it lets through;
- ``schema``: ``SCHEMA``, every key with its default, check and meaning, and the rules
  between keys; the single place a key is declared;
- ``typed``: the frozen dataclasses generated from the schema (``Config``);
- ``load``: finding, reading and validating the file into a ``Config``;
- ``reference``: config/agent.toml and the README's reference, rendered from the schema
  (``python -m pi_agent.config --write``);
- ``secrets``: the MQTT password, never in the file.
"""

from pi_agent.config.checks import Check, boolean, choice, gain, i2c_address, number, text, timezone
from pi_agent.config.load import (PATH_ENV, SHIPPED, SHIPPED_CALIBRATION, SYSTEM_PATH, changed, defaults, load,
                                  locate, set_key, validate)
from pi_agent.config.reference import README_END, README_START, render_markdown, render_readme, render_toml
from pi_agent.config.schema import (DEVICE_ID, DEVICE_ID_TEXT, GOAL_H_MAX, GOAL_H_MIN, GOAL_HOURS, SCHEMA, Key, Named,
                                    cross_check)
from pi_agent.config.secrets import PASSWORD_ENV, mqtt_password
from pi_agent.config.typed import SECTIONS, Config
from pi_agent.errors import ConfigError

__all__ = [
    "Check", "boolean", "choice", "gain", "i2c_address", "number", "text", "timezone",
    "PATH_ENV", "SHIPPED", "SHIPPED_CALIBRATION", "SYSTEM_PATH", "changed", "defaults", "load", "locate",
    "set_key", "validate",
    "README_END", "README_START", "render_markdown", "render_readme", "render_toml",
    "DEVICE_ID", "DEVICE_ID_TEXT", "GOAL_H_MAX", "GOAL_H_MIN", "GOAL_HOURS", "SCHEMA", "Key", "Named", "cross_check",
    "PASSWORD_ENV", "mqtt_password",
    "SECTIONS", "Config", "ConfigError",
]
