"""Logging that suits where it goes.

Under systemd (``JOURNAL_STREAM`` names the stream the log goes to) each line starts with its syslog priority
(``<4>``) and carries no timestamp, since the journal adds its own; on a terminal or in
a file, lines carry the time: the agent's own wall time, so in a simulated run they
carry the simulated day's time (``use_clock``). One line per event: every formatter
escapes the control characters of a message (a newline in an MQTT argument's name cannot
forge a line of its own), and only a traceback ``log.exception`` appends spans lines (the
journal's joined by `` | ``). Secrets are never passed to a logger.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import sys
from typing import Callable

from pi_agent.systemd import writes_to_journal

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


# C0 and C1 controls (newline, carriage return, tab, escape, NEL...), the Unicode line and
# paragraph separators (anything a terminal or a log reader may take as a new line), and
# the bidirectional overrides and isolates (which make a line read otherwise than it is).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_LINE = 1000          # characters of a message or an error line; the rest is cut, its length said


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` on one line: its control characters escaped (``\\n``, ``\\x1b``,
    ``\\u202e``), and cut after ``limit`` characters with its length said."""
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class LineFormatter(logging.Formatter):
    """A record's message on one line, whatever its arguments held; a traceback appended
    after it is left as it is."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        record.message = one_line(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


class JournalFormatter(LineFormatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", " | ")
        return f"<{_PRIORITY.get(record.levelno, 6)}>{text}"


class ClockFormatter(LineFormatter):
    """Lines dated by a clock of the program's own (a simulated day's), in its zone."""

    def __init__(self, fmt: str, wall: Callable[[], float], zone) -> None:
        super().__init__(fmt)
        self.wall = wall
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # Formatted as the line is written, in the thread that logs it: the clock's now.
        return dt.datetime.fromtimestamp(self.wall(), self.zone).strftime("%Y-%m-%d %H:%M:%S")


FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Held(logging.Handler):
    """Keeps the lines until the clock that dates them is known (``held``)."""

    def __init__(self, targets: list[logging.Handler]) -> None:
        super().__init__()
        self.targets = targets
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def let_go(self) -> None:
        """Back to the real handlers, with the lines kept so far."""
        root = logging.getLogger()
        if self in root.handlers:
            root.handlers[:] = self.targets
        for record in self.records:
            for handler in self.targets:
                if record.levelno >= handler.level:
                    handler.handle(record)
        self.records.clear()


@contextlib.contextmanager
def held():
    """Lines logged inside wait for ``use_clock`` (or the end of the block), so that a
    simulated run's first lines (which configuration, which scenario) are dated in the
    simulated day as the rest, not in today's."""
    root = logging.getLogger()
    hold = _Held(root.handlers[:])
    root.handlers[:] = [hold]
    try:
        yield
    finally:
        hold.let_go()


def use_clock(wall: Callable[[], float], zone) -> None:
    """Date the lines from now on (and those held) by ``wall()`` in ``zone``: a simulated
    run's time."""
    root = logging.getLogger()
    hold = next((h for h in root.handlers if isinstance(h, _Held)), None)
    for handler in (hold.targets if hold else root.handlers):
        if not isinstance(handler.formatter, JournalFormatter):
            handler.setFormatter(ClockFormatter(FORMAT, wall, zone))
    if hold is not None:
        hold.let_go()


def setup(level: str = "INFO", stream=None) -> None:
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if writes_to_journal(stream):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(LineFormatter(FORMAT, "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
