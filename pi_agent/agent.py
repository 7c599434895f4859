"""The agent: the loop that reads the sensors on schedule, feeds the core and hands
what happened to the edges (display, store, haptics, MQTT).

It owns no hardware library itself: it is given a clock and a bus object, real or
simulated, so the very same loop runs on a Pi and on ``mock_hw``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from pi_agent.core import Core
from pi_agent.errors import StoreError
from pi_agent.events import Event
from pi_agent.position import WORN, public
from sensors.array import SensorArray, build_channels
from sensors.calibration import load_calibration
from sensors.channel import Channel

log = logging.getLogger("pi_agent")


def load_channels(cfg) -> dict[str, Channel]:
    """The configured channels with their calibration (CalibrationError when unusable)."""
    return build_channels(cfg, load_calibration(cfg.calibration_path))


class Agent:
    def __init__(self, cfg, clock, i2c, channels: dict[str, Channel], *, zone, store=None,
                 on_event: Callable[[Event], None] | None = None) -> None:
        self.cfg = cfg
        self.clock = clock
        addresses = {name: c.address for name, c in cfg.chips.items()}
        self.sensors = SensorArray(i2c, channels, addresses, clock)
        self.store = store
        self.core = Core(cfg, zone, loader=store.load_day if store is not None else None)
        if store is not None:
            self.core.apply_settings(store.meta("settings") or {})
        self.on_event = on_event
        now = clock.monotonic()
        self.checkpoint_s = cfg.store.checkpoint_s
        self.last_checkpoint = now
        self.periods = {chip: 1.0 / cfg.chips[chip].rate_hz
                        for chip, chs in self.sensors.by_chip.items() if chs}
        self.next_due = {chip: now for chip in self.periods}
        self.stopping = threading.Event()
        self.steps = 0
        self.last_step = now           # monotonic time the loop last completed a step

    # -- one turn of the loop -------------------------------------------------------
    def step(self) -> list[Event]:
        """Wait for the next chip that is due, read it, feed the core."""
        chip = min(self.next_due, key=self.next_due.__getitem__)
        due = self.next_due[chip]
        now = self.clock.monotonic()
        if due > now:
            self.clock.sleep(due - now)
            if self.stopping.is_set():
                return []
        readings = self.sensors.read_chip(chip)
        events = self.core.feed(readings, self.clock.wall())
        now = self.clock.monotonic()
        due += self.periods[chip]
        self.next_due[chip] = due if due > now - self.periods[chip] else now  # late: no catch-up burst
        for e in events:
            self._emit(e)
        if now - self.last_checkpoint >= self.checkpoint_s:
            self.checkpoint()
        self.steps += 1
        self.last_step = now
        return events

    def checkpoint(self) -> None:
        """Write what changed since the last checkpoint to the store, in one transaction."""
        self.last_checkpoint = self.clock.monotonic()
        if self.store is None:
            return
        core = self.core
        days = core.ledger.take_dirty()
        bouts, core.finished_bouts = core.finished_bouts, []
        live = {"position": public(core.position.state), "worn": core.position.state in WORN,
                "since": core.state_since_wall, "updated": core.wall}
        try:
            self.store.checkpoint(days, bouts, {"live": live})
        except StoreError as exc:
            log.error("%s; keeping the totals in memory and trying again at the next checkpoint", exc)
            core.ledger.dirty.update(days)
            core.finished_bouts[:0] = bouts

    # -- commands --------------------------------------------------------------------
    def command(self, name: str, payload) -> dict:
        """Validate and run a command; returns the response (never raises for bad input)."""
        from pi_agent import commands
        try:
            args, transaction = commands.parse(name, payload)
        except commands.CommandError as exc:
            response = commands.error(exc.transaction, str(exc))
        else:
            handler = getattr(self, f"_cmd_{name}", None)
            try:
                data = handler(args) if handler is not None else None
                response = commands.ok(transaction, data)
            except commands.CommandError as exc:
                response = commands.error(transaction, str(exc))
        level = logging.INFO if response["status"] == "ok" else logging.WARNING
        log.log(level, "command %s: %s", name, response.get("error", "ok"))
        self._emit(Event("command", self.clock.monotonic(), self.clock.wall(),
                         {"name": name, **{k: v for k, v in response.items() if k != "data"}}))
        return response

    def _cmd_set_goal(self, args: dict) -> dict:
        self.core.set_goal(args["hours"] * 3600.0)
        self._save_settings()
        return {"goal_h": args["hours"]}

    def _cmd_refresh(self, args: dict) -> dict:
        return {}

    def _save_settings(self) -> None:
        if self.store is not None:
            try:
                self.store.checkpoint({}, meta={"settings": self.core.settings()})
            except StoreError as exc:
                log.error("%s; the new setting holds until the agent restarts", exc)

    def close(self) -> None:
        """A clean stop: the last checkpoint. Idempotent."""
        if self.store is not None:
            self.checkpoint()

    def _emit(self, event: Event) -> None:
        if event.type == "fault_raised":
            log.warning("fault: %s", event.data["text"])
        elif event.type == "fault_cleared":
            log.info("fault cleared: %s", event.data["text"])
        if self.on_event is not None:
            self.on_event(event)

    # -- running ---------------------------------------------------------------------
    def run_until(self, t_end: float) -> None:
        """Run until monotonic time ``t_end`` (virtual time: as fast as possible)."""
        while not self.stopping.is_set():
            nxt = min(self.next_due.values())
            if nxt >= t_end:
                self.clock.sleep(t_end - self.clock.monotonic())
                return
            self.step()

    def run_forever(self, after_step: Callable[[], None] | None = None) -> None:
        """The daemon's loop: errors are logged once with their traceback, then it backs
        off and goes on, so one bad moment never stops the monitoring."""
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                self.step()
                if after_step is not None:
                    after_step()
                backoff = 0.5
            except Exception:
                log.exception("the sampling loop failed; retrying in %.1f s", backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    def stop(self) -> None:
        self.stopping.set()
        interrupt = getattr(self.clock, "interrupt", None)
        if interrupt is not None:
            interrupt()
