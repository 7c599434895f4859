"""The calibration file: reading it, checking every entry, and writing it back.

Calibration lives in its own TOML file (``config/calibration.toml`` by default), so
re-calibrating never rewrites the user's configuration. Each entry is one of the
conversions of ``sensors.conversions`` (a flex sensor's line, an FSR's table, a load
cell's line), or the pad as a whole (``PAD``). Reading checks everything and says each
problem in one line; writing changes the values where they stand and keeps the file's
comments, atomically.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from pathlib import Path

from pi_agent.errors import CalibrationError
from sensors.conversions import (LINEARITY_PCT, PAD, Calibration, FlexCalibration, ForceCalibration,
                                 LoadCellCalibration, PadCalibration)
from sensors.units import GAINS, gain_label, is_number

__all__ = ["LINEARITY_PCT", "PAD", "Calibration", "FlexCalibration", "ForceCalibration", "LoadCellCalibration",
           "PadCalibration", "parse_entry", "load_calibration", "dumps_calibration", "edit_calibration",
           "render_calibration", "save_calibration"]


COUNTS = (-32768, 32767)        # what an ADS1115 can return
NEWTONS_MAX = 10_000.0          # a ton: far beyond any hand or pad
MAX_PUSH_MIN_N = 5.0            # a maximum push below this is no measurement (a band in % of it would be ~0 N)
DEGREES_MAX = 360.0


def _in_ranges(where: str, pairs, second: str, limit: float, problems: list[str]) -> bool:
    for counts, value in pairs:
        if not COUNTS[0] <= counts <= COUNTS[1]:
            problems.append(f"{where}: expected counts from {COUNTS[0]} to {COUNTS[1]}, got {counts:g}")
            return False
        if abs(value) > limit:
            problems.append(f"{where}: expected {second} from {-limit:g} to {limit:g}, got {value:g}")
            return False
    return True


def _parse_gain(where: str, raw, problems: list[str]) -> float:
    if raw == "2/3":
        return 2 / 3
    if is_number(raw) and raw in GAINS:
        return raw
    problems.append(f"{where}.gain: expected one of 2/3, 1, 2, 4, 8, 16, got {raw!r}")
    return 1


def _pairs(where: str, raw, problems: list[str], expected: str, minimum: int) -> list[tuple[float, float]] | None:
    if (not isinstance(raw, list) or len(raw) < minimum
            or not all(isinstance(p, list) and len(p) == 2 for p in raw)):
        problems.append(f"{where}: expected {expected}, got {raw!r}")
        return None
    for i, pair in enumerate(raw):
        if not all(map(is_number, pair)):         # NaN, infinities, text: name the pair, not the shape
            problems.append(f"{where}[{i}]: expected two finite numbers [counts, value], got {pair!r}")
            return None
    return [(float(a), float(b)) for a, b in raw]


def parse_entry(where: str, raw: dict, problems: list[str]) -> Calibration | None:
    """One calibration entry from its TOML table; problems are appended, one line each."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table, got {raw!r}")
        return None
    kind = raw.get("kind")
    allowed = {"flex": {"kind", "gain", "date", "points"},
               "force": {"kind", "gain", "date", "tare", "table"},
               "load_cell": {"kind", "gain", "date", "tare", "points"}}
    if kind not in allowed:
        problems.append(f"{where}.kind: expected 'flex', 'force' or 'load_cell', got {kind!r}")
        return None
    for key in sorted(set(raw) - allowed[kind]):
        problems.append(f"{where}.{key}: unknown key for a {kind} calibration")
    gain = _parse_gain(where, raw.get("gain", 1), problems)
    date = raw.get("date", "")
    if not isinstance(date, (str, dt.date)):
        problems.append(f"{where}.date: expected a date, got {date!r}")
    date = str(date)
    if kind == "flex":
        points = _pairs(f"{where}.points", raw.get("points"), problems,
                        "two [counts, degrees] points", 2)
        if points is None or not _in_ranges(f"{where}.points", points, "degrees", DEGREES_MAX, problems):
            return None
        if len(points) != 2 or points[0][0] == points[1][0] or points[0][1] == points[1][1]:
            problems.append(f"{where}.points: expected two points with different counts and different degrees, got {raw.get('points')!r}")
            return None
        return FlexCalibration((points[0], points[1]), gain, date)
    tare = raw.get("tare")
    if not is_number(tare) or not COUNTS[0] <= tare <= COUNTS[1]:
        problems.append(f"{where}.tare: expected a number of counts from {COUNTS[0]} to {COUNTS[1]}, got {tare!r}")
        return None
    if kind == "load_cell":
        return _parse_load_cell(where, raw, float(tare), gain, date, problems)
    table = _pairs(f"{where}.table", raw.get("table"), problems,
                   "at least two [counts, newtons] pairs", 2)
    if table is None or not _in_ranges(f"{where}.table", table, "newtons", NEWTONS_MAX, problems):
        return None
    for (c0, n0), (c1, n1) in zip(table, table[1:]):
        if not (c1 > c0 and n1 > n0):
            problems.append(f"{where}.table: not monotonic: counts and newtons must both rise, "
                            f"got [{c0:g}, {n0:g}] then [{c1:g}, {n1:g}]")
            return None
    return ForceCalibration(float(tare), tuple(table), gain, date)


def _parse_load_cell(where: str, raw: dict, tare: float, gain: float, date: str,
                     problems: list[str]) -> LoadCellCalibration | None:
    expected = "the empty pad [counts, 0.0] then at least one known weight [counts, newtons]"
    points = _pairs(f"{where}.points", raw.get("points"), problems, expected, 2)
    if points is None or not _in_ranges(f"{where}.points", points, "newtons", NEWTONS_MAX, problems):
        return None
    if points[0][1] != 0:
        problems.append(f"{where}.points: expected {expected}, got a first point of {points[0][1]:g} N")
        return None
    for (c0, n0), (c1, n1) in zip(points, points[1:]):
        if not (c1 > c0 and n1 > n0):
            problems.append(f"{where}.points: expected counts and newtons that both rise (a heavier weight "
                            f"reads higher), got [{c0:g}, {n0:g}] then [{c1:g}, {n1:g}]")
            return None
    return LoadCellCalibration(tare, tuple(points), gain, date)


def _parse_pad(where: str, raw, problems: list[str]) -> PadCalibration | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table, got {raw!r}")
        return None
    for key in sorted(set(raw) - {"max_push_n", "date"}):
        problems.append(f"{where}.{key}: unknown key (expected max_push_n, date)")
    max_push = raw.get("max_push_n")
    if max_push is not None and not (is_number(max_push) and MAX_PUSH_MIN_N <= max_push <= NEWTONS_MAX):
        shown = f"{max_push:g}" if is_number(max_push) else repr(max_push)
        problems.append(f"{where}.max_push_n: expected a maximum push from {MAX_PUSH_MIN_N:g} to "
                        f"{NEWTONS_MAX:g} newtons, got {shown}")
        max_push = None
    return PadCalibration(max_push, str(raw.get("date", "")))


def load_calibration(path: Path) -> dict[str, Calibration]:
    """Read a calibration file; raise CalibrationError with one line per problem."""
    if Path(path).exists() and not Path(path).is_file():      # a FIFO would block the read for ever
        raise CalibrationError(f"{path}: expected a calibration file, got a folder or a special file")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(f"{path}: calibration file not found") from None
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read the calibration file: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{path}: not valid TOML: {exc}") from None
    except ValueError:                  # Python's bound on the digits of an integer it reads
        raise CalibrationError(f"{path}: not valid TOML here: an integer of more than 4300 digits") from None
    problems: list[str] = []
    entries = {}
    for name, raw in data.items():
        if name == PAD:
            entry = _parse_pad(name, raw, problems)
        else:
            entry = parse_entry(name, raw, problems)
        if entry is not None:
            entries[name] = entry
    if problems:
        raise CalibrationError([f"{path}: {p}" for p in problems])
    return entries


def _toml_value(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(round(v, 6))
    return repr(v)


def _entry_items(cal: Calibration) -> list[tuple[str, str]]:
    """An entry's keys and their TOML literals, in the file's order."""
    items = []
    for key, value in cal.to_toml().items():
        if key == "gain" and not isinstance(value, str):
            value = gain_label(value) if value == 2 / 3 else int(value)
        items.append((key, _toml_value(value)))
    return items


HEADER = ["# OpenPalm sensor calibration, written by `pi-agent calibrate`.",
          "# Flex: points = two [counts, degrees] pairs. Force: table = [counts, newtons] pairs",
          "# of the sensor's curve, both rising; tare = counts with nothing pressing, whose",
          "# force is taken off every reading. Load cell: points = the empty pad [counts, 0.0]",
          "# then known weights [counts, newtons], a straight line; tare = the empty pad now.", ""]


def dumps_calibration(entries: dict[str, Calibration], header: list[str] = HEADER) -> str:
    lines = list(header)
    for name, cal in entries.items():
        if cal is None:
            continue
        lines.append(f"[{name}]")
        lines += [f"{key} = {literal}" for key, literal in _entry_items(cal)]
        lines.append("")
    return "\n".join(lines)


_TABLE = re.compile(r"[ \t]*\[[ \t]*(?P<name>[A-Za-z0-9_-]+|\"[^\"]*\")[ \t]*\][ \t]*(#.*)?$")
_KEY = re.compile(r"[ \t]*(?P<key>[A-Za-z0-9_-]+)[ \t]*=")


def _value_end(text: str, i: int) -> tuple[int, str, list[str]]:
    """Where the value that starts at ``text[i]`` ends (before its own comment, if any),
    that comment, and the comments inside it: brackets may span lines, and a ``#`` in a
    string is no comment."""
    depth, quote, inner = 0, "", []
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif c == "#":
            eol = text.find("\n", i)
            eol = len(text) if eol < 0 else eol
            if depth <= 0:
                return i, text[i:eol], inner
            inner.append(text[i:eol])
            i = eol
            continue
        elif c == "\n" and depth <= 0:
            return i, "", inner
        i += 1
    return i, "", inner


def _same_value(a: str, b: str) -> bool:
    try:
        return tomllib.loads(f"v = {a}") == tomllib.loads(f"v = {b}")
    except ValueError:                  # (TOMLDecodeError, or an integer of thousands of digits)
        return False


def edit_calibration(text: str, entries: dict[str, Calibration]) -> str:
    """``text`` with each entry's values set where they stand: comments, blank lines and
    the order of the file are kept; a key an entry no longer has goes; a key or an entry
    the file lacks is added (at the end of its table, or of the file)."""
    out: list[str] = []
    pending: dict[str, list[tuple[str, str]]] = {n: _entry_items(c) for n, c in entries.items() if c is not None}
    section: str | None = None
    todo: list[tuple[str, str]] = []      # keys of the current table not yet written
    last_key_at = -1                        # index in ``out`` after the table's last key

    def close_section() -> None:
        if todo:
            at = last_key_at if last_key_at >= 0 else len(out)
            out[at:at] = [f"{k} = {v}" for k, v in todo]
            todo.clear()

    pos = 0
    while pos < len(text):
        eol = text.find("\n", pos)
        eol = len(text) if eol < 0 else eol
        line = text[pos:eol]
        table = _TABLE.match(line)
        key = _KEY.match(line) if table is None else None
        if table is not None:
            close_section()
            section = table.group("name").strip('"')
            todo[:] = pending.pop(section, [])
            wanted = section in entries
            out.append(line)
            last_key_at = len(out) if wanted else -1
            pos = eol + 1
            continue
        if key is not None and section in entries:
            end, comment, inner = _value_end(text, pos + key.end())
            eol = text.find("\n", end)
            eol = len(text) if eol < 0 else eol
            name = key.group("key")
            literal = next((v for k, v in todo if k == name), None)
            if literal is not None:
                todo[:] = [(k, v) for k, v in todo if k != name]
                if _same_value(text[pos + key.end():end], literal):
                    out += text[pos:eol].split("\n")       # unchanged: kept as written
                else:
                    indent = line[:len(line) - len(line.lstrip())]
                    out += [indent + c for c in inner]      # comments from inside the old value
                    out.append(f"{indent}{name} = {literal}" + (f"  {comment}" if comment else ""))
                last_key_at = len(out)
            pos = eol + 1                   # a key the entry no longer has is dropped
            continue
        out.append(line)
        pos = eol + 1
    close_section()
    for name, items in pending.items():
        if out and out[-1].strip():
            out.append("")
        out.append(f"[{name}]")
        out += [f"{k} = {v}" for k, v in items]
    return "\n".join(out).rstrip("\n") + "\n"


def _comments_before_tables(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if _TABLE.match(line):
            break
        lines.append(line)
    return lines


def render_calibration(old_text: str | None, entries: dict[str, Calibration]) -> str:
    """The new file: the old one edited in place when it reads back as ``entries``; else
    written anew under the old file's opening comments (nothing the file said is lost
    that can be kept)."""
    if old_text is not None:
        edited = edit_calibration(old_text, entries)
        try:
            back = tomllib.loads(edited)
        except ValueError:
            back = None
        fresh = tomllib.loads(dumps_calibration(entries))
        if back is not None and all(back.get(name) == values for name, values in fresh.items()):
            return edited
        header = _comments_before_tables(old_text) or HEADER
        if header[-1].strip():
            header = [*header, ""]
        return dumps_calibration(entries, header)
    return dumps_calibration(entries)


def save_calibration(path: Path, entries: dict[str, Calibration]) -> None:
    """Write atomically: a power cut leaves the old file or the new one, never half.
    The file's comments stay where they were: its values are changed in place."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        old = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        old = None
    text = render_calibration(old, entries)
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
