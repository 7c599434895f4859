"""The motor backends: the ERM on gpiozero's mock PWM pins, the DRV2605L through
Adafruit's driver on the register model, and the one motor interface (the player that
drives them, with its limits, is tested in test_player.py)."""

from __future__ import annotations

import errno

import pytest
from gpiozero import Device

from mock_hw.drv2605l import DRV2605LModel
from mock_hw.gpio import mock_factory
from mock_hw.i2c import MockI2C
from pi_agent import config
from pi_agent.clock import VirtualClock
from pi_agent.errors import BusError
from pi_agent.core.orders import Cue, Therapy
from pi_agent.core.patterns import PATTERNS
from pi_agent.motors import EFFECTS, Drv2605lMotor, ErmMotor, Motor, NullMotor, open_motor
from pi_agent.player import MotorPlayer

from motor_recorder import Recorder


@pytest.fixture
def factory():
    """gpiozero mock PWM pins, passed to devices explicitly (gpiozero's default untouched)."""
    before = Device.pin_factory
    pins = mock_factory()
    yield pins
    pins.close()
    assert Device.pin_factory is before


def _run(h, clock, until):
    while True:
        nxt = h.next_change()
        if nxt is None or nxt > until:
            clock.advance(until - clock.monotonic())
            h.poll(clock.monotonic())
            return
        clock.advance(max(0.0, nxt - clock.monotonic()))
        h.poll(clock.monotonic())


# -- the one motor interface -------------------------------------------------------------------
def _backends(factory):
    bus = MockI2C()
    bus.add(0x5A, DRV2605LModel())
    return [ErmMotor(18, kick_s=0.04, pin_factory=factory), NullMotor(), Drv2605lMotor(bus)]


def test_every_backend_is_a_whole_motor(factory):
    """Each backend has every member of the interface: a level, an effect answer, a kick, an idempotent close."""
    for motor in _backends(factory):
        assert isinstance(motor, Motor), type(motor).__name__
        assert isinstance(motor.kick_s, float) and motor.kick_s >= 0.0
        assert motor.play_effect("no_such_pattern") is False
        motor.set_level(0.3)
        motor.set_level(0.0)
        motor.close()
        motor.close()


def test_only_the_driver_chip_plays_effects(factory):
    """The DRV2605L plays every cue pattern from its library; a bare ERM and no motor play none."""
    erm, null, drv = _backends(factory)
    assert {p: drv.play_effect(p) for p in PATTERNS} == {p: True for p in PATTERNS}
    assert not any(erm.play_effect(p) or null.play_effect(p) for p in PATTERNS)
    assert erm.kick_s == 0.04 and null.kick_s == 0.0 and drv.kick_s == 0.0
    for motor in (erm, null, drv):
        motor.close()


def test_erm_motor_uses_the_pin_factory_it_is_given(factory):
    """An ERM motor given a pin factory drives that factory's pin, whatever gpiozero's default is."""
    motor = ErmMotor(18, pin_factory=factory)
    assert motor.device.pin_factory is factory and Device.pin_factory is not factory
    motor.set_level(0.6)
    assert factory.pin(18).state == pytest.approx(0.6)
    motor.close()


def test_open_motor_builds_the_configured_backend(cfg, factory):
    """open_motor gives an ERM on the given pins, a DRV2605L on the given bus, or no motor."""
    bus = MockI2C()
    bus.add(0x5A, DRV2605LModel())
    erm = open_motor(config.changed(cfg, haptics={"backend": "erm"}), bus, pin_factory=factory)
    assert isinstance(erm, ErmMotor) and erm.device.pin_factory is factory and erm.kick_s == cfg.haptics.kick_ms / 1000
    erm.close()
    drv = open_motor(config.changed(cfg, haptics={"backend": "drv2605l"}), bus, pin_factory=factory)
    assert isinstance(drv, Drv2605lMotor) and drv.address == cfg.haptics.drv2605l_address
    assert isinstance(open_motor(config.changed(cfg, haptics={"backend": "none"}), bus, pin_factory=factory), NullMotor)


# -- the DRV2605L through Adafruit's driver, on the register model ---------------------------------
def _drv(actuator="erm", model=None):
    bus = MockI2C()
    model = model or DRV2605LModel()
    bus.add(0x5A, model)
    return Drv2605lMotor(bus, actuator=actuator), model, bus


def test_drv2605l_start_up_follows_the_datasheet():
    """The driver checks the device id first, leaves standby, clears playback, sets ERM open loop and library A."""
    motor, model, _ = _drv("erm")
    assert model.reads[0] == 0x00, "the status register (device id) is read first"
    assert model.writes == [(0x01, 0x00), (0x02, 0), (0x04, 1), (0x05, 0), (0x0D, 0), (0x0E, 0), (0x0F, 0),
                            (0x10, 0), (0x13, 0x64), (0x1A, 0x36), (0x1D, 0xA0), (0x01, 0x00), (0x03, 1)]
    assert model.registers[0x1A] & 0x80 == 0, "ERM"
    assert model.registers[0x1D] & 0x20, "ERM open loop"
    assert model.registers[0x01] == 0x00 and model.output() == 0


def test_drv2605l_lra_start_up_selects_the_lra_and_its_library():
    """An LRA: the feedback register's N_ERM_LRA bit, the LRA library, closed loop (auto-resonance)."""
    motor, model, _ = _drv("lra")
    assert model.writes[-2:] == [(0x1A, 0xB6), (0x03, 6)]
    assert model.registers[0x1D] & 0x01 == 0, "LRA_OPEN_LOOP off: the LRA runs closed loop"


def test_drv2605l_cue_plays_a_library_effect_with_go():
    """A cue loads its effects into the sequencer, ends the sequence, and sets GO in internal-trigger mode."""
    motor, model, _ = _drv()
    start = len(model.writes)
    assert motor.play_effect("double_pulse")
    assert model.writes[start:] == [(0x02, 0), (0x04, 10), (0x05, 0), (0x0C, 1)]
    assert motor.play_effect("alarm")
    assert model.effects_played == [EFFECTS["double_pulse"], EFFECTS["alarm"]] == [(10,), (52, 52)]
    assert model.registers[0x0C] == 0, "GO clears when the sequence has played"


def test_drv2605l_continuous_vibration_uses_real_time_playback():
    """A level sets the RTP strength, then RTP mode; 0 stops it; an effect after it leaves RTP mode."""
    motor, model, _ = _drv()
    start = len(model.writes)
    motor.set_level(0.5)
    assert model.writes[start:] == [(0x02, 64), (0x01, 0x05)]
    assert model.output() == pytest.approx(0.5, abs=0.01)
    motor.set_level(0.85)
    assert model.writes[-1] == (0x02, 108) and model.output() == pytest.approx(0.85, abs=0.01)
    motor.set_level(0.0)
    assert model.output() == 0 and model.registers[0x02] == 0
    motor.set_level(1.0)
    assert motor.play_effect("pulse")
    assert model.registers[0x01] == 0x00 and model.output() == 0 and model.effects_played == [(1,)]


def test_drv2605l_close_is_standby_and_idempotent():
    """Closing stops the drive and puts the chip in standby, once; the shared bus stays usable."""
    motor, model, bus = _drv()
    motor.set_level(0.7)
    motor.close()
    assert model.registers[0x01] == 0x40 and model.registers[0x02] == 0 and model.output() == 0
    writes = len(model.writes)
    motor.close()
    assert len(model.writes) == writes
    buf = bytearray(1)
    bus.writeto_then_readfrom(0x5A, b"\x01", buf)
    assert buf[0] == 0x40


def test_drv2605l_missing_chip_is_a_clear_bus_error():
    """No chip at the address: BusError naming the address, nothing written."""
    with pytest.raises(BusError, match="no DRV2605L answers at I2C address 0x5a"):
        Drv2605lMotor(MockI2C())


def test_drv2605l_refuses_another_chip_of_the_family():
    """A chip with another device id (a DRV2604L) is refused with its id, nothing written."""
    model = DRV2605LModel(device_id=6)
    with pytest.raises(BusError, match=r"not a DRV2605L \(device id 6\)"):
        _drv(model=model)
    assert model.writes == []


def test_drv2605l_bus_failure_is_a_bus_error():
    """A transfer that fails while playing is a BusError naming the chip and what it was doing."""
    motor, model, bus = _drv()
    bus.failing.add(0x5A)
    with pytest.raises(BusError, match="DRV2605L at 0x5a: level: I2C transfer failed") as info:
        motor.set_level(0.5)
    assert info.value.__cause__.errno == errno.EIO


def test_player_plays_cues_as_effects_and_therapy_as_rtp():
    """Through the player: a cue is one library effect, therapy a steady RTP level, a cue during it levels."""
    clock = VirtualClock()
    motor, model, _ = _drv()
    p = MotorPlayer(motor, clock, max_continuous_s=1800.0)
    p.apply(Cue("long_buzz", "test"))
    assert model.effects_played == [(47,)]
    _run(p, clock, 1.0)
    p.apply(Therapy(0.5, ((1.0, 61.0),), 5400.0))
    assert model.output() == pytest.approx(0.5, abs=0.01)
    _run(p, clock, 10.0)
    p.apply(Cue("pulse", "test"))    # 0.15 s of silence, then 0.12 s at full strength
    _run(p, clock, 10.2)
    assert model.effects_played == [(47,)] and model.output() == pytest.approx(1.0)
    p.close()
    assert model.registers[0x01] == 0x40 and model.output() == 0


def test_simulated_rig_drives_the_drv2605l_on_the_adcs_bus(cfg):
    """In a simulation with the DRV2605L backend, cues and therapy reach the chip model on the ADCs' bus."""
    from mock_hw import scenario_file
    from pi_agent.simulated_run import SimulatedRun
    cfg = config.changed(cfg, haptics={"backend": "drv2605l"})
    scen = scenario_file.parse({"start": "2026-05-01T09:00:00", "steps": [{"hold": 10}]},
                              {n: s.kind for n, s in cfg.sensors.items()})
    with SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone()) as sim:
        rig = sim.rig
        assert rig.bus.devices[cfg.haptics.drv2605l_address] is rig.drv
        assert {c.address for c in cfg.chips.values()} < set(rig.bus.devices), "one bus: ADCs and motor"
        sim.agent.command("identify", {})
        sim._run_until(2)
        assert rig.drv.effects_played == [EFFECTS["long_buzz"]]
        sim.agent.command("vibration_start", {"level": "low", "minutes": 1})
        sim._run_until(4)
        assert rig.drv.output() == pytest.approx(cfg.therapy.low_level, abs=0.01)
        sim.finish()
    assert rig.drv.registers[0x01] == 0x40 and rig.drv.output() == 0, "standby at the end"
