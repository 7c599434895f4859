"""The benchmarks run and report every figure (their values are judged by people, not here)."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.__main__ import BUDGETS
from conftest import ROOT

KEYS = ("sample_us", "sample_us_daily", "floor_us", "sample_floor_ratio", "schedule_kept", "data_rate_share",
        "feedback_ms_p50", "feedback_ms_p99", "feedback_ms_max", "sim_day_s", "cpu_idle_pct", "cpu_worn_pct",
        "cpu_pressed_pct", "cpu_mqtt_pct", "wakes_worn_per_s", "wakes_pressed_per_s", "rss_mb", "mqtt_ms_p50",
        "mqtt_ms_p99", "store_writes_per_hour", "clinic", "clinic_dashboard_mb")


def test_bench_quick_writes_every_key(tmp_path):
    """`python -m bench --quick --json FILE` runs and writes every key, each a number with its budget."""
    out = tmp_path / "out.json"
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    for key in KEYS:
        assert isinstance(figures[key], (int, float)), key
        assert figures["budgets"][key]["budget"] == BUDGETS[key][0], f"{key} comes with its budget"
    assert "machine:" in result.stdout
