"""The motor: cue patterns on gpiozero's mock PWM pins, the DRV2605L's register
sequence, and the limits enforced below every caller."""

from __future__ import annotations

import pytest

from mock_hw.drv2605l import DRV2605LModel
from mock_hw.gpio import mock_pins
from mock_hw.i2c import MockI2C
from mock_hw.smbus import MockSMBus
from pi_agent.clock import VirtualClock
from pi_agent.haptics import PATTERNS, Haptics
from pi_agent.motors import Drv2605lMotor, ErmMotor
from pi_agent.therapy import Limits, cut_to_limits, protocol, single


class Recorder:
    """Wraps a motor backend to record (virtual time, level) of each change."""

    def __init__(self, motor, clock):
        self.motor, self.clock, self.log = motor, clock, []
        self.kick_s = getattr(motor, "kick_s", 0.0)

    def set_level(self, level):
        self.log.append((round(self.clock.monotonic(), 4), level))
        self.motor.set_level(level)

    def close(self):
        self.motor.close()


def _run(h, clock, until):
    while True:
        nxt = h.next_change()
        if nxt is None or nxt > until:
            clock.advance(until - clock.monotonic())
            h.poll(clock.monotonic())
            return
        clock.advance(max(0.0, nxt - clock.monotonic()))
        h.poll(clock.monotonic())


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_each_pattern_on_mock_pwm_pins(name):
    """Each pattern's duty cycles and timing, kick included, reach gpiozero's mock PWM pin."""
    clock = VirtualClock()
    with mock_pins() as factory:
        rec = Recorder(ErmMotor(18, kick_s=0.04), clock)
        h = Haptics(rec, clock)
        clock.advance(1.0)
        h.play(name)
        _run(h, clock, 5.0)
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
        h.close()
        assert factory.pin(18).state == 0


@pytest.mark.parametrize("level, duty", [("low", 0.5), ("high", 0.85)])
def test_therapy_levels_on_mock_pwm_pins(level, duty):
    """Therapy at each setting holds its duty cycle for the block, then stops."""
    clock = VirtualClock()
    with mock_pins() as factory:
        rec = Recorder(ErmMotor(18, kick_s=0.04), clock)
        h = Haptics(rec, clock, levels={"low": 0.5, "high": 0.85})
        h.start_therapy(single(level, 2, "test"), "requested")
        _run(h, clock, 200)
        assert rec.log[1:] == [(0.0, duty), (120.0, 0.0)]
        assert factory.pin(18).state == 0
        assert h.notices[-1]["reason"] == "completed"
        assert sum(n["seconds"] for n in h.notices if n["type"] == "delivered") == pytest.approx(120)


def test_cue_during_therapy_is_told_apart():
    """A cue during therapy plays at full strength between silences, then therapy resumes."""
    clock = VirtualClock()
    rec = Recorder(_Null(), clock)
    h = Haptics(rec, clock, levels={"low": 0.5, "high": 0.85})
    h.start_therapy(single("low", 1, "test"), "requested")
    clock.advance(10)
    h.poll(10)
    h.play("pulse")
    _run(h, clock, 11)
    assert rec.log[1:] == [(0.0, 0.5), (10.0, 0.0), (10.15, 1.0), (10.27, 0.0), (10.42, 0.5)]


class _Null:
    kick_s = 0.0

    def set_level(self, level):
        pass

    def close(self):
        pass


def test_continuous_limit_is_enforced_below_every_caller():
    """Asked straight for an hour, the owner stops the motor at the 30-minute maximum."""
    clock = VirtualClock()
    rec = Recorder(_Null(), clock)
    h = Haptics(rec, clock, limits=Limits(30 * 60, 90 * 60))
    h.start_therapy(single("high", 60, "test"), "requested")
    _run(h, clock, 3600)
    assert rec.log[-1] == (1800.0, 0.0)
    assert h.therapy is None


def test_daily_limit_is_enforced_below_every_caller():
    """With 89 minutes used today, a 10-minute plan given straight to the owner stops after 1."""
    clock = VirtualClock()
    rec = Recorder(_Null(), clock)
    h = Haptics(rec, clock, limits=Limits(30 * 60, 90 * 60), used_today=lambda: 89 * 60)
    h.start_therapy(single("low", 10, "test"), "requested")
    _run(h, clock, 900)
    assert rec.log[-1][1] == 0.0 and rec.log[-1][0] == pytest.approx(60, abs=1.01)
    assert any(n.get("reason") == "daily_limit" for n in h.notices)


def test_plans_are_cut_to_the_limits_and_say_so():
    """A request beyond the limits is cut, with a note; with nothing left it is refused."""
    limits = Limits(30 * 60, 90 * 60)
    plan, notes = cut_to_limits(single("low", 45, "command"), limits, 0)
    assert plan.on_s == 30 * 60 and "continuous maximum" in notes[0]
    plan, notes = cut_to_limits(protocol("low", 3, 10, 1, "button"), limits, 75 * 60)
    assert plan.on_s == 15 * 60 and len(plan.blocks) == 2 and "daily maximum" in notes[0]
    plan, notes = cut_to_limits(single("low", 5, "command"), limits, 90 * 60)
    assert plan is None and "daily maximum of 90 minutes" in notes[0]


def test_motor_is_off_at_start_and_after_close():
    """A new owner turns a motor left running off; close() turns it off for good."""
    clock = VirtualClock()
    with mock_pins() as factory:
        motor = ErmMotor(18)
        motor.set_level(0.7)
        h = Haptics(motor, clock)
        assert factory.pin(18).state == 0
        h.play("long_buzz")
        assert factory.pin(18).state > 0
        h.close()
        h.close()
        assert factory.pin(18).state == 0


def _drv(actuator="erm"):
    bus = MockI2C()
    model = DRV2605LModel()
    bus.add(0x5A, model)
    return Drv2605lMotor(MockSMBus(bus), actuator=actuator), model


def test_drv2605l_initialisation_follows_the_datasheet():
    """Out of standby, playback cleared, ERM open loop, effect library A."""
    motor, model = _drv("erm")
    assert model.writes == [(0x01, 0x00), (0x02, 0), (0x04, 1), (0x05, 0), (0x0D, 0), (0x0E, 0), (0x0F, 0),
                            (0x10, 0), (0x1A, 0x36), (0x1D, 0xA8), (0x03, 1)]
    motor, model = _drv("lra")
    assert (0x1A, 0xB6) in model.writes and model.writes[-1] == (0x03, 6)
    assert model.registers[0x1D] & 0x20 == 0, "LRA runs closed loop"


def test_drv2605l_cue_plays_a_library_effect_with_go():
    """A cue loads the effect into the sequencer and sets GO in internal-trigger mode."""
    motor, model = _drv()
    start = len(model.writes)
    assert motor.play_effect("double_pulse")
    assert model.writes[start:] == [(0x02, 0), (0x04, 10), (0x05, 0), (0x0C, 1)]
    assert model.effects_played == [(10,)]


def test_drv2605l_continuous_vibration_uses_real_time_playback():
    """Therapy sets RTP mode and the strength; stopping clears it; closing is standby."""
    motor, model = _drv()
    start = len(model.writes)
    motor.set_level(0.5)
    assert model.writes[start:] == [(0x01, 0x05), (0x02, 128)]
    assert model.output() == pytest.approx(0.5, abs=0.01)
    motor.set_level(0.0)
    assert model.output() == 0
    motor.close()
    assert model.registers[0x01] == 0x40
