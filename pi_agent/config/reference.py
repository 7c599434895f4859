"""The configuration's documentation, rendered from the schema: the shipped
``config/agent.toml`` (every key with its default and meaning) and the README's
reference table. ``python -m pi_agent.config --write`` writes both; a test keeps them
in step with the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pi_agent.config.schema import SCHEMA, Named


def _toml_literal(value: Any, example: str | None) -> str:
    if example is not None:
        return example
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and value == 2 / 3:
        return '"2/3"'
    return repr(value)


def render_toml() -> str:
    """The shipped ``config/agent.toml``: every key with its default and its documentation."""
    out = ["# OpenPalm pi-agent configuration. Every key is shown with its default.",
           "# Generated from the schema in pi_agent/config/schema.py (python -m pi_agent.config --write).",
           "# The MQTT password never goes here: see mqtt.password_file.", ""]
    for section, spec in SCHEMA.items():
        if isinstance(spec, Named):
            out.append(f"# {spec.doc}")
            documented: set[str] = set()    # each key's meaning once, where it first appears
            for name, table in spec.default.items():
                out.append(f"[{section}.{name}]")
                for key, value in table.items():
                    if key not in documented:
                        documented.add(key)
                        out.append(f"# {spec.keys[key].doc}")
                    lit = f"0x{value:02x}" if key == "address" else _toml_literal(value, None)
                    out.append(f"{key} = {lit}")
                out.append("")
        else:
            out.append(f"[{section}]")
            for key, k in spec.items():
                out.append(f"# {k.doc}")
                out.append(f"{key} = {_toml_literal(k.default, k.example)}")
            out.append("")
    return "\n".join(out)


def render_markdown() -> str:
    """The README's configuration reference."""
    out = ["| key | default | meaning |", "| --- | --- | --- |"]
    for section, spec in SCHEMA.items():
        if isinstance(spec, Named):
            for key, k in spec.keys.items():
                out.append(f"| `{section}.NAME.{key}` | see `config/agent.toml` | {k.doc} |")
        else:
            for key, k in spec.items():
                out.append(f"| `{section}.{key}` | `{_toml_literal(k.default, k.example)}` | {k.doc} |")
    return "\n".join(out)


README_START, README_END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def render_readme(readme: str) -> str:
    """The README with its configuration reference (between the markers) rendered anew."""
    head, rest = readme.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return f"{head}{README_START}\n{render_markdown()}\n{README_END}{tail}"


def write(root: Path) -> list[Path]:
    """Write ``config/agent.toml`` and the README's reference under the project's root."""
    toml, readme = root / "config" / "agent.toml", root / "README.md"
    toml.write_text(render_toml(), encoding="utf-8")
    readme.write_text(render_readme(readme.read_text(encoding="utf-8")), encoding="utf-8")
    return [toml, readme]
