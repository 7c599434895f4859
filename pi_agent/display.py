"""What ``pi-agent run`` shows a person: one line of what it sees now.

On a terminal the line is rewritten in place; anywhere else (a pipe, the journal) it
is printed as a new line every ``every_s`` seconds of agent time.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Callable, TextIO

from pi_agent.faults import describe
from sensors.units import G

UNITS = {"flex": "°", "force": " N"}


def status_line(core, channels, wall: float, zone) -> str:
    when = dt.datetime.fromtimestamp(wall, zone).strftime("%Y-%m-%d %H:%M:%S")
    parts = [when]
    summary = getattr(core, "summary_line", None)
    if summary is not None:
        parts.append(summary())
    values = []
    for name, ch in channels.items():
        r = core.latest.get(name)
        if r is None:
            continue
        if r.value is None:
            values.append(f"{name} --")
        else:
            values.append(f"{name} {round(r.value) or 0}°" if ch.kind == "flex"
                          else f"{name} {max(0.0, r.value):.1f} N")
    parts.append(" ".join(values))
    parts.append(load_text(core))
    faults = [describe(ch, kind) for ch, kind in sorted(core.faults.active.items())]
    parts.append("faults: " + ("; ".join(faults) if faults else "none"))
    return "  |  ".join(parts)


def load_text(core) -> str:
    """The load on the pad as a person reads it: newtons, kilograms, % of body weight,
    the fingers' share, and where it is against the target band."""
    load = core.load()
    if load is None:
        return "load --"
    text = f"load {load:.1f} N ({load / G:.1f} kg"
    body = core.cfg.weight_bearing.body_weight_kg
    if body > 0:
        text += f", {100 * load / (body * G):.0f}% of body weight"
    text += ")"
    wb = core.wb
    if wb.session is not None:
        if wb.fingers_share is not None:
            text += f", fingers {100 * wb.fingers_share:.0f}%"
        band = wb.band
        if band is not None:
            where = "in the band" if band.low_n <= load <= band.high_n else (
                "over the maximum" if load > band.high_n else "below the band")
            text += f", {where} ({band.low_n:.0f}-{band.high_n:.0f} N)"
    return text


class LineDisplay:
    def __init__(self, stream: TextIO = sys.stdout, every_s: float = 1.0, tty: bool | None = None) -> None:
        self.stream = stream
        self.every_s = every_s
        self.tty = stream.isatty() if tty is None else tty
        self._last: float | None = None

    def update(self, mono: float, line: Callable[[], str], force: bool = False) -> None:
        """Show ``line()`` if it is time to (it is only built then: the loop calls this at
        every reading)."""
        if not force and self._last is not None and mono - self._last < self.every_s:
            return
        self._last = mono
        line = line()
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._last is not None:
            self.stream.write("\n")
            self.stream.flush()
