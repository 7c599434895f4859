"""The vibration motor's player: it plays the core's motor orders on a backend, and holds
the hard limits again at the output.

The core decides every cue and every therapy block (``pi_agent.core.orders``); this
object only turns them into motor levels at absolute monotonic times, from two layers:

1. **therapy**: a level over on-intervals;
2. **cues**: short named patterns on top. A cue during therapy is played at full strength
   between short silences, so the survivor can tell it from the therapy hum.

Below every caller, whatever the orders said: therapy stops when its on-time reaches
the budget it came with (what was left of the day's maximum), or when the therapy's
on-time since the last real rest (off at least ``rest_s``) reaches the continuous
maximum, or when the therapy it played since the local day began reaches the daily
maximum; and the motor is never on at any level longer than the continuous maximum
without a moment off. The local day is measured back from now on the monotonic clock,
over the seconds since local midnight by the wall clock now (``since_midnight``, given),
so a wall-clock jump either way never opens a fresh day's budget. A safety stop (the loop failed or stalled, the program is ending)
is stronger than everything. Therapy the player ended by itself is handed back to the
agent through ``take_stops()``, which tells the core; the player never calls the core
or the store.

``poll(now)`` applies what is due: in real time ``MotorThread`` calls it (and stops the
motor when the sampling loop stops beating); in virtual time the agent's loop does, so
the same code runs in both.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Callable

from pi_agent.core import orders, patterns
from pi_agent.core.days import since_midnight as local_since_midnight
from pi_agent.core.therapy import CLOCK_STEP_S, CLOSED_HOLD_S, add_span, played_within

log = logging.getLogger("pi_agent.motor")

EFFECT = -1.0             # timeline marker: the driver chip plays a cue effect by itself
ASKED_STOPS = frozenset({"shutdown"})   # why a stop the user asked for ends therapy (``close``)


class MotorPlayer:
    def __init__(self, motor, clock, *, max_continuous_s: float, rest_s: float = 0.0, stall_s: float = 2.0,
                 max_daily_s: float = math.inf, since_midnight: Callable[[], float] | None = None) -> None:
        """``since_midnight``: the seconds since local midnight by the wall clock now (with
        ``max_daily_s``, the daily maximum held in the motor's own time)."""
        self.motor = motor
        self.clock = clock
        self.max_continuous_s = max_continuous_s
        self.rest_s = rest_s
        self.stall_s = stall_s
        self.max_daily_s = max_daily_s
        self.since_midnight = since_midnight
        self._played: list[tuple[float, float]] = []   # therapy on-time (monotonic spans)
        self._closed_until = -math.inf                 # no therapy before this (``close_day``)
        self._closed_at = (-math.inf, 0.0)             # (monotonic time, wall offset) it was closed at
        self._lock = threading.RLock()
        self._cue: list[tuple[float, float | None]] = []   # (monotonic time, level) still to come
        self._cue_level: float | None = None   # the cue's level now; None: no cue playing
        self._therapy: dict | None = None
        self._level = 0.0
        self._on_since: float | None = None    # the motor on at any level since
        self._run_s = 0.0                      # therapy on-time since the last rest
        self._off_since: float | None = None   # the therapy layer off since
        self._last: float | None = None        # the last poll
        self.stops: list[tuple[float, str]] = []   # therapy ended here: (monotonic time, reason)
        self.heartbeat_at = clock.monotonic()  # the sampling loop's last turn (MotorThread watches it)
        self._wake = threading.Event()
        self.closed = False
        self.motor.set_level(0.0)              # off at start, whatever state it was left in

    @property
    def level(self) -> float:
        return self._level

    @property
    def therapy_running(self) -> bool:
        return self._therapy is not None

    @property
    def busy(self) -> bool:
        """Anything playing or scheduled (a cheap check for the loop's every turn)."""
        return bool(self._cue or self._cue_level is not None or self._therapy is not None or self._level)

    # -- orders ------------------------------------------------------------------------------
    def apply(self, order) -> None:
        if isinstance(order, orders.Cue):
            self.play(order.pattern)
        elif isinstance(order, orders.Therapy):
            self.start_therapy(order)
        elif isinstance(order, orders.TherapyOff):
            self.stop_therapy()

    def play(self, pattern: str) -> None:
        """Play a named pattern now (a newer cue replaces what is left of an older one)."""
        with self._lock:
            if self.closed:
                return
            t = self.clock.monotonic()
            during = self._therapy is not None
            segments = patterns.segments(pattern, during)
            if not during and self.motor.play_effect(pattern):
                # The driver plays its own waveform: hold the timeline for its length.
                self._cue = [(t, EFFECT), (t + patterns.length(pattern, False), None)]
            else:
                kick = self.motor.kick_s
                schedule, previous = [], self._level
                for seconds, level in segments:
                    if kick and previous == 0.0 and 0.0 < level < 1.0 and seconds > kick:
                        schedule += [(t, 1.0), (t + kick, level)]   # kick a resting ERM motor
                    else:
                        schedule.append((t, level))
                    previous = level
                    t += seconds
                schedule.append((t, None))        # None: the cue is over, back to the layer below
                self._cue = schedule
            self._apply(self.clock.monotonic())
        self._wake.set()

    def start_therapy(self, order: orders.Therapy) -> None:
        with self._lock:
            if self.closed:
                return
            now = self.clock.monotonic()
            self._apply(now)
            self._therapy = {"level": order.level, "intervals": order.intervals, "budget_s": order.budget_s,
                             "on_s": 0.0, "end": order.intervals[-1][1] if order.intervals else now}
            if order.continuous_s > self._run_s:     # vibration of an earlier run, no rest since
                self._run_s, self._off_since = order.continuous_s, now
            self._apply(now)
        self._wake.set()

    def stop_therapy(self) -> None:
        with self._lock:
            now = self.clock.monotonic()
            self._apply(now)
            self._therapy = None
            self._apply(now)
        self._wake.set()

    def seed(self, spans) -> None:
        """Therapy played before this player started (the dose log's, as monotonic spans)."""
        with self._lock:
            self._played = sorted(self._played + [(a, b) for a, b in spans if b > a])

    def close_day(self, until: float) -> None:
        """No therapy until monotonic time ``until`` (the local day's end): what the motor played
        earlier today is not known (the dose log was lost), so none of the daily maximum is left.
        A step of the wall clock within ``CLOSED_HOLD_S`` keeps it closed (the day it named may be wrong)."""
        with self._lock:
            now = self.clock.monotonic()
            self._closed_until, self._closed_at = until, (now, self.clock.wall() - now)

    def daily_left(self, now: float) -> float:
        """What the daily maximum leaves of the therapy played since the local day began."""
        if now < self._closed_until:
            return 0.0
        t0, offset = self._closed_at
        if now - t0 < CLOSED_HOLD_S and abs((self.clock.wall() - now) - offset) > CLOCK_STEP_S:
            return 0.0
        if self.since_midnight is None:
            return math.inf
        return self.max_daily_s - played_within(self._played, now - self.since_midnight(), now)

    def take_stops(self) -> list[tuple[float, str]]:
        """Therapy the player ended by itself since the last call."""
        with self._lock:
            stops, self.stops = self.stops, []
        return stops

    # -- the timeline -----------------------------------------------------------------------------
    def next_change(self) -> float | None:
        """The next moment the motor's level may change (for a loop in virtual time)."""
        with self._lock:
            times = []
            if self._cue:
                times.append(self._cue[0][0])
            th = self._therapy
            now = self.clock.monotonic()
            if th is not None:
                times += [x for a, b in th["intervals"] for x in (a, b) if x > now] or [th["end"]]
                if self._therapy_level(now):
                    room = min(th["budget_s"] - th["on_s"], self.max_continuous_s - self._run_s,
                               self.daily_left(now))
                    times.append(now + max(0.0, room))
            if self._on_since is not None:
                times.append(self._on_since + self.max_continuous_s)
            return min(times) if times else None

    def poll(self, now: float) -> None:
        with self._lock:
            self._apply(now)

    def _therapy_level(self, t: float) -> float:
        th = self._therapy
        if th is None:
            return 0.0
        for a, b in th["intervals"]:
            if a <= t < b:
                return th["level"]
        return 0.0

    def _count(self, now: float) -> None:
        """Count the therapy's on-time since the last poll, and end it at a limit."""
        last, self._last = self._last, now
        th = self._therapy
        if th is None:
            return
        for a, b in th["intervals"] if last is not None and now > last else ():
            lo, hi = max(a, last), min(b, now)
            if hi > lo:
                if self._off_since is not None and lo - self._off_since >= self.rest_s:
                    self._run_s = 0.0
                self._run_s += hi - lo
                th["on_s"] += hi - lo
                self._off_since = hi
                add_span(self._played, lo, hi)
        if now >= th["end"]:
            self._therapy = None
        elif self._therapy_level(now):
            if self._off_since is not None and now - self._off_since >= self.rest_s:
                self._run_s = 0.0           # a real rest lies behind: the count restarts
            if th["on_s"] >= th["budget_s"] - 1e-9 or self.daily_left(now) < 1e-9:
                self._end(now, "daily_limit")
            elif self._run_s >= self.max_continuous_s - 1e-9:
                self._end(now, "continuous_limit")

    def _end(self, now: float, reason: str) -> None:
        # A stop the user asked for (SIGTERM, Ctrl-C: ``close``) is news, not a failure;
        # a limit held at the output, a stalled loop or an error is.
        log.log(logging.INFO if reason in ASKED_STOPS else logging.ERROR, "therapy stopped at the output: %s",
                reason.replace("_", " "))
        self._therapy = None
        self.stops.append((now, reason))

    def _apply(self, now: float) -> None:
        if self.closed:
            return
        self._count(now)
        while self._cue and self._cue[0][0] <= now:
            self._cue_level = self._cue.pop(0)[1]
        level = self._cue_level if self._cue_level is not None else self._therapy_level(now)
        if level == EFFECT:
            return                      # the driver is playing an effect by itself
        if level and self._on_since is not None and now - self._on_since >= self.max_continuous_s:
            log.error("motor on for %.0f s without a break: stopped at the continuous maximum",
                      now - self._on_since)
            if self._therapy is not None:
                self._end(now, "continuous_limit")
            self._cue, self._cue_level = [], None
            level = 0.0
        self._set(level, now)

    def _set(self, level: float, now: float) -> None:
        if level == self._level:
            return
        self._level = level
        self._on_since = (self._on_since if self._on_since is not None else now) if level > 0 else None
        self.motor.set_level(level)

    # -- stopping -------------------------------------------------------------------------------
    def safety_stop(self, why: str) -> None:
        """Stronger than everything: motor off now, therapy ended."""
        with self._lock:
            now = self.clock.monotonic()
            if self._therapy is not None:
                self._count(now)
                if self._therapy is not None:
                    self._end(now, why)
            self._cue, self._cue_level = [], None
            try:
                self._set(0.0, now)
            finally:
                self._level = 0.0
        self._wake.set()

    def close(self, why: str = "shutdown") -> None:
        """Motor off, for good. Idempotent."""
        with self._lock:
            if self.closed:
                return
            try:
                self.safety_stop(why)
            finally:
                self.closed = True
                try:
                    self.motor.set_level(0.0)
                finally:
                    self.motor.close()
        self._wake.set()


def make_player(cfg, motor, clock, zone) -> MotorPlayer:
    """The motor's player with the configured limits (the local day's in ``zone``)."""
    t = cfg.therapy
    return MotorPlayer(motor, clock, max_continuous_s=t.max_continuous_min * 60.0, rest_s=t.rest_min * 60.0,
                       max_daily_s=t.max_daily_min * 60.0,
                       since_midnight=lambda: local_since_midnight(clock.wall(), zone))


class MotorThread(threading.Thread):
    """Plays the timeline in real time, apart from the sampling loop's reads, and stops
    the motor when the sampling loop stops beating."""

    def __init__(self, player: MotorPlayer) -> None:
        super().__init__(name="motor", daemon=True)
        self.player = player

    def run(self) -> None:
        p = self.player
        real = p.clock.real_seconds        # its waits and the stall are in real time (a sped-up run too)
        while not p.closed:
            try:
                now = p.clock.monotonic()
                if p.level > 0 and real(now - p.heartbeat_at) > p.stall_s:
                    log.error("the sampling loop stopped beating for %.1f s: motor off", real(now - p.heartbeat_at))
                    p.safety_stop("loop_stalled")
                nxt = p.next_change()
                # Nothing playing or due: sleep until something is (every change wakes us).
                wait = None if nxt is None else min(0.25, real(max(0.0, nxt - now)))
                p._wake.wait(wait)
                p._wake.clear()
                p.poll(p.clock.monotonic())
            except Exception:              # never let the motor's guard die
                log.exception("motor thread error; motor off")
                try:
                    p.safety_stop("error")
                except Exception:
                    pass
