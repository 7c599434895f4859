"""Day-by-day charts as inline SVG: no script, no font or image fetched, crisp on paper.

``DayChart`` draws one column per local day of the period: bars, points, a step line (a
goal that may change from day to day) and a shaded band, over a y axis with round ticks.
A day without a record is hatched grey, never drawn as a zero. Every mark carries a
``<title>`` (the date and the value), so a screen reader and a mouse both get the figure.
"""

from __future__ import annotations

import datetime as dt
import math
from html import escape
from typing import Sequence

WIDTH = 720
LEFT, RIGHT, TOP, BOTTOM = 46, 10, 12, 34


def nice_top(value: float, integer: bool = False) -> float:
    """A round top for an axis of four equal steps reaching ``value``: each step 1, 2, 2.5,
    3, 4, 5 or 8 times a power of ten (a whole number of at least 1 for counts)."""
    if value <= 0:
        return 4.0
    need = value / 4
    power = 10 ** math.floor(math.log10(need))
    for mult in (1, 2, 2.5, 3, 4, 5, 8, 10):
        step = mult * power
        if step >= need * 0.999999 and (not integer or (step >= 1 and step == int(step))):
            return 4 * step
    return 4 * max(1.0, math.ceil(need))


def fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def day_name(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b} {day.year}"


class DayChart:
    def __init__(self, key: str, dates: Sequence[dt.date], recorded: set[str], *, top: float, unit: str,
                 height: int = 170, label: str = "", long_days: dict[str, float] | None = None,
                 integer: bool = False) -> None:
        self.key = key
        self.dates = list(dates)
        self.recorded = recorded
        self.top = nice_top(top, integer)
        self.unit = unit
        self.height = height
        self.label = label
        self.long_days = long_days or {}       # days of 23 or 25 hours: marked on the axis
        self.marks: list[str] = []
        self.under: list[str] = []             # drawn below the grid (bands)
        self.step = (WIDTH - LEFT - RIGHT) / max(1, len(self.dates))

    # -- geometry ------------------------------------------------------------------------
    @property
    def base(self) -> float:
        return self.height - BOTTOM

    def y(self, value: float) -> float:
        return self.base - (min(max(value, 0.0), self.top) / self.top) * (self.base - TOP)

    def x(self, i: int) -> float:
        return LEFT + i * self.step

    # -- marks ---------------------------------------------------------------------------
    def said(self, figure: str, what: str) -> str:
        """The unit and ``what`` after a figure, singular for one:
        '1 weight-shift repetition', '2 minutes in the target band' (not '3 spasms spasms')."""
        one = figure == "1" and self.unit.endswith("s")
        if what.endswith(self.unit):                  # the unit is what is counted: '1 weight-shift repetition'
            return what[:-1] if one else what
        return f"{self.unit[:-1] if one else self.unit} {what}"

    def bars(self, values: Sequence[float | None], cls: str, color: str, what: str, *, width: float = 0.7,
             offset: float = 0.0, shown=fmt) -> None:
        """One bar per day (None: no bar), ``width`` and ``offset`` in fractions of a day's column."""
        w = self.step * width
        for i, (day, v) in enumerate(zip(self.dates, values)):
            if v is None:
                continue
            x = self.x(i) + (self.step - w) / 2 + offset * self.step
            y = self.y(v)
            self.marks.append(
                f'<rect class="{cls}" data-date="{day.isoformat()}" data-value="{v:.3f}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{w:.1f}" height="{max(0.0, self.base - y):.1f}" fill="{color}">'
                f'<title>{escape(day_name(day))}: {shown(v)} {escape(self.said(shown(v), what))}</title></rect>')

    def points(self, values: Sequence[float | None], cls: str, color: str, what: str, *, shape: str = "circle",
               colors: Sequence[str | None] | None = None, join: bool = False) -> None:
        coords = []
        for i, (day, v) in enumerate(zip(self.dates, values)):
            if v is None:
                coords.append(None)
                continue
            cx, cy = self.x(i) + self.step / 2, self.y(v)
            coords.append((cx, cy))
            c = (colors[i] if colors else None) or color
            title = f"<title>{escape(day_name(day))}: {fmt(v)} {escape(self.said(fmt(v), what))}</title>"
            attrs = f'class="{cls}" data-date="{day.isoformat()}" data-value="{v:.3f}"'
            if shape == "circle":
                self.marks.append(f'<circle {attrs} cx="{cx:.1f}" cy="{cy:.1f}" r="3.2" fill="{c}">{title}</circle>')
            else:      # a triangle pointing up: a peak
                self.marks.append(f'<path {attrs} d="M{cx - 4:.1f},{cy + 3:.1f} L{cx + 4:.1f},{cy + 3:.1f} '
                                  f'L{cx:.1f},{cy - 4:.1f} Z" fill="{c}">{title}</path>')
        if join:
            runs, run = [], []
            for c in coords:
                if c is None:
                    if len(run) > 1:
                        runs.append(run)
                    run = []
                else:
                    run.append(c)
            if len(run) > 1:
                runs.append(run)
            for run in runs:
                pts = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
                self.under.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.2" '
                                  f'stroke-opacity="0.6"/>')

    def labels(self, heights: Sequence[float | None], counts: Sequence[float | None], what: str) -> None:
        """A count written above each day's bar (sessions above their minutes)."""
        for i, (day, h, n) in enumerate(zip(self.dates, heights, counts)):
            if n:
                self.marks.append(f'<text x="{self.x(i) + self.step / 2:.1f}" y="{self.y(h or 0) - 3:.1f}" '
                                  f'text-anchor="middle" class="note" data-{what}="{int(n)}">{int(n)}'
                                  f'<title>{escape(day_name(day))}: {int(n)} {escape(what[:-1] if int(n) == 1 else what)}</title></text>')

    def span(self, low: Sequence[float | None], high: Sequence[float | None], color: str) -> None:
        """A thin vertical line per day from ``low`` to ``high`` (a mean to its peak)."""
        for i, (lo, hi) in enumerate(zip(low, high)):
            if lo is None or hi is None:
                continue
            cx = self.x(i) + self.step / 2
            self.under.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{self.y(lo):.1f}" y2="{self.y(hi):.1f}" '
                              f'stroke="{color}" stroke-width="1"/>')

    def step_line(self, values: Sequence[float | None], color: str, what: str) -> None:
        """A dashed level per day (a goal), joined where it does not change."""
        for i, (day, v) in enumerate(zip(self.dates, values)):
            if v is None:
                continue
            y = self.y(v)
            self.marks.append(f'<line class="goal" data-date="{day.isoformat()}" data-value="{v:.3f}" '
                              f'x1="{self.x(i):.1f}" x2="{self.x(i) + self.step:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                              f'stroke="{color}" stroke-width="1.6" stroke-dasharray="5 3">'
                              f'<title>{escape(day_name(day))}: {escape(what)} {fmt(v)} {escape(self.unit)}</title></line>')

    def level(self, value: float, color: str, text: str) -> None:
        """A dashed horizontal line across the chart, labelled at its right end."""
        y = self.y(value)
        self.marks.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
                          f'stroke-width="1.2" stroke-dasharray="6 3"/>'
                          f'<text x="{WIDTH - RIGHT - 2}" y="{y - 3:.1f}" text-anchor="end" class="note">'
                          f'{escape(text)}</text>')

    def band(self, low: float, high: float, color: str, text: str) -> None:
        y1, y2 = self.y(high), self.y(low)
        self.under.append(f'<rect class="band" x="{LEFT}" y="{y1:.1f}" width="{WIDTH - LEFT - RIGHT}" '
                          f'height="{y2 - y1:.1f}" fill="{color}"><title>{escape(text)}</title></rect>'
                          f'<text x="{LEFT + 4}" y="{y1 + 11:.1f}" class="note">{escape(text)}</text>')

    # -- the whole -----------------------------------------------------------------------
    def svg(self) -> str:
        h, base = self.height, self.base
        n = len(self.dates)
        parts = [f'<svg class="chart" data-chart="{self.key}" viewBox="0 0 {WIDTH} {h}" role="img" '
                 f'aria-label="{escape(self.label)}" xmlns="http://www.w3.org/2000/svg">',
                 f'<defs><pattern id="hatch-{self.key}" width="6" height="6" patternUnits="userSpaceOnUse" '
                 f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3f3f3"/>'
                 f'<line x1="0" y1="0" x2="0" y2="6" stroke="#c8c8c8" stroke-width="2"/></pattern></defs>']
        for i, day in enumerate(self.dates):          # weekends lightly shaded, days with no record hatched
            x = self.x(i)
            if day.isoformat() not in self.recorded:
                parts.append(f'<rect class="norecord" data-date="{day.isoformat()}" x="{x:.1f}" y="{TOP}" '
                             f'width="{self.step:.1f}" height="{base - TOP:.1f}" fill="url(#hatch-{self.key})">'
                             f'<title>{escape(day_name(day))}: no record</title></rect>')
            elif day.weekday() >= 5:
                parts.append(f'<rect x="{x:.1f}" y="{TOP}" width="{self.step:.1f}" height="{base - TOP:.1f}" '
                             f'fill="#f6f7f9"/>')
        parts += self.under
        for k in range(5):                            # the grid and the y axis
            v = self.top * k / 4
            y = self.y(v)
            parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9dde3" '
                         f'stroke-width="{1 if k else 1.2}"/>'
                         f'<text x="{LEFT - 5}" y="{y + 3.5:.1f}" text-anchor="end" class="tick">{fmt(v)}</text>')
        parts.append(f'<text x="10" y="{(TOP + base) / 2:.1f}" class="unit" text-anchor="middle" '
                     f'transform="rotate(-90 10 {(TOP + base) / 2:.1f})">{escape(self.unit)}</text>')
        parts += self.marks
        every = 1 if n <= 35 else 7 if n <= 120 else 0
        for i, day in enumerate(self.dates):          # the day axis: day numbers, months, week starts
            cx = self.x(i) + self.step / 2
            if day.weekday() == 0 and i:
                parts.append(f'<line x1="{self.x(i):.1f}" x2="{self.x(i):.1f}" y1="{base}" y2="{base + 5}" '
                             f'stroke="#8a94a3"/>')
            labelled = (every == 1) or (every == 7 and day.weekday() == 0) or day.day == 1 or i == 0
            if labelled:
                mark = "*" if day.isoformat() in self.long_days else ""
                parts.append(f'<text x="{cx:.1f}" y="{base + 12}" text-anchor="middle" class="day">'
                             f'{day.day}{mark}</text>')
            if i == 0 or (day.day == 1 and i >= 5):
                parts.append(f'<text x="{cx:.1f}" y="{base + 25}" text-anchor="{"start" if i == 0 else "middle"}" '
                             f'class="month">{day:%b %Y}</text>')
        parts.append("</svg>")
        return "".join(parts)


def not_measured(key: str, what: str) -> str:
    """In place of a chart of a metric the device does not measure: said, never drawn as zeros."""
    return (f'<div class="not-measured" data-chart="{key}">Not measured: {escape(what)} '
            f'are not in this device\'s day records.</div>')
