"""The core's state as one immutable value: what every view shows.

The status line, ``pi-agent status``, MQTT's ``state`` and the dashboard are renderings
of a ``Snapshot`` (``pi_agent.render``); nothing outside the core reads its trackers.
"""

from __future__ import annotations

from dataclasses import dataclass

from pi_agent.core.days import Day
from pi_agent.core.position import UNKNOWN, WORN, public
from pi_agent.core.weight_bearing import Band


@dataclass(frozen=True, slots=True)
class Targets:
    low: float
    high: float
    unit: str          # 'N', 'percent_body_weight' or 'percent_max_push'


@dataclass(frozen=True, slots=True)
class ChannelState:
    name: str
    kind: str                 # 'flex' (degrees) or 'force' (newtons)
    value: float | None       # None: not read yet, or in fault
    fault: str | None         # the fault kind, if any
    t: float | None           # monotonic time of its last reading (None: never read)


@dataclass(frozen=True, slots=True)
class TherapyState:
    level: str                # 'low' or 'high'
    source: str
    until_wall: float         # when the plan ends, in wall time


@dataclass(frozen=True, slots=True)
class ExerciseState:
    reps: int                 # repetitions counted in the session so far
    since_wall: float         # when the session started, in wall time
    until_wall: float         # when it ends at the latest, in wall time
    source: str               # 'command' or 'button'


@dataclass(frozen=True, slots=True)
class Snapshot:
    t: float                          # monotonic time of the last reading (0: none yet)
    wall: float                       # wall time of the last reading (0: none yet)
    day: str                          # the local date of ``wall`` ('' before the first reading)
    position: str                     # 'open', 'closed', 'off' or 'unknown'
    worn: bool
    position_since: float | None      # wall time the position began
    state: str                        # the position tracker's own: as position, or 'worn_unknown'
    splint_read: bool                 # the splint has been read (else 'unknown' is "no reading yet")
    has_splint: bool
    has_pad: bool
    channels: tuple[ChannelState, ...]
    load_n: float | None              # the load on the pad (None: no pad, or in fault)
    load_t: float | None              # monotonic time of the pad's reading that load is from
    load_wall: float | None           # ...and its wall time (None: no pad reading yet)
    fingers_share: float | None       # the fingers' zone's share of the load (None: too light)
    session: bool                     # a weight-bearing session runs
    pad_fast: bool                    # the pad is read fast: a session, something pressing on it, or a tare
    reps: int | None                  # weight-shift repetitions in that session (None: no session)
    reps_goal: int                    # the daily goal of repetitions (0: none)
    spasm_since: float | None         # wall time the spasm going on began (None: none)
    high_pressure_since: float | None # wall time the palm force went at or above pressure.alert_n (None: under it)
    band: Band | None                 # the target band in newtons (None: unit's reference unknown)
    targets: Targets
    body_weight_kg: float
    today: Day                        # a copy of today's totals
    goal_s: float
    long_bout_s: float
    therapy: TherapyState | None
    faults: tuple[tuple[str, str], ...]    # (channel, kind), sorted
    exercise: ExerciseState | None = None  # the exercise session running, if any
    exercise_goal_reps: int = 0            # the daily goal of extension repetitions (0: none)

    @property
    def spasm(self) -> bool:
        """A spasm is going on."""
        return self.spasm_since is not None

    @property
    def high_pressure(self) -> bool:
        """The palm force is at or above ``pressure.alert_n`` now."""
        return self.high_pressure_since is not None

    @property
    def in_band(self) -> bool | None:
        if self.band is None or self.load_n is None:
            return None
        return self.band.low_n <= self.load_n <= self.band.high_n

    @property
    def exercise_goal_pct(self) -> float | None:
        """Today's extension repetitions as a share of the daily goal (None: no goal)."""
        if not self.exercise_goal_reps:
            return None
        return round(100.0 * self.today.extension_reps / self.exercise_goal_reps, 1)

    def channel(self, name: str) -> ChannelState | None:
        for ch in self.channels:
            if ch.name == name:
                return ch
        return None


def take_snapshot(core) -> Snapshot:
    """The core's state as a Snapshot (the core's own ``snapshot()``)."""
    wall = core.wall
    day = core.ledger.day_of(wall) if wall else ""
    today = core.ledger.peek(day) if wall else None
    th = core.therapy.running
    ex = core.exercise.session
    pad = [core.latest[ch].t for ch in core.pad_channels if ch in core.latest]
    load_t = max(pad) if pad else None
    return Snapshot(
        t=core.now, wall=wall, day=day,
        position=public(core.wear.state), worn=core.wear.state in WORN,
        position_since=core.wear.since_wall if core.wear.state != UNKNOWN else None,
        state=core.wear.state, splint_read=core.wear.since_wall is not None,
        has_splint=core.has_splint, has_pad=core.has_pad,
        channels=tuple(ChannelState(name, kind, *_value_and_fault(core, name)) for name, kind in core.kinds.items()),
        load_n=core.load(), load_t=load_t, load_wall=None if load_t is None else wall - (core.now - load_t),
        fingers_share=core.wb.fingers_share,
        session=core.wb.session is not None, pad_fast=core.pad_fast, reps=core.wb.reps,
        reps_goal=core.cfg.weight_bearing.goal_reps,
        spasm_since=None if core.spasms.spasm is None else core.spasms.spasm["start"],
        high_pressure_since=None if core.pressure.high_since is None else wall - (core.now - core.pressure.high_since),
        band=core.wb.band, targets=core.targets,
        body_weight_kg=core.cfg.weight_bearing.body_weight_kg,
        today=today.copy() if today is not None else Day(goal_s=core.ledger.goal_s),
        goal_s=core.ledger.goal_s, long_bout_s=core.wear.long_bout_s,
        therapy=None if th is None else TherapyState(th["plan"].level, th["plan"].source,
                                                    session_wall(th["intervals"][0][0], th["start_wall"], th["end"],
                                                                 core.now, wall)),
        faults=tuple(sorted(core.faults.active.items())),
        exercise=None if ex is None else ExerciseState(ex["reps"],
                                                       session_wall(ex["t0"], ex["start_wall"], ex["t0"], core.now, wall),
                                                       session_wall(ex["t0"], ex["start_wall"], ex["end"], core.now, wall),
                                                       ex["source"]),
        exercise_goal_reps=core.cfg.exercise.goal_reps)


END_JITTER_S = 1.0          # two clocks read a turn apart disagree by far less than this


def session_wall(start_t: float, start_wall: float, at_t: float, now: float, wall: float) -> float:
    """The wall time of the monotonic instant ``at_t`` of a session that started at ``start_t``
    (monotonic), ``start_wall`` (wall): fixed from its start, so that the state does not change
    by the milliseconds between two clocks' readings at every turn; once the wall clock has
    been stepped (by more than END_JITTER_S) since it started, moved by that step, to the
    second (a whole number of seconds stays still under the same jitter)."""
    step = (wall - now) - (start_wall - start_t)
    return start_wall + (at_t - start_t) + (round(step) if abs(step) > END_JITTER_S else 0.0)


def _value_and_fault(core, name: str) -> tuple[float | None, str | None, float | None]:
    r = core.latest.get(name)
    if r is None:
        return None, None, None
    return r.value, core.faults.active.get(name), r.t
