"""The simulation harness: the real agent run on simulated hardware through a scenario.

``pi-agent simulate`` runs it in virtual time, as fast as the machine allows;
``pi-agent run --simulate`` runs it in (optionally sped-up) real time. Either way the
agent is the real one, reading the real Adafruit driver on ``mock_hw``'s register
models, with a real store; the scenario decides what the hand does, and its instants
(clock steps, power cuts, commands) are applied between the agent's steps.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from mock_hw.rig import Rig
from mock_hw.scenario_file import Scenario
from pi_agent.agent import Agent, load_channels
from pi_agent.clock import VirtualClock
from pi_agent.core.days import Day, report_day
from pi_agent.errors import OutputError
from pi_agent.player import MotorThread, make_player
from pi_agent.store import Store

log = logging.getLogger("pi_agent.simulation")


def run_scenario(cfg, scenario, *, state_dir: Path, zone, on_event=None,
                 motor_trace: Path | None = None) -> tuple["SimulatedRun", dict]:
    """``scenario`` played in virtual time, as fast as the machine allows, with its store in
    ``state_dir``: the run, and its report (docs/scenario-format.md) from the store
    (``motor_trace``: a file to trace the motor's levels in)."""
    clock = VirtualClock(start_wall=scenario.start_wall(zone.key))
    sim = SimulatedRun(cfg, scenario, clock, zone=zone, state_dir=state_dir, on_event=on_event,
                       motor_trace=motor_trace)
    sim.run()
    sim.finish()
    store = Store(state_dir, readonly=True)
    try:
        days = {d: report_day(Day.from_json(r)) for d, r in store.days().items() if d in sim.days_seen}
    finally:
        store.close()
    return sim, {"days": days}


def _let_go(store: Store | None) -> None:
    """The store's connection closed (nothing more is written: a power cut's, or the last
    checkpoint is in), so that no lock nor open file outlives the agent that held it."""
    if store is not None:
        store.close()


class SimulatedRun:
    def __init__(self, cfg, scenario: Scenario, clock, *, zone, state_dir: Path | None = None,
                 bus_time: bool = True, after_step: Callable[[Agent], None] | None = None,
                 on_event: Callable | None = None, start_at: float = 0.0, real_time: bool = False,
                 motor_trace: Path | None = None, on_agent: Callable[[Agent], None] | None = None) -> None:
        """``start_at``: scenario time to begin at (a restarted ``run --simulate`` resumes
        where the scenario is now; what happened meanwhile was seen by nobody)."""
        self.cfg = cfg
        self.scenario = scenario
        self.clock = clock
        self.zone = zone
        self.state_dir = state_dir
        self.on_event = on_event
        self.channels = load_channels(cfg)
        self.rig = Rig(cfg, self.channels, clock, scenario, bus_time=bus_time)
        self.rig.origin = clock.monotonic() - start_at
        self.real_time = real_time
        self.start_at = start_at
        self.after_step = after_step
        self.on_agent = on_agent
        self.days_seen: set[str] = set()
        self.power_cuts = 0
        self.stopped = False          # stop() was called (a signal): no agent starts after a power cut
        self.agent: Agent | None = None    # (None while the power is cut)
        try:
            if motor_trace is not None:
                self.rig.trace_motor(motor_trace)
            self.agent = self._new_agent()
            if self.rig.trace_error is not None:     # (the motor is set off as the player starts)
                raise OutputError(f"--motor-trace: {self.rig.trace_error}")
        except BaseException:
            self.rig.close()
            raise

    def _new_agent(self) -> Agent:
        store = Store(self.state_dir) if self.state_dir is not None else None
        channels = load_channels(self.cfg)     # a restarted agent reads its calibration afresh
        player = make_player(self.cfg, self.rig.motor, self.clock, self.zone)
        agent = Agent(self.cfg, self.clock, self.rig.bus, channels, zone=self.zone, store=store,
                      player=player, on_event=self.on_event)
        if self.cfg.therapy.button_pin >= 0:
            agent.attach_button(self.cfg.therapy.button_pin, pin_factory=self.rig.pins)
        if self.real_time:
            agent.poll_motor = False
            MotorThread(player).start()
        if self.on_agent is not None:
            self.on_agent(agent)
        return agent

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
        else:
            while not agent.stopping.is_set() and agent.schedule.next()[1] < end:
                agent.step()
                self.after_step(agent)
            if not agent.stopping.is_set():
                self.clock.sleep(end - self.clock.monotonic())
        self.days_seen.update(agent.core.days())

    def run(self, on_instant: Callable[[str, object], None] | None = None) -> bool:
        """Play the scenario to its end (True) or until the agent is stopped (False)."""
        for instant in sorted(self.scenario.timeline.instants, key=lambda i: (i.t, i.index)):
            if instant.t < self.start_at:
                continue
            self._run_until(instant.t)
            if self.agent.stopping.is_set():
                return False
            if instant.kind == "clock_step":
                self.clock.step_wall(instant.value)
                log.info("scenario: the wall clock jumps by %+g s", instant.value)
            elif instant.kind == "power_cut":
                log.info("scenario: power cut for %g s", instant.value)
                self.agent.player.closed = True    # its motor thread, if any, dies with the power
                _let_go(self.agent.store)          # and its hold on the store's file, unwritten
                if self.agent.button is not None:
                    self.agent.button.close()
                self.agent = None            # dropped without any shutdown, as a power cut does
                self.rig.power_cut()
                self.clock.sleep(instant.value)
                self.power_cuts += 1
                if self.stopped:
                    return False          # stopped while the power was off: it stays off
                self.agent = self._new_agent()
                if self.stopped:          # stopped as the power came back (stop() saw no agent)
                    self.agent.stop()
            elif instant.kind == "command":
                self.agent.command(instant.value["name"], instant.value["args"])
            if on_instant is not None:
                on_instant(instant.kind, instant.value)
        self._run_until(self.scenario.timeline.duration)
        return not self.agent.stopping.is_set()

    def stop(self) -> None:
        """Stop the run (from a signal handler): its agent, or, during a power cut, the wait
        for the power to come back (no agent starts then)."""
        self.stopped = True
        agent = self.agent
        if agent is not None:
            agent.stop()
        elif hasattr(self.clock, "interrupt"):
            self.clock.interrupt()

    def finish(self) -> None:
        """The clean end of a run: the agent's last checkpoint (if the power is on), then ``close()``."""
        try:
            if self.agent is not None:
                self.agent.close()
                self.days_seen.update(self.agent.core.days())
                _let_go(self.agent.store)
        finally:
            self.close()

    def close(self) -> None:
        """The simulated hardware's end: the motor off for good (its thread, if any, ends)
        and the rig closed, gpiozero's previous default pin factory back. Idempotent; a run
        ended without ``finish()`` is left without its last checkpoint."""
        try:
            if self.agent is not None:
                self.agent.player.close()
        finally:
            self.rig.close()

    def __enter__(self) -> "SimulatedRun":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
