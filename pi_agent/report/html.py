"""The report as one self-contained HTML page: inline CSS and inline SVG charts, no script,
nothing fetched from anywhere (its Content-Security-Policy forbids it), laid out to print
on A4.

What a therapist reads, top to bottom: the device and the period; the key figures; one
chart per daily measure with a one-line reading in plain words (a measure the device does
not record says so instead of drawing zeros); the weeks side by side with the change from
the week before; the targets and settings the numbers were measured against; and every
day of the period in a table.
"""

from __future__ import annotations

from html import escape
from typing import Any

from pi_agent import __version__
from pi_agent.report import charts, weeks as weeks_mod
from pi_agent.report.charts import DayChart
from pi_agent.report.rows import flatten, measured as measured_keys

NAVY, SKY, GREEN, BAND, RED, AMBER, GREY, PURPLE = ("#1f4e79", "#a9c4de", "#2e7d4f", "#e3f1e7", "#b03a2e",
                                                     "#c77c02", "#6b7280", "#5b4a8b")

CSS = """
@page { size: A4; margin: 12mm 12mm 14mm 12mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Helvetica Neue", Helvetica, Arial, "Liberation Sans", sans-serif; color: #1b1f24;
       margin: 0 auto; max-width: 186mm; padding: 8mm 4mm; font-size: 10.5pt; line-height: 1.35; background: #fff; }
header { border-bottom: 2px solid #1f4e79; padding-bottom: 6px; margin-bottom: 10px; }
h1 { font-size: 17pt; margin: 0 0 2px 0; color: #1f4e79; letter-spacing: .2px; }
h2 { font-size: 12pt; margin: 0 0 2px 0; color: #1f4e79; }
.sub { margin: 0; font-size: 10.5pt; }
.meta { margin: 3px 0 0 0; color: #4b5563; font-size: 9pt; }
.summary { display: grid; grid-template-columns: repeat(4, 1fr); gap: 6px; margin: 10px 0 12px 0; }
.figure { border: 1px solid #cfd6df; border-radius: 3px; padding: 5px 7px; }
.figure b { display: block; font-size: 14pt; color: #1b1f24; }
.figure span { font-size: 8.5pt; color: #4b5563; }
.empty-note { border: 1px solid #c77c02; background: #fff7e6; padding: 8px 10px; border-radius: 3px; }
section.block { margin: 0 0 12px 0; break-inside: avoid; page-break-inside: avoid; }
.reading { margin: 0 0 3px 0; font-size: 10pt; }
.legend { margin: 0; font-size: 8.5pt; color: #4b5563; }
.key { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 10px; vertical-align: -1px; }
.key.line { height: 0; border-top: 2px dashed #1b1f24; width: 14px; vertical-align: 3px; }
svg.chart { width: 100%; height: auto; display: block; }
svg .tick, svg .day, svg .note, svg .unit, svg .month { font-family: inherit; fill: #4b5563; }
svg .tick { font-size: 10px; } svg .day { font-size: 9.5px; } svg .month { font-size: 10px; fill: #1b1f24; }
svg .note { font-size: 10px; fill: #1b1f24; } svg .unit { font-size: 10px; }
.not-measured { border: 1px dashed #9aa3af; color: #4b5563; padding: 12px; text-align: center; font-size: 9.5pt;
                border-radius: 3px; }
table { border-collapse: collapse; width: 100%; font-size: 8.8pt; }
th, td { border-bottom: 1px solid #e1e5ea; padding: 2px 4px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 1.5px solid #1f4e79; color: #1f4e79; font-weight: 600; vertical-align: bottom;
           white-space: normal; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
tr.norecord td { color: #9aa3af; }
table.daily, table.weekly { font-size: 8pt; } table.daily th, table.daily td { padding: 2px 2px; }
table.weekly th, table.weekly td { padding: 2px 3px; }
table.daily small { color: #6b7280; }
.change { display: block; font-size: 7.8pt; color: #4b5563; }
.settings td { text-align: left; white-space: normal; }
.settings td:first-child { width: 38%; color: #4b5563; }
footer { margin-top: 10px; border-top: 1px solid #cfd6df; padding-top: 4px; color: #4b5563; font-size: 8.5pt; }
.pagebreak { break-before: page; page-break-before: always; }
@media print { body { padding: 0; max-width: none; } }
"""


def _e(text: Any) -> str:
    return escape(str(text))


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def _key(color: str, text: str, line: bool = False) -> str:
    if line:
        return f'<span class="key line" style="border-top-color:{color}"></span>{_e(text)}'
    return f'<span class="key" style="background:{color}"></span>{_e(text)}'


def _block(key: str, title: str, reading: str, body: str, legend: str = "") -> str:
    return (f'<section class="block" id="{key}"><h2>{_e(title)}</h2><p class="reading" data-reading="{key}">'
            f'{_e(reading)}</p>{body}' + (f'<p class="legend">{legend}</p>' if legend else "") + "</section>")


class Page:
    """What every chart of the page draws from: the period, the flat day records, the
    measures they carry, the readings."""

    def __init__(self, report) -> None:
        self.report = report
        self.period = report.period
        self.flat = {d: flatten(r) for d, r in report.days.items()}
        self.measured = measured_keys(report.days)
        self.recorded = set(report.days)
        self.long_days = {d.isoformat(): self.period.hours(d) for d in self.period.dates
                          if self.period.hours(d) != 24.0}
        self.band = (report.band.low_n, report.band.high_n) if report.band is not None else None
        self.reading = weeks_mod.readings(self.period, report.days, self.measured, self.band, report.limits)

    def series(self, key: str, scale: float = 1.0) -> list[float | None]:
        """A key's value per day of the period (None: no record, or the record lacks it)."""
        return [None if d not in self.flat or not isinstance(self.flat[d].get(key), (int, float))
                else self.flat[d][key] / scale for d in self.period.days]

    def chart(self, key: str, series, unit: str, label: str, *, floor: float = 1.0, integer: bool = False) -> DayChart:
        top = max([floor] + [v for values in series for v in values if v is not None])
        return DayChart(key, self.period.dates, self.recorded, top=top, unit=unit, height=170, label=label,
                        long_days=self.long_days, integer=integer)


def _hours(page: Page) -> str:
    open_h, worn_h = page.series("open_s", 3600), page.series("worn_s", 3600)
    goal_h = [v or None for v in page.series("goal_s", 3600)]
    c = page.chart("hours", (open_h, worn_h, goal_h), "hours", "Hours open and worn per day", floor=2)
    c.bars(worn_h, "worn", SKY, "worn", width=0.78, shown=lambda v: f"{v:.2f}")
    c.bars(open_h, "open", NAVY, "open", width=0.46, shown=lambda v: f"{v:.2f}")
    c.step_line(goal_h, "#1b1f24", "goal")
    return _block("hours", "Hours open and worn per day", page.reading["hours"], c.svg(),
                  _key(SKY, "worn") + _key(NAVY, "open (antispastic position)")
                  + _key("#1b1f24", "daily goal", line=True) + _hatch_note(page.period, page.recorded, page.long_days))


def _weight_bearing(page: Page) -> str:
    total_m, in_m = page.series("wb_total_s", 60), page.series("wb_in_target_s", 60)
    c = page.chart("wb", (total_m,), "minutes", "Weight-bearing minutes per day, and in the band", floor=2)
    c.bars(total_m, "wb-total", SKY, "on the pad")
    c.bars(in_m, "wb-in", GREEN, "in the target band")
    c.labels(total_m, page.series("wb_sessions"), "sessions")
    return _block("wb", "Weight-bearing sessions", page.reading["wb"], c.svg(),
                  _key(SKY, "minutes on the pad") + _key(GREEN, "minutes in the target band")
                  + " · the figure above a bar is the number of sessions")


def _load(page: Page) -> str:
    band = page.band
    has_wb = [bool(v) for v in page.series("wb_total_s")]
    mean = [v if ok else None for v, ok in zip(page.series("wb_mean_n"), has_wb)]
    peak = [v if ok else None for v, ok in zip(page.series("wb_peak_n"), has_wb)]
    c = page.chart("load", (mean, peak, [band[1] * 1.15] if band else []), "newtons", "Mean and peak load per day",
                   floor=20)
    if band:
        c.band(band[0], band[1], BAND, f"target band {band[0]:.0f}–{band[1]:.0f} N")
    c.span(mean, peak, "#9aa3af")
    c.points(peak, "peak", AMBER, "peak", shape="triangle",
             colors=[RED if band and v is not None and v > band[1] else None for v in peak])
    c.points(mean, "mean", NAVY, "mean", join=True)
    return _block("load", "Load during weight bearing: mean and peak", page.reading["load"], c.svg(),
                  _key(NAVY, "mean load") + _key(AMBER, "peak") + _key(RED, "peak over the band")
                  + (_key(BAND, "target band") if band else ""))


def _repetitions(page: Page) -> str:
    if "wb_reps" not in page.measured:
        return _block("reps", "Weight-shift repetitions", page.reading["reps"],
                      charts.not_measured("reps", "weight-shift repetitions"))
    reps = page.series("wb_reps")
    c = page.chart("reps", (reps,), "repetitions", "Weight-shift repetitions per day", floor=4, integer=True)
    c.bars(reps, "wb-reps", NAVY, "weight-shift repetitions", width=0.6)
    return _block("reps", "Weight-shift repetitions", page.reading["reps"], c.svg(),
                  _key(NAVY, "weight-shift repetitions a day"))


def _exercise(page: Page) -> str:
    """Active finger extensions counted in exercise sessions, a bar a day (green on a day the
    daily goal was met), its count above it, the goal as a level."""
    if "extension_reps" not in page.measured:
        return _block("exercise", "Finger-extension exercise", page.reading["exercise"],
                      charts.not_measured("exercise", "active extension repetitions"))
    reps = page.series("extension_reps")
    goal = page.report.limits.get("exercise_goal_reps") or 0
    c = page.chart("exercise", (reps, [goal * 1.1] if goal else []), "repetitions",
                   "Active extension repetitions per day", floor=4, integer=True)
    met = [v if v is not None and goal and v >= goal else None for v in reps]
    c.bars([None if m is not None else v for v, m in zip(reps, met)], "extension-reps", PURPLE,
           "active extension repetitions", width=0.6)
    c.bars(met, "extension-reps met", GREEN, "active extension repetitions (goal met)", width=0.6)
    c.labels(reps, reps, "repetitions")
    if goal:
        c.level(goal, "#1b1f24", f"daily goal {goal:g}")
    return _block("exercise", "Finger-extension exercise", page.reading["exercise"], c.svg(),
                  _key(PURPLE, "active extension repetitions in exercise sessions")
                  + (_key(GREEN, "daily goal met") + _key("#1b1f24", f"daily goal {goal:g}", line=True) if goal else "")
                  + " · the figure above a bar is the day's count")


def _vibration(page: Page) -> str:
    vib = page.series("vibration_s", 60)
    limit_min = page.report.limits.get("vibration_daily_s", 0) / 60
    c = page.chart("vibration", (vib, [limit_min * 1.05] if limit_min else []), "minutes",
                   "Vibration therapy minutes per day", floor=5)
    c.bars(vib, "vibration", PURPLE, "of vibration therapy")
    if limit_min:
        c.level(limit_min, RED, f"daily limit {limit_min:g} min")
    return _block("vibration", "Vibration therapy", page.reading["vibration"], c.svg(),
                  _key(PURPLE, "minutes of vibration therapy (cues not counted)"))


def _counts(page: Page, key: str, title: str, field: str, unit: str, what: str, color: str) -> str:
    """A chart of a daily count (spasms, alerts), or 'not measured'."""
    if field not in page.measured:
        return _block(key, title, page.reading[key], charts.not_measured(key, what))
    values = page.series(field)
    c = page.chart(key, (values,), unit, f"{title} per day", floor=4, integer=True)
    c.bars(values, field.replace("_", "-"), color, what, width=0.6)
    return _block(key, title, page.reading[key], c.svg(), _key(color, f"{what} a day"))


def render(report) -> str:
    page = Page(report)
    period, days, flat, measured = page.period, report.days, page.flat, page.measured
    blocks = [_hours(page), _weight_bearing(page), _load(page), _repetitions(page), _exercise(page), _vibration(page),
              _counts(page, "spasms", "Spasms", "spasms", "spasms", "spasms", RED),
              _counts(page, "pressure", "Skin-pressure alerts", "pressure_alerts", "alerts", "skin-pressure alerts",
                      AMBER)]
    return "".join([
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
        'img-src data:; base-uri \'none\'; form-action \'none\'">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>OpenPalm report: {_e(report.device)}, {_e(period.first.isoformat())} to "
        f"{_e(period.last.isoformat())}</title>",
        f"<style>{CSS}</style></head><body>",
        _header(report, len(page.recorded), len(period)),
        _summary(report, flat, measured) if days else "",
        f'<p class="empty-note" data-empty="1">{_e(report.note()[0].upper() + report.note()[1:])}.</p>'
        if report.empty else "",
        *(f'<p class="empty-note" data-{kind}="1">{_e(n[0].upper() + n[1:])}.</p>'
          for kind, n in (("damaged", report.damage_note()), ("left-out", report.left_out_note())) if n),
        *blocks,
        _weeks(report, measured),
        _settings(report),
        _days(report, flat, measured, page.long_days),
        f'<footer>Made by OpenPalm pi-agent {_e(__version__)}{", " + _e(report.made) if report.made else ""}. '
        f'Days are local days{" in " + _e(period.zone.key) if period.zone else ""}, midnight to midnight; hours '
        f'are measured by the device\'s monotonic clock. Hatched days have no record: the device was off or '
        f'not yet in use.</footer>',
        "</body></html>\n"])


def _hatch_note(period, recorded, long_days) -> str:
    notes = []
    if any(d not in recorded for d in period.days):
        notes.append(" · hatched: no record")
    if long_days:
        notes.append(" · * a day of " + " or ".join(sorted({f"{h:g}" for h in long_days.values()}))
                     + " hours (the clocks changed)")
    return "".join(_e(n) for n in notes)


def _header(report, recorded: int, n: int) -> str:
    p = report.period
    zone = f" · local days in {p.zone.key}" if p.zone else ""
    meta = [f"{recorded} of {n} day{'' if n == 1 else 's'} recorded"]
    if report.recorded:
        meta.append(f"records from {report.recorded[0]} to {report.recorded[1]}")
    if report.source:
        meta.append(f"from {report.source}")
    if report.made:
        meta.append(f"made {report.made}")
    return (f'<header><h1>Hand therapy report</h1><p class="sub">OpenPalm device <b data-device>'
            f'{_e(report.device)}</b> · <span data-period>{_e(p.text())}</span>{_e(zone)}</p>'
            f'<p class="meta">{_e(" · ".join(meta))}</p></header>')


def _summary(report, flat, measured) -> str:
    s = weeks_mod.stretch(report.period.dates, report.days)
    items = [(_hours_a_day(s.per_day('open_s')), "open a day (recorded days)"),
             (_hours_a_day(s.per_day('worn_s')), "worn a day")]
    met = s.goal_met()
    if met is not None:
        items.append((f"{met} of {len(s.goal_days())}", "days the open goal was met"))
    total, in_s = s.total("wb_total_s") or 0, s.total("wb_in_target_s") or 0
    items.append((f"{int(s.total('wb_sessions') or 0)}", "weight-bearing sessions"))
    items.append((f"{100 * in_s / total:.0f}%" if total else "–", "of weight bearing in the band"))
    unseen = round((s.total("vibration_unconfirmed_s") or 0) / 60)
    items.append((f"{(s.total('vibration_s') or 0) / 60:.0f} min",
                  "vibration therapy" + (f" ({unseen} min unconfirmed)" if unseen else "")))
    items.append((f"{int(s.total('spasms') or 0)}" if "spasms" in measured else "not measured", "spasms"))
    items.append((f"{int(s.total('pressure_alerts') or 0)}" if "pressure_alerts" in measured else "not measured",
                  "skin-pressure alerts"))
    return '<section class="summary">' + "".join(
        f'<div class="figure"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in items) + "</section>"


def _hours_a_day(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 3600:.1f} h"


def _weeks(report, measured) -> str:
    rows = weeks_mod.weekly(report.period, report.days, measured)
    shown = weeks_mod.metrics(measured)
    head = "".join(f"<th>{_e(m.label)}</th>" for m in shown)
    body = []
    for w in rows:
        a, b = w.dates[0], w.dates[-1]
        label = f"{a.day} {a:%b} – {b.day} {b:%b}" + (f" ({len(w.dates)} day{'s' if len(w.dates) > 1 else ''})" if len(w.dates) < 7 else "")
        cells = []
        for m in shown:
            v, ch = w.values[m.key], w.changes[m.key]
            change = "" if ch is None else f'<span class="change">{ch:+.{m.digits}f}</span>'
            cells.append(f'<td data-metric="{m.key}">{_num(v, m.digits)}{change}</td>')
        body.append(f'<tr data-week="{a.isoformat()}"><td>{_e(label)}</td><td>{w.recorded}</td>{"".join(cells)}</tr>')
    return (f'<section class="block weeks" id="weeks"><h2>Week by week</h2><p class="reading">Each week runs '
            f'seven days back from the period\'s last day. Hours are a day\'s average over the recorded days; '
            f'the other figures are the week\'s totals. Below each figure: the change from the week before.</p>'
            f'<table class="weekly"><thead><tr><th>Week</th><th>Days recorded</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></section>')


def _settings(report) -> str:
    if not report.settings:
        body = '<p class="reading">The settings are not known to this source.</p>'
    else:
        body = '<table class="settings"><tbody>' + "".join(
            f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in report.settings) + "</tbody></table>"
    return (f'<section class="block" id="settings"><h2>Targets and settings in force</h2>'
            f'<p class="reading">As set on the device when this report was made; each day\'s own goal is '
            f'the one drawn on the hours chart.</p>{body}</section>')


def _days(report, flat, measured, long_days) -> str:
    cols = [("Open h", "open_s", 3600, 2), ("Worn h", "worn_s", 3600, 2), ("Goal %", "goal_pct", 1, 0),
            ("Bouts", "open_bouts", 1, 0), ("Long­est bout, min", "longest_bout_s", 60, 0),
            ("WB ses­sions", "wb_sessions", 1, 0), ("WB min", "wb_total_s", 60, 1),
            ("In band min", "wb_in_target_s", 60, 1), ("Mean N", "wb_mean_n", 1, 0), ("Peak N", "wb_peak_n", 1, 0)]
    optional = [("Shift reps", "wb_reps", 1, 0), ("Ext. reps", "extension_reps", 1, 0),
                ("Vibra­tion min", "vibration_s", 60, 1), ("Spasms", "spasms", 1, 0),
                ("Pres­sure alerts", "pressure_alerts", 1, 0)]
    cols += [c for c in optional if c[1] in measured or c[1] == "vibration_s"]
    head = "".join(f"<th>{_e(c[0])}</th>" for c in cols)
    body = []
    for day in report.period.dates:
        d = day.isoformat()
        notes = [d] + ([f"{long_days[d]:g}-hour day"] if d in long_days else [])
        if d not in flat:
            notes.append("no record")
        else:
            if d in report.damaged:
                notes.append(f"damaged in the store, left blank: {'; '.join(report.damaged[d])}")
            if (flat[d].get("vibration_unconfirmed_s") or 0) >= 3:
                notes.append(f"{flat[d]['vibration_unconfirmed_s'] / 60:.1f} min of vibration unconfirmed")
        label = f'<td>{_e(f"{day:%a} {day.day} {day:%b}")}<br><small>{_e("; ".join(notes))}</small></td>'
        if d not in flat:
            cells = "".join("<td>–</td>" for _ in cols)
            body.append(f'<tr class="norecord" data-day="{d}">{label}{cells}</tr>')
            continue
        r = flat[d]
        cells = "".join(f"<td>{_num(None if not isinstance(r.get(k), (int, float)) else r[k] / scale, digits)}</td>"
                        for _, k, scale, digits in cols)
        mark = ' class="damaged" data-damaged="1"' if d in report.damaged else ""
        body.append(f'<tr{mark} data-day="{d}">{label}{cells}</tr>')
    return (f'<section id="days" class="days"><h2>Day by day</h2><table class="daily"><thead><tr><th>Day</th>{head}'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table></section>')
