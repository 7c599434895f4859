"""Commands: what the caregiver's tools, Home Assistant, the button and scenarios may ask.

A command arrives as a name and a JSON payload (an object of arguments, at most 4 KiB,
with an optional ``transaction`` that the response echoes). Everything is validated
before anything changes: a bad command gets an error response and changes nothing.
Each command is its argument spec and its handler, side by side, below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from pi_agent import therapy
from pi_agent.config import Check, choice, number
from pi_agent.errors import InputError

MAX_PAYLOAD = 4096
PENDING = object()      # a handler's answer when the response comes later (tare)


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
    handler: Callable      # (agent, args, done) -> data, or PENDING and later done(response)
    doc: str


def parse(name: str, payload: bytes | str | dict | None) -> tuple[dict, Any]:
    """Validate a command: (arguments, transaction), or CommandError with one clear line."""
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
            payload = {}
        else:
            try:
                payload = json.loads(payload)
            except (json.JSONDecodeError, RecursionError):
                raise CommandError("payload is not valid JSON") from None
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise CommandError(f"expected a JSON object of arguments, got {type(payload).__name__}")
    transaction = payload.get("transaction")
    if transaction is not None and (not isinstance(transaction, (str, int)) or isinstance(transaction, bool)
                                    or len(str(transaction)) > 128):
        raise CommandError("transaction: expected a string or a whole number (at most 128 characters)")
    command = COMMANDS.get(name)
    if command is None:
        raise CommandError(f"unknown command '{name}' (known: {', '.join(sorted(COMMANDS))})", transaction)
    spec = command.args
    args = {}
    for key, value in payload.items():
        if key == "transaction":
            continue
        arg = spec.get(key)
        if arg is None:
            raise CommandError(f"{name}: unknown argument '{key}'" +
                               (f" (expected {', '.join(spec)})" if spec else " (it takes none)"), transaction)
        checked, problem = arg.check(value)
        if problem:
            raise CommandError(f"{name}.{key}: {problem}", transaction)
        args[key] = checked
    for key, arg in spec.items():
        if arg.required and key not in args:
            raise CommandError(f"{name}.{key}: missing ({arg.doc})", transaction)
    return args, transaction


def ok(transaction: Any, data: Any = None) -> dict:
    return {"status": "ok", "transaction": transaction, "data": data if data is not None else {}}


def error(transaction: Any, message: str) -> dict:
    return {"status": "error", "transaction": transaction, "error": message}


# -- the commands ---------------------------------------------------------------------------
def _set_goal(agent, args, _done):
    agent.core.set_goal(args["hours"] * 3600.0)
    agent.save_settings()
    return {"goal_h": args["hours"]}


def _set_targets(agent, args, _done):
    current = agent.core.targets
    unit = args.get("unit", current["unit"])
    if "low" not in args and "high" not in args:
        raise CommandError("set_targets: expected low, high or both")
    args = {"low": current["low"], "high": current["high"], **args}
    if args["low"] >= args["high"]:
        raise CommandError(f"set_targets.low: expected less than high ({args['high']:g}), got {args['low']:g}")
    if unit != "N" and args["high"] > 100:
        raise CommandError(f"set_targets.high: expected at most 100 (%), got {args['high']:g}")
    old = dict(agent.core.targets)
    agent.core.set_targets(args["low"], args["high"], unit)
    band = agent.core.band()
    if band is None:
        agent.core.set_targets(**old)
        need = ("the body weight (weight_bearing.body_weight_kg)" if unit == "percent_body_weight"
                else "a maximum push (pi-agent calibrate pad)")
        raise CommandError(f"set_targets.unit: '{unit}' needs {need}, which is not set")
    agent.save_settings()
    return {"low_n": round(band.low_n, 1), "high_n": round(band.high_n, 1), "unit": unit}


def _identify(agent, _args, _done):
    agent.cue("long_buzz", "identify")
    return {}


def _refresh(agent, _args, _done):
    agent.refresh()
    return {}


def _tare(agent, _args, done):
    agent.start_tare(done)
    return PENDING


def _vibration_start(agent, args, _done):
    level = args.get("level", agent.cfg.therapy.protocol_level)
    if "minutes" in args:
        plan = therapy.single(level, args["minutes"], "command")
    else:
        plan = agent.protocol_plan(level, "command")
    return agent.start_therapy(plan)


def _vibration_stop(agent, _args, _done):
    return agent.stop_therapy("stopped")


COMMANDS: dict[str, Command] = {
    "set_goal": Command({"hours": Arg(number(0, 24), "daily goal of hours in the open position", required=True)},
                        _set_goal, "set the daily goal of open hours"),
    "set_targets": Command({
        "low": Arg(number(0, 2000), "bottom of the target band"),
        "high": Arg(number(0, 2000, lo_open=True), "top of the target band"),
        "unit": Arg(choice("N", "percent_body_weight", "percent_max_push"),
                    "'N', 'percent_body_weight' or 'percent_max_push'"),
    }, _set_targets, "set the weight-bearing target band"),
    "identify": Command({}, _identify, "a long buzz, to find the device"),
    "refresh": Command({}, _refresh, "publish everything again"),
    "tare": Command({}, _tare, "zero the empty pad"),
    "vibration_start": Command({
        "level": Arg(choice(*therapy.LEVELS), "'low' or 'high'"),
        "minutes": Arg(number(0, 24 * 60, lo_open=True), "minutes of vibration; without it, the configured protocol"),
    }, _vibration_start, "start vibration therapy"),
    "vibration_stop": Command({}, _vibration_stop, "stop vibration therapy"),
}
