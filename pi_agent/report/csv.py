"""The report as CSV: one row per local day of the period, for a spreadsheet.

The first column is ``date``; then every key of ``simulate --report json``'s day objects,
with the same values and units (seconds, newtons; ``weight_bearing`` keys prefixed
``wb_``); the last, ``tracked``, is 1 for a day the device recorded and 0 for a day it
has no record of (a row of zeros, kept so every day of the period has its row). When a
day of the period has damaged values, a last column ``damaged`` names them (empty on the
other days), and their cells are empty, never 0.
"""

from __future__ import annotations

import csv
import io

from pi_agent.report import rows as rows_mod

DAMAGED = "damaged"       # the column naming a day's damaged values (only when a day has some)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(value) if isinstance(value, float) else str(value)


def render(report) -> str:
    cols, rows = rows_mod.rows(report.period.days, report.days)
    if report.damaged:
        cols = [*cols, DAMAGED]
        for row in rows:
            row[DAMAGED] = "; ".join(report.damaged.get(row["date"], ()))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")      # RFC 4180, as spreadsheets expect
    writer.writerow(cols)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in cols])
    return out.getvalue()
