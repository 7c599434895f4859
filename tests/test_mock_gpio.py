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
