"""Properties of the daily totals, over generated scenarios (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from conftest import CONFIG, ram_folder
from mock_hw import scenario_file
from pi_agent import config
from pi_agent.clock import VirtualClock
from pi_agent.simulated_run import SimulatedRun
from pi_agent.store import Store
from strategies import starts, steps


@settings(max_examples=60)
@given(start=starts, body=st.lists(steps, min_size=1, max_size=8), seed=st.integers(0, 1000))
def test_totals_only_grow_within_a_day_and_open_never_exceeds_worn(tmp_path_factory, start, body, seed):
    """Within a day totals never go down (in memory, nor in the store across power cuts),
    and a day's open seconds never exceed its worn seconds."""
    cfg = config.load(CONFIG)
    data = {"start": start, "timezone": "Europe/London", "seed": seed,
            "noise": {"deg": 1.0, "newton": 0.2}, "steps": body}
    scen = scenario_file.parse(data, {n: s.kind for n, s in cfg.sensors.items()})
    with ram_folder(tmp_path_factory.mktemp("store")) as state_dir:
        _play(cfg, scen, state_dir)


def _play(cfg, scen, state_dir) -> None:
    seen: dict[str, tuple[float, float]] = {}
    agents = []

    def check(agent):
        if not agents or agents[-1] is not agent:
            agents.append(agent)
            stored = Store(state_dir, readonly=True).days() if (state_dir / "openpalm.db").exists() else {}
            for day, rec in stored.items():   # a new agent starts from the store: never below it
                assert rec["open_s"] <= rec["worn_s"] + 1e-6
        for day, rec in agent.core.days().items():
            worn, opened = rec.worn_s, rec.open_s
            assert opened <= worn + 1e-6, (day, opened, worn)
            before = seen.get((id(agent), day))
            if before is not None:
                assert worn >= before[0] - 1e-9 and opened >= before[1] - 1e-9, (day, before, worn, opened)
            seen[(id(agent), day)] = (worn, opened)

    clock = VirtualClock(start_wall=scen.start_wall())
    sim = SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=state_dir, after_step=check)
    stored_before: dict[str, float] = {}

    def on_instant(kind, value):
        if kind == "power_cut":
            stored = Store(state_dir, readonly=True).days()
            for day, rec in stored.items():
                assert rec["worn_s"] >= stored_before.get(day, 0.0) - 1e-9
                stored_before[day] = rec["worn_s"]

    sim.run(on_instant)
    sim.finish()
    final = Store(state_dir, readonly=True).days()
    for day, rec in final.items():
        assert rec["open_s"] <= rec["worn_s"] + 1e-6
        assert rec["worn_s"] >= stored_before.get(day, 0.0) - 1e-9, "stored totals never go backwards"
