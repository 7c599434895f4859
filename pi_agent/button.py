"""The therapy button: a push button to GND, read through gpiozero.

It only reports what the hand did, and the core decides what that means: a press
(reported on release, so that a hold is never first a press) starts or stops the
therapy; held for ``HOLD_S`` it starts or stops an exercise session.
"""

from __future__ import annotations

import enum
import threading
from typing import Callable

HOLD_S = 2.0              # held this long, the button reports a hold (an exercise session)


class Report(enum.Enum):
    """What the button reports, in the agent's inbox beside the commands: never a string, so
    that no MQTT request, whatever its name, can pass for the hand on the button."""
    PRESS = "press"
    HOLD = "hold"


PRESS, HOLD = Report.PRESS, Report.HOLD


def attach(pin: int, report: Callable[[Report], None], pin_factory=None):
    """The gpiozero ``Button`` on ``pin`` (BCM), with the internal pull-up; ``report(what)``
    is called from gpiozero's threads with ``PRESS`` or ``HOLD``."""
    from gpiozero import Button
    button = Button(pin, pull_up=True, bounce_time=0.05, hold_time=HOLD_S, pin_factory=pin_factory)
    held = threading.Event()              # this press became a hold: its release is no press

    def on_held() -> None:
        held.set()
        report(HOLD)

    def on_released() -> None:
        if not held.is_set():
            report(PRESS)
        held.clear()

    button.when_pressed = held.clear
    button.when_held = on_held
    button.when_released = on_released
    return button
