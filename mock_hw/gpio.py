"""gpiozero's own mock pins, with PWM, for outputs (the vibration motor) and inputs
(the therapy button).

``mock_factory()`` makes a factory to pass to devices as their ``pin_factory``.
``mock_pins()`` (a context manager) also makes it gpiozero's default for the block, and
restores the previous default after, as gpiozero's own ``mock_factory`` test fixture does;
``make_default`` and ``restore_default`` do the same for an owner with a longer life (the
simulated rig).
"""

from __future__ import annotations

import contextlib

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin


def mock_factory() -> MockFactory:
    """A new factory of mock PWM-capable pins."""
    return MockFactory(pin_class=MockPWMPin)


def make_default(factory) -> object:
    """Make ``factory`` gpiozero's default; returns the default it replaces."""
    previous = Device.pin_factory
    Device.pin_factory = factory
    return previous


def restore_default(factory, previous) -> None:
    """Put ``previous`` back as gpiozero's default, if ``factory`` is still the default
    (owners restore in the reverse order they installed, as nested blocks do)."""
    if Device.pin_factory is factory:
        Device.pin_factory = previous


@contextlib.contextmanager
def mock_pins():
    factory = mock_factory()
    previous = make_default(factory)
    try:
        yield factory
    finally:
        factory.reset()
        factory.close()
        restore_default(factory, previous)
