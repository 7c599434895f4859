"""``pi-agent simulate``: a scenario in virtual time, and its report (docs/scenario-format.md)."""

from __future__ import annotations

import json
import signal
import sys
import tempfile
from pathlib import Path

from mock_hw import scenario as scenario_mod
from pi_agent import config
from pi_agent.agent import load_channels
from pi_agent.clock import VirtualClock
from pi_agent.core.days import Day, report_day
from pi_agent.errors import InputError
from pi_agent.core.events import Event
from pi_agent.simulation import Simulation
from pi_agent.store import Store

def run_scenario(cfg, scenario, *, state_dir: Path, zone, on_event=None) -> tuple[Simulation, dict]:
    clock = VirtualClock(start_wall=scenario.start_wall(zone.key))
    sim = Simulation(cfg, scenario, clock, zone=zone, state_dir=state_dir, on_event=on_event)
    sim.run()
    sim.finish()
    store = Store(state_dir, readonly=True)
    try:
        days = {d: report_day(Day.from_json(r)) for d, r in store.days().items() if d in sim.days_seen}
    finally:
        store.close()
    return sim, {"days": days}


def text_report(report: dict) -> str:
    head = ["day", "worn h", "open h", "goal %", "bouts", "longest min", "WB sessions", "WB s",
            "in target s", "mean N", "peak N", "vibration min"]
    rows = [head]
    for day, d in report["days"].items():
        wb = d["weight_bearing"]
        rows.append([day, f"{d['worn_s'] / 3600:.2f}", f"{d['open_s'] / 3600:.2f}", f"{d.get('goal_pct', 0):.0f}",
                     str(d.get("open_bouts", 0)), f"{d.get('longest_bout_s', 0) / 60:.0f}", str(wb["sessions"]),
                     f"{wb['total_s']:.0f}", f"{wb['in_target_s']:.0f}", f"{wb['mean_n']:.1f}",
                     f"{wb['peak_n']:.1f}", f"{d['vibration_s'] / 60:.1f}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def simulate_command(args) -> int:
    from pi_agent.cli import exit_on_signal, zone_of
    cfg = config.load(args.config)
    channels = load_channels(cfg)
    scen = scenario_mod.load(args.scenario, {n: c.kind for n, c in channels.items()})
    zone = zone_of(cfg, scen.timezone)
    try:
        events_out = open(args.events, "w", encoding="utf-8") if args.events else None
    except OSError as exc:
        raise InputError(f"{args.events}: cannot write the events file: {exc.strerror}") from None

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
        print(text_report(report))
    return 0
