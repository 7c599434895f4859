"""The vibration motor's one owner: cue patterns, therapy, and the hard limits.

Everything that wants the motor (weight-bearing cues, reminders, identify, therapy)
asks this object; nothing else touches a motor backend. It decides the motor's level
from three layers, strongest first:

1. a **safety stop** (the loop failed or stalled, the program is ending): motor off;
2. **therapy**: blocks of vibration at a level, cut to the limits;
3. **cues**: short named patterns. A cue during therapy is played at full strength
   between short silences, so the survivor can tell it from the therapy hum.

The limits are enforced here, below every caller: the motor is never on longer than
the maximum continuous on-time, and therapy never goes past the daily maximum, whatever
was asked. Level changes happen at absolute monotonic times; ``poll(now)`` applies what
is due. In real time ``MotorThread`` calls it (and stops the motor if the sampling loop
stops beating); in virtual time the agent's loop does, so the same code runs in both.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from pi_agent.therapy import Limits, Plan

log = logging.getLogger("pi_agent.haptics")

PATTERNS: dict[str, list[tuple[float, float]]] = {
    "pulse": [(0.12, 0.8)],                                            # short: target reached
    "double_pulse": [(0.10, 0.8), (0.10, 0.0), (0.10, 0.8)],           # early warning near the top
    "long_buzz": [(0.60, 0.8)],                                        # identify, attention
    "alarm": [(0.08, 1.0), (0.08, 0.0)] * 3,                           # over the maximum (repeated)
    "nudge": [(0.25, 0.45)],                                           # gentle: too light, reminder
}
THERAPY_GAP_S = 0.15      # silence around a cue played during therapy
EFFECT = -1.0             # timeline marker: the driver chip plays a cue effect by itself


class Haptics:
    """Drives a motor backend (a ``pi_agent.motors.Motor``)."""

    def __init__(self, motor, clock, *, levels: dict[str, float] | None = None, limits: Limits = Limits(),
                 used_today: Callable[[], float] = lambda: 0.0, stall_s: float = 2.0) -> None:
        self.motor = motor
        self.clock = clock
        self.levels = levels or {"low": 0.5, "high": 0.85}
        self.limits = limits
        self.used_today = used_today          # seconds of therapy already delivered today
        self.stall_s = stall_s
        self._lock = threading.RLock()
        self._cue: list[tuple[float, float | None]] = []   # (monotonic time, level) still to come
        self._cue_level: float | None = None   # the cue's level now; None: no cue playing
        self._cue_span = (0.0, 0.0)            # when the cue playing began and ends
        self._therapy: dict | None = None
        self._level = 0.0
        self._on_since: float | None = None
        self._last_poll: float | None = None
        self.heartbeat_at = clock.monotonic()   # the sampling loop's last turn (MotorThread watches it)
        self.notices: list[dict] = []        # therapy news for the agent: delivered, ended
        self._wake = threading.Event()
        self.closed = False
        self.motor.set_level(0.0)            # off at start, whatever state it was left in

    @property
    def level(self) -> float:
        return self._level

    @property
    def therapy(self) -> dict | None:
        return self._therapy

    @property
    def busy(self) -> bool:
        """Anything playing or scheduled (a cheap check for the loop's every turn)."""
        return bool(self._cue or self._cue_level is not None or self._therapy is not None or self._level)

    # -- cues ------------------------------------------------------------------------------
    def play(self, pattern: str) -> None:
        """Play a named pattern now (a newer cue replaces what is left of an older one)."""
        segments = PATTERNS[pattern]
        with self._lock:
            if self.closed:
                return
            t = self.clock.monotonic()
            if self._therapy is not None:
                segments = [(THERAPY_GAP_S, 0.0)] + [(s, 1.0 if lv else 0.0) for s, lv in segments] \
                           + [(THERAPY_GAP_S, 0.0)]
            if self._therapy is None and self.motor.play_effect(pattern):
                # The driver plays its own waveform: hold the timeline for its length.
                length = sum(s for s, _ in segments)
                self._cue = [(t, EFFECT), (t + length, None)]
                self._cue_span = (t, t + length)
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
                self._cue_span = (schedule[0][0], t)
            self._apply(self.clock.monotonic())
        self._wake.set()

    # -- therapy ---------------------------------------------------------------------------
    def start_therapy(self, plan: Plan, reason: str) -> dict:
        """Start a plan (already cut to the limits by the caller; cut again here if not)."""
        with self._lock:
            if self.closed:
                raise RuntimeError("the motor is closed")
            now = self.clock.monotonic()
            if self._therapy is not None:
                self._end_therapy(now, "replaced")
            intervals, t = [], now
            for on, off in plan.blocks:
                on = min(on, self.limits.max_continuous_s)
                intervals.append((t, t + on))
                t += on + off
            self._therapy = {"plan": plan, "level": self.levels[plan.level], "intervals": intervals,
                             "start": now, "end": t, "delivered_s": 0.0, "reason": reason}
            self._last_poll = now
            self._apply(now)
        self._wake.set()
        return self._therapy

    def stop_therapy(self, reason: str) -> None:
        with self._lock:
            if self._therapy is not None:
                self._end_therapy(self.clock.monotonic(), reason)
                self._apply(self.clock.monotonic())
        self._wake.set()

    def _therapy_level(self, t: float) -> float:
        th = self._therapy
        if th is None:
            return 0.0
        for a, b in th["intervals"]:
            if a <= t < b:
                return th["level"]
        return 0.0

    def _deliver(self, now: float) -> None:
        """Count the therapy time since the last poll, and end therapy past its plan or
        the daily maximum."""
        th = self._therapy
        if th is None:
            self._last_poll = now
            return
        last = self._last_poll if self._last_poll is not None else now
        on = 0.0
        for a, b in th["intervals"]:
            lo, hi = max(a, last), min(b, now)
            if hi > lo:
                on += hi - lo
        on -= self._cue_overlap(last, now)
        if on > 0:
            left = self.limits.max_daily_s - self._used()
            on = min(on, max(0.0, left))
            th["delivered_s"] += on
            self.notices.append({"type": "delivered", "seconds": on, "at": now})
        self._last_poll = now
        if now >= th["end"]:
            self._end_therapy(th["end"], "completed")
        elif self._used() >= self.limits.max_daily_s - 1e-6:
            self._end_therapy(now, "daily_limit")

    def _used(self) -> float:
        """Therapy delivered today: what the day has booked, and what is not booked yet."""
        return self.used_today() + sum(n["seconds"] for n in self.notices if n["type"] == "delivered")

    def _cue_overlap(self, a: float, b: float) -> float:
        start, end = self._cue_span
        return max(0.0, min(b, end) - max(a, start))

    def _end_therapy(self, t: float, reason: str) -> None:
        th, self._therapy = self._therapy, None
        self.notices.append({"type": "ended", "reason": reason, "at": t, "therapy": th})

    # -- the timeline -------------------------------------------------------------------------
    def next_change(self) -> float | None:
        """The next moment the motor's level may change (for a loop in virtual time)."""
        with self._lock:
            times = []
            if self._cue:
                times.append(self._cue[0][0])
            th = self._therapy
            if th is not None:
                now = self.clock.monotonic()
                times += [x for a, b in th["intervals"] for x in (a, b) if x > now] or [th["end"]]
                times.append(now + 1.0)     # count the dose at least once a second
            if self._on_since is not None:
                times.append(self._on_since + self.limits.max_continuous_s)
            return min(times) if times else None

    def poll(self, now: float) -> None:
        with self._lock:
            self._apply(now)

    def take_notices(self) -> list[dict]:
        """The therapy news since the last call (delivered seconds, sessions ended)."""
        with self._lock:
            notices, self.notices = self.notices, []
        return notices

    def _apply(self, now: float) -> None:
        if self.closed:
            return
        self._deliver(now)
        while self._cue and self._cue[0][0] <= now:
            self._cue_level = self._cue.pop(0)[1]
        level = self._cue_level if self._cue_level is not None else self._therapy_level(now)
        if level == EFFECT:
            return                      # the driver is playing an effect by itself
        if self._on_since is not None and now - self._on_since >= self.limits.max_continuous_s:
            log.error("motor on for %.0f s without a break: stopped at the continuous maximum",
                      now - self._on_since)
            if self._therapy is not None:
                self._end_therapy(now, "continuous_limit")
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
                self._deliver(now)
                if self._therapy is not None:
                    self._end_therapy(now, why)
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


def make_haptics(cfg, motor, clock) -> Haptics:
    """The motor's owner with the configured levels and limits."""
    t = cfg.therapy
    return Haptics(motor, clock, levels={"low": t.low_level, "high": t.high_level},
                   limits=Limits(t.max_continuous_min * 60.0, t.max_daily_min * 60.0))


class MotorThread(threading.Thread):
    """Plays the timeline in real time, apart from the sampling loop's reads, and stops
    the motor when the sampling loop stops beating."""

    def __init__(self, haptics: Haptics) -> None:
        super().__init__(name="motor", daemon=True)
        self.haptics = haptics

    def run(self) -> None:
        h = self.haptics
        while not h.closed:
            try:
                now = h.clock.monotonic()
                if h.level > 0 and now - h.heartbeat_at > h.stall_s:
                    log.error("the sampling loop stopped beating for %.1f s: motor off", now - h.heartbeat_at)
                    h.safety_stop("loop_stalled")
                nxt = h.next_change()
                # Nothing playing or due: sleep until something is (every change wakes us).
                wait = None if nxt is None else min(0.25, max(0.0, nxt - now))
                h._wake.wait(wait)
                h._wake.clear()
                h.poll(h.clock.monotonic())
            except Exception:              # never let the motor's guard die
                log.exception("motor thread error; motor off")
                try:
                    h.safety_stop("error")
                except Exception:
                    pass
