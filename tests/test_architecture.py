"""The shape of the code: a pure core that nothing outside it writes into."""

from __future__ import annotations

import ast

import pytest

from conftest import ROOT

CORE = ROOT / "pi_agent" / "core"
FORBIDDEN_IMPORTS = {"sqlite3", "paho", "threading", "time", "socket", "logging", "os", "subprocess",
                     "gpiozero", "board", "busio", "smbus2", "adafruit_ads1x15", "adafruit_drv2605",
                     "adafruit_extended_bus", "asyncio", "pathlib", "queue"}
FORBIDDEN_CALLS = {"open", "print", "input", "sleep", "monotonic", "perf_counter", "now", "today", "utcnow"}


def _tree(path):
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_does_no_io_and_reads_no_clock(path):
    """A core module imports no I/O, thread, clock or hardware library and calls no open, print or clock."""
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_IMPORTS, f"{path.name} imports {name}"
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


def _chain(node) -> list[str]:
    """The names along an attribute chain: a.b.c -> ['a', 'b', 'c']."""
    out = []
    while isinstance(node, ast.Attribute):
        out.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        out.append(node.id)
    return out[::-1]


def test_nothing_outside_the_core_assigns_to_its_objects():
    """No module outside pi_agent/core assigns to a field reached through a core object."""
    offenders = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        if CORE in path.parents or ".venv" in path.parts:
            continue
        for node in ast.walk(_tree(path)):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                chain = _chain(target) if isinstance(target, ast.Attribute) else []
                if "core" in chain[:-1]:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {'.'.join(chain)}")
    assert offenders == []
