"""What several commands share: exit statuses, the zone and the store's folder a
configuration names, and the handling of SIGTERM and SIGINT."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import zoneinfo
from pathlib import Path

from pi_agent import config
from pi_agent.systemd import Notifier

# sysexits.h
EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_IOERR = 74
EX_NOPERM = 77            # the store or its folder may not be read or written: systemd does not restart
EX_CONFIG = 78

log = logging.getLogger("pi_agent")


def with_config(sp):
    """``sp`` (a command's parser) with ``--config``."""
    sp.add_argument("--config", type=Path, metavar="FILE",
                    help=f"configuration file (default: ${config.PATH_ENV}, else {config.SYSTEM_PATH} "
                         f"if it exists, else {config.SHIPPED})")
    return sp


def zone_of(cfg, override: str | None = None) -> zoneinfo.ZoneInfo:
    """The local zone: ``override`` (a scenario's), else device.timezone, else the system's."""
    name = override or cfg.device.timezone
    if name:
        return zoneinfo.ZoneInfo(name)
    try:
        link = os.readlink("/etc/localtime")
        return zoneinfo.ZoneInfo(link.split("zoneinfo/", 1)[1])
    except (OSError, IndexError, zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(os.environ.get("TZ") or "UTC") if os.environ.get("TZ", "").count("/") else zoneinfo.ZoneInfo("UTC")


def folder_arg(text: str) -> Path:
    """A folder named on the command line (``--state-dir``): an empty name is refused, not
    taken as the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty name")
    return Path(text)


def state_dir_of(cfg, override: Path | None) -> Path:
    """The store's folder: ``override`` (--state-dir), else device.state_dir, else systemd's
    $STATE_DIRECTORY, else ./state."""
    if override is not None:
        return override
    if cfg.device.state_dir:
        return Path(cfg.device.state_dir)
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    return Path("state")


def exit_on_signal(signum, _frame) -> None:
    """A SIGTERM handler that unwinds like Ctrl+C does, so ``finally`` blocks run."""
    raise SystemExit(128 + signum)


def on_signals(handler) -> None:
    """SIGTERM and SIGINT stop a long-running command through ``handler`` (logged, and told
    to systemd)."""
    def on_signal(signum, _frame):
        log.info("%s received: stopping", signal.Signals(signum).name)
        Notifier().stopping()
        handler()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
