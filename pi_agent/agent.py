"""The agent: the loop that reads the sensors on schedule, feeds the core and hands
what happened to the edges (display, store, motor, MQTT).

It owns no hardware library itself: it is given a clock, a bus object and a motor owner,
real or simulated, so the very same loop runs on a Pi and on ``mock_hw``. Commands from
other threads (MQTT, the button) are queued and run here, between two readings.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import statistics
import threading
import time
from typing import Callable

from pi_agent import commands, therapy
from pi_agent.core import PAD_CHANNELS, Core
from pi_agent.errors import CalibrationError, StoreError
from pi_agent.events import Event
from pi_agent.position import WORN, public
from sensors.array import SensorArray, build_channels
from sensors.calibration import PAD, load_calibration, save_calibration
from sensors.channel import Channel

log = logging.getLogger("pi_agent")

# Therapy that ended for these reasons is also an alert for the caregiver, in plain words.
ALERT_REASONS = {
    "continuous_limit": "Vibration therapy stopped at the continuous limit.",
    "daily_limit": "Vibration therapy stopped: today's maximum is reached.",
    "error": "Vibration therapy stopped because the monitor had an error.",
    "loop_stalled": "Vibration therapy stopped because the monitor stopped responding.",
}


# The key of the loop's turn that reads the pad's zones (chips are keyed by their names).
PAD_TURN = "(pad)"


class Channels(dict):
    """The configured channels by name, with the pad's whole-pad calibration as ``pad``."""
    pad = None


def load_channels(cfg) -> Channels:
    """The configured channels with their calibration (CalibrationError when unusable)."""
    calibrations = load_calibration(cfg.calibration_path)
    channels = Channels(build_channels(cfg, calibrations))
    channels.pad = calibrations.get(PAD)
    return channels


class TareJob:
    """Averages the empty pad's raw counts over a few seconds, if it keeps still."""

    def __init__(self, t_end: float, respond) -> None:
        self.t_end = t_end
        self.respond = respond
        self.raw: dict[str, list[int]] = {ch: [] for ch in PAD_CHANNELS}
        self.load: list[float] = []


class Agent:
    def __init__(self, cfg, clock, i2c, channels: dict[str, Channel], *, zone, store=None, haptics=None,
                 on_event: Callable[[Event], None] | None = None, calibration_path=None) -> None:
        self.cfg = cfg
        self.clock = clock
        self.zone = zone
        self.channels = channels
        self.sensors = SensorArray.configured(cfg, i2c, channels, clock)
        self.store = store
        pad = getattr(channels, "pad", None)
        self.core = Core(cfg, zone, loader=store.load_day if store is not None else None,
                         max_push_n=pad.max_push_n if pad is not None else None)
        if store is not None:
            self.core.apply_settings(store.meta("settings") or {})
        self.haptics = haptics
        if haptics is not None:
            haptics.used_today = self.vibration_today
        self.poll_motor = True           # the loop plays the motor's timeline (no MotorThread)
        self.listeners: list[Callable[[Event], None]] = [on_event] if on_event is not None else []
        self.on_refresh: Callable[[], None] | None = None
        self.calibration_path = calibration_path   # where a tare is saved (None: keep it in memory)
        now = clock.monotonic()
        self.checkpoint_s = cfg.store.checkpoint_s
        self.last_checkpoint = now
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
        self.tare_job: TareJob | None = None
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()   # commands from other threads
        self.inbox_budget = 20         # commands run per turn, so a flood never delays the sampling
        self.button = None

    # -- one turn of the loop -------------------------------------------------------
    def period(self, turn: str) -> float:
        """Time between two of the turn's readings: the pad's zones at the pad's rate (fast
        in a session or a tare), a chip's channels each at the chip's rate."""
        if turn == PAD_TURN:
            return self.fast_period if self.core.wb.active or self.tare_job is not None else self.periods[turn]
        return self.periods[turn] / len(self.turns[turn])

    def step(self) -> list[Event]:
        """Run queued commands, then wait for the next chip that is due (or the motor's
        next change), read it and feed the core."""
        if not self.inbox.empty():
            self._run_inbox()
        next_due, clock = self.next_due, self.clock
        turn = min(next_due, key=next_due.__getitem__)
        due = next_due[turn]
        now = clock.monotonic()
        haptics = self.haptics
        motor_at = haptics.next_change() if haptics is not None and self.poll_motor and haptics.busy else None
        if motor_at is not None and motor_at < due:
            if motor_at > now:
                clock.sleep(motor_at - now)
            haptics.poll(clock.monotonic())
            self._therapy_news()
            return []
        if due > now:
            clock.sleep(due - now)
            if self.stopping.is_set() or clock.monotonic() < due - 1e-6:
                return []           # woken early: a command or a stop is waiting
        names = self.turns[turn]
        if turn == PAD_TURN:
            readings = self.sensors.read(names)
        else:
            index = self.cursor[turn]
            self.cursor[turn] = (index + 1) % len(names)
            readings = self.sensors.read((names[index],))
        self.readings += len(readings)
        events = self.core.feed(readings, clock.wall())
        now = clock.monotonic()
        if turn == PAD_TURN and self.tare_job is not None:
            self._tare_feed(readings, now)
        period = self.period(turn)
        due += period
        next_due[turn] = due if due > now - period else now  # late: no catch-up burst
        for e in events:
            self._emit(e)
        if haptics is not None:
            if self.poll_motor and haptics.busy:
                haptics.poll(now)
            haptics.heartbeat_at = now
            if haptics.notices:
                self._therapy_news()
        if now - self.last_checkpoint >= self.checkpoint_s:
            self.checkpoint()
        self.steps += 1
        self.last_step = now
        return events

    def _emit(self, event: Event) -> None:
        if event.type == "haptic" and event.data["reason"] != "vibration_therapy" and self.haptics is not None:
            self.haptics.play(event.data["pattern"])
        if event.type == "fault_raised":
            log.warning("fault: %s", event.data["text"])
        elif event.type == "fault_cleared":
            log.info("fault cleared: %s", event.data["text"])
        elif event.type == "wb_session":
            d = event.data
            log.info("weight-bearing session: %.0f s, mean %.1f N, peak %.1f N, %.0f s in the target band",
                     d["duration_s"], d["mean_n"], d["peak_n"], d["in_target_s"])
        for listener in self.listeners:
            listener(event)

    def cue(self, pattern: str, reason: str) -> None:
        self._emit(Event("haptic", self.clock.monotonic(), self.clock.wall(),
                         {"pattern": pattern, "reason": reason}))

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

    # -- running ---------------------------------------------------------------------
    def run_until(self, t_end: float) -> None:
        """Run until monotonic time ``t_end`` (virtual time: as fast as possible)."""
        while not self.stopping.is_set():
            nxt = min(self.next_due.values())
            haptics = self.haptics
            if haptics is not None and haptics.busy:
                motor_at = haptics.next_change()
                if motor_at is not None:
                    nxt = min(nxt, motor_at)
            if nxt >= t_end and self.inbox.empty():
                self.clock.sleep(t_end - self.clock.monotonic())
                if self.haptics is not None:
                    self.haptics.poll(self.clock.monotonic())
                    self._therapy_news()
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
        if self.haptics is not None:
            try:
                self.haptics.safety_stop(why)
            finally:
                self._therapy_news()

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
                self._button_pressed()
            else:
                self.command(name, payload, respond)
        if not self.inbox.empty():
            self.wake()

    def command(self, name: str, payload, respond: Callable[[dict], None] | None = None) -> dict | None:
        """Validate and run a command. The response goes to ``respond`` (and is returned)
        when the command is done; a command that takes time (``tare``) answers later and
        returns None. Bad input never raises: it gets an error response."""
        def finish(response: dict) -> dict:
            level = logging.INFO if response["status"] == "ok" else logging.WARNING
            log.log(level, "command %s: %s", name, response.get("error", "ok"))
            self._emit(Event("command", self.clock.monotonic(), self.clock.wall(),
                             {"name": name, **{k: v for k, v in response.items() if k != "data"}}))
            if respond is not None:
                respond(response)
            return response

        try:
            args, transaction = commands.parse(name, payload)
        except commands.CommandError as exc:
            return finish(commands.error(exc.transaction, str(exc)))
        try:
            data = commands.COMMANDS[name].handler(
                self, args, lambda resp: finish({**resp, "transaction": transaction}))
        except commands.CommandError as exc:
            return finish(commands.error(transaction, str(exc)))
        if data is commands.PENDING:
            return None
        return finish(commands.ok(transaction, data))

    def refresh(self) -> None:
        if self.on_refresh is not None:
            self.on_refresh()

    def save_settings(self) -> None:
        if self.store is not None:
            try:
                self.store.checkpoint({}, meta={"settings": self.core.settings()})
            except StoreError as exc:
                log.error("%s; the new setting holds until the agent restarts", exc)

    # -- vibration therapy -------------------------------------------------------------
    def vibration_today(self) -> float:
        wall = self.clock.wall()
        return self.core.ledger.day(self.core.ledger.day_of(wall))["vibration_s"]

    def protocol_plan(self, level: str, source: str) -> therapy.Plan:
        t = self.cfg.therapy
        return therapy.protocol(level, t.protocol_blocks, t.protocol_block_min, t.protocol_break_min, source)

    def start_therapy(self, plan: therapy.Plan) -> dict:
        if self.haptics is None or self.haptics.closed:
            raise commands.CommandError("vibration_start: no motor is fitted (haptics.backend = 'none')")
        self._therapy_news()
        cut, notes = therapy.cut_to_limits(plan, self.haptics.limits, self.vibration_today())
        if cut is None:
            raise commands.CommandError(f"vibration_start refused: {notes[0]}")
        th = self.haptics.start_therapy(cut, "limit" if notes else "requested")
        th["wall_start"] = self.clock.wall()
        th["notes"] = notes
        self._therapy_news()
        self._dose_log_start(th)
        for note in notes:
            log.warning("vibration: %s", note)
            self._emit(Event("alert", self.clock.monotonic(), self.clock.wall(),
                             {"reason": "vibration_cut", "text": f"Vibration therapy request {note}."}))
        self._emit(Event("vibration_started", self.clock.monotonic(), self.clock.wall(),
                         {"level": cut.level, "minutes": round(cut.on_s / 60, 2), "source": cut.source,
                          "notes": notes}))
        self._emit(Event("haptic", self.clock.monotonic(), self.clock.wall(),
                         {"pattern": f"therapy_{cut.level}", "reason": "vibration_therapy",
                          "minutes": round(cut.on_s / 60, 2)}))
        return {"level": cut.level, "minutes": round(cut.on_s / 60, 2),
                "blocks": [[round(on / 60, 2), round(off / 60, 2)] for on, off in cut.blocks],
                "cut": notes}

    def stop_therapy(self, reason: str) -> dict:
        if self.haptics is None or self.haptics.therapy is None:
            raise commands.CommandError("vibration_stop: no vibration therapy is running")
        self.haptics.stop_therapy(reason)
        return {"delivered_min": round(self._therapy_news() / 60, 2)}

    def _therapy_news(self) -> float:
        """Book delivered therapy into the day and log sessions that ended."""
        if self.haptics is None:
            return 0.0
        delivered = 0.0
        notices = self.haptics.take_notices()
        mono, wall = self.clock.monotonic(), self.clock.wall()
        for n in notices:
            if n["type"] == "delivered":
                self.core.ledger.book("vibration_s", n["seconds"], wall - (mono - n["at"]))
            else:
                th = n["therapy"]
                delivered = th["delivered_s"]
                reason = n["reason"]
                if reason == "completed" and th.get("notes"):
                    reason = "continuous_limit" if any("continuous" in x for x in th["notes"]) else "daily_limit"
                th["end_reason"] = reason
                self._dose_log_end(th, wall - (mono - n["at"]))
                self._emit(Event("haptic", mono, wall, {"pattern": "stop", "reason": "vibration_therapy",
                                                        "ended": reason}))
                self._emit(Event("vibration_session", mono, wall, {
                    "level": th["plan"].level, "source": th["plan"].source, "reason": reason,
                    "seconds": round(th["delivered_s"], 1), "start": round(th.get("wall_start", wall), 3)}))
                log.info("vibration therapy ended (%s): %.1f min delivered", reason, th["delivered_s"] / 60)
                if reason in ALERT_REASONS:
                    self._emit(Event("alert", mono, wall, {"reason": reason, "text": ALERT_REASONS[reason]}))
        return delivered

    def _dose_log_start(self, th: dict) -> None:
        if self.store is None:
            return
        try:
            th["dose_id"] = self.store.dose_start(self.core.ledger.day_of(th["wall_start"]), th["wall_start"],
                                                  th["plan"].level, th["plan"].source)
        except StoreError as exc:
            log.error("%s; the dose still counts in the day's total", exc)

    def _dose_log_end(self, th: dict, wall: float) -> None:
        if self.store is None or "dose_id" not in th:
            return
        try:
            self.store.dose_end(th["dose_id"], wall, th["delivered_s"], th["end_reason"])
        except StoreError as exc:
            log.error("%s; the dose still counts in the day's total", exc)

    def attach_button(self, pin: int, pin_factory=None) -> None:
        """A push button to GND on ``pin``: a press starts the protocol, a press stops it."""
        from gpiozero import Button
        self.button = Button(pin, pull_up=True, bounce_time=0.05, pin_factory=pin_factory)
        self.button.when_pressed = lambda: self.inbox.put(("_button", None, None))

    def _button_pressed(self) -> None:
        try:
            if self.haptics is not None and self.haptics.therapy is not None:
                self.stop_therapy("button")
            else:
                self.start_therapy(self.protocol_plan(self.cfg.therapy.protocol_level, "button"))
        except commands.CommandError as exc:
            log.warning("button: %s", exc)
            self.cue("double_pulse", "refused")

    # -- tare --------------------------------------------------------------------------
    def start_tare(self, done) -> None:
        if not self.core.has_pad:
            raise commands.CommandError("tare: this configuration has no pad")
        if self.tare_job is not None:
            raise commands.CommandError("tare: a tare is already running")
        if self.core.wb.session is not None:
            raise commands.CommandError("tare: a weight-bearing session is running; take everything off the pad first")
        self.tare_job = TareJob(self.clock.monotonic() + self.cfg.weight_bearing.tare_s, done)
        self.next_due[PAD_TURN] = self.clock.monotonic()

    def _tare_feed(self, readings, now: float) -> None:
        job = self.tare_job
        for r in readings:
            if r.channel in job.raw:
                if r.raw is None or r.fault is not None:
                    self.tare_job = None
                    job.respond(commands.error(None, f"tare: the {r.channel} sensor is in fault ({r.fault}); "
                                                     f"nothing changed"))
                    return
                job.raw[r.channel].append(r.raw)
        load = self.core.load()
        if load is not None:
            job.load.append(load)
        if now < job.t_end:
            return
        self.tare_job = None
        wb = self.cfg.weight_bearing
        sd = statistics.pstdev(job.load) if len(job.load) > 1 else 0.0
        mean = statistics.fmean(job.load) if job.load else 0.0
        if len(job.load) < 10 or sd > wb.tare_max_sd_n:
            job.respond(commands.error(None, f"tare refused: the pad was not steady (it varied by {sd:.2f} N, "
                                             f"more than {wb.tare_max_sd_n:g} N); keep it still and empty, "
                                             f"then try again. Nothing changed."))
            return
        if mean > 2 * wb.wake_n:
            job.respond(commands.error(None, f"tare refused: the pad carries {mean:.1f} N; take everything "
                                             f"off it, then try again. Nothing changed."))
            return
        today = dt.datetime.fromtimestamp(self.clock.wall(), self.zone).date().isoformat()
        new = {ch: self.channels[ch].calibration.with_tare(round(statistics.fmean(job.raw[ch]), 1), today)
               for ch in PAD_CHANNELS}
        try:
            self._save_calibration(new)
        except (OSError, CalibrationError) as exc:
            job.respond(commands.error(None, f"tare: cannot save the calibration: {exc}; nothing changed"))
            return
        for ch, cal in new.items():
            self.channels[ch].calibration = cal
        job.respond(commands.ok(None, {ch: round(cal.tare, 1) for ch, cal in new.items()}))

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
            if self.haptics is not None:
                self.haptics.close()
                self._therapy_news()
            if self.button is not None:
                self.button.close()
        finally:
            self.core.flush()
            if self.store is not None:
                self.checkpoint()
