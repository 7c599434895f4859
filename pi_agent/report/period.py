"""The period of a report: a run of local days, in the configured zone.

Days are calendar dates, as the store keys them: a local day runs from local midnight to
local midnight, so the day the clocks go forward has 23 hours and the day they go back
25. The period only names the days; the hours of each come from the zone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from pi_agent.core.days import FIRST_YEAR, LAST_YEAR, YYYY_MM_DD
from pi_agent.errors import InputError

DEFAULT_DAYS = 28          # four weeks: what a therapist compares from one visit to the next
MAX_DAYS = 366             # a year, leap day included


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date
    zone: zoneinfo.ZoneInfo | None = None     # None: day lengths unknown (taken as 24 h)

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InputError(f"--to: expected a date on or after --from ({self.first.isoformat()}), "
                             f"got '{self.last.isoformat()}'")

    def __len__(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def dates(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range(len(self))]

    @property
    def days(self) -> list[str]:
        """The local dates of the period, oldest first, as the store keys them."""
        return [d.isoformat() for d in self.dates]

    def hours(self, day: dt.date) -> float:
        """How long the local day is: 24, or 23 and 25 on the days the clocks change."""
        if self.zone is None:
            return 24.0
        start = dt.datetime.combine(day, dt.time(), self.zone).timestamp()
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self.zone).timestamp()
        return (end - start) / 3600.0

    def weeks(self) -> list[list[dt.date]]:
        """The period in runs of seven days counted back from its last day, oldest first,
        so the latest week is a whole one; the first may be shorter."""
        dates = self.dates
        out = []
        end = len(dates)
        while end > 0:
            out.append(dates[max(0, end - 7):end])
            end -= 7
        return out[::-1]

    def text(self) -> str:
        """'3 March to 30 March 2026 (28 days)'."""
        a, b = self.first, self.last
        left = f"{a.day} {a:%B}" + ("" if a.year == b.year else f" {a.year}")
        span = f"{a.day} {a:%B} {a.year}" if a == b else f"{left} to {b.day} {b:%B} {b.year}"
        return f"{span} ({len(self)} day{'s' if len(self) != 1 else ''})"




def parse_date(text: str, what: str) -> dt.date:
    """A local date written YYYY-MM-DD, from 1971 to 9998; InputError of one line otherwise."""
    try:
        if not isinstance(text, str) or not YYYY_MM_DD.fullmatch(text):
            raise ValueError             # (fromisoformat also takes week dates: 2026-W18-1)
        day = dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected a date as YYYY-MM-DD, got '{text}'") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InputError(f"{what}: expected a date from {FIRST_YEAR} to {LAST_YEAR}, got '{text}'")
    return day


def choose(first: str | None, last: str | None, *, latest: dt.date, zone: zoneinfo.ZoneInfo | None = None,
           days: int = DEFAULT_DAYS, max_days: int = MAX_DAYS) -> Period:
    """The period asked for: ``--from`` and ``--to`` as given; a missing ``--to`` is
    ``latest`` (the last day recorded, or today), a missing ``--from`` is ``days`` days
    back from ``--to``."""
    end = parse_date(last, "--to") if last is not None else None
    start = parse_date(first, "--from") if first is not None else None
    if end is None:
        end = latest if start is None or start <= latest else start + dt.timedelta(days=days - 1)
    if start is None:                    # (never before the first day a date may name)
        start = max(end - dt.timedelta(days=days - 1), dt.date(FIRST_YEAR, 1, 1))
    end = min(end, dt.date(LAST_YEAR, 12, 31))
    period = Period(start, end, zone)
    if len(period) > max_days:
        raise InputError(f"--from/--to: expected a period of at most {max_days} days, got {len(period)} "
                         f"({start.isoformat()} to {end.isoformat()})")
    return period
