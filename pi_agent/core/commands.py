"""Commands: what the caregiver's tools, Home Assistant, the button and scenarios may ask.

A command arrives as a name and a JSON payload (an object of arguments, at most 4 KiB,
with an optional ``transaction`` that the response echoes). Everything is validated
before anything changes: a bad command gets an error response and changes nothing.
Each command is its argument spec below; the core runs them (``Core.command``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Callable

import pi_agent.core.exercise as exercise
from pi_agent.core import jsontext
import pi_agent.core.orders as orders
from pi_agent.core.orders import Out
import pi_agent.core.therapy as therapy
from pi_agent.core.days import FIRST_YEAR, LAST_YEAR, YYYY_MM_DD
from pi_agent.core.events import Event
from pi_agent.core.snapshot import Targets
from pi_agent.core.tare import TareJob
from pi_agent.config import GOAL_HOURS, Check, choice, number
from pi_agent.config.checks import got, is_number, shown
from pi_agent.errors import InputError

MAX_PAYLOAD = 4096
MAX_REPORT_DAYS = 93      # a quarter: one answer stays well under a broker's message limits
TARGET_UNITS = ("N", "percent_body_weight", "percent_max_push")


class CommandError(InputError):
    """A command that cannot be run; ``transaction`` is echoed in the error response."""

    def __init__(self, message: str, transaction: Any = None):
        super().__init__(message)
        self.transaction = transaction


@dataclass(frozen=True)
class Arg:
    check: Check
    doc: str
    required: bool = False


@dataclass(frozen=True)
class Command:
    args: dict[str, Arg]
    handler: Callable      # (core, args, transaction, t, wall, out) -> data, or None: answered later
    doc: str


def _not_a_number(constant: str):
    raise ValueError(f"payload has {constant}, which is not a number JSON allows")


def parse(name: str, payload: bytes | str | dict | None) -> tuple[dict, Any]:
    """Validate a command: (arguments, transaction), or CommandError with one clear line."""
    if payload is None:
        raise CommandError("empty payload: ignored")
    if isinstance(payload, (bytes, bytearray)):
        if len(payload) > MAX_PAYLOAD:
            raise CommandError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD}-byte limit")
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError("payload is not UTF-8 text") from None
    if isinstance(payload, str):
        if len(payload.encode("utf-8")) > MAX_PAYLOAD:
            raise CommandError(f"payload is over the {MAX_PAYLOAD}-byte limit")
        if not payload.strip():
            raise CommandError("empty payload: ignored (an empty message is how a retained request is "
                               "deleted; send {} for a command without arguments)")
        try:
            payload = jsontext.loads(payload, parse_constant=_not_a_number, object_pairs_hook=jsontext.unique_keys)
        except json.JSONDecodeError:
            raise CommandError("payload is not valid JSON") from None
        except jsontext.TooDeep:
            raise CommandError(f"payload is nested too deeply (more than {jsontext.MAX_DEPTH} levels)") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    if not isinstance(payload, dict):
        raise CommandError(f"expected a JSON object of arguments, got {'null' if payload is None else type(payload).__name__}")
    transaction = payload.get("transaction")
    if transaction is not None and (not isinstance(transaction, (str, int)) or isinstance(transaction, bool)
                                    or len(str(transaction)) > 128):
        raise CommandError("transaction: expected a string or a whole number (at most 128 characters)")
    command = COMMANDS.get(name)
    if command is None:
        raise CommandError(f"unknown command {shown(name)} (known: {', '.join(sorted(COMMANDS))})", transaction)
    spec = command.args
    args = {}
    for key, value in payload.items():
        if key == "transaction":
            continue
        arg = spec.get(key)
        if arg is None:
            raise CommandError(f"{name}: unknown argument {shown(key)}" +
                               (f" (expected {', '.join(spec)})" if spec else " (it takes none)"), transaction)
        checked, problem = arg.check(value)
        if problem:
            raise CommandError(f"{name}.{key}: {problem}", transaction)
        args[key] = checked
    for key, arg in spec.items():
        if arg.required and key not in args:
            raise CommandError(f"{name}.{key}: missing ({arg.doc})", transaction)
    return args, transaction


def run(core, name: str, payload: Any, t: float, wall: float, out: Out) -> None:
    """Validate a command and run its handler on the core; the response goes to ``out``
    (a tare's later, when the tare ends). Bad input never raises: it gets an error."""
    transaction = None
    try:
        args, transaction = parse(name, payload)
        data = COMMANDS[name].handler(core, args, transaction, t, wall, out)
    except CommandError as exc:
        respond(out, name, exc.transaction if transaction is None else transaction, t, wall, error=str(exc))
        return
    if data is not None:
        respond(out, name, transaction, t, wall, data=data)


def tare_readings(core, readings, t: float, out: Out) -> None:
    """The pad's readings while a tare runs; when it ends, the tare to save, or the
    command's error response."""
    job = core.tare
    problem = job.feed(readings, core.load())
    if problem is None and t < job.t_end:
        return
    core.tare = None
    tares = None
    if problem is None:
        wb = core.cfg.weight_bearing
        tares, problem = job.result(wb.tare_max_sd_n, wb.wake_n)
    if problem is not None:
        respond(out, "tare", job.transaction, t, core.wall, error=problem)
    else:
        out.orders.append(orders.SaveTare(tares, job.transaction))


def settings_record(core) -> orders.Checkpoint:
    """The settings set by command, to store (they outlive a restart)."""
    t = core.targets
    return orders.Checkpoint({}, (), {"settings": {"goal_s": core.ledger.goal_s,
                                                   "targets": {"low": t.low, "high": t.high, "unit": t.unit}}})


def stored_settings(raw: Any) -> tuple[dict, list[str]]:
    """The settings the store kept (``settings_record``), each checked as the command that
    set it checks it: (the good ones, one phrase per damaged one). A damaged setting is
    left out, so the configuration's value holds; it never stops the agent."""
    if not isinstance(raw, dict):
        return {}, [] if raw is None else [f"settings are {type(raw).__name__}, not an object"]
    good, bad = {}, []
    if "goal_s" in raw:
        try:
            hours = raw["goal_s"] / 3600.0 if isinstance(raw["goal_s"], (int, float)) else raw["goal_s"]
            parse("set_goal", {"hours": hours})
            good["goal_s"] = float(raw["goal_s"])
        except (CommandError, OverflowError) as exc:
            bad.append(f"goal_s ({exc})")
    if "targets" in raw:
        t = raw["targets"]
        try:
            if not isinstance(t, dict) or set(t) != {"low", "high", "unit"}:
                raise CommandError("expected low, high and unit")
            args, _ = parse("set_targets", t)
            if args["low"] >= args["high"]:
                raise CommandError("low is not below high")
            good["targets"] = args
        except CommandError as exc:
            bad.append(f"targets ({exc})")
    return good, bad


def respond(out: Out, name: str, transaction: Any, t: float, wall: float, *,
            data: dict | None = None, error: str | None = None) -> None:
    """A command's response, and its ``command`` event."""
    response = orders.Response(name, transaction, "error" if error else "ok", data, error)
    info = {"name": name, "status": response.status, "transaction": transaction}
    if error:
        info["error"] = error
    out.events.append(Event("command", t, wall, info))
    out.orders.append(response)


def date(v):
    """A local date written YYYY-MM-DD (as the store keys days), in the years
    ``pi-agent report`` takes (its --from and --to: one bound for both)."""
    if isinstance(v, str) and YYYY_MM_DD.fullmatch(v):   # (not 2026-W18-1)
        try:
            day = dt.date.fromisoformat(v)
        except ValueError:
            pass
        else:
            if FIRST_YEAR <= day.year <= LAST_YEAR:
                return day, None
            return None, f"expected a date from {FIRST_YEAR} to {LAST_YEAR}, {got(v)}"
    return None, f"expected a date as YYYY-MM-DD, {got(v)}"


date.type = dt.date


# -- the handlers: the core calls them with itself, in its own thread of control ------------
def _set_goal(core, args, _tx, t, wall, out) -> dict:
    core.ledger.goal_s = args["hours"] * 3600.0
    if core.wall:
        core.ledger.day(core.ledger.day_of(core.wall)).goal_s = core.ledger.goal_s
    out.orders.append(settings_record(core))
    return {"goal_h": args["hours"]}


def _set_targets(core, args, _tx, t, wall, out) -> dict:
    current = core.targets
    if "low" not in args and "high" not in args:
        raise CommandError("set_targets: expected low, high or both")
    new = Targets(args.get("low", current.low), args.get("high", current.high), args.get("unit", current.unit))
    if new.low >= new.high:
        raise CommandError(f"set_targets.low: expected less than high ({new.high:g}), got {new.low:g}")
    if new.unit != "N" and new.high > 100:
        raise CommandError(f"set_targets.high: expected at most 100 (%), got {new.high:g}")
    band = core.band_of(new)
    if band is None:
        need = ("the body weight (weight_bearing.body_weight_kg)" if new.unit == "percent_body_weight"
                else "a maximum push (pi-agent calibrate pad)")
        raise CommandError(f"set_targets.unit: '{new.unit}' needs {need}, which is not set")
    core.targets = new
    core.wb.band = band
    out.orders.append(settings_record(core))
    return {"low_n": round(band.low_n, 1), "high_n": round(band.high_n, 1), "unit": new.unit}


def _identify(core, _args, _tx, t, wall, out) -> dict:
    core.cue_event(Event("haptic", t, wall, {"pattern": "long_buzz", "reason": "identify"}), out)
    return {}


def _refresh(core, _args, _tx, t, wall, out) -> dict:
    out.orders.append(orders.Republish())
    return {}


def _tare(core, _args, transaction, t, wall, out) -> None:
    if not core.has_pad:
        raise CommandError("tare: this configuration has no pad")
    if core.tare is not None:
        raise CommandError("tare: a tare is already running")
    if core.wb.session is not None:
        raise CommandError("tare: a weight-bearing session is running; take everything off the pad first")
    core.tare = TareJob(core.pad_channels, t + core.cfg.weight_bearing.tare_s, transaction)
    return None                       # answered when the tare ends


def _vibration_start(core, args, _tx, t, wall, out) -> dict:
    level = args.get("level", core.cfg.therapy.protocol_level)
    if "minutes" in args:
        if args["minutes"] * 60 < therapy.MIN_DOSE_S:
            raise CommandError(f"vibration_start.minutes: expected at least 1 second ({1 / 60:.4f} minutes), "
                               f"got {args['minutes']:g}")
        plan = therapy.single(level, args["minutes"], "command")
    else:
        plan = core.protocol("command", level)
    try:
        return core.therapy.start(plan, t, wall, out)
    except therapy.Refused as exc:
        raise CommandError(f"vibration_start refused: {exc}") from None


def _vibration_stop(core, _args, _tx, t, wall, out) -> dict:
    if core.therapy.running is None:
        raise CommandError("vibration_stop: no vibration therapy is running")
    return {"delivered_min": round(core.therapy.stop(t, wall, "stopped", out) / 60, 2)}


def _report(core, args, transaction, t, wall, out) -> None:
    first, last = args["from"], args["to"]
    if last < first:
        raise CommandError(f"report.to: expected a date on or after from ({first.isoformat()}), "
                           f"got '{last.isoformat()}'")
    days = (last - first).days + 1
    if days > MAX_REPORT_DAYS:
        raise CommandError(f"report: expected at most {MAX_REPORT_DAYS} days from 'from' to 'to', got {days}; "
                           f"ask for a longer period in parts")
    a, b = first.isoformat(), last.isoformat()
    live = {name: day for name, day in core.days().items() if a <= name <= b}
    out.orders.append(orders.ReportRequest(a, b, transaction, live))
    return None                       # answered by the agent, from its store


def _minutes(v):
    """A duration in minutes: finite, at least one second."""
    if is_number(v) and v * 60.0 >= exercise.MIN_SESSION_S:
        return v, None
    return None, f"expected a number of minutes of at least {exercise.MIN_SESSION_S / 60:.4g} (one second), " \
                 f"{got(v)}"


def _exercise_start(core, args, _tx, t, wall, out) -> dict:
    limit = core.cfg.exercise.max_min
    minutes = args.get("minutes", limit)
    problem = core.exercise.refusal()
    if problem:
        raise CommandError(f"exercise_start refused: {problem}")
    data = core.exercise.start(minutes * 60.0, "command", t, wall, out)
    if minutes > limit:
        data["cut"] = f"{minutes:g} minutes asked, cut to the maximum of {limit:g} (exercise.max_min)"
    return data


def _exercise_stop(core, _args, _tx, t, wall, out) -> dict:
    if not core.exercise.running:
        raise CommandError("exercise_stop: no exercise session is running")
    summary = core.exercise.stop(t, wall, "stopped", out)
    return {"repetitions": summary["repetitions"], "minutes": round(summary["duration_s"] / 60, 2)}


# -- the commands --------------------------------------------------------------------------
COMMANDS: dict[str, Command] = {
    "set_goal": Command({"hours": Arg(GOAL_HOURS, "daily goal of hours in the open position", required=True)},
                        _set_goal, "set the daily goal of open hours"),
    "set_targets": Command({
        "low": Arg(number(0, 2000), "bottom of the target band"),
        "high": Arg(number(0, 2000, lo_open=True), "top of the target band"),
        "unit": Arg(choice(*TARGET_UNITS), "'N', 'percent_body_weight' or 'percent_max_push'"),
    }, _set_targets, "set the weight-bearing target band"),
    "identify": Command({}, _identify, "a long buzz, to find the device"),
    "refresh": Command({}, _refresh, "publish everything again"),
    "tare": Command({}, _tare, "zero the empty pad"),
    "vibration_start": Command({
        "level": Arg(choice(*therapy.LEVELS), "'low' or 'high'"),
        "minutes": Arg(number(0, 24 * 60, lo_open=True), "minutes of vibration; without it, the configured protocol"),
    }, _vibration_start, "start vibration therapy"),
    "vibration_stop": Command({}, _vibration_stop, "stop vibration therapy"),
    "report": Command({
        "from": Arg(date, "first local day, YYYY-MM-DD", required=True),
        "to": Arg(date, f"last local day, YYYY-MM-DD (at most {MAX_REPORT_DAYS} days in all)", required=True),
    }, _report, "the daily totals of a period, as pi-agent simulate --report json gives them"),
    "exercise_start": Command({
        "minutes": Arg(_minutes, "minutes of exercise (at most exercise.max_min, the default)"),
    }, _exercise_start, "start an exercise session: active finger extensions are counted and rewarded"),
    "exercise_stop": Command({}, _exercise_stop, "stop the exercise session"),
}
