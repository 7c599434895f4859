"""The daily vibration maximum holds in the motor's own time across wall-clock jumps: what
counts against today is the larger of what is booked to today's date and what was played
since the local day began, measured back on the monotonic clock. On the pure core and on
the motor player, in milliseconds."""

from __future__ import annotations

import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pi_agent import config
from pi_agent.clock import VirtualClock
from pi_agent.core import Core, orders
from pi_agent.core.days import since_midnight
from pi_agent.core.therapy import played_within
from pi_agent.motors import NullMotor
from pi_agent.player import MotorPlayer

from conftest import CONFIG
from motor_recorder import Recorder
from test_player import _run, therapy

ZONE = zoneinfo.ZoneInfo("Europe/Berlin")
WALL0 = 1_777_618_800.0          # 2026-05-01 09:00 in Berlin
DAILY = 90 * 60.0


class Driver:
    """The core with a wall clock that can jump: commands and time, nothing else."""

    def __init__(self, start_wall=WALL0):
        self.core = Core(config.load(CONFIG), ZONE, t=0.0)
        self.t, self.offset = 0.0, start_wall
        self.orders = []

    def wall(self):
        return self.t + self.offset

    def start(self, minutes):
        step = self.core.command("vibration_start", {"level": "low", "minutes": minutes}, self.t, self.wall())
        self.orders += step.orders
        return next(o for o in step.orders if isinstance(o, orders.Response))

    def hold(self, seconds):
        end = self.t + seconds
        while self.t < end:
            self.t = min(end, self.core.next_due(self.t) or end)
            self.orders += self.core.tick(self.t, self.wall()).orders

    def delivered(self):
        return sum(o.seconds for o in self.orders if isinstance(o, orders.DoseEnd))


def _three_doses(d):
    for _ in range(3):
        d.start(30)
        d.hold(2410)                 # 30 minutes on, a rest of 10 minutes and 10 seconds


def test_a_wall_jump_forward_opens_no_fresh_daily_budget():
    """90 minutes, the wall clock a day ahead: the next request is refused in words."""
    d = Driver()
    _three_doses(d)
    d.offset += 86400
    answer = d.start(30)
    assert answer.status == "error" and "daily maximum" in answer.error
    assert d.delivered() == pytest.approx(DAILY, abs=1)


def test_a_wall_jump_back_twice_opens_no_fresh_daily_budget():
    """90 minutes, then the wall clock a day back, twice: nothing more is delivered."""
    d = Driver()
    _three_doses(d)
    for _ in range(2):
        d.offset -= 86400
        assert d.start(30).status == "error"
        d.hold(600)
    assert d.delivered() <= DAILY + 1e-6


def test_an_evening_dose_leaves_the_next_morning_whole():
    """90 minutes in the evening, none at night: the next morning's 30 minutes are granted uncut."""
    d = Driver(start_wall=WALL0 + 12 * 3600)     # 21:00
    _three_doses(d)
    d.hold(9 * 3600)                              # to 08:00 the next day
    answer = d.start(30)
    assert answer.status == "ok" and answer.data["minutes"] == 30 and not answer.data["cut"]


def test_restart_counts_the_stored_doses_of_the_day_as_played():
    """After a restart with the wall clock a day ahead, the stored doses still count."""
    doses = [{"id": i, "day": "2026-05-01", "start": WALL0 + i * 2410, "stop": WALL0 + i * 2410 + 1800,
              "seconds": 1800.0, "level": "low", "source": "command", "reason": "completed",
              "planned_end": WALL0 + i * 2410 + 1800} for i in range(3)]
    d = Driver(start_wall=WALL0 + 86400 + 3 * 2410)      # restarted, its wall clock a day ahead
    d.offset -= 86400                                      # the store's times are a day behind it
    d.core.recover(doses, d.t, d.wall())
    d.offset += 86400
    assert d.start(30).status == "error"


class Wall:
    """A wall clock that jumps, over the virtual clock's monotonic time."""

    def __init__(self, clock, start):
        self.clock, self.offset = clock, start

    def since_midnight(self):
        return since_midnight(self.clock.monotonic() + self.offset, ZONE)


@settings(max_examples=60)
@given(st.lists(st.tuples(st.floats(60, 3 * 3600), st.floats(60, 3600),
                          st.sampled_from([0.0, 0.0, 86400.0, -86400.0, 3 * 3600.0, -5 * 3600.0, 40000.0])),
                min_size=1, max_size=12),
       st.floats(0, 86400))
def test_player_never_plays_past_the_daily_maximum_in_any_local_day(requests, start):
    """Random orders (each with the full budget) and wall jumps: whenever the motor plays, what it
    played within [t - S(t), t] (S: the seconds since local midnight) is at most the daily maximum."""
    clock = VirtualClock()
    wall = Wall(clock, WALL0 + start)
    rec = Recorder(NullMotor(), clock)
    p = MotorPlayer(rec, clock, max_continuous_s=30 * 60.0, rest_s=600.0, max_daily_s=DAILY,
                    since_midnight=wall.since_midnight)
    checks = []

    def check():
        now, spans, on_since = clock.monotonic(), [], None
        for t, level in rec.log:
            if level > 0 and on_since is None:
                on_since = t
            elif level == 0 and on_since is not None:
                spans.append((on_since, t))
                on_since = None
        if on_since is not None:
            spans.append((on_since, now))
        if on_since is not None or (spans and spans[-1][1] >= now - 1e-3):
            checks.append(played_within(spans, now - wall.since_midnight(), now))

    for seconds, wait, jump in requests:
        p.apply(therapy(1.0, clock.monotonic(), (seconds, 0), budget=DAILY))
        end = clock.monotonic() + seconds + wait
        while clock.monotonic() < end:
            nxt = p.next_change()
            step_to = min(end, nxt) if nxt is not None else end
            clock.advance(step_to - clock.monotonic())
            check()
            p.poll(clock.monotonic())
            check()
        wall.offset += jump
        p.poll(clock.monotonic())
        check()
    assert all(c <= DAILY + 0.01 for c in checks), max(checks)


def test_player_without_a_jump_plays_the_full_morning_after_an_evening():
    """The player alone: 90 minutes in the evening, then the next morning a full 30 minutes."""
    clock = VirtualClock()
    wall = Wall(clock, WALL0 + 12 * 3600)
    rec = Recorder(NullMotor(), clock)
    p = MotorPlayer(rec, clock, max_continuous_s=30 * 60.0, rest_s=600.0, max_daily_s=DAILY,
                    since_midnight=wall.since_midnight)
    p.apply(therapy(1.0, 0.0, (1800, 610), (1800, 610), (1800, 0), budget=DAILY))
    _run(p, clock, 11 * 3600)
    assert p.take_stops() == []
    p.apply(therapy(1.0, clock.monotonic(), (1800, 0), budget=DAILY))
    _run(p, clock, clock.monotonic() + 3600)
    assert p.take_stops() == [] and rec.log[-2][1] == 1.0 and rec.log[-1][0] - rec.log[-2][0] == 1800
