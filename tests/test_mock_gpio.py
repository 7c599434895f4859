"""gpiozero's mock PWM pins, as the simulated outputs use them."""

from gpiozero import Device, PWMOutputDevice

from mock_hw.gpio import mock_pins


def test_mock_pwm_pin_records_duty_cycles_and_is_restored():
    """A PWM output on the mock factory records its states; the factory is restored after."""
    before = Device.pin_factory
    with mock_pins() as factory:
        motor = PWMOutputDevice(18, frequency=200)
        motor.value = 0.6
        motor.off()
        pin = factory.pin(18)
        assert [s.state for s in pin.states][-2:] == [0.6, 0.0]
        motor.close()
    assert Device.pin_factory is before


def _rig(cfg, channels, clock, backend="erm"):
    from mock_hw.rig import Rig
    from pi_agent import config
    return Rig(config.changed(cfg, haptics={"backend": backend}), channels, clock)


def test_rig_passes_its_pins_and_restores_the_default_on_close(cfg, channels, clock):
    """The rig's ERM motor is on the rig's own mock pins; closing puts gpiozero's default back, once."""
    before = Device.pin_factory
    rig = _rig(cfg, channels, clock)
    assert rig.motor.device.pin_factory is rig.pins
    rig.motor.set_level(0.5)
    assert rig.pins.pin(cfg.haptics.pin).state == 0.5
    rig.close()
    assert Device.pin_factory is before and rig.motor.device.closed
    rig.close()
    assert Device.pin_factory is before


def test_rig_restores_a_default_set_before_it(cfg, channels, clock):
    """A default installed before the rig (a test's mock pins) is the default again after it."""
    with mock_pins() as outer:
        with _rig(cfg, channels, clock) as rig:
            assert rig.pins is not outer
        assert Device.pin_factory is outer


def test_simulation_closes_its_rig(cfg):
    """A simulation, finished or only closed, closes its rig: motor off and closed, the default back."""
    from mock_hw import scenario_file
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun
    before = Device.pin_factory
    scen = scenario_file.parse({"start": "2026-05-01T09:00:00", "steps": [{"hold": 5}]},
                              {n: s.kind for n, s in cfg.sensors.items()})
    with SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone()) as sim:
        sim.agent.command("vibration_start", {"level": "low", "minutes": 1})
        sim._run_until(2)
        assert sim.rig.motor.value > 0 and Device.pin_factory is sim.rig.pins
    assert sim.rig.closed and sim.rig.motor.device.closed and Device.pin_factory is before
    sim.close()
