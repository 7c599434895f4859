"""``pi-agent calibrate pad``: the pad's calibration, step by step, on the Pi's pad or on
simulated hardware playing a scenario (``--simulate``); the steps are ``pad_wizard``'s.
The new calibration goes into the calibration file, the rest of it kept as it was."""

from __future__ import annotations

import sys
from pathlib import Path

from pi_agent import config
from pi_agent.cli.common import with_config
from pi_agent.errors import ConfigError


def add_parser(sub) -> None:
    cal = with_config(sub.add_parser("calibrate", help="calibrate the weight-bearing pad, step by step"))
    cal.add_argument("what", choices=["pad"], help="what to calibrate")
    cal.add_argument("--simulate", metavar="SCENARIO", type=Path,
                     help="on simulated hardware playing this scenario, in virtual time")
    cal.set_defaults(handler=calibrate_command)


def calibrate_command(args) -> int:
    from pi_agent.agent import load_channels
    from pi_agent.cli.pad_wizard import Abort, PadWizard
    from pi_agent.core import PAD_CHANNELS
    from sensors.array import SensorArray
    from sensors.calibration import load_calibration, save_calibration
    cfg = config.load(args.config)
    channels = load_channels(cfg)
    if not all(ch in channels for ch in PAD_CHANNELS):
        raise ConfigError(f"{cfg.path}: sensors: the pad calibration needs channels pad_palm and pad_fingers")
    if args.simulate is not None:
        from mock_hw import scenario_file
        from mock_hw.rig import Rig
        from pi_agent.clock import VirtualClock
        scen = scenario_file.load(args.simulate, {n: c.kind for n, c in channels.items()})
        clock = VirtualClock(scen.start_wall(cfg.device.timezone or None))
        rig = Rig(cfg, channels, clock, scen)
        i2c = rig.bus
        print(f"Simulated hardware, playing {args.simulate}" + (f": {scen.name}." if scen.name else "."))
    else:
        from pi_agent.clock import SystemClock
        from sensors.array import open_i2c
        clock = SystemClock()
        i2c = open_i2c(cfg.hardware.i2c_bus)
    array = SensorArray.configured(cfg, i2c, channels, clock)
    wizard = PadWizard(cfg, array, channels, clock, sys.stdin, sys.stdout)
    try:
        new = wizard.run()
    except Abort as exc:
        print(f"pi-agent calibrate: {exc}", file=sys.stderr)
        return 1
    entries = load_calibration(cfg.calibration_path)
    entries.update(new)
    save_calibration(cfg.calibration_path, entries)
    print(f"Saved the pad calibration to {cfg.calibration_path}.")
    return 0
