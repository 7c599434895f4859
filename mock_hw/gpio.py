"""gpiozero's own mock pins, with PWM, for outputs (the vibration motor) and inputs
(the therapy button). Use ``mock_pins()`` as a context manager or call ``install()``;
the factory is always restored, as gpiozero's own ``mock_factory`` test fixture does."""

from __future__ import annotations

import contextlib

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin


def install() -> MockFactory:
    """Make every gpiozero device created from now on use mock PWM-capable pins."""
    factory = MockFactory(pin_class=MockPWMPin)
    Device.pin_factory = factory
    return factory


@contextlib.contextmanager
def mock_pins():
    previous = Device.pin_factory
    factory = install()
    try:
        yield factory
    finally:
        factory.reset()
        factory.close()
        Device.pin_factory = previous
