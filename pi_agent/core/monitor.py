"""The pure core: it owns all the state and takes every decision.

It is fed timestamped readings, commands, button presses and what the motor did, each
with the monotonic time and the wall time at which it happened, and answers with a
``Step``: the events that happened and the orders for the edges (motor patterns and
therapy, records to store, responses to commands). It never opens a file, reads a
clock, sleeps, locks or starts a thread: what it needs from the store is handed to it
when it is built. The same core runs on a Pi in real time, in ``pi-agent simulate`` in
virtual time, and in a unit test with three lines of set-up.
"""

from __future__ import annotations

import zoneinfo
from typing import Any, Mapping

import pi_agent.core.commands as commands
import pi_agent.core.exercise as exercise
import pi_agent.core.orders as orders
import pi_agent.core.patterns as patterns
import pi_agent.core.therapy as therapy
from pi_agent.core.days import Day, DayLedger
from pi_agent.core.events import Event
from pi_agent.core.faults import FaultTracker
from pi_agent.core.orders import Out, Step
from pi_agent.core.position import OFF, WORN, public
from pi_agent.core.pressure import PressureTracker
from pi_agent.core.snapshot import Snapshot, Targets, take_snapshot
from pi_agent.core.spasms import SpasmTracker
from pi_agent.core.tare import TareJob
from pi_agent.core.wear import WearTracker
from pi_agent.core.weight_bearing import WeightBearingTracker, resolve_band
from sensors.channel import Reading

SPLINT_CHANNELS = ("wrist", "fingers", "palm")
PAD_CHANNELS = ("pad_palm", "pad_fingers")


class Core:
    def __init__(self, cfg, zone: zoneinfo.ZoneInfo, *, t: float = 0.0,
                 stored_days: Mapping[str, Mapping] | None = None, settings: Mapping[str, Any] | None = None,
                 max_push_n: float | None = None, therapy_run: tuple[float, float | None] = (0.0, None)) -> None:
        """``stored_days``: the store's day records (a day is taken from them when first
        touched); ``settings``: goal and targets set by command earlier; ``therapy_run``:
        (continuous therapy seconds behind, monotonic time the motor went off) at ``t``."""
        self.cfg = cfg
        p, wb, th = cfg.positioning, cfg.weight_bearing, cfg.therapy
        self.kinds = {name: s.kind for name, s in cfg.sensors.items()}
        self.faults = FaultTracker()
        self.latest: dict[str, Reading] = {}
        self.pad_channels = tuple(ch for ch in PAD_CHANNELS if ch in cfg.sensors)
        self.has_pad = len(self.pad_channels) == len(PAD_CHANNELS)
        self.has_splint = all(ch in cfg.sensors for ch in SPLINT_CHANNELS)
        self.ledger = DayLedger(zone, p.goal_h * 3600.0, stored_days)
        self.wear = WearTracker(p, cfg.reminders, self.ledger, zone)
        splint_hz = cfg.chips[cfg.sensors["palm"].chip].rate_hz if self.has_splint else 1.0
        self.spasms = SpasmTracker(cfg.spasm, wear_n=p.wear_n, hysteresis_n=p.hysteresis_n, rate_hz=splint_hz,
                                   ledger=self.ledger)
        self.pressure = PressureTracker(cfg.pressure, rate_hz=splint_hz, ledger=self.ledger)
        self.now, self.wall = t, 0.0
        self.max_push_n = max_push_n
        self.targets = Targets(wb.target_low, wb.target_high, wb.target_unit)
        self.wb = WeightBearingTracker(wb, self.ledger, self.band_of(self.targets))
        limits = therapy.Limits(th.max_continuous_min * 60.0, th.max_daily_min * 60.0, th.rest_min * 60.0)
        self.therapy = therapy.TherapyTracker(limits, {"low": th.low_level, "high": th.high_level}, self.ledger,
                                              run_s=therapy_run[0], off_since=therapy_run[1])
        self.tare: TareJob | None = None
        self.exercise = exercise.ExerciseTracker(cfg.exercise, self.ledger, self.cue_event, "fingers" in cfg.sensors,
                                                 splint_off=lambda: self.wear.state == OFF)
        self.checkpoint_s = cfg.store.checkpoint_s
        self.last_checkpoint = t
        for key, value in (settings or {}).items():
            if key == "goal_s":
                self.ledger.goal_s = value
            elif key == "targets":
                self.targets = Targets(value["low"], value["high"], value["unit"])
                self.wb.band = self.band_of(self.targets)

    # -- feeding -----------------------------------------------------------------------
    def feed(self, readings: list[Reading], wall: float) -> Step:
        """A batch of readings taken together (one chip's turn), with the wall time now."""
        out = Out()
        splint = pad = False
        for r in readings:
            self.latest[r.channel] = r
            e = self.faults.feed(r, wall)
            if e is not None:
                out.events.append(e)
            if r.channel in SPLINT_CHANNELS:
                splint = True
            elif r.channel in PAD_CHANNELS:
                pad = True
        if readings:
            self.now, self.wall = readings[-1].t, wall
        t = self.now
        if splint and self.has_splint:
            reminder = self.wear.feed(t, wall, self.value("wrist"), self.value("fingers"), self.value("palm"), out)
            if reminder is not None:
                self.cue_event(reminder, out)
            if self.exercise.running and self.wear.state == OFF:     # its finger sensor left the hand
                self.exercise.stop(t, wall, "splint_off", out)
            for r in readings:
                if r.channel in SPLINT_CHANNELS:
                    self._clinical(r, wall - (t - r.t), out)
        if pad and self.has_pad:
            self._weight_bearing(t, wall, out)
            if self.tare is not None:
                commands.tare_readings(self, readings, t, out)
        self.exercise.readings(readings, t, wall, out)
        self._time_passes(t, wall, out)
        return out.step()

    def tick(self, t: float, wall: float) -> Step:
        """Time has passed with no reading (the therapy's dose is booked up to ``t``)."""
        out = Out()
        self._time_passes(t, wall, out)
        return out.step()

    def next_due(self, t: float) -> float | None:
        """When the core next needs ``tick`` even if no reading comes (None: no need)."""
        therapy = self.therapy.next_due(t) if self.therapy.running is not None else None
        exercise = self.exercise.next_due(t)
        if therapy is None or (exercise is not None and exercise < therapy):
            return exercise
        return therapy

    def _time_passes(self, t: float, wall: float, out: Out) -> None:
        if self.therapy.running is not None:
            self.therapy.advance(t, wall, out)
        self.exercise.advance(t, wall, out)
        ex = self.exercise
        if t - self.last_checkpoint >= ex.checkpoint_every(self.checkpoint_s) or ex.record_changed:
            out.orders.append(self._checkpoint(t))

    def value(self, channel: str) -> float | None:
        r = self.latest.get(channel)
        return None if r is None else r.value

    def load(self) -> float | None:
        """The load on the table pad: the sum of its zones, in newtons (None in fault)."""
        if not self.pad_channels:
            return None
        total = 0.0
        for ch in self.pad_channels:
            v = self.value(ch)
            if v is None:
                return None
            total += v
        return max(0.0, total)

    @property
    def pad_fast(self) -> bool:
        """Read the pad fast: a session runs, something presses on it, or a tare runs."""
        return self.wb.active or self.tare is not None

    # -- spasms and skin pressure ------------------------------------------------------------
    def _clinical(self, r: Reading, wall: float, out: Out) -> None:
        """A splint reading to the spasm and skin-pressure trackers (and what they ask for)."""
        if r.channel == "fingers":
            self.spasms.fingers(r.t, wall, r.value, out)
        elif r.channel == "wrist":
            self.spasms.wrist(r.t, r.value)
        else:
            if self.spasms.palm(r.t, wall, r.value, out) and self.cfg.spasm.vibrate:
                self._answer_spasm(r.t, wall, out)
            if self.pressure.feed(r.t, wall, r.value, out) and self.cfg.pressure.cue:
                self.cue_event(Event("haptic", r.t, wall, {"pattern": "nudge", "reason": "skin_pressure"}), out)

    def _answer_spasm(self, t: float, wall: float, out: Out) -> None:
        """Vibration that answers a spasm (``spasm.vibrate``), inside every therapy limit; a
        refusal is logged, not cued (the survivor did not ask). Therapy already running is
        left as it is."""
        if self.therapy.running is not None:
            return
        plan = therapy.single(self.cfg.therapy.protocol_level, self.cfg.spasm.vibrate_s / 60.0, "spasm_response")
        try:
            self.therapy.start(plan, t, wall, out)
        except therapy.Refused as exc:
            out.events.append(Event("vibration_refused", t, wall, {"source": "spasm_response",
                                                                   "text": f"spasm: vibration refused: {exc}"}))

    # -- weight bearing ---------------------------------------------------------------------
    def _weight_bearing(self, t: float, wall: float, out: Out) -> None:
        for e in self.wb.feed(t, wall, self.value("pad_palm"), self.value("pad_fingers")):
            if e.type == "haptic":
                self.cue_event(e, out)
            else:
                out.events.append(e)

    def band_of(self, targets: Targets):
        return resolve_band(targets.low, targets.high, targets.unit,
                            body_weight_kg=self.cfg.weight_bearing.body_weight_kg, max_push_n=self.max_push_n)

    # -- the motor -----------------------------------------------------------------------------
    def cue_event(self, event: Event, out: Out) -> None:
        """A cue decided: its event, and the order to play it."""
        pattern = event.data["pattern"]
        out.events.append(event)
        out.orders.append(orders.Cue(pattern, event.data["reason"]))
        self.therapy.cue(event.t, patterns.length(pattern, self.therapy.running is not None))

    def motor_stopped(self, t: float, wall: float, reason: str) -> Step:
        """The motor player stopped the therapy by itself at ``t`` (a limit at the output,
        the loop stalled, an error, shutting down)."""
        out = Out()
        self.therapy.stop(t, wall, reason, out, motor_done=True)
        return out.step()

    def button(self, t: float, wall: float, held: bool = False) -> Step:
        """The therapy button: a press starts the protocol, a press stops it; held (two
        seconds), it starts or stops an exercise session."""
        if held:
            return self.exercise.button(t, wall)
        out = Out()
        if self.therapy.running is not None:
            self.therapy.stop(t, wall, "button", out)
            return out.step()
        try:
            self.therapy.start(self.protocol("button"), t, wall, out)
        except therapy.Refused as exc:
            self.cue_event(Event("haptic", t, wall, {"pattern": "double_pulse", "reason": "refused",
                                                      "text": f"button: vibration refused: {exc}"}), out)
        return out.step()

    def protocol(self, source: str, level: str | None = None) -> therapy.Plan:
        t = self.cfg.therapy
        return therapy.protocol(level or t.protocol_level, t.protocol_blocks, t.protocol_block_min,
                                t.protocol_break_min, source)

    # -- commands ------------------------------------------------------------------------------
    def command(self, name: str, payload: Any, t: float, wall: float) -> Step:
        """Validate and run a command; its response is among the step's orders (a tare's
        comes later, when the tare ends). Bad input never raises: it gets an error."""
        out = Out()
        commands.run(self, name, payload, t, wall, out)
        return out.step()

    def answered(self, name: str, transaction: Any, data: dict | None, error: str | None, t: float, wall: float) -> Step:
        """The agent did (or could not do) what a command left to it (a tare, a report): its response."""
        out = Out()
        commands.respond(out, name, transaction, t, wall, data=data, error=error)
        return out.step()

    # -- records -------------------------------------------------------------------------------
    def _checkpoint(self, t: float) -> orders.Checkpoint:
        self.last_checkpoint = t
        state = self.wear.state
        live = {"position": public(state), "worn": state in WORN, "since": self.wear.since_wall,
                "updated": self.wall, "state": state, "zone": self.ledger.zone.key}
        return orders.Checkpoint(self.ledger.take_dirty(), self.wear.take_bouts(),
                                 self.exercise.checkpoint_meta({"live": live}), self.therapy.running_dose())

    def recover(self, doses: list[dict], t: float, wall: float, exercise: Mapping | None = None) -> Step:
        """After a restart, with the store's recent dose log (``Store.doses``) and the exercise
        session it holds as running: doses and the session cut off by a power cut are
        counted, closed and reported, and checkpointed at once."""
        out = Out()
        self.therapy.recover(doses, t, wall, out)
        self.exercise.recover(exercise, t, wall, out)
        if out.orders or self.exercise.record_changed:
            out.orders.append(self._checkpoint(t))
        return out.step()

    def checkpoint_failed(self, record: orders.Checkpoint) -> None:
        """The store could not take a checkpoint: keep it for the next one."""
        self.ledger.dirty.update(record.days)
        self.wear.finished_bouts[:0] = record.bouts
        self.exercise.record_changed |= "exercise" in record.meta

    def close(self) -> Step:
        """A clean stop: book everything up to the last reading (a change still being
        debounced is booked to the state before it) and checkpoint it all."""
        out = Out()
        if self.wall:
            self.wear.book(self.now, self.now, self.wall)
            self.exercise.stop(self.now, self.wall, "shutdown", out)
        return Step(tuple(out.events), (self._checkpoint(self.now),))

    # -- what a person sees -----------------------------------------------------------------------
    def days(self) -> dict[str, Day]:
        """Copies of the days tracked since the core was built."""
        return {name: day.copy() for name, day in self.ledger.days.items()}

    def snapshot(self) -> Snapshot:
        """The state now, as one immutable value for every view."""
        return take_snapshot(self)
