"""The pure core on its own: readings, commands and time in, events and orders out.

No processes, no files, no simulated hardware: a day of readings runs in milliseconds,
so most behaviour is pinned down here; the end-to-end tests keep to what only they show.
"""

from __future__ import annotations

import math
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pi_agent import config
from pi_agent.core import Core, orders
from sensors.channel import Reading

ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
WALL0 = 1_777_629_600.0          # 2026-05-01 12:00 in Berlin
OPEN = {"wrist": 25.0, "fingers": 5.0, "palm": 3.0}
CLOSED = {"wrist": -10.0, "fingers": 60.0, "palm": 3.0}
OFF = {"wrist": 0.0, "fingers": 0.0, "palm": 0.0}


class Feeder:
    """Feeds the core the splint's channels at 4 readings a second (and the pad on demand),
    collecting every event and order."""

    def __init__(self, cfg, **kwargs):
        self.core = Core(cfg, ZONE, **kwargs)
        self.t = 0.0
        self.events, self.orders = [], []

    def take(self, step):
        self.events += step.events
        self.orders += step.orders
        return step

    def hold(self, seconds, values, every=0.25):
        end = self.t + seconds
        while self.t < end - 1e-9:
            self.t += every
            readings = [Reading(ch, self.t, 0, v) for ch, v in values.items()]
            self.take(self.core.feed(readings, WALL0 + self.t))

    def command(self, name, **args):
        step = self.take(self.core.command(name, args, self.t, WALL0 + self.t))
        return next(o for o in step.orders if isinstance(o, orders.Response))

    def of(self, kind):
        return [o for o in self.orders if isinstance(o, kind)]


def test_an_hour_open_then_an_hour_closed(cfg):
    """An hour worn open and an hour worn closed: 1 h open, 2 h worn, one open bout."""
    f = Feeder(cfg)
    f.hold(3600, OPEN)
    f.hold(3600, CLOSED)
    day = f.core.snapshot().today
    assert day.open_s == pytest.approx(3600, abs=1)
    assert day.worn_s == pytest.approx(7200, abs=1)
    assert day.open_bouts == 1 and day.long_bouts == 1
    assert [e.data["to"] for e in f.events if e.type == "position"] == ["open", "closed"]


def test_checkpoints_are_decided_by_the_core_once_a_minute(cfg):
    """The core asks for a checkpoint every store.checkpoint_s, with the days that changed."""
    f = Feeder(cfg)
    f.hold(600, OPEN)
    checkpoints = f.of(orders.Checkpoint)
    assert len(checkpoints) == 600 // cfg.store.checkpoint_s
    assert "2026-05-01" in checkpoints[-1].days and checkpoints[-1].meta["live"]["position"] == "open"


def test_set_goal_answers_and_asks_to_save_the_setting(cfg):
    """set_goal: an ok response and a settings record; a bad value: an error and nothing to save."""
    f = Feeder(cfg)
    f.hold(1, OPEN)
    assert f.command("set_goal", hours=4).status == "ok"
    assert f.of(orders.Checkpoint)[-1].meta["settings"]["goal_s"] == 4 * 3600
    saved = len(f.of(orders.Checkpoint))
    response = f.command("set_goal", hours=30)
    assert response.status == "error" and "set_goal.hours" in response.error
    assert len(f.of(orders.Checkpoint)) == saved and f.core.snapshot().goal_s == 4 * 3600


def test_therapy_is_booked_as_time_passes_and_ends_by_itself(cfg):
    """A 5-minute block: a dose record before the motor order, 300 s booked, and the end decided."""
    f = Feeder(cfg)
    f.hold(1, OPEN)
    assert f.command("vibration_start", level="low", minutes=5).status == "ok"
    kinds = [type(o).__name__ for o in f.orders]
    assert kinds.index("DoseStart") < kinds.index("Therapy")
    f.hold(400, OPEN)
    assert f.core.snapshot().today.vibration_s == pytest.approx(300, abs=1e-6)
    [end] = f.of(orders.DoseEnd)
    assert end.reason == "completed" and end.seconds == pytest.approx(300)
    assert f.core.snapshot().therapy is None


def test_the_therapy_end_in_the_snapshot_holds_still_between_two_clocks(cfg):
    """The therapy's end in wall time is the same at every turn although the two clocks are
    read a few milliseconds apart; a step of the wall clock moves it with the clock."""
    f = Feeder(cfg)
    f.hold(1, OPEN)
    assert f.command("vibration_start", level="low", minutes=5).status == "ok"
    ends = set()
    for jitter in (0.0, 0.004, -0.003, 0.0009):
        f.t += 0.25
        f.take(f.core.feed([Reading(ch, f.t, 0, v) for ch, v in OPEN.items()], WALL0 + f.t + jitter))
        ends.add(f.core.snapshot().therapy.until_wall)
    assert len(ends) == 1 and ends.pop() == pytest.approx(WALL0 + 1 + 300, abs=1e-3)
    for jitter in (0.0, 0.004, -0.003):                   # a step of 2 hours back, then the same jitter
        f.t += 0.25
        f.take(f.core.feed([Reading(ch, f.t, 0, v) for ch, v in OPEN.items()], WALL0 + f.t - 7200 + jitter))
        assert f.core.snapshot().therapy.until_wall == pytest.approx(WALL0 + 1 + 300 - 7200, abs=1e-3)


def test_back_to_back_requests_need_a_real_rest(cfg):
    """After 30 minutes on, a new request is refused until the motor has rested 10 minutes."""
    f = Feeder(cfg)
    f.command("vibration_start", minutes=30)
    f.hold(1800 + 3, OFF)
    refused = f.command("vibration_start", minutes=30)
    assert refused.status == "error" and "rest" in refused.error
    f.hold(600, OFF)
    assert f.command("vibration_start", minutes=30).status == "ok"


def test_a_request_after_a_short_break_is_cut_to_what_the_run_leaves(cfg):
    """20 minutes on, a 3-second break, then 30 asked: cut to the 10 left of the continuous maximum."""
    f = Feeder(cfg)
    f.command("vibration_start", minutes=20)
    f.hold(1203, OFF)
    response = f.command("vibration_start", minutes=30)
    assert response.status == "ok" and response.data["minutes"] == pytest.approx(10, abs=0.1)
    assert "continuous maximum" in response.data["cut"][0]


@settings(max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(["open", "closed", "off"]), st.floats(1, 900)), min_size=1,
                max_size=12))
def test_totals_only_grow_and_open_never_exceeds_worn(plan):
    """Whatever the hand does, open time never exceeds worn time, and neither ever shrinks."""
    f = Feeder(config.defaults())
    before = (0.0, 0.0)
    for state, seconds in plan:
        f.hold(seconds, {"open": OPEN, "closed": CLOSED, "off": OFF}[state], every=1.0)
        day = f.core.snapshot().today
        assert day.open_s <= day.worn_s + 1e-6
        assert day.worn_s >= before[0] - 1e-9 and day.open_s >= before[1] - 1e-9
        before = (day.worn_s, day.open_s)
    assert not any(math.isnan(x) for x in before)


def test_plans_are_cut_to_the_limits_and_say_so():
    """A request beyond the limits is cut, with a note; with nothing left it is refused."""
    from pi_agent.core.therapy import Limits, cut_to_limits, protocol, single
    limits = Limits(30 * 60, 90 * 60)
    plan, notes = cut_to_limits(single("low", 45, "command"), limits, 0)
    assert plan.on_s == 30 * 60 and "continuous maximum" in notes[0]
    plan, notes = cut_to_limits(protocol("low", 3, 10, 1, "button"), limits, 75 * 60)
    assert plan.on_s == 15 * 60 and len(plan.blocks) == 2 and "daily maximum" in notes[0]
    plan, notes = cut_to_limits(single("low", 5, "command"), limits, 90 * 60)
    assert plan is None and "daily maximum of 90 minutes" in notes[0]
