"""The agent: the loop that reads the sensors on schedule, feeds the core and hands
what happened to the edges (display, store, motor, MQTT).

It owns no hardware library itself: it is given a clock, a bus object and a motor owner,
real or simulated, so the very same loop runs on a Pi and on ``mock_hw``.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import threading
import time
from typing import Callable

from pi_agent import commands
from pi_agent.core import PAD_CHANNELS, Core
from pi_agent.errors import CalibrationError, StoreError
from pi_agent.events import Event
from pi_agent.position import WORN, public
from sensors.array import SensorArray, build_channels
from sensors.calibration import PAD, load_calibration, save_calibration
from sensors.channel import Channel

log = logging.getLogger("pi_agent")

commands.register("tare", {})
commands.register("identify", {})
commands.register("set_targets", {
    "low": commands.Arg(commands.number(0, 2000), "bottom of the target band", required=True),
    "high": commands.Arg(commands.number(0, 2000, lo_open=True), "top of the target band", required=True),
    "unit": commands.Arg(commands.choice("N", "percent_body_weight", "percent_max_push"),
                         "'N', 'percent_body_weight' or 'percent_max_push'"),
})


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
        addresses = {name: c.address for name, c in cfg.chips.items()}
        self.channels = channels
        self.sensors = SensorArray(i2c, channels, addresses, clock)
        self.store = store
        pad = getattr(channels, "pad", None)
        self.core = Core(cfg, zone, loader=store.load_day if store is not None else None,
                         max_push_n=pad.max_push_n if pad is not None else None)
        if store is not None:
            self.core.apply_settings(store.meta("settings") or {})
        self.haptics = haptics
        self.poll_motor = True           # the loop plays the motor's schedule (no MotorThread)
        self.on_event = on_event
        self.calibration_path = calibration_path   # where a tare is saved (None: keep it in memory)
        now = clock.monotonic()
        self.checkpoint_s = cfg.store.checkpoint_s
        self.last_checkpoint = now
        self.periods = {chip: 1.0 / cfg.chips[chip].rate_hz
                        for chip, chs in self.sensors.by_chip.items() if chs}
        self.pad_chip = channels["pad_palm"].chip if self.core.has_pad else None
        self.fast_period = 1.0 / cfg.weight_bearing.active_rate_hz
        self.next_due = {chip: now for chip in self.periods}
        self.stopping = threading.Event()
        self.steps = 0
        self.last_step = now           # monotonic time the loop last completed a step
        self.tare_job: TareJob | None = None

    # -- one turn of the loop -------------------------------------------------------
    def period(self, chip: str) -> float:
        if chip == self.pad_chip and (self.core.wb.active or self.tare_job is not None):
            return self.fast_period
        return self.periods[chip]

    def step(self) -> list[Event]:
        """Wait for the next chip that is due (or motor change), read it, feed the core."""
        chip = min(self.next_due, key=self.next_due.__getitem__)
        due = self.next_due[chip]
        now = self.clock.monotonic()
        motor_at = self.haptics.next_change() if self.haptics is not None and self.poll_motor else None
        if motor_at is not None and motor_at < due:
            if motor_at > now:
                self.clock.sleep(motor_at - now)
            self.haptics.poll(self.clock.monotonic())
            return []
        if due > now:
            self.clock.sleep(due - now)
            if self.stopping.is_set():
                return []
        readings = self.sensors.read_chip(chip)
        events = self.core.feed(readings, self.clock.wall())
        now = self.clock.monotonic()
        if chip == self.pad_chip:
            if self.tare_job is not None:
                self._tare_feed(readings, now)
            period = self.period(chip)
        else:
            period = self.periods[chip]
        due += period
        self.next_due[chip] = due if due > now - period else now  # late: no catch-up burst
        for e in events:
            self._emit(e)
        if now - self.last_checkpoint >= self.checkpoint_s:
            self.checkpoint()
        self.steps += 1
        self.last_step = now
        return events

    def _emit(self, event: Event) -> None:
        if event.type == "haptic" and self.haptics is not None:
            self.haptics.play(event.data["pattern"])
        if event.type == "fault_raised":
            log.warning("fault: %s", event.data["text"])
        elif event.type == "fault_cleared":
            log.info("fault cleared: %s", event.data["text"])
        elif event.type == "wb_session":
            d = event.data
            log.info("weight-bearing session: %.0f s, mean %.1f N, peak %.1f N, %.0f s in the target band",
                     d["duration_s"], d["mean_n"], d["peak_n"], d["in_target_s"])
        if self.on_event is not None:
            self.on_event(event)

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
                if self.haptics is not None:
                    self.haptics.off()
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    def stop(self) -> None:
        self.stopping.set()
        interrupt = getattr(self.clock, "interrupt", None)
        if interrupt is not None:
            interrupt()

    # -- commands --------------------------------------------------------------------
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
        handler = getattr(self, f"_cmd_{name}")
        try:
            data = handler(args, lambda resp: finish({**resp, "transaction": transaction}))
        except commands.CommandError as exc:
            return finish(commands.error(transaction, str(exc)))
        if data is _PENDING:
            return None
        return finish(commands.ok(transaction, data))

    def _cmd_set_goal(self, args: dict, _done) -> dict:
        self.core.set_goal(args["hours"] * 3600.0)
        self._save_settings()
        return {"goal_h": args["hours"]}

    def _cmd_set_targets(self, args: dict, _done) -> dict:
        unit = args.get("unit", "N")
        if args["low"] >= args["high"]:
            raise commands.CommandError(f"set_targets.low: expected less than high ({args['high']:g}), "
                                        f"got {args['low']:g}")
        if unit != "N" and args["high"] > 100:
            raise commands.CommandError(f"set_targets.high: expected at most 100 (%), got {args['high']:g}")
        old = dict(self.core.targets)
        self.core.set_targets(args["low"], args["high"], unit)
        band = self.core.band()
        if band is None:
            self.core.set_targets(**old)
            need = "the body weight (weight_bearing.body_weight_kg)" if unit == "percent_body_weight" \
                else "a maximum push (pi-agent calibrate pad)"
            raise commands.CommandError(f"set_targets.unit: '{unit}' needs {need}, which is not set")
        self._save_settings()
        return {"low_n": round(band.low_n, 1), "high_n": round(band.high_n, 1), "unit": unit}

    def _cmd_identify(self, args: dict, _done) -> dict:
        self._emit(Event("haptic", self.clock.monotonic(), self.clock.wall(),
                         {"pattern": "long_buzz", "reason": "identify"}))
        return {}

    def _cmd_refresh(self, args: dict, _done) -> dict:
        return {}

    def _cmd_tare(self, args: dict, done) -> object:
        if not self.core.has_pad:
            raise commands.CommandError("tare: this configuration has no pad")
        if self.tare_job is not None:
            raise commands.CommandError("tare: a tare is already running")
        if self.core.wb.session is not None:
            raise commands.CommandError("tare: a weight-bearing session is running; take everything off the pad first")
        self.tare_job = TareJob(self.clock.monotonic() + self.cfg.weight_bearing.tare_s, done)
        self.next_due[self.pad_chip] = self.clock.monotonic()
        return _PENDING

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
        if mean > 2 * self.cfg.weight_bearing.wake_n:
            job.respond(commands.error(None, f"tare refused: the pad carries {mean:.1f} N; take everything "
                                             f"off it, then try again. Nothing changed."))
            return
        today = dt.date.fromtimestamp(self.clock.wall()).isoformat()
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

    def _save_settings(self) -> None:
        if self.store is not None:
            try:
                self.store.checkpoint({}, meta={"settings": self.core.settings()})
            except StoreError as exc:
                log.error("%s; the new setting holds until the agent restarts", exc)

    def close(self) -> None:
        """A clean stop: motor off, the last checkpoint. Idempotent."""
        try:
            if self.haptics is not None:
                self.haptics.close()
        finally:
            if self.store is not None:
                self.checkpoint()


_PENDING = object()
