"""Reports and events saved before a change: every scenario shipped in scenarios/ still
gives the same report (every key saved then has the same value; new keys may be added)
and the same events, line for line."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
NAMES = sorted(p.name.removesuffix(".report.json") for p in GOLDEN.glob("*.report.json"))


def _within(saved, now, path="report"):
    """Every key of ``saved`` is in ``now`` with the same value."""
    if isinstance(saved, dict):
        assert isinstance(now, dict), path
        for key, value in saved.items():
            assert key in now, f"{path}.{key} is missing"
            _within(value, now[key], f"{path}.{key}")
    else:
        assert now == saved, f"{path}: {now!r}, saved {saved!r}"


@pytest.mark.parametrize("name", NAMES)
def test_scenario_gives_the_saved_report_and_events(name, shipped_day):
    """`pi-agent simulate` on a shipped scenario: the saved report's values and the saved events."""
    report, events = shipped_day(name)
    _within(json.loads((GOLDEN / f"{name}.report.json").read_text()), report)
    saved = (GOLDEN / f"{name}.events.jsonl").read_text().splitlines()
    assert events == saved
