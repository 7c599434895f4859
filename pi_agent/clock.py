"""The one clock that everything needing time is given.

Durations always come from ``monotonic()``; ``wall()`` (POSIX seconds) only decides
which local day a stretch of time belongs to. A Raspberry Pi has no real-time clock,
so its wall clock jumps when NTP corrects it; with one clock object passed around,
such a jump is an ordinary test input (``VirtualClock.step_wall``).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never jumps, never goes back."""

    def wall(self) -> float:
        """POSIX seconds, as the system believes them (may jump)."""

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of this clock's time pass."""


UNSET_WALL = 31_622_400.0     # 1971-01-02 00:00 UTC: a local day of 1971 in every zone


class SystemClock:
    """Real time, for a Raspberry Pi. ``wake()`` cuts the current sleep short (work from
    another thread is waiting); ``interrupt()`` cuts every sleep short from now on (the
    program is stopping).

    The sleep is a timed acquire of a lock that ``wake()`` releases: one futex wait in
    the kernel, the cheapest wait Python has that another thread can cut short (an
    ``Event`` wraps the same wait in a condition variable and costs about a third more
    per wake-up). The loop wakes only when a reading is due or work is waiting; it never
    sleeps longer than its next reading, so its watchdog pings stay as honest as before.
    """

    def __init__(self) -> None:
        self._wake = threading.Lock()
        self._wake.acquire()            # held: a sleep waits; a release by wake() ends it
        self._stopped = False

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        """The system's time; one that was never set (a Pi without a real-time clock, no
        network yet, reads 1970) is held at UNSET_WALL, so that its stretches go to a day
        every part of the agent can store (1970 is outside the years it takes)."""
        now = time.time()
        return now if now >= UNSET_WALL else UNSET_WALL

    def real_seconds(self, seconds: float) -> float:
        """How long ``seconds`` of this clock last in real time (a thread that waits on
        something else than this clock's own ``sleep`` needs it)."""
        return seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and not self._stopped:
            if self._wake.acquire(timeout=seconds) and self._stopped:
                self._release()         # stopping: every later sleep ends at once too

    def _release(self) -> None:
        try:
            self._wake.release()
        except RuntimeError:            # already released: a wake is pending
            pass

    def wake(self) -> None:
        self._release()

    def interrupt(self) -> None:
        self._stopped = True
        self._release()


class ScaledClock(SystemClock):
    """Real time sped up ``speed`` times, starting at the wall time ``start_wall``.

    Used by ``pi-agent run --simulate``: the agent sees a scenario's day pass ``speed``
    times faster than real time, and believes the date is the scenario's.
    """

    def __init__(self, start_wall: float, speed: float = 1.0, *, started: bool = True) -> None:
        """``started=False``: time stands still at ``start_wall`` until ``start()`` (the
        start-up of a run, however long, takes no scenario time)."""
        super().__init__()
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._origin = time.monotonic() if started else None
        self._start_wall = start_wall
        self._wall_offset = 0.0

    def start(self) -> None:
        """Let time run from now (if it stood still)."""
        if self._origin is None:
            self._origin = time.monotonic()

    def monotonic(self) -> float:
        origin = self._origin
        return 0.0 if origin is None else (time.monotonic() - origin) * self.speed

    def wall(self) -> float:
        return self._start_wall + self.monotonic() + self._wall_offset

    def real_seconds(self, seconds: float) -> float:
        return seconds / self.speed

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds / self.speed)

    def step_wall(self, seconds: float) -> None:
        self._wall_offset += seconds


class VirtualClock:
    """Time that passes only when told to: ``pi-agent simulate`` and tests.

    ``sleep`` returns at once, having moved time on, so a simulated day runs as fast
    as the machine allows while every component sees consistent time.
    """

    def __init__(self, start_wall: float = 0.0, start_monotonic: float = 0.0) -> None:
        self._mono = start_monotonic
        self._wall_offset = start_wall - start_monotonic

    def monotonic(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self._mono + self._wall_offset

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._mono += seconds

    advance = sleep

    def step_wall(self, seconds: float) -> None:
        """The wall clock jumps by ``seconds``; no time passes."""
        self._wall_offset += seconds
