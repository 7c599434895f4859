"""The MQTT broker password: never in the configuration file, never logged."""

from __future__ import annotations

import os
from pathlib import Path

from pi_agent.errors import ConfigError

PASSWORD_ENV = "OPENPALM_MQTT_PASSWORD"


def mqtt_password(cfg, environ=os.environ) -> str | None:
    """The broker password from the environment or its file (systemd's credential folder
    counts too); never from the main configuration, and never logged."""
    if environ.get(PASSWORD_ENV):
        return environ[PASSWORD_ENV]
    name = cfg.mqtt.password_file
    if not name:
        creds = environ.get("CREDENTIALS_DIRECTORY")
        candidate = Path(creds) / "mqtt_password" if creds else None
        if candidate is None or not candidate.is_file():
            return None
        name = str(candidate)
    path = Path(name)
    if not path.is_absolute() and cfg.path is not None:
        path = cfg.path.parent / path
    if path.exists() and not path.is_file():          # a FIFO would block the read for ever
        raise ConfigError(f"{cfg.path}: mqtt.password_file: '{path}' is not a regular file")
    try:
        return path.read_text(encoding="utf-8").strip() or None     # an empty file: no password
    except OSError as exc:
        raise ConfigError(f"{cfg.path}: mqtt.password_file: cannot read '{path}': {exc.strerror}") from None
