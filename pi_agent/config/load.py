"""Finding, reading and validating the configuration file, into the typed configuration.

Loading validates everything at once and raises ``ConfigError`` with one line per
problem, naming the file, the key path, what was expected and what was found.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

from pi_agent.config.checks import got
from pi_agent.config.schema import SCHEMA, Key, Named, cross_check, did_you_mean
from pi_agent.config.typed import Config, build, values_of
from pi_agent.errors import ConfigError

PATH_ENV = "OPENPALM_CONFIG"
SYSTEM_PATH = Path("/etc/openpalm/agent.toml")
# The calibration that goes with the defaults, installed with the package (the file is
# config/calibration.toml; pi_agent/defaults/calibration.toml links to it).
SHIPPED_CALIBRATION = Path(__file__).resolve().parent.parent / "defaults" / "calibration.toml"
SHIPPED = "the defaults shipped with pi-agent"

log = logging.getLogger("pi_agent.config")


def _check_table(path: str, raw: Any, keys: dict[str, Key], problems: list[str],
                 named: bool = False, fill: bool = True) -> dict[str, Any]:
    """The checked values of one table; with ``fill``, keys not given take their default
    (or, in a named table, a required one is a problem), else they are left out."""
    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        problems.append(f"{path}: expected a table, {got(raw)}")
        return {k: key.default for k, key in keys.items()} if fill else {}
    for name in raw:
        if name not in keys:
            problems.append(f"{path}.{name}: unknown key{did_you_mean(name, keys)}")
    for name, key in keys.items():
        if name in raw:
            value, problem = key.check(raw[name])
            if problem:
                problems.append(f"{path}.{name}: {problem}")
                value = key.default
            out[name] = value
        elif not fill:
            continue
        elif named and key.required:
            problems.append(f"{path}.{name}: missing (expected {key.doc.rstrip('.')})")
            out[name] = key.default
        else:
            out[name] = key.default
    return out


def validate(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Check a parsed TOML document against the schema: (values, problems)."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name in data:
        if name not in SCHEMA:
            problems.append(f"{name}: unknown section{did_you_mean(name, SCHEMA)}")
    for section, spec in SCHEMA.items():
        raw = data.get(section)
        if isinstance(spec, Named):
            layout = spec.default if raw is None else raw
            if not isinstance(layout, dict):
                problems.append(f"{section}: expected tables such as [{section}.NAME], {got(layout)}")
                layout = spec.default
            values[section] = {n: _check_table(f"{section}.{n}", t, spec.keys, problems, named=True)
                               for n, t in layout.items()}
        else:
            values[section] = _check_table(section, {} if raw is None else raw, spec, problems)
    cross_check(values, problems)
    return values, problems


def locate(given: Path | str | None, environ=os.environ, system: Path = SYSTEM_PATH) -> Path | None:
    """The configuration file a command uses: the one given (``--config``), else
    ``$OPENPALM_CONFIG``, else the system's ``/etc/openpalm/agent.toml`` when it exists;
    None when there is none, and the shipped defaults apply. A file that is named but
    missing is not skipped: loading it reports it."""
    if given is not None:
        return Path(given)
    if environ.get(PATH_ENV):
        return Path(environ[PATH_ENV])
    if system.exists():
        return system
    return None


def load(path: Path | str | None = None) -> Config:
    """Load and validate the configuration file, or raise ConfigError (one line per
    problem); None gives the defaults shipped with the package. Logs which one is used."""
    if path is None:
        log.info("configuration: %s (no --config, no $%s, no %s)", SHIPPED, PATH_ENV, SYSTEM_PATH)
        return defaults()
    cfg = _load_file(Path(path))
    log.info("configuration: %s", path)
    return cfg


def _calibration_path(folder: Path, name: str) -> Path:
    return (folder / name).resolve() if not Path(name).is_absolute() else Path(name)


def _load_file(path: Path) -> Config:
    if path.exists() and not path.is_file() and not path.is_dir():   # a FIFO would block the read for ever
        raise ConfigError(f"{path}: expected a configuration file, got a special file (a FIFO or a device)")
    try:
        raw_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: expected a configuration file, got a folder") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: expected UTF-8 text, got bytes that are not") from None
    try:
        data = tomllib.loads(raw_text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except ValueError:                  # Python's bound on the digits of an integer it reads
        raise ConfigError(f"{path}: not valid TOML here: an integer of more than 4300 digits") from None
    values, problems = validate(data)
    if problems:
        raise ConfigError([f"{path}: {p}" for p in problems])
    return build(values, path, _calibration_path(path.parent, values["hardware"]["calibration"]))


def set_key(path: Path, section: str, key: str, value: str) -> None:
    """Set one string key in the configuration file, keeping everything else as written
    (comments included), atomically; then check that the file is still valid."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    new = f'{key} = "{value}"'
    inside, done = False, False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            if inside and not done:
                lines.insert(i, new)
                done = True
                break
            inside = stripped == f"[{section}]"
        elif inside and re.match(rf"{re.escape(key)}\s*=", stripped):
            lines[i] = new
            done = True
            break
    if not done:
        if inside:
            lines.append(new)
        else:
            lines += ["", f"[{section}]", new]
    tmp = Path(str(path) + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    _load_file(Path(path))


def defaults() -> Config:
    """The configuration with every default, as if from an empty file."""
    values, problems = validate({})
    assert not problems, problems
    return build(values, None, SHIPPED_CALIBRATION)


def changed(cfg: Config, **sections: Mapping[str, Any]) -> Config:
    """A copy of ``cfg`` with some keys set as the file would set them, checked as the file
    is: ``changed(cfg, haptics={"backend": "none"})``. For a named table, each entry
    given changes those keys of the entry of that name (``sensors={"wrist": {"gain": 2}}``),
    or adds the entry. A problem raises ConfigError, one line each, and changes nothing."""
    values = values_of(cfg)
    problems: list[str] = []
    for section, given in sections.items():
        spec = SCHEMA.get(section)
        if spec is None:
            problems.append(f"{section}: unknown section{did_you_mean(section, SCHEMA)}")
        elif isinstance(spec, Named):
            for name, table in given.items():
                old = values[section].get(name)
                new = _check_table(f"{section}.{name}", table, spec.keys, problems, named=True, fill=old is None)
                values[section][name] = {**(old or {}), **new}
        else:
            values[section].update(_check_table(section, given, spec, problems, fill=False))
    cross_check(values, problems)
    if problems:
        raise ConfigError([f"{cfg.path or SHIPPED}, changed: {p}" for p in problems])
    calibration = cfg.calibration_path
    if values["hardware"]["calibration"] != cfg.hardware.calibration:
        folder = cfg.path.parent if cfg.path is not None else SHIPPED_CALIBRATION.parent
        calibration = _calibration_path(folder, values["hardware"]["calibration"])
    return build(values, cfg.path, calibration)
