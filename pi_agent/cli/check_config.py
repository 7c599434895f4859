"""``pi-agent check-config``: validate the configuration and the calibration, and say
what they define."""

from __future__ import annotations

import os

from pi_agent import config
from pi_agent.cli.common import state_dir_of, with_config
from pi_agent.errors import ConfigError, StoreError


def add_parser(sub) -> None:
    with_config(sub.add_parser("check-config", help="validate the configuration and calibration")) \
        .set_defaults(handler=cmd_check_config)


def cmd_check_config(args) -> int:
    from pi_agent.agent import load_channels
    cfg = config.load(args.config)
    channels = load_channels(cfg)
    password = config.mqtt_password(cfg)   # a password file that cannot be read is a configuration error
    if cfg.mqtt.broker:
        from pi_agent.mqtt import check_credentials
        check_credentials(cfg, cfg.mqtt.broker, password)   # a password in clear text: refused as run refuses it
    if cfg.device.state_dir or os.environ.get("STATE_DIRECTORY"):
        from pi_agent.store import refuse_unusable
        try:
            refuse_unusable(state_dir_of(cfg, None))    # a state directory the agent could not use: said now
        except StoreError as exc:
            where = f"{cfg.path or config.SHIPPED}: device.state_dir" if cfg.device.state_dir else "$STATE_DIRECTORY"
            raise ConfigError([f"{where}: {exc}"]) from None
    chips = sorted({c.chip for c in channels.values()})
    print(f"{cfg.path or config.SHIPPED}: OK ({len(channels)} channels on {len(chips)} chips: {', '.join(chips)}; "
          f"calibration {cfg.calibration_path})")
    return 0
