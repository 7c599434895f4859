"""Running the agent on simulated hardware through a scenario.

``pi-agent simulate`` runs it in virtual time, as fast as the machine allows;
``pi-agent run --simulate`` runs it in (optionally sped-up) real time. Either way the
agent is the real one, reading the real Adafruit driver on ``mock_hw``'s register
models; the scenario decides what the hand does, and its instants (clock steps, power
cuts, commands) are applied between the agent's steps.
"""

from __future__ import annotations

import logging
from typing import Callable

from mock_hw.rig import Rig
from mock_hw.scenario import Scenario
from pi_agent.agent import Agent, load_channels

log = logging.getLogger("pi_agent.simulation")


class Simulation:
    def __init__(self, cfg, scenario: Scenario, clock, *, make_agent: Callable[..., Agent] | None = None,
                 bus_time: bool = True, after_step: Callable[[Agent], None] | None = None,
                 on_event: Callable | None = None) -> None:
        self.cfg = cfg
        self.scenario = scenario
        self.clock = clock
        self.channels = load_channels(cfg)
        self.rig = Rig(cfg, self.channels, clock, scenario, bus_time=bus_time)
        self.rig.origin = clock.monotonic()
        self._make_agent = make_agent or (lambda: Agent(cfg, clock, self.rig.bus, self.channels,
                                                            on_event=on_event))
        self.after_step = after_step
        self.agent = self._make_agent()
        self.stopped = False
        self.power_cuts = 0

    @property
    def origin(self) -> float:
        return self.rig.origin

    def scenario_time(self) -> float:
        return self.clock.monotonic() - self.origin

    def _run_until(self, t: float) -> None:
        agent = self.agent
        end = self.origin + t
        if self.after_step is None:
            agent.run_until(end)
            return
        while not agent.stopping.is_set() and min(agent.next_due.values()) < end:
            agent.step()
            self.after_step(agent)
        if not agent.stopping.is_set():
            self.clock.sleep(end - self.clock.monotonic())

    def run(self, on_instant: Callable[[str, object], None] | None = None) -> None:
        """Play the whole scenario; ``on_instant(kind, value)`` hears of each instant."""
        for instant in sorted(self.scenario.timeline.instants, key=lambda i: (i.t, i.index)):
            self._run_until(instant.t)
            if self.agent.stopping.is_set():
                self.stopped = True
                return
            if instant.kind == "clock_step":
                self.clock.step_wall(instant.value)
                log.info("scenario: the wall clock jumps by %+g s", instant.value)
            elif instant.kind == "power_cut":
                log.info("scenario: power cut for %g s", instant.value)
                self.agent = None            # dropped without any shutdown, as a power cut does
                self.clock.sleep(instant.value)
                self.power_cuts += 1
                self.agent = self._make_agent()
            if on_instant is not None:
                on_instant(instant.kind, instant.value)
        self._run_until(self.scenario.timeline.duration)
        self.stopped = self.agent.stopping.is_set()
