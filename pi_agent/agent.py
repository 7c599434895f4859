"""The agent: the loop that reads the sensors on schedule, feeds the core, and applies
the core's decisions to the edges (motor player, store, MQTT, display). It decides
nothing itself.

It owns no hardware library: it is given a clock, a bus object and a motor player, real
or simulated, so the very same loop runs on a Pi and on ``mock_hw``. Commands from other
threads (MQTT, the button) are queued and run here, between two readings.
"""

from __future__ import annotations

import logging
import queue
import time
from typing import Any, Callable

import pi_agent.button as button
from pi_agent.core import Core, orders
from pi_agent.core.events import Event
from pi_agent.core.orders import Step
from pi_agent.core.days import until_end_of
from pi_agent.core.therapy import dose_spans
from pi_agent.records import StoreRecords, save_tares
from pi_agent.render import journal_line
from pi_agent.schedule import PAD_TURN, Schedule
from sensors.array import SensorArray, build_channels
from sensors.calibration import PAD, load_calibration

log = logging.getLogger("pi_agent")


class Channels(dict):
    """The configured channels by name, with the pad's whole-pad calibration as ``pad``."""
    pad = None


def load_channels(cfg) -> Channels:
    """The configured channels with their calibration (CalibrationError when unusable)."""
    calibrations = load_calibration(cfg.calibration_path)
    channels = Channels(build_channels(cfg, calibrations))
    channels.pad = calibrations.get(PAD)
    return channels


NOTHING = Step((), ())      # a step with no events and no orders


def _other_due(agent: "Agent", now: float) -> float | None:
    """The motor's next change (when the loop plays it) or the core's next tick."""
    player = agent.player
    motor_at = player.next_change() if player is not None and agent.poll_motor and player.busy else None
    at = agent.core.next_due(now)
    if motor_at is not None and (at is None or motor_at < at):
        at = motor_at
    return at


class StopFlag:
    """The request to stop, set from a signal handler: a plain attribute and no lock. An
    ``Event``'s ``set()`` takes a lock, and a second signal arriving inside the first
    handler's ``set()`` would wait on that lock in the very thread that holds it, for ever."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


def _hold_limits(records: StoreRecords, core: Core, player, doses: list[dict], now: float, wall: float,
                 zone) -> None:
    """What the motor played before a restart (the store's dose log) counts in its daily
    maximum. If today's dose log was lost with a damaged store: no therapy until midnight,
    in the core (it refuses requests, saying why) and in the motor's player (below every caller)."""
    if player is not None and doses:
        player.seed(dose_spans(doses, now, wall))
    lost = records.dose_log_lost(wall, zone)
    if lost is None:
        return
    core.therapy.close_day(lost, now, wall)
    if player is not None:
        player.close_day(now + until_end_of(lost, wall, zone))
    log.warning("today's record of vibration therapy was lost with the damaged store: no vibration therapy "
                "until midnight, so that the daily maximum holds")


class Agent:
    def __init__(self, cfg, clock, i2c, channels: Channels, *, zone, store=None, player=None,
                 on_event: Callable[[Event], None] | None = None, calibration_path=None) -> None:
        self.cfg = cfg
        self.clock = clock
        self.zone = zone
        self.channels = channels
        self.sensors = SensorArray.configured(cfg, i2c, channels, clock)
        self.store = store
        self.records = StoreRecords(store)
        self.player = player
        now, wall = clock.monotonic(), clock.wall()
        stored, settings, doses, exercise = self.records.history(wall, zone)
        self.core = Core(cfg, zone, t=now, stored_days=stored, settings=settings,
                         max_push_n=channels.pad.max_push_n if channels.pad is not None else None)
        _hold_limits(self.records, self.core, player, doses, now, wall, zone)
        self.poll_motor = True           # the loop plays the motor's timeline (no MotorThread)
        self.listeners: list[Callable[[Event], None]] = [on_event] if on_event is not None else []
        self.on_refresh: Callable[[], None] | None = None
        self.calibration_path = calibration_path   # where a tare is saved (None: keep it in memory)
        self.schedule = Schedule(cfg, channels, self.sensors.by_chip, self.core.has_pad, now)
        self.stopping = StopFlag()
        self.steps = 0
        self.readings = 0              # channel readings taken (benchmarks)
        self.pad_read_at: float | None = None   # monotonic time of the last turn that read the pad
        self.last_step = now           # monotonic time the loop last completed a step
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()   # commands from other threads
        self.inbox_budget = 20         # commands run per turn, so a flood never delays the sampling
        self.button = None
        self._waiting: dict[str, Callable[[dict], None]] = {}   # responses that come later (tare)
        # What a power cut left open (a dose, a session): counted now, applied at the first step, when MQTT listens
        self.recovered = self.core.recover(doses, now, wall, exercise) if doses or exercise else NOTHING

    # -- one turn of the loop -------------------------------------------------------
    def step(self) -> Step | None:
        """Run queued commands, then wait for the next chip that is due (or the motor's or
        the core's next moment), read it and feed the core (a turn due within its slack at once)."""
        recovered, self.recovered = self.recovered, NOTHING
        self.apply(recovered)
        if not self.inbox.empty():
            self._run_inbox()
        clock, schedule, core = self.clock, self.schedule, self.core
        turn, due = schedule.next()
        now = clock.monotonic()
        other = _other_due(self, now)
        if other is not None and other < due:
            if other > now:
                clock.sleep(other - now)
            self._time_passes(clock.monotonic())
            return None
        exercising = core.exercise.running
        slack = schedule.slack(turn, core.pad_fast, exercising)
        if due - slack > now:          # not due yet, nor soon enough to go along with this wake
            clock.sleep(due - now)
            now = clock.monotonic()
            if now < due - slack or self.stopping.is_set():
                return None         # woken early: a command or a stop is waiting
        readings = self.sensors.read(schedule.channels(turn, exercising), schedule.data_rates.get(turn),
                                     schedule.following(turn, exercising))
        self.readings += len(readings)
        self.pad_read_at = now if turn == PAD_TURN else self.pad_read_at
        step = core.feed(readings, clock.wall())
        schedule.done(turn, due, now, core.pad_fast, core.exercise.running)
        if step.events or step.orders:
            self.apply(step)
        player = self.player
        if player is not None:
            if self.poll_motor and player.busy:
                player.poll(now)
            player.heartbeat_at = now
            if player.stops:
                self._motor_news()
        self.steps += 1
        self.last_step = now
        return step

    def _time_passes(self, now: float) -> None:
        if self.player is not None and self.poll_motor:
            self.player.poll(now)
        self._motor_news()
        self.apply(self.core.tick(now, self.clock.wall()))

    def _motor_news(self) -> None:
        """Therapy the motor player ended by itself goes to the core."""
        if self.player is None:
            return
        mono, wall = self.clock.monotonic(), self.clock.wall()
        for at, reason in self.player.take_stops():
            self.apply(self.core.motor_stopped(at, wall - (mono - at), reason))

    # -- applying the core's decisions ---------------------------------------------------
    def apply(self, step: Step, respond: Callable[[dict], None] | None = None) -> None:
        for event in step.events:
            self._emit(event)
        unbooked = False            # a dose the store could not book: its motor order is not played
        for order in step.orders:
            if isinstance(order, orders.Therapy) and unbooked:
                self.apply(self.core.motor_stopped(self.clock.monotonic(), self.clock.wall(), "error"))
            elif isinstance(order, (orders.Cue, orders.Therapy, orders.TherapyOff)):
                if self.player is not None:
                    self.player.apply(order)
            elif isinstance(order, orders.Checkpoint):
                if not self.records.checkpoint(order) and "settings" not in order.meta:
                    self.core.checkpoint_failed(order)
            elif isinstance(order, orders.Response):
                self._answer(order, respond)
            elif isinstance(order, (orders.DoseStart, orders.DoseEnd)):
                unbooked = not self.records.dose(order) and isinstance(order, orders.DoseStart)
            elif isinstance(order, (orders.SaveTare, orders.ReportRequest)):
                self._fulfil(order)         # what a command leaves to the agent: save a tare, read days
            elif isinstance(order, orders.Republish):
                if self.on_refresh is not None:
                    self.on_refresh()

    def _emit(self, event: Event) -> None:
        line = journal_line(event)
        if line is not None:
            log.log(*line)
        for listener in self.listeners:
            listener(event)

    def _answer(self, response: orders.Response, respond: Callable[[dict], None] | None) -> None:
        level = logging.INFO if response.status == "ok" else logging.WARNING
        log.log(level, "command %s: %s", response.name, response.error or "ok")
        if respond is None:
            respond = self._waiting.pop(response.name, None)
        if respond is not None:
            respond(response.payload())

    # -- running ---------------------------------------------------------------------
    def run_until(self, t_end: float) -> None:
        """Run until monotonic time ``t_end`` (virtual time: as fast as possible)."""
        while not self.stopping.is_set():
            nxt = self.schedule.next()[1]
            other = _other_due(self, self.clock.monotonic())
            if other is not None:
                nxt = min(nxt, other)
            if nxt >= t_end and self.inbox.empty():
                self.clock.sleep(t_end - self.clock.monotonic())
                self._time_passes(self.clock.monotonic())
                return
            self.step()

    def run_forever(self, after_step: Callable[[], None] | None = None) -> None:
        """The daemon's loop: errors are logged once with their traceback, the motor is
        stopped, then it backs off and goes on, so one bad moment never stops the
        monitoring (nor leaves the motor running)."""
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                self.step()
                if after_step is not None:
                    after_step()
                backoff = 0.5
            except Exception:
                log.exception("the sampling loop failed; motor off, retrying in %.1f s", backoff)
                self.safety_stop("error")
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    def safety_stop(self, why: str) -> None:
        if self.player is not None:
            try:
                self.player.safety_stop(why)
            finally:
                self._motor_news()

    def stop(self) -> None:
        self.stopping.set()
        interrupt = getattr(self.clock, "interrupt", None)
        if interrupt is not None:
            interrupt()

    # -- commands --------------------------------------------------------------------
    def submit(self, name: "str | button.Report", payload, respond: Callable[[dict], None] | None = None) -> None:
        """Queue a command from another thread (MQTT, the button); it runs in the loop."""
        self.inbox.put((name, payload, respond))
        self.wake()

    def wake(self) -> None:
        """Cut the loop's sleep short (something from another thread is waiting)."""
        wake = getattr(self.clock, "wake", None)
        if wake is not None:
            wake()

    def _run_inbox(self) -> None:
        started = time.monotonic()
        for _ in range(self.inbox_budget):
            if time.monotonic() - started > 0.003:
                break                   # the rest next turn: the sampling comes first
            try:
                name, payload, respond = self.inbox.get_nowait()
            except queue.Empty:
                return
            if name in (button.PRESS, button.HOLD):
                self._now(lambda t, wall: self.core.button(t, wall, held=name == button.HOLD))
            else:
                self.command(name, payload, respond)
        if not self.inbox.empty():
            self.wake()

    def _now(self, call: Callable[..., Step], *args: Any) -> None:
        """Run a core call at this moment (the motor's news first, so the core is current)."""
        self._motor_news()
        self.apply(call(*args, self.clock.monotonic(), self.clock.wall()))
        self.schedule.fingers_now(self.clock.monotonic(), self.core.exercise.running)

    def command(self, name: str, payload, respond: Callable[[dict], None] | None = None) -> None:
        """Run a command; the response goes to ``respond`` when done (a tare's later). Bad input gets an error response."""
        self._motor_news()
        try:
            step = self.core.command(name, payload, self.clock.monotonic(), self.clock.wall())
        except Exception as exc:          # a bug must not stop the agent: answered, logged once
            log.exception("command %s failed", name)
            if respond is not None:
                respond({"status": "error", "transaction": None,
                         "error": f"{name}: the monitor could not run it ({type(exc).__name__}); nothing changed"})
            return
        if not any(isinstance(o, orders.Response) for o in step.orders):
            if respond is not None:
                self._waiting[name] = respond
            if name == "tare":
                self.schedule.pad_now(self.clock.monotonic())      # a tare reads the pad from now
        self.apply(step, respond)
        self.schedule.fingers_now(self.clock.monotonic(), self.core.exercise.running)

    def attach_button(self, pin: int, pin_factory=None) -> None:
        """A push button to GND on ``pin``: its presses and holds go to the core (``pi_agent.button``)."""
        self.button = button.attach(pin, lambda what: self.submit(what, None), pin_factory)

    def _fulfil(self, order: orders.SaveTare | orders.ReportRequest) -> None:
        if isinstance(order, orders.ReportRequest):
            name, (data, error) = "report", self.records.report(order)
        else:
            name, (data, error) = "tare", save_tares(self.channels, self.calibration_path, order.tares, self.clock.wall(), self.zone)
        self._now(lambda t, wall: self.core.answered(name, order.transaction, data, error, t, wall))

    # -- stopping ------------------------------------------------------------------------
    def close(self) -> None:
        """A clean stop: motor off, the last checkpoint. Idempotent."""
        try:
            if self.player is not None:
                self.player.close()
                self._motor_news()
            if self.button is not None:
                self.button.close()
        finally:
            recovered, self.recovered = self.recovered, NOTHING      # if it stopped before its first step
            self.apply(recovered)
            self.apply(self.core.close())
