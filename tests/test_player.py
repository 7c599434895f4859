"""The motor player: cue patterns on gpiozero's mock PWM pins, therapy levels, and the
hard limits it holds at the output below every caller."""

from __future__ import annotations

import pytest

from mock_hw.gpio import mock_pins
from pi_agent.clock import VirtualClock
from pi_agent.core.orders import Cue, Therapy, TherapyOff
from pi_agent.core.patterns import PATTERNS
from pi_agent.motors import ErmMotor, NullMotor
from pi_agent.player import MotorPlayer

from motor_recorder import Recorder

HOUR = 3600.0


def player(motor, clock, *, max_continuous_s=30 * 60.0, rest_s=0.0):
    return MotorPlayer(motor, clock, max_continuous_s=max_continuous_s, rest_s=rest_s)


def _run(p, clock, until):
    while True:
        nxt = p.next_change()
        if nxt is None or nxt > until:
            clock.advance(until - clock.monotonic())
            p.poll(clock.monotonic())
            return
        clock.advance(max(0.0, nxt - clock.monotonic()))
        p.poll(clock.monotonic())


def therapy(level, start, *blocks, budget=90 * 60.0):
    """A therapy order: blocks of (on, off) seconds from ``start``."""
    intervals, t = [], start
    for on, off in blocks:
        intervals.append((t, t + on))
        t += on + off
    return Therapy(level, tuple(intervals), budget)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_each_pattern_on_mock_pwm_pins(name):
    """Each pattern's duty cycles and timing, kick included, reach gpiozero's mock PWM pin."""
    clock = VirtualClock()
    with mock_pins() as factory:
        rec = Recorder(ErmMotor(18, kick_s=0.04), clock)
        p = player(rec, clock)
        clock.advance(1.0)
        p.apply(Cue(name, "test"))
        _run(p, clock, 5.0)
        expected, t, previous = [], 1.0, 0.0
        for seconds, level in PATTERNS[name]:
            if previous == 0.0 and 0 < level < 1.0:
                expected += [(round(t, 4), 1.0), (round(t + 0.04, 4), level)]
            elif level != previous:
                expected.append((round(t, 4), level))
            previous, t = level, t + seconds
        if previous != 0.0:
            expected.append((round(t, 4), 0.0))
        assert rec.log[1:] == expected
        pin_levels = [s.state for s in factory.pin(18).states]
        assert pin_levels[-len(expected):] == [lv for _, lv in expected]
        p.close()
        assert factory.pin(18).state == 0


@pytest.mark.parametrize("duty", [0.5, 0.85])
def test_therapy_levels_on_mock_pwm_pins(duty):
    """Therapy holds its duty cycle for the block, then stops by itself."""
    clock = VirtualClock()
    with mock_pins() as factory:
        rec = Recorder(ErmMotor(18, kick_s=0.04), clock)
        p = player(rec, clock)
        p.apply(therapy(duty, 0.0, (120, 0)))
        _run(p, clock, 200)
        assert rec.log[1:] == [(0.0, duty), (120.0, 0.0)]
        assert factory.pin(18).state == 0 and not p.therapy_running and p.take_stops() == []


def test_cue_during_therapy_is_told_apart():
    """A cue during therapy plays at full strength between silences, then therapy resumes."""
    clock = VirtualClock()
    rec = Recorder(NullMotor(), clock)
    p = player(rec, clock)
    p.apply(therapy(0.5, 0.0, (60, 0)))
    clock.advance(10)
    p.poll(10)
    p.apply(Cue("pulse", "test"))
    _run(p, clock, 11)
    assert rec.log[1:] == [(0.0, 0.5), (10.0, 0.0), (10.15, 1.0), (10.27, 0.0), (10.42, 0.5)]


def test_therapy_off_order_stops_the_therapy_layer():
    """TherapyOff ends the therapy at once; the player reports no stop of its own."""
    clock = VirtualClock()
    rec = Recorder(NullMotor(), clock)
    p = player(rec, clock)
    p.apply(therapy(0.5, 0.0, (600, 0)))
    _run(p, clock, 30)
    p.apply(TherapyOff("stopped"))
    assert rec.log[-1] == (30.0, 0.0) and not p.therapy_running and p.take_stops() == []


def test_continuous_limit_is_enforced_below_every_caller():
    """Given an hour straight, the player stops the motor at the 30-minute maximum and says so."""
    clock = VirtualClock()
    rec = Recorder(NullMotor(), clock)
    p = player(rec, clock)
    p.apply(therapy(0.85, 0.0, (HOUR, 0)))
    _run(p, clock, HOUR)
    assert rec.log[-1] == (1800.0, 0.0)
    assert p.take_stops() == [(1800.0, "continuous_limit")]


def test_short_breaks_are_no_rest_at_the_output():
    """Blocks with 3-second breaks: the player counts them as one run and stops at 30 minutes of on-time."""
    clock = VirtualClock()
    rec = Recorder(NullMotor(), clock)
    p = player(rec, clock, rest_s=600.0)
    p.apply(therapy(0.5, 0.0, (1000, 3), (1000, 3), (1000, 0)))
    _run(p, clock, HOUR)
    on = sum(b - a for (a, lv), (b, _) in zip(rec.log[1:], rec.log[2:]) if lv > 0)
    assert on == pytest.approx(1800.0, abs=1e-6)
    assert [r for _, r in p.take_stops()] == ["continuous_limit"]


def test_a_real_rest_restarts_the_count():
    """After 10 minutes off, a new 30-minute block plays in full."""
    clock = VirtualClock()
    rec = Recorder(NullMotor(), clock)
    p = player(rec, clock, rest_s=600.0)
    p.apply(therapy(0.5, 0.0, (1800, 600), (1800, 0)))
    _run(p, clock, 2 * HOUR)
    assert rec.log[1:] == [(0.0, 0.5), (1800.0, 0.0), (2400.0, 0.5), (4200.0, 0.0)]
    assert p.take_stops() == []


def test_daily_budget_is_enforced_below_every_caller():
    """With one minute of the day's maximum left, a 10-minute order stops after 1 minute."""
    clock = VirtualClock()
    rec = Recorder(NullMotor(), clock)
    p = player(rec, clock)
    p.apply(therapy(0.5, 0.0, (600, 0), budget=60.0))
    _run(p, clock, 900)
    assert rec.log[-1] == (60.0, 0.0)
    assert p.take_stops() == [(60.0, "daily_limit")]


def test_motor_is_off_at_start_and_after_close():
    """A new player turns a motor left running off; close() turns it off for good, twice over."""
    clock = VirtualClock()
    with mock_pins() as factory:
        motor = ErmMotor(18)
        motor.set_level(0.7)
        p = player(motor, clock)
        assert factory.pin(18).state == 0
        p.apply(Cue("long_buzz", "test"))
        assert factory.pin(18).state > 0
        p.close()
        p.close()
        assert factory.pin(18).state == 0


def test_safety_stop_ends_therapy_and_reports_it():
    """A safety stop turns the motor off at once and hands the stop back for the core."""
    clock = VirtualClock()
    rec = Recorder(NullMotor(), clock)
    p = player(rec, clock)
    p.apply(therapy(0.5, 0.0, (600, 0)))
    _run(p, clock, 12)
    p.safety_stop("loop_stalled")
    assert rec.log[-1] == (12.0, 0.0) and p.take_stops() == [(12.0, "loop_stalled")]


@pytest.mark.parametrize("why, level", [("shutdown", "INFO"), ("loop_stalled", "ERROR"), ("error", "ERROR")])
def test_a_stop_the_user_asked_for_is_info_and_a_fault_an_error(caplog, why, level):
    """Therapy running: a close the user asked for (SIGTERM, Ctrl-C) logs its one line at
    INFO; a stalled loop or an error stays ERROR. The motor is off either way."""
    clock = VirtualClock()
    p = player(NullMotor(), clock)
    p.apply(therapy(0.5, 0.0, (600, 0)))
    _run(p, clock, 10.0)
    assert p.level > 0
    with caplog.at_level("INFO", logger="pi_agent.motor"):
        p.close(why) if why == "shutdown" else p.safety_stop(why)
    [record] = [r for r in caplog.records if "therapy stopped" in r.getMessage()]
    assert record.levelname == level and p.level == 0.0
