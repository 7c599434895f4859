"""Exercise sessions and active extension repetitions (docs/scenario-format.md): the rule
against the tests' own truth, the sessions' limits, the reward, the counts; most of it
straight on the core, the rest through `pi-agent simulate`'s path with noise."""

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


@settings(max_examples=300, deadline=None)
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
    assert snap.exercise.until_wall == pytest.approx(WALL0 + 180)
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


# -- end to end: the simulated splint, the agent's schedule, the store, with noise -------------
def flicker(depth, down, up, hold=0.0, rest=1.5, base=40.0):
    steps = [{"ramp": down, "to": {"fingers": base - depth}} if down else {"hold": 0, "set": {"fingers": base - depth}}]
    if hold:
        steps.append({"hold": hold})
    steps.append({"ramp": up, "to": {"fingers": base}} if up else {"hold": 0, "set": {"fingers": base}})
    return steps + [{"hold": rest}]


def movements(depth, times=2):
    out = []
    for _ in range(times):
        out += flicker(depth, 0.1, 0.1) + flicker(depth, 0.25, 0.25) + flicker(depth, 0, 0, hold=0.15) \
            + flicker(depth, 0.5, 0.5, hold=1.0) + flicker(depth, 1.5, 1.5)
    return out


def cmd(name, **args):
    return {"command": {"name": name, "args": args}}


def simulate(cfg, tmp_path, steps, start="2026-05-01T09:00:00", seed=5, trace=None):
    from mock_hw import scenario_file as scenario_mod
    from pi_agent.simulated_run import run_scenario
    data = {"start": start, "timezone": "Europe/Berlin", "seed": seed, "noise": {"deg": 0.7, "newton": 0.2},
            "steps": [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, *steps]}
    scen = scenario_mod.parse(data, {n: s.kind for n, s in cfg.sensors.items()})
    events = []
    _, report = run_scenario(cfg, scen, state_dir=tmp_path, zone=scen.zone(), on_event=events.append,
                             motor_trace=trace)
    return scen, report, events


def assert_as_truth(scen, report):
    """extension_reps exactly as the truth, exercise_s within 2 s per session, per day."""
    sessions, days = truth.exercise(scen)
    assert sessions, "the scenario has sessions"
    for day in set(days) | set(report["days"]):
        got = report["days"].get(day, {"extension_reps": 0, "exercise_s": 0.0})
        want = days.get(day, {"extension_reps": 0, "exercise_s": 0.0})
        assert got["extension_reps"] == want["extension_reps"], day
        assert got["exercise_s"] == pytest.approx(want["exercise_s"], abs=2.0 * len(sessions)), day
    return sessions


def test_a_morning_of_exercise_matches_the_truth(cfg, tmp_path):
    """With 0.7 degrees of noise, through the simulated chips: flickers counted, twitches not, a
    slow full opening once, nothing outside the sessions, a session ending at its time limit;
    the report's extension_reps exactly the truth's and exercise_s within 2 s a session."""
    steps = [*movements(7, 1),                                   # before any session
             cmd("exercise_start"), {"hold": 2}, *movements(7), *movements(3),
             {"ramp": 15, "to": {"fingers": 0}}, {"hold": 3}, {"ramp": 15, "to": {"fingers": 40}}, {"hold": 2},
             cmd("exercise_stop"), *movements(7, 1),               # after the stop
             cmd("exercise_start", minutes=1), {"hold": 1}, *movements(7, 1), {"hold": 60}, *movements(7, 1)]
    scen, report, events = simulate(cfg, tmp_path, steps)
    sessions = assert_as_truth(scen, report)
    assert [len(reps) for _, _, reps in sessions] == [10 + 1, 5]
    ended = [e.data for e in events if e.type == "exercise_session"]
    assert [s["ended"] for s in ended] == ["stopped", "time_limit"]
    assert [s["repetitions"] for s in ended] == [11, 5]
    limit = next(e for e in events if e.type == "exercise_session" and e.data["ended"] == "time_limit")
    started = [e for e in events if e.type == "exercise_started"][1]
    assert limit.t == pytest.approx(started.t + 60, abs=0.02)


def test_a_power_cut_ends_the_session_and_keeps_its_count(cfg, tmp_path):
    """A power cut in a session: every repetition before it stays in the day, the session's
    time up to it too (within 2 s); the agent that starts again runs no session, counts
    nothing more, and reports the cut session as interrupted."""
    steps = [cmd("exercise_start", minutes=10), {"hold": 1}, *movements(7), {"hold": 0.5},
             {"power_cut": {"off": 20}}, {"hold": 5}, *movements(7, 1), {"hold": 5}]
    scen, report, events = simulate(cfg, tmp_path, steps)
    [(start, end, reps)] = assert_as_truth(scen, report)
    assert len(reps) == 10
    [s] = [e.data for e in events if e.type == "exercise_session"]
    assert s["ended"] == "interrupted" and s["repetitions"] == 10
    assert s["duration_s"] == pytest.approx(end - start, abs=2)


def test_a_reward_follows_each_repetition_within_50_ms_and_nothing_else_buzzes(cfg, tmp_path):
    """The motor's trace: a buzz starts within 50 ms of each counted reading, and every
    buzz is a repetition's reward or the session's start or end cue; twitches get none."""
    trace = tmp_path / "motor.trace"
    steps = [cmd("exercise_start", minutes=5), {"hold": 1}, *movements(3), *movements(7), *movements(3),
             cmd("exercise_stop"), {"hold": 1}]
    scen, report, events = simulate(cfg, tmp_path / "st", steps, trace=trace)
    assert_as_truth(scen, report)
    rises, level = [], 0.0
    for line in trace.read_text().splitlines():
        t, new = map(float, line.split())
        if new > 0 and level == 0:
            rises.append(t)
        level = new
    cues = [e for e in events if e.type == "haptic"]
    rewards = [e.t for e in cues if e.data["reason"] == "rep"]
    assert len(rewards) == report["days"]["2026-05-01"]["extension_reps"] == 10
    for t in rewards:
        assert any(-1e-4 <= r - t <= 0.05 for r in rises), f"no buzz within 50 ms of the repetition at {t:.3f}"
    for r in rises:
        [cue] = [e for e in cues if -1e-4 <= r - e.t <= 0.05]
        assert cue.data["reason"] in ("rep", "exercise_start", "exercise_end")
    assert len(rises) == len(rewards) + 2


def test_the_button_held_starts_and_stops_a_session_a_press_still_toggles_therapy(cfg, tmp_path, monkeypatch):
    """On gpiozero's mock pins: held (for HOLD_S, 2 s unless shortened here) the
    button starts a session and then stops it, its release no press; a short press starts
    the therapy."""
    import time

    from mock_hw import scenario_file as scenario_mod
    from pi_agent import button as button_mod
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun as Simulation
    assert button_mod.HOLD_S == 2.0
    monkeypatch.setattr(button_mod, "HOLD_S", 0.3)
    cfg = config.changed(cfg, therapy={"button_pin": 17})
    scen = scenario_mod.parse({"start": "2026-05-01T09:00:00", "steps": [
        {"hold": 600, "set": {"palm": 3, "wrist": 20, "fingers": 40}}]}, {n: s.kind for n, s in cfg.sensors.items()})
    events = []
    with Simulation(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path,
                    on_event=events.append) as sim:
        agent, pin = sim.agent, sim.rig.pins.pin(17)
        assert agent.button.hold_time == 0.3

        def hold():
            pin.drive_low()
            deadline = time.monotonic() + 30
            while agent.inbox.empty() and time.monotonic() < deadline:
                time.sleep(0.01)                   # gpiozero's hold thread reports in real time
            pin.drive_high()

        sim._run_until(5)
        hold()
        sim._run_until(10)
        assert agent.core.snapshot().exercise.source == "button" and agent.core.exercise.running
        assert not agent.player.therapy_running
        hold()
        sim._run_until(15)
        [s] = [e.data for e in events if e.type == "exercise_session"]
        assert s["ended"] == "button" and s["duration_s"] == pytest.approx(5, abs=0.1)
        assert not agent.player.therapy_running and agent.core.snapshot().exercise is None
        pin.drive_low()
        pin.drive_high()
        sim._run_until(20)
        assert agent.player.therapy_running and agent.core.snapshot().exercise is None
        sim.finish()


def test_the_fingers_are_read_fast_only_during_a_session(cfg, tmp_path):
    """In a session the fingers are read at exercise.rate_hz with exercise.data_rate, the
    wrist and palm still at their chip's rate; before and after, the fingers at 4 a second."""
    from mock_hw import scenario_file as scenario_mod
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun as Simulation
    scen = scenario_mod.parse({"start": "2026-05-01T09:00:00", "steps": [
        {"hold": 10, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, cmd("exercise_start", minutes=0.5),
        {"hold": 50}]}, {n: s.kind for n, s in cfg.sensors.items()})
    reads = []
    with Simulation(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path) as sim:
        sensors = sim.agent.sensors
        original = sensors.read_channel

        def read_channel(chip, index, data_rate=None):
            out = original(chip, index, data_rate)
            reads.append((out[0].channel, out[0].t, data_rate or sensors.by_chip[chip][index].data_rate))
            return out
        sensors.read_channel = read_channel
        sim.run()
        sim.finish()

    def rate(channel, a, b):
        return len([r for r in reads if r[0] == channel and a <= r[1] < b]) / (b - a)
    assert rate("fingers", 2, 10) == pytest.approx(4, abs=0.2)
    assert rate("fingers", 12, 38) == pytest.approx(cfg.exercise.rate_hz, rel=0.03)
    assert rate("wrist", 12, 38) == pytest.approx(4, abs=0.2) and rate("palm", 12, 38) == pytest.approx(4, abs=0.2)
    assert rate("fingers", 42, 60) == pytest.approx(4, abs=0.2)
    assert {r[2] for r in reads if r[0] == "fingers" and 12 <= r[1] < 38} == {cfg.exercise.data_rate}


def test_status_shows_todays_repetitions_and_exercise_minutes(tmp_path):
    """`pi-agent status`: today's extension repetitions against the goal, and the minutes."""
    import datetime as dt

    from conftest import CONFIG, run_cli
    from pi_agent.core.days import Day
    from pi_agent.store import Store
    store = Store(tmp_path)
    today = dt.date.today().isoformat()
    day = Day(goal_s=21600.0, extension_reps=42, exercise_s=750.0)
    store.checkpoint({today: day.to_json()})
    store.close()
    cfgfile = tmp_path / "agent.toml"
    cfgfile.write_text("[device]\ntimezone = 'UTC'\n[exercise]\ngoal_reps = 60\n")
    (tmp_path / "calibration.toml").write_text((CONFIG.parent / "calibration.toml").read_text())
    result = run_cli("status", "--config", str(cfgfile), "--state-dir", str(tmp_path), env={"TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    assert "exercise: 42 extension repetitions of 60 goal (70%), 12.5 min" in result.stdout


def test_exercise_over_mqtt_live_count_session_event_and_day(tmp_path):
    """Through a real Mosquitto: exercise_start and exercise_stop as requests, the live count
    in the state, the session as an event, the day's count in the state's totals; then Home
    Assistant's start and stop buttons, pressed as their discovery message says, do the same."""
    import json

    from agentproc import AgentProcess
    from broker import Broker, Listener
    broker = Broker(tmp_path / "broker").start()
    live = None
    try:
        live = Listener(broker.port)
        assert live.connected.wait(10)
        steps = [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}]
        for _ in range(150):
            steps += flicker(8, 0.3, 0.3, rest=1.4)
        scenario = {"start": "2026-05-01T10:00:00", "timezone": "Europe/Berlin", "seed": 2,
                    "noise": {"deg": 0.7, "newton": 0.2}, "steps": steps}
        agent = AgentProcess(scenario, tmp_path / "agent", speed=2, broker=broker.url)
        try:
            assert live.wait_for(lambda ms: any(m["topic"].endswith("/state") for m in ms), 30), agent.log()
            live.publish("openpalm/dev1/request/exercise_start", json.dumps({"minutes": 5, "transaction": "go"}))

            def states(ms=None):
                return [json.loads(m["payload"]) for m in (live.on("") if ms is None else ms)
                        if m["topic"] == "openpalm/dev1/state"]
            assert live.wait_for(lambda ms: any((s["exercise"]["reps"] or 0) >= 3 for s in states(ms)), 60), \
                agent.log()
            live.publish("openpalm/dev1/request/exercise_stop", json.dumps({"transaction": "stop"}))
            assert live.wait_for(lambda ms: any(b"exercise_session" in m["payload"] for m in ms
                                                if m["topic"].endswith("/event")), 30), agent.log()
            assert live.wait_for(lambda ms: not states(ms)[-1]["exercise"]["active"], 30)
            stopped_at = len(live.on(""))

            [discovery] = live.on("homeassistant/device/openpalm_dev1/config")
            buttons = json.loads(discovery["payload"])["cmps"]

            def press(key):
                live.publish(buttons[key]["command_topic"], buttons[key]["payload_press"])
            press("exercise_start")
            assert live.wait_for(lambda ms: any(s["exercise"]["active"] for s in states(ms[stopped_at:])), 30), \
                agent.log()
            press("exercise_stop")
            assert live.wait_for(lambda ms: len([m for m in ms if m["topic"].endswith("/event")
                                                 and b"exercise_session" in m["payload"]]) == 2, 30), agent.log()
            assert live.wait_for(lambda ms: not states(ms)[-1]["exercise"]["active"], 30)
        finally:
            agent.terminate()
        responses = {json.loads(m["payload"])["transaction"]: json.loads(m["payload"])
                     for m in live.on("") if "/response/exercise_" in m["topic"]}
        assert responses["go"] == {"status": "ok", "transaction": "go", "data": {"minutes": 5}}
        stopped = responses["stop"]["data"]
        event, pressed = [json.loads(m["payload"]) for m in live.on("openpalm/dev1/event")
                          if b"exercise_session" in m["payload"]]
        assert event["repetitions"] == stopped["repetitions"] >= 3 and event["ended"] == "stopped"
        assert pressed["source"] == "command" and pressed["ended"] == "stopped"
        last = states()[-1]
        assert last["today"]["extension_reps"] == stopped["repetitions"] + pressed["repetitions"]
        assert last["exercise"]["reps"] is None and not last["exercise"]["active"]
        active = [s["exercise"]["reps"] for s in states(live.on("")[:stopped_at]) if s["exercise"]["active"]]
        assert active == sorted(active), "the live count only grows in a session"
    finally:
        if live is not None:
            live.close()
        broker.stop()


def test_sigkill_in_a_session_keeps_every_published_repetition_and_the_next_agent_reports_it(tmp_path):
    """A real agent killed with SIGKILL in a session (a power cut): every repetition it had
    published is in its store, with the session stored as running; the agent started next
    on that store counts nothing more and reports the session as interrupted, with that count."""
    import json
    import sqlite3

    from agentproc import AgentProcess
    from broker import Broker, Listener
    broker = Broker(tmp_path / "broker").start()
    live = None
    try:
        live = Listener(broker.port)
        assert live.connected.wait(10)
        steps = [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, cmd("exercise_start", minutes=10)]
        for _ in range(200):
            steps += flicker(8, 0.3, 0.3, rest=1.4)
        first = AgentProcess({"start": "2026-05-01T10:00:00", "timezone": "Europe/Berlin", "seed": 4,
                              "noise": {"deg": 0.7, "newton": 0.2}, "steps": steps}, tmp_path / "agent", speed=2,
                             broker=broker.url)

        def counts(ms):
            return [json.loads(m["payload"])["exercise"]["reps"] for m in ms if m["topic"] == "openpalm/dev1/state"]
        try:
            assert live.wait_for(lambda ms: max([c or 0 for c in counts(ms)], default=0) >= 4, 60), first.log()
        finally:
            first.kill()
        published = max(c or 0 for c in counts(live.on("")))
        db = sqlite3.connect(f"file:{tmp_path / 'agent' / 'state' / 'openpalm.db'}?mode=ro", uri=True)
        try:
            stored = json.loads(db.execute("SELECT data FROM days WHERE day = '2026-05-01'").fetchone()[0])
            session = json.loads(db.execute("SELECT value FROM meta WHERE key = 'exercise'").fetchone()[0])
        finally:
            db.close()
        assert stored["extension_reps"] >= published, "a published repetition was lost"
        assert session["repetitions"] == stored["extension_reps"] and session["ended"] == "interrupted"
        heard = len(live.on(""))

        second = AgentProcess({"start": "2026-05-01T11:00:00", "timezone": "Europe/Berlin", "seed": 5,
                               "noise": {"deg": 0.7, "newton": 0.2},
                               "steps": [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, *movements(8),
                                         {"hold": 600}]}, tmp_path / "agent", speed=2, broker=broker.url)
        try:
            assert live.wait_for(lambda ms: any(m["topic"] == "openpalm/dev1/event" and b"exercise_session"
                                                in m["payload"] for m in ms[heard:]), 30), second.log()
            [event] = [json.loads(m["payload"]) for m in live.on("openpalm/dev1/event")[0:]
                       if b"exercise_session" in m["payload"]]
            assert event["ended"] == "interrupted" and event["repetitions"] == stored["extension_reps"]
            assert second.wait_log("sampling started", 30)
            assert live.wait_for(lambda ms: any(json.loads(m["payload"])["today"].get("extension_reps")
                                                == stored["extension_reps"] for m in ms[heard:]
                                                if m["topic"] == "openpalm/dev1/state"), 30)
            before = len(live.on(""))
            assert live.wait_for(lambda ms: len([m for m in ms[before:] if m["topic"] == "openpalm/dev1/state"]) >= 3,
                                 60)
            for m in live.on("")[heard:]:
                if m["topic"] == "openpalm/dev1/state":
                    state = json.loads(m["payload"])
                    assert not state["exercise"]["active"]
                    assert state["today"].get("extension_reps", stored["extension_reps"]) == stored["extension_reps"]
        finally:
            second.terminate()
    finally:
        if live is not None:
            live.close()
        broker.stop()


def test_the_shipped_example_counts_as_the_truth(shipped_day):
    """scenarios/example-exercise.json (flickers, twitches, a slow full opening, movements
    before, between and after its two sessions, the second ending at its time limit): the
    report's extension_reps is the truth's, exercise_s within 2 s a session."""
    import json

    from conftest import SCENARIOS
    from mock_hw import scenario_file as scenario_mod
    cfg = config.defaults()
    data = json.loads((SCENARIOS / "example-exercise.json").read_text())
    scen = scenario_mod.parse(data, {n: s.kind for n, s in cfg.sensors.items()})
    report, events = shipped_day("example-exercise")
    sessions = assert_as_truth(scen, report)
    assert [len(reps) for _, _, reps in sessions] == [16, 20]
    ended = [json.loads(e)["ended"] for e in events if '"exercise_session"' in e]
    assert ended == ["stopped", "time_limit"]


def test_in_real_time_the_motor_rewards_each_repetition_within_50_ms_and_no_twitch(cfg, tmp_path):
    """The real agent in real time (its fast fingers schedule, its motor thread, the rig's
    motor): on the motor's own trace, a buzz starts within 50 ms of each counted reading (less
    any time the kernel kept the process from a CPU), and every buzz is a repetition's reward
    or the session's start or end cue: the twitches get none."""
    import os
    import time

    from agentproc import CpuWait
    from mock_hw import scenario_file as scenario_mod
    from pi_agent.clock import ScaledClock
    from pi_agent.simulated_run import SimulatedRun
    steps = [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, cmd("exercise_start", minutes=5),
             {"hold": 1}, *[s for _ in range(3) for s in flicker(3, 0.15, 0.15)],
             *[s for _ in range(6) for s in flicker(7, 0.15, 0.15)], *[s for _ in range(3) for s in flicker(3, 0.15, 0.15)],
             cmd("exercise_stop"), {"hold": 1}]
    scen = scenario_mod.parse({"start": "2026-05-01T09:00:00", "timezone": "Europe/Berlin", "seed": 6,
                               "noise": {"deg": 0.7, "newton": 0.2}, "steps": steps},
                              {n: s.kind for n, s in cfg.sensors.items()})
    trace, events = tmp_path / "motor.trace", []
    clock = ScaledClock(scen.start_wall(), 1.0)
    waits = CpuWait(os.getpid())
    try:
        with SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=tmp_path / "state", bus_time=False,
                          real_time=True, motor_trace=trace, on_event=events.append) as sim:
            real = time.monotonic() - clock.monotonic()          # the agent's clock runs at real speed
            sim.run()
            sim.finish()
            origin = sim.origin
    finally:
        waits.stop()
    rises, level = [], 0.0
    for line in trace.read_text().splitlines():
        t, new = map(float, line.split())
        if new > 0 and level == 0:
            rises.append(t)
        level = new
    cues = [e for e in events if e.type == "haptic"]
    rewards = [e.t - origin for e in cues if e.data["reason"] == "rep"]
    assert len(rewards) == 6, [e.data for e in cues]
    for t in rewards:
        on = min((r for r in rises if r >= t - 1e-4), default=None)
        assert on is not None, f"no buzz after the repetition at {t:.3f}"
        waited = waits.between(t + origin + real, on + origin + real)
        assert on - t <= 0.05 + waited, f"the buzz {1000 * (on - t):.0f} ms after the repetition ({waited:.3f} s waited)"
    assert len(rises) == len(rewards) + 2, "a buzz for each repetition, the start and the end, and nothing else"
