"""Scenario files (``docs/scenario-format.md``): parsing, and playing them back.

A ``Scenario`` is the validated file. Its ``Timeline`` answers what each channel's
physical value is at any moment (noiseless, piecewise linear), which faults are active,
and which instant events (clock steps, power cuts, commands) happen when. Times are
seconds since the scenario's start.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import json
import logging
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pi_agent.config.checks import got
from pi_agent.core import jsontext
from pi_agent.errors import ScenarioError
from sensors.units import is_number

FAULT_KINDS = ("disconnected", "stuck", "i2c_error")
STEP_KINDS = ("hold", "ramp", "clock_step", "fault", "power_cut", "command")
STEP_KEYS = {"hold": {"hold", "set"}, "ramp": {"ramp", "to"}, "clock_step": {"clock_step"},
             "fault": {"fault"}, "power_cut": {"power_cut"}, "command": {"command"}}
TOP_KEYS = ("name", "start", "timezone", "seed", "noise", "steps")
log = logging.getLogger("mock_hw.scenario")

MAX_SECONDS = 366 * 86400.0        # a step, and a whole scenario, last at most a (leap) year
MAX_CLOCK_STEP_S = 10 * 365 * 86400.0
MAX_VALUE = 10_000.0               # degrees or newtons: far beyond any hand
MAX_NOISE = 100.0
MAX_BYTES = 16_000_000             # a year of steps fits in far less
MAX_NAME = 300                     # characters: the name is one log line's text (the longest shipped: 193)


@dataclass(frozen=True)
class Instant:
    """Something that happens at one moment: ``clock_step``, ``power_cut`` or ``command``."""
    t: float
    kind: str
    value: Any   # seconds for clock_step, off-seconds for power_cut, {"name", "args"} for command
    index: int   # the step's position in the file


@dataclass(frozen=True)
class Fault:
    start: float
    end: float
    kind: str
    channel: str


@dataclass
class Timeline:
    """Each channel's breakpoints (t, value): linear between them, a jump where two share a t."""
    points: dict[str, tuple[list[float], list[float]]]
    instants: list[Instant]
    faults: list[Fault]
    duration: float

    def value(self, channel: str, t: float) -> float:
        times, values = self.points[channel]
        i = bisect.bisect_right(times, t) - 1
        if i < 0:
            return values[0]
        if i + 1 < len(times) and times[i + 1] > times[i]:
            t0, t1 = times[i], times[i + 1]
            return values[i] + (values[i + 1] - values[i]) * (t - t0) / (t1 - t0)
        return values[i]

    def active_faults(self, t: float) -> list[Fault]:
        return [f for f in self.faults if f.start <= t < f.end]


@dataclass
class Scenario:
    name: str
    start: dt.datetime            # local wall-clock time, naive
    timezone: str | None
    seed: int
    noise_deg: float
    noise_newton: float
    steps: list[dict]
    path: str = ""
    timeline: Timeline = field(init=False)

    def zone(self, default: str | None = None) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone or default or "UTC")

    def start_wall(self, default_zone: str | None = None) -> float:
        """POSIX seconds of the start in the scenario's zone (a non-existent local time
        in a DST gap is read as the moment after the gap, as fold=0 does)."""
        zone = self.zone(default_zone)
        wall = self.start.replace(tzinfo=zone).timestamp()
        read_as = dt.datetime.fromtimestamp(wall, zone).replace(tzinfo=None)
        if read_as != self.start:
            log.warning("start %s does not exist in %s (the clocks jump forward then): the scenario starts "
                        "at %s", self.start.isoformat(), zone.key, read_as.isoformat())
        return wall


def _did_you_mean(name: str, options) -> str:
    close = difflib.get_close_matches(str(name), list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse(data: Any, channels: dict[str, str], where: str = "scenario") -> Scenario:
    """Validate a decoded scenario against the configured ``channels`` (name -> kind)."""
    problems: list[str] = []

    def bad(path: str, msg: str) -> None:
        problems.append(f"{where}: {path}: {msg}")

    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a JSON object, got {type(data).__name__}")
    for key in data:
        if key not in TOP_KEYS:
            bad(key, f"unknown key{_did_you_mean(key, TOP_KEYS)}")
    start = None
    raw_start = data.get("start")
    if raw_start is None:
        bad("start", "missing (expected a local time such as '2026-03-29T00:30:00')")
    else:
        try:
            start = dt.datetime.fromisoformat(raw_start) if isinstance(raw_start, str) else None
        except ValueError:
            start = None
        if start is None or start.tzinfo is not None:
            bad("start", f"expected a local ISO 8601 time without offset, {got(raw_start)}")
            start = None
        elif not 1980 <= start.year <= 9000:     # clock steps of up to ten years stay in range
            bad("start", f"expected a time from the year 1980 to 9000, {got(raw_start)}")
            start = None
    tz = data.get("timezone")
    if tz is not None:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            bad("timezone", f"expected an IANA time zone such as 'Europe/London', {got(tz)}")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        bad("seed", f"expected a whole number, {got(seed)}")
        seed = 0
    noise = data.get("noise", {})
    noise_deg = noise_newton = 0.0
    if not isinstance(noise, dict):
        bad("noise", f"expected an object with 'deg' and 'newton', {got(noise)}")
    else:
        for key in noise:
            if key not in ("deg", "newton"):
                bad(f"noise.{key}", f"unknown key{_did_you_mean(key, ('deg', 'newton'))}")
        for key in ("deg", "newton"):
            v = noise.get(key, 0.0)
            if not is_number(v) or not 0 <= v <= MAX_NOISE:
                bad(f"noise.{key}", f"expected a standard deviation from 0 to {MAX_NOISE:g}, {got(v)}")
            elif key == "deg":
                noise_deg = float(v)
            else:
                noise_newton = float(v)
    steps = data.get("steps")
    if not isinstance(steps, list):
        bad("steps", f"expected a list of steps, {got(steps)}" if steps is not None else "missing")
        steps = []
    for i, step in enumerate(steps):
        _check_step(f"steps[{i}]", step, channels, bad)
    if not problems:
        _check_times(start, steps, bad)
    name = data.get("name", "")
    if not isinstance(name, str):
        bad("name", f"expected a short description (text), got {type(name).__name__}")
    elif len(name) > MAX_NAME:
        bad("name", f"expected at most {MAX_NAME} characters, got {len(name)}")
    if problems:
        raise ScenarioError(problems)
    scenario = Scenario(name, start, tz, seed, noise_deg, noise_newton, steps, where)
    scenario.timeline = build_timeline(steps, channels)
    return scenario


def _check_times(start: dt.datetime | None, steps: list, bad) -> None:
    """At most a year in all, and a wall clock that the clock steps keep in the years every
    part of the agent takes (1971 to 9998: 1970 damages its store, the year 10000 is no date)."""
    total = sum(float(next(iter(_durations(step)), 0.0)) for step in steps)
    if total > MAX_SECONDS or start is None:
        if total > MAX_SECONDS:
            bad("steps", f"expected at most {MAX_SECONDS / 86400:g} days in all, got {total / 86400:.1f} days")
        return
    low_s, high_s = ((dt.datetime(*ymd) - start).total_seconds() for ymd in ((1971, 1, 2), (9998, 12, 30)))
    t = offset = 0.0
    for i, step in enumerate(steps):
        offset += float(step.get("clock_step", 0.0))
        t += float(next(iter(_durations(step)), 0.0))
        if not low_s <= t + offset <= high_s:
            bad(f"steps[{i}]", f"the wall clock would leave the years 1971 to 9998 here ({(t + offset) / 86400:+.0f} "
                               f"days from the start): a simulated day must be a day the agent can store")
            return


def _check_step(path: str, step: Any, channels: dict[str, str], bad) -> None:
    if not isinstance(step, dict) or not step:
        bad(path, f"expected a step object such as {{\"hold\": 60}}, {got(step)}")
        return
    kinds = [k for k in step if k in STEP_KINDS]
    if len(kinds) != 1:
        if not kinds:
            first = next(iter(step))
            bad(path, f"unknown step '{first}'{_did_you_mean(first, STEP_KINDS)}")
        else:
            bad(path, f"expected one kind of step, got {', '.join(kinds)}")
        return
    kind = kinds[0]
    for key in step:
        if key not in STEP_KEYS[kind]:
            bad(f"{path}.{key}", f"unknown key for a {kind} step{_did_you_mean(key, STEP_KEYS[kind])}")

    def seconds(p: str, v: Any, allow_negative: bool = False) -> None:
        if allow_negative:
            if not is_number(v) or abs(v) > MAX_CLOCK_STEP_S:
                bad(p, f"expected a number of seconds from {-MAX_CLOCK_STEP_S:.0f} to {MAX_CLOCK_STEP_S:.0f}, {got(v)}")
        elif not is_number(v) or not 0 <= v <= MAX_SECONDS:
            bad(p, f"expected seconds from 0 to {MAX_SECONDS:.0f} (a year), {got(v)}")

    def values(p: str, v: Any) -> None:
        if not isinstance(v, dict):
            bad(p, f"expected an object of channel values, {got(v)}")
            return
        for ch, x in v.items():
            if ch not in channels:
                bad(f"{p}.{ch}", f"unknown channel{_did_you_mean(ch, channels)}")
            elif not is_number(x) or abs(x) > MAX_VALUE:
                bad(f"{p}.{ch}", f"expected a number from {-MAX_VALUE:g} to {MAX_VALUE:g}, {got(x)}")

    if kind == "hold":
        seconds(f"{path}.hold", step["hold"])
        if "set" in step:
            values(f"{path}.set", step["set"])
    elif kind == "ramp":
        seconds(f"{path}.ramp", step["ramp"])
        if "to" not in step:
            bad(f"{path}.to", "missing (expected the values to ramp to)")
        else:
            values(f"{path}.to", step["to"])
    elif kind == "clock_step":
        seconds(f"{path}.clock_step", step["clock_step"], allow_negative=True)
    elif kind == "fault":
        f = step["fault"]
        if not isinstance(f, dict):
            bad(f"{path}.fault", f"expected an object with kind, channel and for, {got(f)}")
            return
        for key in f:
            if key not in ("kind", "channel", "for"):
                bad(f"{path}.fault.{key}", f"unknown key{_did_you_mean(key, ('kind', 'channel', 'for'))}")
        if f.get("kind") not in FAULT_KINDS:
            bad(f"{path}.fault.kind", f"expected one of {', '.join(FAULT_KINDS)}, {got(f.get('kind'))}")
        if f.get("channel") not in channels:
            bad(f"{path}.fault.channel", f"expected a configured channel, {got(f.get('channel'))}"
                f"{_did_you_mean(f.get('channel'), channels)}")
        seconds(f"{path}.fault.for", f.get("for"))
    elif kind == "power_cut":
        p = step["power_cut"]
        if not isinstance(p, dict) or set(p) != {"off"}:
            bad(f"{path}.power_cut", f"expected {{\"off\": SECONDS}}, {got(p)}")
        else:
            seconds(f"{path}.power_cut.off", p["off"])
    elif kind == "command":
        c = step["command"]
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"]:
            bad(f"{path}.command", f"expected {{\"name\": NAME, \"args\": {{...}}}}, {got(c)}")
        elif set(c) - {"name", "args"}:
            bad(f"{path}.command", f"unknown keys {sorted(set(c) - {'name', 'args'})}")
        elif "args" in c and not isinstance(c["args"], dict):
            bad(f"{path}.command.args", f"expected a JSON object, {got(c['args'])}")
        else:
            problem = _command_problem(c["name"], c.get("args", {}))
            if problem:
                bad(f"{path}.command", problem)


def _command_problem(name: str, args: dict) -> str | None:
    """What the agent would answer a scenario's command with, said at parse time (NaN,
    Infinity, a wrong type or an unknown argument never wait for the run): None if it is one."""
    from pi_agent.core.commands import MAX_PAYLOAD, CommandError, parse as parse_command
    try:
        size = len(json.dumps(args).encode("utf-8"))
    except (ValueError, TypeError, RecursionError):
        return "args: expected a JSON object the agent can take"
    if size > MAX_PAYLOAD:
        return f"args: expected at most {MAX_PAYLOAD} bytes of arguments, got {size}"
    try:
        parse_command(name, dict(args))
    except CommandError as exc:
        return str(exc)
    return None


def _durations(step: dict):
    """The seconds a (valid) step lets pass."""
    if "hold" in step:
        yield step["hold"]
    elif "ramp" in step:
        yield step["ramp"]
    elif "fault" in step:
        yield step["fault"]["for"]
    elif "power_cut" in step:
        yield step["power_cut"]["off"]


def build_timeline(steps: list[dict], channels: dict[str, str]) -> Timeline:
    points = {ch: ([0.0], [0.0]) for ch in channels}
    instants: list[Instant] = []
    faults: list[Fault] = []
    t = 0.0

    def hold_until(ch: str, when: float) -> None:
        """The channel kept its value up to ``when``."""
        times, values = points[ch]
        if times[-1] < when:
            times.append(when)
            values.append(values[-1])

    def jump(ch: str, when: float, value: float) -> None:
        hold_until(ch, when)
        times, values = points[ch]
        if len(times) > 1 and times[-2] == when:
            values[-1] = value          # a second jump at the same instant replaces the first
        else:
            times.append(when)
            values.append(value)

    for i, step in enumerate(steps):
        if "hold" in step:
            for ch, v in step.get("set", {}).items():
                jump(ch, t, float(v))
            t += float(step["hold"])
        elif "ramp" in step:
            s = float(step["ramp"])
            for ch, v in step["to"].items():
                hold_until(ch, t)          # the ramp starts from where the channel is now
                times, values = points[ch]
                times.append(t + s)
                values.append(float(v))
            t += s
        elif "clock_step" in step:
            instants.append(Instant(t, "clock_step", float(step["clock_step"]), i))
        elif "fault" in step:
            f = step["fault"]
            faults.append(Fault(t, t + float(f["for"]), f["kind"], f["channel"]))
            t += float(f["for"])
        elif "power_cut" in step:
            instants.append(Instant(t, "power_cut", float(step["power_cut"]["off"]), i))
            t += float(step["power_cut"]["off"])
        elif "command" in step:
            instants.append(Instant(t, "command", {"name": step["command"]["name"],
                                                   "args": step["command"].get("args", {})}, i))
    return Timeline(points, instants, faults, t)


def load(path: str | Path, channels: dict[str, str]) -> Scenario:
    """Read and validate a scenario file; ScenarioError lists every problem, one a line."""
    try:
        if not Path(path).is_file() and Path(path).exists():
            raise ScenarioError(f"{path}: not a regular file (a scenario is a JSON file)")
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ScenarioError(f"{path}: the scenario file is over {MAX_BYTES // 1_000_000} MB")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: scenario file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file: {exc}") from None
    try:
        data = jsontext.loads(text, object_pairs_hook=jsontext.unique_keys)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not valid JSON: {exc}") from None
    except jsontext.DuplicateKey as exc:
        raise ScenarioError(f"{path}: {exc} in one object (which one counts is not clear)") from None
    except jsontext.TooDeep:
        raise ScenarioError(f"{path}: not valid JSON: nested too deeply") from None
    except ValueError:                   # an integer of more digits than Python converts (4300)
        raise ScenarioError(f"{path}: not valid JSON: a number with more digits than any setting "
                            f"takes") from None
    return parse(data, channels, str(path))

