"""Commands: what the caregiver's tools, Home Assistant and scenarios may ask of the agent.

A command arrives as a name and a JSON payload (an object of arguments, at most 4 KiB,
with an optional ``transaction`` that the response echoes). Everything is validated
before anything changes: a bad command gets an error response and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pi_agent.config import Check, boolean, choice, number
from pi_agent.errors import InputError

MAX_PAYLOAD = 4096


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


SPECS: dict[str, dict[str, Arg]] = {
    "set_goal": {"hours": Arg(number(0, 24), "daily goal of hours in the open position", required=True)},
    "refresh": {},
}


def register(name: str, args: dict[str, Arg]) -> None:
    """Add a command (each subsystem registers its own)."""
    SPECS[name] = args


def parse(name: str, payload: bytes | str | dict | None) -> tuple[dict, Any]:
    """Validate a command: (arguments, transaction), or CommandError with one clear line."""
    transaction = None
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
    spec = SPECS.get(name)
    if spec is None:
        known = ", ".join(sorted(SPECS))
        raise CommandError(f"unknown command '{name}' (known: {known})", transaction)
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


__all__ = ["Arg", "CommandError", "MAX_PAYLOAD", "SPECS", "boolean", "choice", "error", "number", "ok", "parse",
           "register"]
