"""What ``pi-agent run`` shows a person: one line of what it sees now.

On a terminal the line is rewritten in place; anywhere else (a pipe, the journal) it
is printed as a new line every ``every_s`` seconds of agent time.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import TextIO

from pi_agent.faults import describe

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
    load = core.load()
    parts.append("load --" if load is None else f"load {load:.1f} N")
    faults = [describe(ch, kind) for ch, kind in sorted(core.faults.active.items())]
    parts.append("faults: " + ("; ".join(faults) if faults else "none"))
    return "  |  ".join(parts)


class LineDisplay:
    def __init__(self, stream: TextIO = sys.stdout, every_s: float = 1.0, tty: bool | None = None) -> None:
        self.stream = stream
        self.every_s = every_s
        self.tty = stream.isatty() if tty is None else tty
        self._last: float | None = None

    def update(self, mono: float, line: str, force: bool = False) -> None:
        if not force and self._last is not None and mono - self._last < self.every_s:
            return
        self._last = mono
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._last is not None:
            self.stream.write("\n")
            self.stream.flush()
