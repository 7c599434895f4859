"""The therapist's report (``pi-agent report``): its period, its rows, its pages; after a
simulated week, the CSV and JSON equal ``simulate --report json`` for the same store, and
the HTML opens in a real headless Chromium with nothing fetched."""

from __future__ import annotations

import base64
import csv
import dataclasses
import datetime as dt
import io
import json
import math
import re
import shutil
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentproc import write_config
from conftest import SCENARIOS, run_cli
from pi_agent.core.days import Day, WeightBearingDay, report_day
from pi_agent.errors import InputError
from pi_agent.report import Report, render, rows as rows_mod
from pi_agent.report.period import Period, choose

LONDON = zoneinfo.ZoneInfo("Europe/London")
OPEN = {"palm": 3.0, "wrist": 25.0, "fingers": 5.0}
CLOSED = {"palm": 3.0, "wrist": 0.0, "fingers": 60.0}
OFF = {"palm": 0.0, "wrist": 0.0, "fingers": 0.0}
FIRST, LAST = "2026-03-25", "2026-03-31"        # a week with the clocks going forward (29 March)
SKIPPED = "2026-03-27"                          # the device stays off all that day: no record
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def week_scenario(first: str = FIRST, last: str = LAST, skipped: tuple[str, ...] = (SKIPPED,)) -> dict:
    """A week of short mornings, one a day from ``first`` to ``last`` at 08:00 London time:
    the splint worn open (longer each day) then closed, a weight-bearing session, a minute
    of vibration; then the device is unplugged until the next morning (a power cut), so the
    week simulates in seconds. On ``skipped`` days it stays off."""
    steps = []
    day = dt.date.fromisoformat(first)
    end = dt.date.fromisoformat(last)
    i = 0
    while day <= end:
        following = day + dt.timedelta(days=1)
        while following.isoformat() in skipped:
            following += dt.timedelta(days=1)
        morning = [
            {"hold": 300 + 120 * i, "set": OPEN},
            {"hold": 120, "set": CLOSED},
            {"hold": 10, "set": OFF},
            {"ramp": 2, "to": {"pad_palm": 40 + 3 * i, "pad_fingers": 25}},
            {"hold": 20 + 5 * i},
            {"ramp": 1, "to": {"pad_palm": 0, "pad_fingers": 0}},
            {"hold": 10},
            {"command": {"name": "vibration_start", "args": {"minutes": 1}}},
            {"hold": 140},
        ]
        steps += morning
        spent = sum(s.get("hold", 0) + s.get("ramp", 0) for s in morning)
        start = dt.datetime.combine(day, dt.time(8), LONDON)
        if following <= end:
            nxt = dt.datetime.combine(following, dt.time(8), LONDON)
            steps.append({"power_cut": {"off": nxt.timestamp() - start.timestamp() - spent}})
        day = following
        i += 1
    return {"name": "a week of mornings", "start": f"{first}T08:00:00", "timezone": "Europe/London",
            "seed": 5, "noise": {"deg": 0.5, "newton": 0.2}, "steps": steps}


# -- the period --------------------------------------------------------------------------------
def test_a_period_names_its_local_days_with_their_hours():
    """The week of 29 March 2026 in London: seven dates, the 29th 23 hours long, weeks counted back."""
    p = Period(dt.date(2026, 3, 25), dt.date(2026, 3, 31), LONDON)
    assert p.days == [f"2026-03-{d}" for d in range(25, 32)]
    assert [p.hours(d) for d in p.dates] == [24, 24, 24, 24, 23, 24, 24]
    assert Period(dt.date(2026, 10, 25), dt.date(2026, 10, 25), LONDON).hours(dt.date(2026, 10, 25)) == 25
    ten = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 10))
    assert [len(w) for w in ten.weeks()] == [3, 7] and ten.weeks()[-1][-1] == dt.date(2026, 3, 10)


@settings(max_examples=60)
@given(st.dates(dt.date(2020, 1, 1), dt.date(2035, 12, 31)), st.integers(0, 120),
       st.sampled_from(["Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]))
def test_the_days_of_a_period_cover_it_exactly(first, span, zone_name):
    """Consecutive dates, one per local day; their hours add up to the time between the two midnights."""
    zone = zoneinfo.ZoneInfo(zone_name)
    p = Period(first, first + dt.timedelta(days=span), zone)
    assert len(p.days) == span + 1 == len(set(p.days))
    start = dt.datetime.combine(first, dt.time(), zone).timestamp()
    end = dt.datetime.combine(p.last + dt.timedelta(days=1), dt.time(), zone).timestamp()
    assert sum(p.hours(d) for d in p.dates) == pytest.approx((end - start) / 3600)
    assert sum(len(w) for w in p.weeks()) == span + 1 and all(len(w) <= 7 for w in p.weeks())


@pytest.mark.parametrize("first, last, message", [
    ("2026-13-01", None, "--from: expected a date as YYYY-MM-DD, got '2026-13-01'"),
    (None, "31/03/2026", "--to: expected a date as YYYY-MM-DD, got '31/03/2026'"),
    ("2026-03-31", "2026-03-01", "--to: expected a date on or after --from (2026-03-31), got '2026-03-01'"),
    ("2024-01-01", "2026-01-01", "--from/--to: expected a period of at most 366 days, got 732"),
    (None, "9999-12-31", "--to: expected a date from 1971 to 9998, got '9999-12-31'"),
])
def test_bad_periods_are_one_line(first, last, message):
    """A date that is no date, a period backwards or over a year: one line naming the option."""
    with pytest.raises(InputError) as info:
        choose(first, last, latest=dt.date(2026, 4, 1))
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_the_default_period_is_four_weeks_to_the_latest_day():
    """No dates: 28 days ending with the latest day; --from alone runs to it; --to alone 28 days back."""
    latest = dt.date(2026, 4, 1)
    assert (choose(None, None, latest=latest).first, len(choose(None, None, latest=latest))) == \
        (dt.date(2026, 3, 5), 28)
    assert choose("2026-03-20", None, latest=latest).last == latest
    assert choose(None, "2026-02-28", latest=latest).first == dt.date(2026, 2, 1)


# -- rows and columns --------------------------------------------------------------------------
def test_columns_are_the_fields_of_the_day_record():
    """Every field of Day (weight bearing prefixed wb_) is a column, after date, before tracked."""
    cols = rows_mod.columns()
    assert cols[0] == "date" and cols[-1] == "tracked" and "goal_pct" in cols
    for f in dataclasses.fields(Day):
        if f.name == "weight_bearing":
            assert all(f"wb_{g.name}" in cols for g in dataclasses.fields(WeightBearingDay))
        else:
            assert f.name in cols


def test_a_metric_only_the_data_has_becomes_a_column():
    """A day record with a key the Day class lacks (a newer agent's) gets its column; days without it 0."""
    record = report_day(Day(goal_s=21600.0, open_s=3600.0))
    record["tremor_episodes"] = 3
    record["weight_bearing"]["slips"] = 12
    report = Report("dev", Period(dt.date(2026, 5, 1), dt.date(2026, 5, 2)), {"2026-05-01": record})
    table = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert [r["tremor_episodes"] for r in table] == ["3", "0"] and [r["wb_slips"] for r in table] == ["12", "0"]
    assert list(table[0])[-1] == "tracked"


def test_a_measure_the_records_lack_is_not_measured_and_one_they_carry_is_drawn():
    """Spasms and pressure alerts: 'Not measured' when no day carries them (an older agent's
    records), a chart with the day's value when they do; never zeros drawn for the unknown."""
    record = report_day(Day(goal_s=21600.0, open_s=3600.0))
    for key in ("spasms", "spasm_s", "pressure_alerts", "high_pressure_s"):
        record.pop(key, None)
    older = render(Report("dev", Period(dt.date(2026, 5, 1), dt.date(2026, 5, 2)), {"2026-05-01": record}), "html")
    assert 'data-chart="spasms">Not measured' in older and 'data-chart="pressure">Not measured' in older
    record = {**record, "spasms": 3}
    newer = render(Report("dev", Period(dt.date(2026, 5, 1), dt.date(2026, 5, 2)), {"2026-05-01": record}), "html")
    assert 'data-chart="spasms" viewBox' in newer
    assert 'class="spasms" data-date="2026-05-01" data-value="3.000"' in newer
    assert 'data-date="2026-05-02" data-value' not in newer.split('data-chart="spasms"')[1].split("</svg>")[0]
    assert 'data-chart="pressure">Not measured' in newer
    assert "<th>Spasms</th>" in newer and "<th>Spasms</th>" not in older      # the day-by-day table too


def test_the_exercise_chart_draws_each_days_repetitions_against_the_goal_with_its_reading():
    """Extension repetitions: a bar a day with its count, green where the daily goal was met,
    the goal as a level; the reading in words; a day without a record draws nothing; an
    older agent's records (no extension_reps) say 'not measured'."""
    days = {"2026-05-01": report_day(Day(goal_s=21600.0, extension_reps=45, exercise_s=600.0)),
            "2026-05-02": report_day(Day(goal_s=21600.0, extension_reps=20, exercise_s=300.0)),
            "2026-05-04": report_day(Day(goal_s=21600.0))}
    report = Report("dev", Period(dt.date(2026, 5, 1), dt.date(2026, 5, 4)), days,
                    limits={"exercise_goal_reps": 40.0})
    page = render(report, "html")
    chart = page.split('data-chart="exercise"')[1].split("</svg>")[0]
    assert 'class="extension-reps met" data-date="2026-05-01" data-value="45.000"' in chart
    assert 'class="extension-reps" data-date="2026-05-02" data-value="20.000"' in chart
    assert 'data-date="2026-05-03" data-value' not in chart, "no bar, not even of 0, for a day without a record"
    assert 'data-repetitions="45">45' in chart and "daily goal 40" in chart
    reading = page.split('data-reading="exercise">')[1].split("</p>")[0]
    assert reading == ("65 active extension repetitions on 2 days, in 15 min of exercise (4.3 a minute); "
                       "the daily goal of 40 was met on 1 of 3 recorded days.")
    older = {d: {k: v for k, v in r.items() if k not in ("extension_reps", "exercise_s")} for d, r in days.items()}
    old_page = render(Report("dev", Period(dt.date(2026, 5, 1), dt.date(2026, 5, 4)), older), "html")
    assert 'data-chart="exercise">Not measured' in old_page
    assert "Active extension repetitions are not measured by this device." in old_page


@given(st.floats(0.5, 1e5), st.booleans())
def test_chart_axes_end_on_a_round_top_in_four_round_steps(value, integer):
    """An axis reaches the value in four steps of 1, 2, 2.5, 3, 4, 5 or 8 times a power of ten
    (whole numbers for counts), never more than twice as high as needed."""
    from pi_agent.report.charts import nice_top
    top = nice_top(value, integer)
    step = top / 4
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    assert value <= top * 1.000001 and top < 2 * value + (4 if integer else 0)
    assert any(abs(mantissa - m) < 1e-6 for m in (1, 2, 2.5, 3, 4, 5, 8))
    assert not integer or step == int(step)


def test_days_without_a_record_are_rows_of_zeros_marked_untracked():
    """A day the store has no record of is still a row: zeros, tracked 0; recorded days tracked 1."""
    record = report_day(Day(goal_s=21600.0, open_s=7200.5, worn_s=8000.25))
    report = Report("dev", Period(dt.date(2026, 5, 1), dt.date(2026, 5, 3)), {"2026-05-02": record})
    table = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert [r["date"] for r in table] == ["2026-05-01", "2026-05-02", "2026-05-03"]
    assert [r["tracked"] for r in table] == ["0", "1", "0"]
    assert all(v == "0" for k, v in table[0].items() if k != "date")
    assert table[1]["open_s"] == "7200.5" and table[1]["goal_pct"] == "33.3"


def test_an_empty_period_is_an_empty_report_that_says_so():
    """No record in the period: every format still renders, and the report says where the records are."""
    report = Report("dev", Period(dt.date(2025, 1, 1), dt.date(2025, 1, 7)), {},
                    recorded=("2026-03-25", "2026-03-31"))
    assert report.note() == ("the period 2025-01-01 to 2025-01-07 is before the first record (2026-03-25); "
                             "records run from 2026-03-25 to 2026-03-31")
    assert json.loads(render(report, "json"))["days"] == {}
    assert "Nothing was recorded in this period." in render(report, "html")
    assert render(report, "csv").count("\r\n") == 8


def test_the_four_weeks_example_is_its_generators_output_and_a_valid_scenario(cfg):
    """scenarios/four-weeks.json (make report-demo) is what make_four_weeks.py writes, and loads:
    28 days of which one is switched off, the clocks going forward inside them."""
    import importlib.util
    from mock_hw import scenario_file as scenario_mod
    spec = importlib.util.spec_from_file_location("make_four_weeks", SCENARIOS / "make_four_weeks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = SCENARIOS / "four-weeks.json"
    assert path.read_text(encoding="utf-8") == module.text()
    scen = scenario_mod.load(path, {n: s.kind for n, s in cfg.sensors.items()})
    cuts = [i for i in scen.timeline.instants if i.kind == "power_cut"]
    assert len(cuts) == 26 and scen.timezone == "Europe/London"


# -- after a simulated week ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """A simulated week in a store, with simulate's JSON report of it."""
    folder = tmp_path_factory.mktemp("week")
    cfg = write_config(folder / "cfg", '[device]\nid = "kitchen"\n')     # the zone: the one the store's days are in
    scenario = folder / "week.json"
    scenario.write_text(json.dumps(week_scenario()))
    sim = run_cli("simulate", "--config", str(cfg), str(scenario), "--report", "json", "--state-dir",
                  str(folder / "state"))
    assert sim.returncode == 0, sim.stderr
    return {"cfg": cfg, "state": folder / "state", "simulated": json.loads(sim.stdout)["days"], "folder": folder}


def report_cli(week, *args):
    return run_cli("report", "--config", str(week["cfg"]), "--state-dir", str(week["state"]), *args)


def test_after_a_simulated_week_the_csv_equals_simulates_report(week):
    """One row per day of the week; every value of a recorded day equals simulate's JSON, to the second."""
    out = report_cli(week, "--from", FIRST, "--to", LAST, "--format", "csv")
    assert out.returncode == 0, out.stderr
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["date"] for r in table] == [f"2026-03-{d}" for d in range(25, 32)]
    simulated = week["simulated"]
    assert sorted(simulated) == [d for d in Period(dt.date(2026, 3, 25), dt.date(2026, 3, 31)).days if d != SKIPPED]
    for row in table:
        day = row.pop("date")
        tracked = row.pop("tracked")
        if day == SKIPPED:
            assert tracked == "0" and all(float(v) == 0 for v in row.values())
            continue
        assert tracked == "1"
        flat = rows_mod.flatten(simulated[day])
        assert {k: v for k, v in row.items() if v != ""} == {k: repr(v) if isinstance(v, float) else str(v)
                                                              for k, v in flat.items()}, day
        assert float(row["open_s"]) > 0 and int(row["wb_sessions"]) == 1 and float(row["vibration_s"]) == 60.0


def test_after_a_simulated_week_the_json_is_simulates(week):
    """--format json: the days are exactly simulate's, and the period and device are named."""
    out = report_cli(week, "--from", FIRST, "--to", LAST, "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["days"] == week["simulated"]
    assert (data["device"], data["from"], data["to"], data["timezone"]) == ("kitchen", FIRST, LAST, "Europe/London")


def test_the_default_period_ends_with_the_last_recorded_day(week):
    """Without dates: the 28 days up to the store's last day, to a file."""
    target = week["folder"] / "default.csv"
    out = report_cli(week, "--format", "csv", "--output", str(target))
    assert out.returncode == 0 and out.stdout == "", out.stderr
    dates = [r["date"] for r in csv.DictReader(io.StringIO(target.read_text()))]
    assert len(dates) == 28 and dates[-1] == LAST and dates[0] == "2026-03-04"


def test_a_period_before_the_first_record_is_a_message_not_an_error(week):
    """Before any record: exit 0, an empty report, and one line saying where the records are."""
    out = report_cli(week, "--from", "2026-01-01", "--to", "2026-01-31", "--format", "json")
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert json.loads(out.stdout)["days"] == {}
    assert ("pi-agent report: the period 2026-01-01 to 2026-01-31 is before the first record (2026-03-25); "
            "records run from 2026-03-25 to 2026-03-31") in out.stderr


@pytest.mark.parametrize("args, message", [
    (("--from", "yesterday"), "--from: expected a date as YYYY-MM-DD, got 'yesterday'"),
    (("--from", "2026-03-31", "--to", "2026-03-30"), "--to: expected a date on or after --from (2026-03-31)"),
])
def test_bad_dates_are_one_line_and_exit_65(week, args, message):
    """A bad date: exit 65, one line, no traceback, nothing written."""
    target = week["folder"] / "bad.html"
    out = report_cli(week, *args, "--output", str(target))
    assert out.returncode == 65 and "Traceback" not in out.stderr
    assert [line for line in out.stderr.splitlines() if "INFO" not in line] == [line for line in
                                                                                out.stderr.splitlines()
                                                                                if message in line]
    assert not target.exists()


# -- the page in a real browser ------------------------------------------------------------------------
def browser(folder, width=900, height=1200):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", f"--window-size={width},{height}", f"--user-data-dir={folder / 'chromium'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


CHARTS = ("hours", "wb", "load", "reps", "exercise", "vibration", "spasms", "pressure")


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian's chromium and chromium-driver are not installed")
def test_the_html_report_opens_in_chromium_with_nothing_fetched(week):
    """The page names every day of the period, draws the charts (or says 'not measured'), and no
    request leaves it: only the file itself is loaded, and the CSP is never even tested."""
    page = week["folder"] / "report.html"
    out = report_cli(week, "--from", "2026-03-23", "--to", LAST, "--output", str(page))
    assert out.returncode == 0, out.stderr
    driver = browser(week["folder"])
    try:
        driver.get_log("performance")          # what the browser's own start page did: not ours
        driver.get(page.as_uri())
        text = driver.find_element("tag name", "body").text
        for day in Period(dt.date(2026, 3, 23), dt.date(2026, 3, 31)).days:
            assert day in text, day
        assert "kitchen" in text and "23 March to 31 March 2026 (9 days)" in text
        shown = driver.execute_script("""
            return [...document.querySelectorAll('[data-chart]')].map(e => [e.dataset.chart, e.tagName.toLowerCase(),
              e.getBoundingClientRect().width, e.querySelectorAll('rect.open, rect.wb-in, circle.mean, rect.vibration').length]);""")
        by_chart = {c: (tag, width, marks) for c, tag, width, marks in shown}
        assert set(by_chart) == set(CHARTS)
        for chart in ("hours", "wb", "load", "vibration"):
            tag, width, marks = by_chart[chart]
            assert tag == "svg" and width > 500 and marks == 6, (chart, by_chart[chart])   # 6 recorded days
        for chart in ("reps", "exercise", "spasms", "pressure"):      # drawn once the day records carry them
            assert by_chart[chart][0] == "svg" or "Not measured" in driver.execute_script(
                "return document.querySelector(`[data-chart='${arguments[0]}']`).textContent", chart)
        for reading in CHARTS:
            assert driver.execute_script(f"return document.querySelector('[data-reading={reading}]').textContent")
        resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert resources == []
        requests = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        sent = [m["params"] for m in requests if m["method"] == "Network.requestWillBeSent"]
        assert {p["request"]["url"] for p in sent if p.get("documentURL") == page.as_uri()} == {page.as_uri()}
        assert not [p["request"]["url"] for p in sent if p["request"]["url"].split(":")[0] in ("http", "https", "ws", "wss")]
        assert not [e for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
        # A4: printed (print media, the width of A4 inside its margins), nothing sticks out sideways.
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 703, "height": 1000,
                                                                      "deviceScaleFactor": 1, "mobile": False})
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 703
        pdf = base64.b64decode(driver.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True})["data"])
        boxes = {tuple(float(v) for v in box.split()) for box in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf)}
        assert len(boxes) == 1 and boxes.pop() == pytest.approx((0, 0, 595.3, 841.9), abs=1.5)   # A4, in points
    finally:
        driver.quit()


def test_a_one_day_report_counts_its_day_in_the_singular(week):
    """A report of one day says '1 of 1 day recorded', and of a day with no record '0 of 1 day'."""
    for day, recorded in ((FIRST, 1), (SKIPPED, 0)):
        out = report_cli(week, "--from", day, "--to", day, "--format", "html")
        assert out.returncode == 0, out.stderr
        assert f"{recorded} of 1 day recorded" in out.stdout and "of 1 days" not in out.stdout
