"""``pi-agent simulate``: a scenario in virtual time, and its report (docs/scenario-format.md).

The run itself is ``pi_agent.simulated_run``'s; the text report is ``pi_agent.render``'s.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from pathlib import Path

from pi_agent import config
from pi_agent.cli.common import exit_on_signal, folder_arg, state_dir_of, with_config, zone_of
from pi_agent.errors import InputError


def add_parser(sub) -> None:
    sim = with_config(sub.add_parser("simulate", help="run a scenario in virtual time and report"))
    sim.add_argument("scenario", type=Path)
    sim.add_argument("--report", choices=["json", "text"], default="json")
    sim.add_argument("--events", metavar="FILE", help="write every event as a JSON line")
    sim.add_argument("--state-dir", type=folder_arg, help="keep the store here (default: a temporary folder)")
    sim.set_defaults(handler=simulate_command)


def _events_file(name: str):
    """The events file, opened; refused when it is no file name or is standard output,
    which carries the report (``-``, ``/dev/stdout``, the file the output goes to)."""
    if name in ("", "-"):
        raise InputError(f"--events {name!r}: give the events file a name (standard output carries the report)")
    try:
        stdout = os.fstat(sys.stdout.fileno())
        same = os.path.samestat(os.stat(name), stdout)
    except (OSError, ValueError, AttributeError):      # no such file yet, or no standard output
        same = False
    if same:
        raise InputError(f"--events {name}: that is standard output, which carries the report; "
                         f"give the events file its own name")
    try:
        return open(name, "w", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{name}: cannot write the events file: {exc.strerror}") from None


def simulate_command(args) -> int:
    from mock_hw import scenario_file
    from pi_agent.agent import load_channels
    from pi_agent.core.days import Day
    from pi_agent.core.events import Event
    from pi_agent.render import report_table
    from pi_agent.simulated_run import run_scenario
    from pi_agent.store import refuse_own_file
    cfg = config.load(args.config)
    channels = load_channels(cfg)
    scen = scenario_file.load(args.scenario, {n: c.kind for n, c in channels.items()})
    zone = zone_of(cfg, scen.timezone)
    if args.events is not None:
        refuse_own_file(args.events, (args.state_dir, state_dir_of(cfg, None)), "--events")
    events_out = _events_file(args.events) if args.events is not None else None

    def on_event(e: Event) -> None:
        # Virtual time starts at 0 with the scenario, so e.t is already scenario time.
        if events_out is not None:
            events_out.write(json.dumps({"t": round(e.t, 3), "type": e.type, **e.data}) + "\n")

    signal.signal(signal.SIGTERM, exit_on_signal)   # a SIGTERM, like Ctrl+C, removes the temporary store
    with tempfile.TemporaryDirectory(prefix="openpalm-sim-") as tmp:
        state_dir = Path(args.state_dir) if args.state_dir else Path(tmp)
        try:
            _, report = run_scenario(cfg, scen, state_dir=state_dir, zone=zone, on_event=on_event)
        finally:
            if events_out is not None:
                events_out.close()
    if args.report == "json":
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(report_table({name: Day.from_json(day) for name, day in report["days"].items()}))
    return 0
