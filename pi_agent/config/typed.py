"""The typed configuration: frozen dataclasses generated from the schema.

Each plain section of ``SCHEMA`` becomes a frozen, slotted dataclass whose fields are its
keys, typed by their checks and defaulting to their defaults (``[weight_bearing]`` gives
``WeightBearing``, read as ``cfg.weight_bearing.start_n``). Each named table becomes a
read-only mapping of frozen entries that also carry their ``name``
(``cfg.sensors["wrist"].kind``, ``cfg.chips["splint"].address``). ``Config`` holds one
field per section, then ``path`` (the file, or None for the shipped defaults) and
``calibration_path``.

Nothing here is written by hand per key: a key added to the schema is a field here.
A configuration is never assigned to; ``load.changed`` gives a checked copy.
"""

from __future__ import annotations

from dataclasses import field, make_dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from pi_agent.config.schema import SCHEMA, Key, Named

# The fields of Config after its sections.
FILE_FIELDS = ("path", "calibration_path")


def _class_name(section: str) -> str:
    return "".join(part.capitalize() for part in section.split("_"))


def _dataclass(name: str, keys: dict[str, Key], doc: str, first: list[tuple[str, type]]) -> type:
    cls = make_dataclass(name, first + [(k, key.check.type, field(default=key.default)) for k, key in keys.items()],
                         frozen=True, slots=True)
    cls.__module__, cls.__doc__ = __name__, doc
    return cls


def _section_classes() -> dict[str, type]:
    classes: dict[str, type] = {}
    for section, spec in SCHEMA.items():
        if isinstance(spec, Named):
            assert "name" not in spec.keys, f"{section}: 'name' is the entry's own name, not a key"
            classes[section] = _dataclass(_class_name(section).removesuffix("s"), spec.keys,
                                          f"One [{section}.NAME] table. {spec.doc}", [("name", str)])
        else:
            classes[section] = _dataclass(_class_name(section), spec, f"The [{section}] table.", [])
    assert not set(classes) & set(FILE_FIELDS), "a section may not be named path or calibration_path"
    return classes


# section -> the class of its table (for a named table: of one entry)
SECTIONS: dict[str, type] = _section_classes()

Config = make_dataclass(
    "Config",
    [(section, Mapping[str, cls] if isinstance(SCHEMA[section], Named) else cls) for section, cls in SECTIONS.items()]
    + [("path", Path | None), ("calibration_path", Path)],
    frozen=True, slots=True)
Config.__module__ = __name__
Config.__doc__ = ("The whole configuration, checked and read-only: one field per section of the schema, "
                  "the file it came from (None: the shipped defaults) and the calibration file it names.")


def build(values: dict[str, dict[str, Any]], path: Path | None, calibration_path: Path) -> Config:
    """The typed configuration of checked values (section -> key -> value; for a named
    table, section -> name -> key -> value)."""
    sections: dict[str, Any] = {}
    for section, content in values.items():
        cls = SECTIONS[section]
        if isinstance(SCHEMA[section], Named):
            sections[section] = MappingProxyType({n: cls(name=n, **t) for n, t in content.items()})
        else:
            sections[section] = cls(**content)
    return Config(**sections, path=path, calibration_path=calibration_path)


def values_of(cfg: Config) -> dict[str, dict[str, Any]]:
    """The checked values of a typed configuration, as ``build`` takes them (fresh dicts)."""
    out: dict[str, dict[str, Any]] = {}
    for section, spec in SCHEMA.items():
        table = getattr(cfg, section)
        if isinstance(spec, Named):
            out[section] = {n: {k: getattr(entry, k) for k in spec.keys} for n, entry in table.items()}
        else:
            out[section] = {k: getattr(table, k) for k in spec}
    return out
