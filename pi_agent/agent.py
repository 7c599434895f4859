"""The agent: the loop that reads the sensors on schedule, feeds the core, and applies
the core's decisions to the edges (motor player, store, MQTT, display). It decides
nothing itself.

It owns no hardware library: it is given a clock, a bus object and a motor player, real
or simulated, so the very same loop runs on a Pi and on ``mock_hw``. Commands from other
threads (MQTT, the button) are queued and run here, between two readings.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from typing import Any, Callable

from pi_agent.core import PAD_CHANNELS, Core, orders
from pi_agent.core.events import Event
from pi_agent.core.orders import Step
from pi_agent.errors import CalibrationError, StoreError
from sensors.array import SensorArray, build_channels
from sensors.calibration import PAD, load_calibration, save_calibration

log = logging.getLogger("pi_agent")

# The key of the loop's turn that reads the pad's zones (chips are keyed by their names).
PAD_TURN = "(pad)"
HISTORY_DAYS = 40         # the store's days handed to the core at start (a day before them starts afresh)


class Channels(dict):
    """The configured channels by name, with the pad's whole-pad calibration as ``pad``."""
    pad = None


def load_channels(cfg) -> Channels:
    """The configured channels with their calibration (CalibrationError when unusable)."""
    calibrations = load_calibration(cfg.calibration_path)
    channels = Channels(build_channels(cfg, calibrations))
    channels.pad = calibrations.get(PAD)
    return channels


class Agent:
    def __init__(self, cfg, clock, i2c, channels: Channels, *, zone, store=None, player=None,
                 on_event: Callable[[Event], None] | None = None, calibration_path=None) -> None:
        self.cfg = cfg
        self.clock = clock
        self.zone = zone
        self.channels = channels
        self.sensors = SensorArray.configured(cfg, i2c, channels, clock)
        self.store = store
        self.player = player
        now, wall = clock.monotonic(), clock.wall()
        stored, settings = {}, {}
        if store is not None:
            first = dt.datetime.fromtimestamp(wall, zone).date() - dt.timedelta(days=HISTORY_DAYS)
            stored, settings = store.days(first.isoformat()), store.meta("settings") or {}
        self.core = Core(cfg, zone, t=now, stored_days=stored, settings=settings,
                         max_push_n=channels.pad.max_push_n if channels.pad is not None else None)
        self._doses: dict[str, int] = {}                         # the core's dose keys -> store rows
        self.poll_motor = True           # the loop plays the motor's timeline (no MotorThread)
        self.listeners: list[Callable[[Event], None]] = [on_event] if on_event is not None else []
        self.on_refresh: Callable[[], None] | None = None
        self.calibration_path = calibration_path   # where a tare is saved (None: keep it in memory)
        # The loop's turns: the pad's zones all together (so the load is the sum of readings
        # taken together), and each other chip one channel a turn (so a chip's conversions
        # never block the loop for long).
        pad = [n for n in PAD_CHANNELS if n in channels] if self.core.has_pad else []
        self.turns: dict[str, list[str]] = {PAD_TURN: pad} if pad else {}
        for chip, chs in self.sensors.by_chip.items():
            names = [c.name for c in chs if c.name not in pad]
            if names:
                self.turns[chip] = names
        self.periods = {turn: 1.0 / cfg.chips[channels[names[0]].chip].rate_hz
                        for turn, names in self.turns.items()}
        self.fast_period = 1.0 / cfg.weight_bearing.active_rate_hz
        self.next_due = {turn: now for turn in self.turns}
        self.cursor = {turn: 0 for turn in self.turns}    # a chip's channel read next
        self.stopping = threading.Event()
        self.steps = 0
        self.readings = 0              # channel readings taken (benchmarks)
        self.last_step = now           # monotonic time the loop last completed a step
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()   # commands from other threads
        self.inbox_budget = 20         # commands run per turn, so a flood never delays the sampling
        self.button = None
        self._waiting: dict[str, Callable[[dict], None]] = {}   # responses that come later (tare)
        if store is not None:       # doses that a power cut left open count before anything starts
            self.apply(self.core.recover(store.doses(since=wall - 2 * 86400.0), now, wall))

    # -- one turn of the loop -------------------------------------------------------
    def period(self, turn: str) -> float:
        """Time between two of the turn's readings: the pad's zones at the pad's rate (fast
        in a session or a tare), a chip's channels each at the chip's rate."""
        if turn == PAD_TURN:
            return self.fast_period if self.core.pad_fast else self.periods[turn]
        return self.periods[turn] / len(self.turns[turn])

    def _other_due(self) -> float | None:
        """The motor's next change (when the loop plays it) or the core's next tick."""
        at = self.core.next_due(self.clock.monotonic())
        player = self.player
        if player is not None and self.poll_motor and player.busy:
            motor_at = player.next_change()
            if motor_at is not None and (at is None or motor_at < at):
                at = motor_at
        return at

    def step(self) -> Step | None:
        """Run queued commands, then wait for the next chip that is due (or the motor's or
        the core's next moment), read it and feed the core."""
        if not self.inbox.empty():
            self._run_inbox()
        next_due, clock = self.next_due, self.clock
        turn = min(next_due, key=next_due.__getitem__)
        due = next_due[turn]
        now = clock.monotonic()
        other = self._other_due()
        if other is not None and other < due:
            if other > now:
                clock.sleep(other - now)
            self._time_passes(clock.monotonic())
            return None
        if due > now:
            clock.sleep(due - now)
            if self.stopping.is_set() or clock.monotonic() < due - 1e-6:
                return None         # woken early: a command or a stop is waiting
        names = self.turns[turn]
        if turn == PAD_TURN:
            readings = self.sensors.read(names)
        else:
            index = self.cursor[turn]
            self.cursor[turn] = (index + 1) % len(names)
            readings = self.sensors.read((names[index],))
        self.readings += len(readings)
        step = self.core.feed(readings, clock.wall())
        now = clock.monotonic()
        period = self.period(turn)
        due += period
        next_due[turn] = due if due > now - period else now  # late: no catch-up burst
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
                self._checkpoint(order)
            elif isinstance(order, orders.Response):
                self._answer(order, respond)
            elif isinstance(order, (orders.DoseStart, orders.DoseEnd)):
                unbooked = not self._dose(order) and isinstance(order, orders.DoseStart)
            elif isinstance(order, orders.SaveTare):
                self._save_tare(order)
            elif isinstance(order, orders.Republish):
                if self.on_refresh is not None:
                    self.on_refresh()

    def _emit(self, event: Event) -> None:
        if event.type == "fault_raised":
            log.warning("fault: %s", event.data["text"])
        elif event.type == "fault_cleared":
            log.info("fault cleared: %s", event.data["text"])
        elif event.type == "wb_session":
            d = event.data
            log.info("weight-bearing session: %.0f s, mean %.1f N, peak %.1f N, %.0f s in the target band",
                     d["duration_s"], d["mean_n"], d["peak_n"], d["in_target_s"])
        elif event.type == "vibration_session":
            log.info("vibration therapy ended (%s): %.1f min delivered", event.data["reason"],
                     event.data["seconds"] / 60)
        elif event.type == "alert":
            log.warning("alert: %s", event.data["text"])
        elif event.type == "haptic" and "text" in event.data:
            log.warning("%s", event.data["text"])
        for listener in self.listeners:
            listener(event)

    def _answer(self, response: orders.Response, respond: Callable[[dict], None] | None) -> None:
        level = logging.INFO if response.status == "ok" else logging.WARNING
        log.log(level, "command %s: %s", response.name, response.error or "ok")
        if respond is None:
            respond = self._waiting.pop(response.name, None)
        if respond is not None:
            respond(response.payload())

    def _checkpoint(self, record: orders.Checkpoint) -> None:
        if self.store is None:
            return
        doses = {self._doses[key]: seconds for key, seconds in record.doses.items() if key in self._doses}
        try:
            self.store.checkpoint(record.days, record.bouts, record.meta, doses)
        except StoreError as exc:
            if "settings" in record.meta:
                log.error("%s; the new setting holds until the agent restarts", exc)
            else:
                log.error("%s; keeping the totals in memory and trying again at the next checkpoint", exc)
                self.core.checkpoint_failed(record)

    def _dose(self, order) -> bool:
        """Write the dose log (a dose is booked before its motor starts); False if it failed."""
        if self.store is None:
            return True
        try:
            if isinstance(order, orders.DoseStart):
                self._doses[order.key] = self.store.dose_start(order.day, order.start, order.planned_end,
                                                               order.level, order.source)
            else:
                row = self._doses.pop(order.key, None)
                if row is None and order.key.startswith("row:"):
                    row = int(order.key[4:])       # a dose of an earlier run, closed after a restart
                if row is not None:
                    self.store.dose_end(row, order.stop, order.seconds, order.reason)
        except StoreError as exc:
            if isinstance(order, orders.DoseStart):
                log.error("%s; the vibration does not start unbooked", exc)
                return False
            log.error("%s; the dose still counts in the day's total", exc)
        return True

    # -- running ---------------------------------------------------------------------
    def run_until(self, t_end: float) -> None:
        """Run until monotonic time ``t_end`` (virtual time: as fast as possible)."""
        while not self.stopping.is_set():
            nxt = min(self.next_due.values())
            other = self._other_due()
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
    def submit(self, name: str, payload, respond: Callable[[dict], None] | None = None) -> None:
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
            if name == "_button":
                self._now(self.core.button)
            else:
                self.command(name, payload, respond)
        if not self.inbox.empty():
            self.wake()

    def _now(self, call: Callable[..., Step], *args: Any) -> None:
        """Run a core call at this moment (the motor's news first, so the core is current)."""
        self._motor_news()
        self.apply(call(*args, self.clock.monotonic(), self.clock.wall()))

    def command(self, name: str, payload, respond: Callable[[dict], None] | None = None) -> None:
        """Run a command; the response goes to ``respond`` when it is done (a tare's later).
        Bad input never raises: it gets an error response."""
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
            if name == "tare" and PAD_TURN in self.next_due:
                self.next_due[PAD_TURN] = self.clock.monotonic()     # a tare reads the pad from now
        self.apply(step, respond)

    def cue(self, pattern: str, reason: str) -> None:
        self._now(lambda t, wall: self.core.cue(pattern, reason, t, wall))

    def attach_button(self, pin: int, pin_factory=None) -> None:
        """A push button to GND on ``pin``: a press starts the protocol, a press stops it."""
        from gpiozero import Button
        self.button = Button(pin, pull_up=True, bounce_time=0.05, pin_factory=pin_factory)
        self.button.when_pressed = lambda: self.inbox.put(("_button", None, None))

    # -- tare --------------------------------------------------------------------------
    def _save_tare(self, order: orders.SaveTare) -> None:
        today = dt.datetime.fromtimestamp(self.clock.wall(), self.zone).date().isoformat()
        new = {ch: self.channels[ch].calibration.with_tare(tare, today) for ch, tare in order.tares.items()}
        data = error = None
        try:
            self._save_calibration(new)
        except (OSError, CalibrationError) as exc:
            error = f"tare: cannot save the calibration: {exc}; nothing changed"
        else:
            for ch, cal in new.items():
                self.channels[ch].calibration = cal
            data = {ch: round(cal.tare, 1) for ch, cal in new.items()}
        self._now(lambda t, wall: self.core.tare_saved(order.transaction, data, error, t, wall))

    def _save_calibration(self, new: dict) -> None:
        if self.calibration_path is None:
            return
        entries = load_calibration(self.calibration_path)
        for ch, cal in new.items():
            old = entries.get(ch)
            if old is not None and old.gain != cal.gain:
                cal = cal.rescaled(old.gain)
            entries[ch] = cal
        save_calibration(self.calibration_path, entries)

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
            self.apply(self.core.close())
