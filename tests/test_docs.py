"""The repository documents itself: its links stay inside it, and the scenario format's
own example is a scenario that runs as it says."""

from __future__ import annotations

import json
import re
import tomllib

from conftest import CONFIG, ROOT, run_cli

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCES = [p for folder in ("pi_agent", "sensors", "mock_hw", "tests", "bench", "config", "systemd", "docs")
           for p in sorted((ROOT / folder).rglob("*")) if p.is_file() and p.suffix in {".py", ".md", ".toml",
                                                                                     ".service", ".conf", ".js", ".html"}]
SOURCES += [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml"]
# A document that lives outside the repository (the scenario format's old home).
OUTSIDE = re.compile(r"\.\./shared|FORMAT\.md")


def test_no_reference_points_outside_the_repository():
    """No file of the project names a document outside the repository."""
    found = [f"{p.relative_to(ROOT)}:{n}" for p in SOURCES
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if OUTSIDE.search(line)]
    assert found == []


def test_markdown_links_resolve_inside_the_repository():
    """Every relative link in the README and docs/ names a file of the repository."""
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s#]+)", doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            path = (doc.parent / target).resolve()
            assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name}: {target}"


def test_readme_links_the_scenario_format():
    """The README sends readers to docs/scenario-format.md."""
    assert "](docs/scenario-format.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_license_is_the_one_pyproject_declares():
    """LICENSE is the MIT licence that pyproject.toml declares."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert declared == "MIT" and text.startswith("MIT License")
    assert "Copyright (c) The OpenPalm contributors" in text


def test_the_documented_example_runs_as_described(tmp_path):
    """The complete example in docs/scenario-format.md is valid and gives what its text says:
    ten minutes worn, one weight-bearing session of about two minutes."""
    text = (ROOT / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"```json\n(.*?)```", text, re.S) if "..." not in b)
    scenario = tmp_path / "example.json"
    scenario.write_text(example)
    result = run_cli("simulate", "--config", str(CONFIG), str(scenario), "--report", "json")
    assert result.returncode == 0, result.stderr
    day, = json.loads(result.stdout)["days"].values()
    assert abs(day["worn_s"] - 600) < 5
    assert day["weight_bearing"]["sessions"] == 1 and 110 < day["weight_bearing"]["total_s"] < 130


def test_the_readme_gives_every_mqtt_command_with_its_arguments():
    """The README's table of commands names each command the agent takes, and each of its
    arguments, so that nobody has to guess them from error messages."""
    import re
    from pi_agent.core.commands import COMMANDS
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| ([^|]*) \|", text, re.M)}
    for name, command in COMMANDS.items():
        assert name in rows, f"{name} is not in the README's table of commands"
        for arg in command.args:
            assert f"`{arg}`" in rows[name], f"{name}'s argument {arg} is not in the README"
        if not command.args:
            assert rows[name] == "none", name
