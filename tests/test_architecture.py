"""The shape of the code: a pure core that nothing outside it writes into."""

from __future__ import annotations

import ast
from pathlib import Path

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
    # The project's own folders only: a build/ that `pip install .` leaves, or a virtualenv,
    # holds copies of the core itself.
    for path in sorted(p for folder in (*PACKAGES, "tests") for p in (ROOT / folder).rglob("*.py")):
        if CORE in path.parents:
            continue
        for node in ast.walk(_tree(path)):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                chain = _chain(target) if isinstance(target, ast.Attribute) else []
                if "core" in chain[:-1]:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {'.'.join(chain)}")
    assert offenders == []


# -- size and import cycles -------------------------------------------------------------------
PACKAGES = ("pi_agent", "sensors", "mock_hw", "bench")
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250
# Modules known to break a size rule, each to be split by the work that owns it; a test
# below fails once one of them is split (strict), so that it leaves this list.
TOO_LONG: dict[str, str] = {}
CLASS_TOO_LONG = {
}


def _project_modules() -> dict[str, "Path"]:
    """Every module of the project, by dotted name (a package by its own name)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _project_modules()
# The size rules hold for the tests too: a test module over 400 lines is split by the level
# or subject of its tests, with the helpers its parts share in a module of their own.
SIZED = sorted(MODULES.values()) + sorted((ROOT / "tests").rglob("*.py"))


def _listed(paths: list, exceptions: dict[str, str]) -> list:
    return [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=exceptions[str(p.relative_to(ROOT))]))
            if str(p.relative_to(ROOT)) in exceptions else p for p in paths]


def _rel(path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", _listed(SIZED, TOO_LONG), ids=_rel)
def test_module_is_at_most_400_lines(path):
    """A module of the project or of its tests has at most 400 lines."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_rel(path)} has {lines} lines"


@pytest.mark.parametrize("path", _listed(SIZED, CLASS_TOO_LONG), ids=_rel)
def test_no_class_is_over_250_lines(path):
    """No class of the module is over 250 lines, from its ``class`` line to its last."""
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines" for node in ast.walk(_tree(path))
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES]
    assert long == [], _rel(path)


def test_the_size_exceptions_name_modules_that_exist():
    """Every module listed as breaking a size rule still exists (a split one leaves the list)."""
    listed = set(TOO_LONG) | set(CLASS_TOO_LONG)
    assert listed <= {_rel(p) for p in SIZED}


def _imports(name: str, path) -> set[str]:
    """The project's modules that ``name`` imports, anywhere in it (inside functions and
    ``if TYPE_CHECKING:`` too). ``from p import x`` is an import of ``p.x`` when that is a
    module, else of ``p``; a package's ``__init__`` imported on the way to one of its
    modules does not count (it is not what the line asks for)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:      # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_cycles_finds_a_cycle_and_only_cycles():
    """The cycle finder sees a three-module cycle beside modules that only lead into it."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_there_is_no_import_cycle_among_the_projects_modules():
    """No module of pi_agent, sensors, mock_hw or bench imports, even inside a function,
    a module that imports it back, directly or through others."""
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert graph["pi_agent.cli"] >= {"pi_agent.cli.run", "pi_agent.cli.status"}   # the graph is read
    assert "pi_agent.simulated_run" in graph["pi_agent.cli.simulate"]                # inside a function too
    assert _cycles(graph) == []
