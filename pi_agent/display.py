"""What ``pi-agent run`` shows a person: one line of what it sees now.

On a terminal the line is rewritten in place; anywhere else (a pipe, the journal) it
is printed as a new line every ``every_s`` seconds of agent time. Under systemd, where
standard output is the journal, it is not printed at all (``shown=False``): the journal
gets one line per event, and ``systemctl status`` shows a shorter status (position,
today's open hours, broker, faults) that the agent sends through sd_notify.
"""

from __future__ import annotations

import sys
from typing import Callable, TextIO


class LineDisplay:
    def __init__(self, stream: TextIO = sys.stdout, every_s: float = 1.0, tty: bool | None = None,
                 shown: bool = True) -> None:
        self.stream = stream
        self.shown = shown
        self.every_s = every_s
        self.tty = stream.isatty() if tty is None else tty
        self._last: float | None = None

    def update(self, mono: float, line: Callable[[], str], force: bool = False) -> None:
        """Show ``line()`` if it is time to (it is only built then: the loop calls this at
        every reading)."""
        if not self.shown:
            return
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
