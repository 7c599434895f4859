"""JSON from outside (MQTT messages, the dashboard's requests, scenario files), read with
a bound on its nesting.

``json.loads`` goes one level deeper in the stack for each level of nesting and stops at
the interpreter's recursion limit with a ``RecursionError``, in whichever thread reads
the text. That is too late: near the limit, anything else that runs in that thread (the
garbage collector runs an object's finaliser at any allocation) fails in turn, and its
error is printed as "unraisable" instead of handled. So the depth is measured first, on
the text itself, with no recursion, and deeper text is refused before it is parsed.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100          # far above any message or scenario of ours (they nest 5 or 6 deep)
# A JSON string, its brackets text and not nesting; one left open runs to the end of the
# text (so that every quote starts a match and the scan stays linear however the text ends).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class TooDeep(ValueError):
    """JSON text nested deeper than ``MAX_DEPTH``."""


def depth(text: str) -> int:
    """How deep the arrays and objects of JSON ``text`` nest (0: a bare value), in one pass."""
    deepest = level = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        if bracket in "[{":
            level += 1
            if level > deepest:
                deepest = level
        else:
            level -= 1
    return deepest


def loads(text: str | bytes, **kwargs) -> Any:
    """``json.loads(text, **kwargs)``, or ``TooDeep`` for text nested over ``MAX_DEPTH``.
    Bytes must be UTF-8, as JSON between systems is (RFC 8259, 8.1) and as the agent reads
    its requests and scenarios: they are decoded first, so that the depth measured is the
    depth of the text parsed; bytes that do not decode (UTF-16 or 32 among them, as
    ``json.loads`` alone would take) raise ``UnicodeDecodeError`` (a ``ValueError``)."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    if depth(text) > MAX_DEPTH:
        raise TooDeep(f"JSON nested more than {MAX_DEPTH} deep")
    try:
        return json.loads(text, **kwargs)
    except RecursionError:           # cannot happen at this depth; never let it out if it does
        raise TooDeep(f"JSON nested more than {MAX_DEPTH} deep") from None


class DuplicateKey(ValueError):
    """A JSON object that gives one key twice."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """For ``object_pairs_hook``: an object that gives a key twice is refused (``DuplicateKey``).
    JSON leaves it to the reader, and readers differ: Python's keeps the last, others the first,
    so the same request could mean two things to two programs."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise DuplicateKey(f"the key {twice[:40]!r} is given twice")
    return out


def no_constant(name: str) -> Any:
    """For ``parse_constant``: NaN, Infinity and -Infinity, which Python's JSON takes and
    JSON itself does not, are refused (a ``ValueError``)."""
    raise ValueError(f"{name} is not a number JSON allows")


def finite_float(text: str) -> float:
    """For ``parse_float``: a number too large for a float (``1e999``, which Python reads as
    infinity) is refused (a ``ValueError``)."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is too large for a number")
    return value
