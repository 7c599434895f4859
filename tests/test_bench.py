"""The benchmarks run and report every figure (their values are judged by people, not here).

Each measurement runs as its own test (`python -m bench --quick --only NAME`): most of them
wait in real time (agent processes at --speed 1, a broker, a clinic of publishers), and as
separate tests pytest-xdist spreads them over its workers instead of one worker waiting
for all of them in a row."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.__main__ import BUDGETS
from bench.measures import ALL
from conftest import ROOT

# Each measurement, in bench's order, and the figures it reports.
MEASURES = {
    "sample_cost": ("sample_us", "sample_us_daily", "floor_us", "sample_floor_ratio"),
    "readings_delivered": ("schedule_kept", "data_rate_share"),
    "feedback_latency": ("feedback_ms_p50", "feedback_ms_p99", "feedback_ms_max"),
    "sim_day": ("sim_day_s",),
    "cpu_states": ("cpu_idle_pct", "cpu_worn_pct", "cpu_pressed_pct", "cpu_mqtt_pct", "wakes_worn_per_s",
                   "wakes_pressed_per_s", "rss_mb"),
    "wake_costs": ("cpu_floor_worn_pct", "cpu_floor_pressed_pct", "turn_us_warm", "turn_us_cold"),
    "mqtt_latency": ("mqtt_ms_p50", "mqtt_ms_p99"),
    "store_writes": ("store_writes_per_hour",),
    "clinic": ("clinic", "clinic_dashboard_mb"),
}
KEYS = ("sample_us", "sample_us_daily", "floor_us", "sample_floor_ratio", "schedule_kept", "data_rate_share",
        "feedback_ms_p50", "feedback_ms_p99", "feedback_ms_max", "sim_day_s", "cpu_idle_pct", "cpu_worn_pct",
        "cpu_pressed_pct", "cpu_mqtt_pct", "wakes_worn_per_s", "wakes_pressed_per_s", "rss_mb", "cpu_floor_worn_pct",
        "cpu_floor_pressed_pct", "turn_us_warm", "turn_us_cold", "mqtt_ms_p50",
        "mqtt_ms_p99", "store_writes_per_hour", "clinic", "clinic_dashboard_mb")


def test_every_measurement_is_tested_and_together_they_report_every_key():
    """The tests below cover bench's every measurement, and between them every key of the JSON."""
    assert list(MEASURES) == [m.__name__ for m in ALL]
    assert sorted(key for keys in MEASURES.values() for key in keys) == sorted(KEYS)


@pytest.mark.parametrize("measure", MEASURES)
def test_bench_quick_measurement_writes_its_keys(tmp_path, measure):
    """`python -m bench --quick --only NAME --json FILE` runs and writes NAME's keys, each a number with its budget."""
    out = tmp_path / "out.json"
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", measure, "--json", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    for key in MEASURES[measure]:
        assert isinstance(figures[key], (int, float)), key
        assert figures["budgets"][key]["budget"] == BUDGETS[key][0], f"{key} comes with its budget"
    assert "machine:" in result.stdout


def test_bench_json_alone_writes_the_object_to_standard_output():
    """`python -m bench --quick --json` (no FILE, as the issue's check runs it): the JSON
    object alone on standard output, the table on standard error."""
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "store_writes", "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    assert figures["budgets"]["store_writes_per_hour"]["budget"] == BUDGETS["store_writes_per_hour"][0]
    assert "machine:" in result.stderr and "store_writes_per_hour" in result.stderr


def test_bench_json_that_cannot_be_written_is_one_line_before_measuring(tmp_path):
    """`--json` to a folder that does not exist: one line, exit 74, before any measurement
    (after a full run's 15 minutes it was a traceback, the figures lost); standard output
    full: one line, exit 74."""
    result = subprocess.run([sys.executable, "-m", "bench", "--only", "store_writes", "--json",
                             str(tmp_path / "no" / "x.json")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (74, f"python -m bench: --json {tmp_path / 'no' / 'x.json'}: "
                                                      "cannot write: No such file or directory\n")
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "store_writes", "--json"],
                                cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True, timeout=600)
    assert result.returncode == 74 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == "python -m bench: --json -: cannot write: No space left on device"


def test_bench_table_that_cannot_be_shown_is_one_line_and_json_alone_needs_no_empty_name():
    """The table to a full standard output: one line, exit 74 (a traceback); to a closed one:
    one line, exit 74, before measuring (the table was lost without a word); `--json ''`:
    a usage error (it wrote nothing anywhere)."""
    run = [sys.executable, "-m", "bench", "--quick", "--only", "store_writes"]
    with open("/dev/full", "w") as full:
        result = subprocess.run(run, cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True, timeout=600)
    assert result.returncode == 74 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == "python -m bench: the table: cannot write: No space left on device"
    result = subprocess.run(run, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60,
                            preexec_fn=lambda: os.close(1))
    assert (result.returncode, result.stderr) == (74, "python -m bench: the table: cannot write: standard output is "
                                                      "closed\n")
    result = subprocess.run(run + ["--json", ""], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "argument --json: expected a file name" in result.stderr


def test_the_readme_table_is_made_from_full_runs_only(tmp_path):
    """`python -m bench.readme` refuses, in one line with exit 2 and the README untouched,
    what is not a full run of this bench: a missing file, no JSON, a list, a --quick run,
    a run without some figure (an older bench's)."""
    readme = (ROOT / "README.md").read_bytes()
    full = {key: 1.0 for key in BUDGETS} | {"machine": "x86_64"}
    cases = {"missing.json": None, "text.json": "not json", "list.json": "[1]",
             "quick.json": json.dumps(full | {"quick": True}),
             "older.json": json.dumps({k: v for k, v in full.items() if not k.startswith("turn_us")})}
    for name, text in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        result = subprocess.run([sys.executable, "-m", "bench.readme", str(tmp_path / name)], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        lines = result.stderr.splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"bench.readme: {tmp_path / name}: "), \
            (name, result.stderr)
    assert "turn_us_warm, turn_us_cold" in lines[0]
    assert (ROOT / "README.md").read_bytes() == readme
