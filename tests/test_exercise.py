"""Exercise sessions and active extension repetitions (docs/scenario-format.md): the rule
against the tests' own truth, the sessions' limits, the reward, the counts, straight on the
core (test_exercise_sim.py and test_exercise_agent.py take them through the agent)."""

from __future__ import annotations

import dataclasses
import random
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import truth
from pi_agent import config
from pi_agent.core import Core, orders
from pi_agent.core.exercise import RepCounter
from sensors.channel import Reading

ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
WALL0 = 1_777_629_600.0          # 2026-05-01 12:00 in Berlin
RATE = 200.0                     # the fingers' readings a second in a session (exercise.rate_hz)


# -- the rule itself, on noiseless values ---------------------------------------------------
def counted(values, min_deg=5.0):
    c = RepCounter(min_deg)
    return [i for i, v in enumerate(values) if c.feed(v)]


@pytest.mark.parametrize("values, reps, why", [
    ([40, 33, 40], 1, "a flicker of 7 degrees"),
    ([40, 37, 40, 37, 40], 0, "twitches of 3 degrees"),
    ([40, 35], 1, "exactly 5 degrees"),
    ([40, 35.01], 0, "just under 5 degrees"),
    ([60, 0], 1, "a full opening, once"),
    ([60, 0, 60, 0], 2, "opened, closed, opened again"),
    ([40, 35, 37, 32, 40], 1, "a rise of 2 degrees does not re-arm: the second dip is the same opening"),
    ([40, 35, 37.5, 32.5], 2, "a rise of 2.5 degrees re-arms, and 5 below it is another repetition"),
    ([40, 45, 40], 1, "the fall counts from the highest value, not the first"),
    ([40, 35, 30, 32.5, 27.5], 2, "re-armed 2.5 above the lowest value since the repetition"),
])
def test_rule_table(values, reps, why):
    """The contract's rule on noiseless sequences: each case's count."""
    assert len(counted(values)) == reps, why
    assert counted(values) == truth.extension_reps(values), why


@settings(max_examples=300)
@given(st.lists(st.floats(-10, 100, allow_nan=False), max_size=300), st.sampled_from([2.0, 5.0, 10.0]))
def test_rule_agrees_with_the_truth_everywhere(values, min_deg):
    """On any noiseless sequence the counter counts at the same samples as the tests' own truth."""
    assert counted(values, min_deg) == truth.extension_reps(values, min_deg)


@pytest.mark.parametrize("amplitude", [6.0, 12.0, 40.0])
def test_slow_drift_counts_once_per_opening(amplitude):
    """A slow opening and closing, sampled finely: one repetition per opening, never two."""
    values = []
    for _ in range(5):
        values += [40 - amplitude * k / 1000 for k in range(1000)] + [40 - amplitude + amplitude * k / 1000
                                                                       for k in range(1000)]
    assert len(counted(values)) == 5


# -- on the core, with noise ------------------------------------------------------------------
def exercise_cfg(**keys):
    return config.changed(config.defaults(), exercise=keys)


class Hand:
    """Feeds the core: the splint's channels at 4 readings a second outside a session, the
    fingers at ``RATE`` inside one (as the agent reads them), with Gaussian noise."""

    def __init__(self, cfg, noise=0.7, seed=1, **kwargs):
        self.core = Core(cfg, ZONE, **kwargs)
        self.rng = random.Random(seed)
        self.noise = noise
        self.t = 0.0
        self.fingers = 40.0
        self.events, self.orders = [], []
        self.counted_at = []           # reading times of the repetitions

    def take(self, step):
        self.events += step.events
        self.orders += step.orders
        return step

    def move(self, seconds, to=None):
        """``fingers`` moves in a straight line to ``to`` over ``seconds`` (or stays)."""
        start, to = self.fingers, self.fingers if to is None else to
        t0, end = self.t, self.t + seconds
        while self.t < end - 1e-9:
            fast = self.core.exercise.running
            self.t = min(end, self.t + (1 / RATE if fast else 0.25))
            v = start + (to - start) * (self.t - t0) / seconds + self.rng.gauss(0, self.noise)
            if fast:
                readings = [Reading("fingers", self.t, 0, v)]
            else:
                readings = [Reading("wrist", self.t, 0, 20.0), Reading("fingers", self.t, 0, v),
                            Reading("palm", self.t, 0, 3.0)]
            self.take(self.core.feed(readings, WALL0 + self.t))
        self.fingers = to

    def dip(self, depth, down=0.2, hold=0.0, up=0.2, rest=2.0):
        base = self.fingers
        self.move(down, base - depth)
        if hold:
            self.move(hold)
        self.move(up, base)
        self.move(rest)

    def command(self, name, **args):
        step = self.take(self.core.command(name, args, self.t, WALL0 + self.t))
        return next(o for o in step.orders if isinstance(o, orders.Response))

    def of(self, kind):
        return [o for o in self.orders if isinstance(o, kind)]

    def typed(self, kind):
        return [e for e in self.events if e.type == kind]

    def haptics(self, reason):
        return [e for e in self.events if e.type == "haptic" and e.data["reason"] == reason]

    @property
    def today(self):
        return self.core.snapshot().today


SHAPES = [dict(down=0.1, up=0.1), dict(down=0.2, up=0.2), dict(down=0.05, hold=0.1, up=0.05),
          dict(down=0.5, hold=1.0, up=0.5), dict(down=1.0, up=1.0)]


@pytest.mark.parametrize("seed", range(4))
def test_flickers_count_and_twitches_do_not_with_noise(seed):
    """At 0.7 degrees of noise: each 7-degree flicker (0.2 s to 2 s long) counts once, no
    3-degree twitch counts, over a session with a long hold first."""
    hand = Hand(exercise_cfg(), seed=seed)
    hand.move(2)
    assert hand.command("exercise_start").status == "ok"
    hand.move(120)                                   # a long hold: the noise's highest value grows
    for shape in SHAPES * 4:
        hand.dip(3, **shape)
    assert hand.today.extension_reps == 0
    for shape in SHAPES * 4:
        hand.dip(7, **shape)
    assert hand.today.extension_reps == 4 * len(SHAPES)
    for shape in SHAPES * 4:
        hand.dip(3, **shape)
    assert hand.today.extension_reps == 4 * len(SHAPES)


def test_slow_full_opening_counts_once_with_noise():
    """Fingers from 60 to 0 degrees over 30 s and back: one repetition each way round, and a
    second opening is a second one."""
    hand = Hand(exercise_cfg())
    hand.command("exercise_start")
    hand.move(1, 60)
    hand.move(30, 0)
    hand.move(30, 60)
    assert hand.today.extension_reps == 1
    hand.move(30, 0)
    assert hand.today.extension_reps == 2


def test_movements_outside_a_session_are_not_counted():
    """Flickers before a session and after its stop count nothing; the fingers are read fast
    only inside it."""
    hand = Hand(exercise_cfg())
    hand.move(2)
    for _ in range(5):
        hand.dip(10, down=1, up=1)
    assert not hand.core.exercise.running
    hand.command("exercise_start", minutes=1)
    assert hand.core.exercise.running
    hand.dip(10)
    assert hand.command("exercise_stop").data == {"repetitions": 1, "minutes": pytest.approx(2.4 / 60, abs=0.01)}
    assert not hand.core.exercise.running
    for _ in range(5):
        hand.dip(10, down=1, up=1)
    assert hand.today.extension_reps == 1 and len(hand.haptics("rep")) == 1


def test_a_session_ends_at_its_time_limit_even_without_readings():
    """A 2-minute session ends at 2 minutes: the core asks to be ticked then, books exactly
    120 s, reports the session, and counts nothing after."""
    hand = Hand(exercise_cfg())
    hand.move(1)
    t0 = hand.t
    hand.command("exercise_start", minutes=2)
    assert hand.core.next_due(hand.t) == pytest.approx(t0 + 120)
    hand.dip(8)
    hand.take(hand.core.tick(t0 + 120, WALL0 + t0 + 120))
    [s] = hand.typed("exercise_session")
    assert s.t == pytest.approx(t0 + 120) and s.data["ended"] == "time_limit"
    assert s.data["repetitions"] == 1 and s.data["duration_s"] == pytest.approx(120)
    assert hand.today.exercise_s == pytest.approx(120, abs=1e-3)
    assert hand.core.next_due(hand.t) is None
    hand.dip(8)
    assert hand.today.extension_reps == 1


def test_default_and_maximum_length_is_max_min():
    """Without minutes a session lasts exercise.max_min, which also caps the minutes asked
    for (the response says so)."""
    hand = Hand(exercise_cfg(max_min=10))
    response = hand.command("exercise_start")
    assert response.status == "ok" and response.data == {"minutes": 10}
    hand.move(11 * 60)
    assert hand.today.exercise_s == pytest.approx(600, abs=1e-3)
    too_long = hand.command("exercise_start", minutes=25)
    assert too_long.status == "ok" and too_long.data["minutes"] == 10
    assert too_long.data["cut"] == "25 minutes asked, cut to the maximum of 10 (exercise.max_min)"
    hand.move(11 * 60)
    assert hand.today.exercise_s == pytest.approx(1200, abs=1e-3)


@pytest.mark.parametrize("payload, message", [
    ({"minutes": float("nan")}, "exercise_start.minutes: expected a number of minutes"),
    ({"minutes": float("inf")}, "exercise_start.minutes: expected a number of minutes"),
    ({"minutes": 0.01}, "at least 0.01667 (one second)"),
    ({"minutes": -3}, "exercise_start.minutes: expected"),
    ({"minutes": "ten"}, "exercise_start.minutes: expected"),
    ({"minutes": True}, "exercise_start.minutes: expected"),
    ({"minutes": 5, "level": "high"}, "exercise_start: unknown argument 'level'"),
])
def test_bad_requests_are_refused_and_change_nothing(payload, message):
    """A bad exercise_start gets a one-line error; no session starts, nothing is read fast."""
    hand = Hand(exercise_cfg())
    hand.move(1)
    response = hand.take(hand.core.command("exercise_start", payload, hand.t, WALL0 + hand.t)).orders[-1]
    assert response.status == "error" and message in response.error and "\n" not in response.error
    assert not hand.core.exercise.running
    assert hand.typed("exercise_started") == [] and hand.of(orders.Cue) == []


def test_start_while_running_and_stop_without_a_session_are_errors():
    """A second start does not restart the running session; a stop with none running says so."""
    hand = Hand(exercise_cfg())
    assert hand.command("exercise_stop").error == "exercise_stop: no exercise session is running"
    hand.command("exercise_start", minutes=5)
    hand.move(10)
    again = hand.command("exercise_start", minutes=5)
    assert again.status == "error" and "already running" in again.error
    assert len(hand.typed("exercise_started")) == 1


def test_each_repetition_is_rewarded_at_its_reading_and_stored_at_once():
    """Each repetition: a 'tick' cue at the very reading it was counted on, then a checkpoint
    holding the day's new count (a power cut right after loses nothing)."""
    hand = Hand(exercise_cfg())
    hand.command("exercise_start")
    hand.move(1)
    for _ in range(3):
        hand.dip(8)
    rewards = hand.haptics("rep")
    assert [e.data["reps"] for e in rewards] == [1, 2, 3] and {e.data["pattern"] for e in rewards} == {"tick"}
    kinds = [(type(o).__name__, getattr(o, "reason", None)) for o in hand.orders]
    for n in (1, 2, 3):
        i = [k for k, o in enumerate(hand.orders) if isinstance(o, orders.Cue) and o.reason == "rep"][n - 1]
        checkpoint = hand.orders[i + 1]
        assert isinstance(checkpoint, orders.Checkpoint), kinds[i + 1]
        assert checkpoint.days["2026-05-01"]["extension_reps"] == n
        assert checkpoint.meta["exercise"]["repetitions"] == n


def test_totals_are_stored_every_second_in_a_session():
    """Inside a session a checkpoint follows at least every second; outside, every minute."""
    hand = Hand(exercise_cfg())
    hand.command("exercise_start", minutes=1)
    hand.move(30)
    assert len(hand.of(orders.Checkpoint)) >= 30
    before = len(hand.of(orders.Checkpoint))
    hand.move(120)
    assert len(hand.of(orders.Checkpoint)) - before <= 32


def test_no_reward_when_switched_off_and_a_progress_cue_every_n():
    """exercise.reward = false: counted but silent; progress_every = 3: every third is 'ticks'."""
    hand = Hand(exercise_cfg(reward=False))
    hand.command("exercise_start")
    for _ in range(4):
        hand.dip(8)
    assert hand.today.extension_reps == 4 and hand.haptics("rep") == []
    hand = Hand(exercise_cfg(progress_every=3))
    hand.command("exercise_start")
    for _ in range(7):
        hand.dip(8)
    assert [e.data["reps"] for e in hand.haptics("rep_progress")] == [3, 6]
    assert [e.data["reps"] for e in hand.haptics("rep")] == [1, 2, 4, 5, 7]
    assert {e.data["pattern"] for e in hand.haptics("rep_progress")} == {"ticks"}


def test_live_count_and_goal_in_the_snapshot():
    """The snapshot has the live count while a session runs and today's progress to the goal."""
    hand = Hand(exercise_cfg(goal_reps=8))
    hand.command("exercise_start", minutes=3)
    for _ in range(2):
        hand.dip(8)
    snap = hand.core.snapshot()
    assert snap.exercise.reps == 2 and snap.exercise.source == "command"
    assert snap.exercise.until_wall == pytest.approx(WALL0 + 180, abs=1e-3)
    assert snap.exercise_goal_reps == 8 and snap.exercise_goal_pct == 25.0
    hand.command("exercise_stop")
    snap = hand.core.snapshot()
    assert snap.exercise is None and snap.today.extension_reps == 2 and snap.exercise_goal_pct == 25.0


def test_session_summary_has_smallest_and_largest_movement():
    """exercise_session: repetitions, duration and the smallest and largest movement in degrees."""
    hand = Hand(exercise_cfg(), noise=0.0)
    hand.command("exercise_start")
    hand.move(1)
    for depth in (6, 15, 9):
        hand.dip(depth, down=0.5, hold=0.5, up=0.5)
    hand.move(1)
    hand.command("exercise_stop")
    [s] = hand.typed("exercise_session")
    assert s.data["repetitions"] == 3 and s.data["ended"] == "stopped"
    assert s.data["smallest_deg"] == pytest.approx(6, abs=0.2) and s.data["largest_deg"] == pytest.approx(15, abs=0.2)
    assert s.data["duration_s"] == pytest.approx(hand.t, abs=0.1)


def test_button_held_starts_and_stops_a_session():
    """Held: a session of exercise.max_min from the button, held again: it stops; a press
    still starts the therapy."""
    hand = Hand(exercise_cfg())
    hand.move(1)
    hand.take(hand.core.button(hand.t, WALL0 + hand.t, held=True))
    assert hand.core.snapshot().exercise.source == "button"
    hand.dip(8)
    hand.take(hand.core.button(hand.t, WALL0 + hand.t, held=True))
    [s] = hand.typed("exercise_session")
    assert s.data["ended"] == "button" and s.data["repetitions"] == 1 and s.data["source"] == "button"
    hand.take(hand.core.button(hand.t, WALL0 + hand.t))
    assert hand.core.snapshot().therapy is not None and hand.core.snapshot().exercise is None


def test_without_a_fingers_channel_exercise_is_refused():
    """A configuration without a fingers channel: the command is refused, the button gets a refusal cue."""
    cfg = config.defaults()
    cfg = dataclasses.replace(cfg, sensors={n: s for n, s in cfg.sensors.items() if n != "fingers"})
    core = Core(cfg, ZONE)
    response = core.command("exercise_start", {}, 1.0, WALL0 + 1).orders[-1]
    assert response.status == "error" and "no fingers channel" in response.error
    step = core.button(2.0, WALL0 + 2, held=True)
    assert [o.reason for o in step.orders if isinstance(o, orders.Cue)] == ["refused"]


def test_a_session_crossing_midnight_is_booked_to_both_days():
    """A session from 23:59 to 00:01: a minute on each day, each repetition on its own day."""
    wall0 = WALL0 + 12 * 3600 - 60             # 23:59 in Berlin
    hand = Hand(exercise_cfg())
    hand.t = 0.0
    core = hand.core
    hand.take(core.command("exercise_start", {"minutes": 2}, 0.0, wall0))
    for k in range(1, int(120 * RATE) + 1):
        t = k / RATE
        v = 40 - (8 if 10 <= t % 60 < 10.3 else 0) + hand.rng.gauss(0, 0.7)
        hand.take(core.feed([Reading("fingers", t, 0, v)], wall0 + t))
    days = core.days()
    assert days["2026-05-01"].exercise_s == pytest.approx(60, abs=0.02)
    assert days["2026-05-02"].exercise_s == pytest.approx(60, abs=0.02)
    assert days["2026-05-01"].extension_reps == 1 and days["2026-05-02"].extension_reps == 1


def test_an_interrupted_session_is_reported_by_the_next_agent():
    """A session stored as running (a power cut): the next core, recovering, reports it
    once as 'interrupted' and clears the record at once; nothing runs on."""
    hand = Hand(exercise_cfg())
    hand.command("exercise_start")
    hand.dip(8)
    record = hand.of(orders.Checkpoint)[-1].meta["exercise"]
    assert record["repetitions"] == 1
    after = Hand(exercise_cfg())
    after.take(after.core.recover([], 0.0, WALL0, record))
    after.move(2)
    [s] = after.typed("exercise_session")
    assert s.data["ended"] == "interrupted" and s.data["repetitions"] == 1
    assert after.of(orders.Checkpoint)[0].meta["exercise"] is None
    assert not after.core.exercise.running


@pytest.mark.parametrize("depth, counted", [(3, 0), (7, 1)])
def test_a_movement_with_the_very_start_of_a_session(depth, counted):
    """A flicker (0.4 s) that begins with the session counts, a twitch does not: the rule's
    highest value starts at the value the hand held when the session began."""
    for seed in range(5):
        hand = Hand(exercise_cfg(), seed=seed)
        hand.move(3)
        hand.command("exercise_start")
        hand.dip(depth, down=0.2, up=0.2)
        assert hand.today.extension_reps == counted, seed
