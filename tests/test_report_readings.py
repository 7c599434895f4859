"""The report's one-line readings in plain English for every case: nothing, once, many
times, over one recorded day or several (pi_agent.report.weeks.readings)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from pi_agent.core.days import Day, WeightBearingDay, report_day
from pi_agent.report.period import Period
from pi_agent.report.rows import flatten
from pi_agent.report.weeks import readings

BAND = (40.0, 100.0)


def _days(recorded: int, with_it: int) -> dict[str, dict]:
    """``recorded`` days of May 2026; the first ``with_it`` of them with a spasm of 10 s, a
    weight shift, a peak over the band and a mean under it, 5 minutes of vibration."""
    out = {}
    for i in range(recorded):
        hit = i < with_it
        wb = WeightBearingDay(sessions=1, total_s=100.0, in_target_s=50.0, mean_n=30.0 if hit else 60.0,
                              peak_n=120.0 if hit else 80.0, load_ns=(30.0 if hit else 60.0) * 100, reps=int(hit))
        out[f"2026-05-0{i + 1}"] = report_day(Day(goal_s=7200.0, open_s=7200.0 if hit else 3600.0, worn_s=7200.0,
                                                  spasms=int(hit), spasm_s=10.0 * hit, vibration_s=300.0 * hit,
                                                  weight_bearing=wb))
    return out


CASES = [   # recorded days, days with it: spasms, weight shifts, load against the band
    (1, 0, "No spasm on the one recorded day.", "No weight-shift repetition on the one recorded day.",
     "The peak never went over the band; the mean was never below it."),
    (1, 1, "1 spasm on the one recorded day, 10 s in all.", "1 weight-shift repetition on the one recorded day.",
     "The peak went over the band on 1 day; the mean was below the band on 1 day."),
    (3, 0, "No spasm over 3 recorded days.", "No weight-shift repetition over 3 recorded days.",
     "The peak never went over the band; the mean was never below it."),
    (3, 1, "1 spasm over 3 recorded days (0.3 a day), 10 s in all.",
     "1 weight-shift repetition over 3 recorded days (0.3 a day).",
     "The peak went over the band on 1 day; the mean was below the band on 1 day."),
    (3, 2, "2 spasms over 3 recorded days (0.7 a day), 20 s in all.",
     "2 weight-shift repetitions over 3 recorded days (0.7 a day).",
     "The peak went over the band on 2 days; the mean was below the band on 2 days."),
]


@pytest.mark.parametrize("recorded, with_it, spasms, reps, load", CASES)
def test_each_reading_is_plain_english_for_none_one_and_many(recorded, with_it, spasms, reps, load):
    """Spasms, weight shifts and the load read as sentences for 0, 1 and many, over one day or
    several; no reading anywhere says '1 days', 'on no day', '0.0 a ...' or '0 min'."""
    days = _days(recorded, with_it)
    said = readings(Period(dt.date(2026, 5, 1), dt.date(2026, 5, 7)), days, set(flatten(days["2026-05-01"])),
                    BAND, {"vibration_daily_s": 5400.0})
    assert said["spasms"] == spasms and said["reps"] == reps
    assert said["load"].endswith(load), said["load"]
    for key, text in said.items():
        assert not re.search(r"\b1 (days|sessions|spasms|alerts|repetitions|skin-pressure alerts)\b", text), (key, text)
        assert not re.search(r"on no \w+|\b0\.0 a |\b0 min\b|of 1 days", text), (key, text)
    if recorded == 1:
        assert "on the one recorded day" in said["hours"] and ("met that day" in said["hours"])
    if with_it == 1:
        assert said["vibration"] == "Vibration therapy on 1 day, 5 min that day (the daily limit is 1 h 30 min)."


def test_the_charts_say_a_count_of_one_in_the_singular():
    """A chart's day that counts one says '1 spasm', never '1 spasms' (nor '3 spasms spasms')."""
    from pi_agent.report import Report, render
    page = render(Report("dev", Period(dt.date(2026, 5, 1), dt.date(2026, 5, 3)), _days(3, 1)), "html")
    titles = set(re.findall(r"<title>([^<]*)</title>", page))
    assert {"Fri 1 May 2026: 1 spasm", "Sat 2 May 2026: 0 spasms", "Fri 1 May 2026: 1 weight-shift repetition",
            "Fri 1 May 2026: 1 session", "Fri 1 May 2026: 0 skin-pressure alerts"} <= titles, titles
    assert not re.search(r": 1 (spasms|repetitions|hours|minutes|newtons|alerts)\b", page)
    assert not re.search(r"\b1 days\b", page)
