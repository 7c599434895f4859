"""Exercise sessions and active extension repetitions: a pure tracker.

A survivor who can produce only a flicker of finger extension is told to work that
flicker. During an exercise session (``exercise_start`` to ``exercise_stop``, or
``exercise.max_min`` after its start) the fingers' flex sensor is read fast and every
active extension is counted, rewarded with a short buzz, and booked into the day.

The rule (docs/scenario-format.md, "Active extension repetitions"): a repetition is
counted when ``fingers`` has fallen at least ``min_rep_deg`` below its highest value
since the session began or since the counter was last re-armed; the counter re-arms
when ``fingers`` has risen again at least half that above its lowest value since the
repetition. ``RepCounter`` is that rule, on whatever values it is given.

It is given the mean of the readings of the last ``SMOOTH_S``, not the raw readings: with
0.7 degrees of Gaussian noise on each reading, the highest and lowest raw values of a
long session stray two or three degrees from the hand's, enough for a 3-degree twitch to
look like a 5-degree repetition. A longer mean shrinks the noise by the root of its
readings but flattens a short flicker by a share of its depth, so the fingers are read
often. Measured on synthetic sessions (25 minutes of holding, then 100 movements each, 0.7
degrees of noise): at 100 readings a second, a mean of 12 counted none of 2400 twitches of
3 degrees but missed 7 of 800 flickers of 7 degrees down and back up within 0.2 s, a mean
of 10 the reverse (3 twitches counted, no flicker missed); at 200 a second, a mean of 20
(0.1 s) counted no twitch and missed no such flicker. The mean's lag (50 ms) only delays a
count; the reward follows the reading it was counted on.

The value at the very start of a session, where the rule's highest value begins, is no
moving mean's either (a flicker may begin with the session and be over in 0.2 s). On a
hand held still before the start (the last readings before it, at the chip's slow rate,
within ``STILL_DEG`` of each other) it is their mean; otherwise it is the straight line
fitted through the session's first readings (``SMOOTH_S`` of them), taken back to the start. Either
is as precise as the moving mean on a still hand; a too low start value is harmless (the
highest value rises with the readings that follow).

During a session the day's totals are stored at each repetition and at least every
``CHECKPOINT_S``, so a power cut (which ends the session) loses no repetition and at most
that much of its time; the session itself is stored too (``checkpoint_meta``), so the
agent that starts after the cut can still report it (``recover``).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Mapping

from pi_agent.core.days import DayLedger
from pi_agent.core.events import Event
from pi_agent.core.orders import Out, Step

SMOOTH_S = 0.1           # the rule runs on the mean of the readings of this long (20 at 200 a second)
CHECKPOINT_S = 1.0       # during a session, the totals are stored at least this often
BOOK_EVERY_S = 0.25      # ... and its seconds booked into the day at least this often
MIN_SESSION_S = 1.0      # a shorter session is refused
BEFORE_S = 1.0           # readings this long before a session tell the value at its start...
STILL_DEG = 3.0          # ... when at least 3 of them lie within this of each other
REWARD = "tick"          # the reward on each repetition (pi_agent.core.patterns)
PROGRESS = "ticks"       # ... and on every ``progress_every``-th one instead


class RepCounter:
    """The contract's repetition rule on a stream of values (degrees of finger flexion)."""

    def __init__(self, min_deg: float) -> None:
        self.min_deg = min_deg
        self.rearm_deg = min_deg / 2.0
        self.armed = True
        self.high: float | None = None   # highest value since the session began or the last re-arm
        self.low = 0.0                   # lowest value since the last repetition (while disarmed)
        self.sizes: list[float] = []     # each finished repetition: its high less its low

    def feed(self, v: float) -> bool:
        """The next value; True when it completes a repetition."""
        if self.high is None:
            self.high = v
            return False
        if self.armed:
            if v > self.high:
                self.high = v
            elif self.high - v >= self.min_deg:
                self.armed = False
                self.low = v
                return True
        elif v < self.low:
            self.low = v
        elif v - self.low >= self.rearm_deg:
            self.sizes.append(self.high - self.low)
            self.armed = True
            self.high = v
        return False

    def movements(self) -> list[float]:
        """The size of every repetition so far, the one still going on included."""
        return self.sizes + ([] if self.armed or self.high is None else [self.high - self.low])


class ExerciseTracker:
    """The exercise session, its repetitions and its cues. ``cue(event, out)`` plays a
    haptic event (the core's ``cue_event``); ``available``: the configuration has a
    fingers channel."""

    def __init__(self, exercise_cfg, ledger: DayLedger, cue: Callable[[Event, Out], None], available: bool,
                 splint_off: Callable[[], bool] = lambda: False) -> None:
        """``splint_off``: the splint is known to be off now (its finger sensor then counts nothing)."""
        c = exercise_cfg
        self.min_rep_deg = c.min_rep_deg
        self.max_s = c.max_min * 60.0
        self.reward = c.reward
        self.progress_every = c.progress_every
        self.n = max(3, round(SMOOTH_S * c.rate_hz))   # readings in the moving mean
        self.ledger = ledger
        self.cue = cue
        self.available = available
        self.splint_off = splint_off
        self.session: dict | None = None
        self.counter: RepCounter | None = None
        self._window: deque[float] = deque(maxlen=self.n)
        self._times: deque[float] = deque(maxlen=self.n)
        self._before: deque[tuple[float, float]] = deque(maxlen=8)   # (t, value) outside a session
        self._sum = 0.0
        self._last = 0.0                   # monotonic time the session's seconds are booked up to
        self.record_changed = False        # the stored session record is out of date

    @property
    def running(self) -> bool:
        """A session runs (the agent reads the fingers fast)."""
        return self.session is not None

    # -- starting and stopping ---------------------------------------------------------
    def refusal(self) -> str | None:
        """Why a session cannot start now (None: it can)."""
        if not self.available:
            return "this configuration has no fingers channel"
        if self.session is not None:
            return "an exercise session is already running"
        if self.splint_off():
            return "the splint is off: put it on first (its finger sensor counts the repetitions)"
        return None

    def start(self, seconds: float, source: str, t: float, wall: float, out: Out) -> dict:
        """Start a session of ``seconds`` (at most ``max_s``; the caller checked ``refusal``)."""
        seconds = min(seconds, self.max_s)
        day = self.ledger.day_of(wall)
        self.session = {"t0": t, "end": t + seconds, "start_wall": wall, "day": day, "source": source,
                        "reps": 0, "booked_s": 0.0}
        self.counter = RepCounter(self.min_rep_deg)
        self._window.clear()
        self._times.clear()
        self._sum = 0.0
        self._last = t
        self.record_changed = True
        minutes = round(seconds / 60.0, 2)
        out.events.append(Event("exercise_started", t, wall, {"minutes": minutes, "source": source,
                                                              "until": round(wall + seconds, 3)}))
        self.cue(Event("haptic", t, wall, {"pattern": "pulse", "reason": "exercise_start"}), out)
        return {"minutes": minutes}

    def stop(self, t: float, wall: float, reason: str, out: Out) -> dict:
        """End the session at ``t`` (it may have ended by itself already); its summary
        ({} when none ran). ``reason`` 'shutdown': the agent is stopping, no cue."""
        s = self.session
        if s is None:
            return {}
        self.advance(t, wall, out, final=True)
        if self.session is None:          # it reached its time limit at or before t
            return self._summary(s, "time_limit")
        self._end(t, wall, t, reason, out)
        return self._summary(s, reason)

    def button(self, t: float, wall: float) -> Step:
        """The button held: a session of ``max_s`` starts, or the one running stops."""
        out = Out()
        problem = self.refusal()
        if self.session is not None:
            self.stop(t, wall, "button", out)
        elif problem:
            self.cue(Event("haptic", t, wall, {"pattern": "double_pulse", "reason": "refused",
                                               "text": f"button: exercise refused: {problem}"}), out)
        else:
            self.start(self.max_s, "button", t, wall, out)
        return out.step()

    # -- readings and time ---------------------------------------------------------------
    def readings(self, readings, t: float, wall: float, out: Out) -> None:
        """A batch of readings taken at ``t`` (wall time ``wall``): the fingers' count."""
        for r in readings:
            if r.channel == "fingers":
                self.feed(r.t, wall - (t - r.t), r.value, out)

    def feed(self, t: float, wall: float, value: float | None, out: Out) -> None:
        """A reading of the fingers at ``t`` (None: in fault); a repetition it completes is
        counted, stored at the next checkpoint (at once) and rewarded."""
        self.advance(t, wall, out)
        s = self.session
        if s is None:
            if value is not None:
                self._before.append((t, value))
            return
        window = self._window
        if value is None:
            window.clear()
            self._times.clear()
            self._sum = 0.0
            return
        n = self.n
        if len(window) == n:
            self._sum -= window[0]
        window.append(value)
        self._times.append(t)
        self._sum += value
        if len(window) < n:
            return
        counter = self.counter
        if counter.high is None:
            counter.feed(self._start_value(s["t0"]))
        if not counter.feed(self._sum / n):
            return
        s["reps"] += 1
        self.ledger.day(self.ledger.day_of(wall)).extension_reps += 1
        self.record_changed = True
        n = s["reps"]
        if self.progress_every and n % self.progress_every == 0:
            self.cue(Event("haptic", t, wall, {"pattern": PROGRESS, "reason": "rep_progress", "reps": n}), out)
        elif self.reward:
            self.cue(Event("haptic", t, wall, {"pattern": REWARD, "reason": "rep", "reps": n}), out)

    def advance(self, t: float, wall: float, out: Out, final: bool = False) -> None:
        """Book the session's seconds up to ``t`` (every ``BOOK_EVERY_S``, or now when
        ``final``); end it at its time limit."""
        s = self.session
        if s is None or t <= self._last:
            return
        upto = min(t, s["end"])
        d = upto - self._last
        if d >= BOOK_EVERY_S or upto >= s["end"] or final:
            self.ledger.book("exercise_s", d, wall - (t - upto))
            s["booked_s"] += d
            self._last = upto
        if t >= s["end"]:
            self._end(s["end"], wall - (t - s["end"]), t, "time_limit", out)

    def _start_value(self, t0: float) -> float:
        """The fingers' value at the session's start ``t0`` (see the module's docstring)."""
        before = [v for t, v in self._before if 0.0 <= t0 - t <= BEFORE_S]
        if len(before) >= 3 and max(before) - min(before) <= STILL_DEG:
            return sum(before) / len(before)
        return _value_at(t0, self._times, self._window)

    def next_due(self, t: float) -> float | None:
        """The session's time limit (so it ends then even if no reading comes)."""
        return None if self.session is None else self.session["end"]

    def _end(self, at: float, wall_at: float, now: float, reason: str, out: Out) -> None:
        s, self.session = self.session, None
        self.record_changed = True
        out.events.append(Event("exercise_session", now, wall_at, self._summary(s, reason)))
        if reason != "shutdown":
            self.cue(Event("haptic", now, wall_at, {"pattern": "long_buzz", "reason": "exercise_end"}), out)

    def _summary(self, s: dict, reason: str) -> dict:
        sizes = self.counter.movements() if self.counter is not None else []
        return {"day": s["day"], "start": round(s["start_wall"], 3), "source": s["source"], "ended": reason,
                "repetitions": s["reps"], "duration_s": round(s["booked_s"], 1),
                "smallest_deg": round(min(sizes), 1) if sizes else None,
                "largest_deg": round(max(sizes), 1) if sizes else None}

    # -- what is stored --------------------------------------------------------------------
    def checkpoint_every(self, every_s: float) -> float:
        """How often the totals are stored: ``every_s``, at most ``CHECKPOINT_S`` in a session."""
        return min(every_s, CHECKPOINT_S) if self.session is not None else every_s

    def checkpoint_meta(self, meta: dict) -> dict:
        """``meta`` with the session as stored (while one runs, and None once it ended)."""
        if self.session is not None or self.record_changed:
            s = self.session
            meta["exercise"] = None if s is None else self._summary(s, "interrupted")
            self.record_changed = False
        return meta

    def recover(self, record: Mapping[str, Any] | None, t: float, wall: float, out: Out) -> None:
        """After a restart, the session the previous agent had stored as running (it stopped
        without a shutdown: a power cut): reported as stored, and the record cleared."""
        if record:
            out.events.append(Event("exercise_session", t, wall, dict(record)))
            self.record_changed = True


def _value_at(t: float, times, values) -> float:
    """The least-squares straight line through (times, values), at ``t``."""
    n = len(values)
    mt, mv = sum(times) / n, sum(values) / n
    stt = sum((x - mt) ** 2 for x in times)
    if stt <= 0:
        return mv
    slope = sum((x - mt) * (v - mv) for x, v in zip(times, values)) / stt
    return mv + slope * (t - mt)
