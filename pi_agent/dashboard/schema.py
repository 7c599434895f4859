"""What the dashboard accepts from a device, topic by topic: the shape of the payloads
that the agent publishes (``pi_agent.render.state_payload`` and ``load_payload``, the
``day/<date>`` summaries of ``report_day``, the events), written once, here.

Every message is read through :func:`read` before anything of it reaches the page. A
message that does not fit raises :class:`Unreadable` with one line that names the key,
what was expected and what came; the fleet then marks that one device's card. What is
accepted comes back cleaned: keys the schema does not know (a newer agent's) are left
out, so the page only ever sees values of the types written here. Keys that newer agents
add and the card shows (spasms, skin-pressure alerts, repetitions) are optional.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any, Callable

from pi_agent.core import jsontext
from pi_agent.core.days import FIRST_YEAR, LAST_YEAR, YYYY_MM_DD

__all__ = ["Unreadable", "read", "STATE", "LOAD", "DAY", "EVENT", "RESPONSE", "MAX_PAYLOAD", "DEVICE"]

MAX_PAYLOAD = 64 * 1024          # bytes: far above any real message, and a bound on memory
DEVICE = re.compile(r"[A-Za-z0-9_-]{1,64}")   # a device id, as the agent's configuration allows


class Unreadable(ValueError):
    """A message that does not fit its schema (one line: where, expected, got)."""


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, (bytes, bytearray)) else repr(bytes(value))
    return text if len(text) <= 40 else text[:37] + "..."


def _fail(path: str, expected: str, value: Any) -> Unreadable:
    return Unreadable(f"{path or 'the message'}: expected {expected}, got {_shown(value)}")


# -- the pieces a schema is made of: each checks a value at ``path`` and returns it cleaned --
Spec = Callable[[Any, str], Any]


def number(low: float = -math.inf, high: float = math.inf) -> Spec:
    def check(value: Any, path: str) -> float:
        try:
            finite = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        except OverflowError:        # an int too large for a float
            finite = False
        if not finite:
            raise _fail(path, "a number", value)
        if not low <= value <= high:
            raise _fail(path, f"a number from {low:g} to {high:g}", value)
        return value
    return check


def text(max_len: int = 200) -> Spec:
    def check(value: Any, path: str) -> str:
        if not isinstance(value, str) or len(value) > max_len:
            raise _fail(path, f"a text of at most {max_len} characters", value)
        return value
    return check


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, "true or false", value)
    return value


def one_of(*choices: str) -> Spec:
    def check(value: Any, path: str) -> str:
        if value not in choices:
            raise _fail(path, " or ".join(repr(c) for c in choices), value)
        return value
    return check


def time(value: Any, path: str) -> str:
    """An ISO 8601 date and time with its UTC offset, as the agent writes them."""
    try:
        if isinstance(value, str) and len(value) <= 40 and dt.datetime.fromisoformat(value).tzinfo is not None:
            return value
    except ValueError:
        pass
    raise _fail(path, "a date and time with its offset (2026-05-01T10:00:00+02:00)", value)


def date(value: Any, path: str) -> str:
    """A local day, YYYY-MM-DD, in the years every part of the agent takes (FIRST_YEAR to
    LAST_YEAR), so that a report's period, and the day on either side of it, stays in the calendar."""
    try:
        if isinstance(value, str) and YYYY_MM_DD.fullmatch(value) \
                and FIRST_YEAR <= dt.date.fromisoformat(value).year <= LAST_YEAR:
            return value
    except ValueError:
        pass
    raise _fail(path, f"a date from {FIRST_YEAR} to {LAST_YEAR} (2026-05-01)", value)


def maybe(spec: Spec) -> Spec:
    def check(value: Any, path: str) -> Any:
        return None if value is None else spec(value, path)
    return check


def obj(required: dict[str, Spec], optional: dict[str, Spec] | None = None, *, may_be_empty: bool = False) -> Spec:
    """A JSON object with these keys (others are dropped); ``may_be_empty``: {} also fits."""
    optional = optional or {}

    def check(value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        if may_be_empty and not value:
            return {}
        out = {}
        for key, spec in required.items():
            where = f"{path}.{key}" if path else key
            if key not in value:
                raise Unreadable(f"{where}: missing")
            out[key] = spec(value[key], where)
        for key, spec in optional.items():
            if key in value:
                out[key] = spec(value[key], f"{path}.{key}" if path else key)
        return out
    return check


def list_of(spec: Spec, max_len: int) -> Spec:
    def check(value: Any, path: str) -> list:
        if not isinstance(value, list) or len(value) > max_len:
            raise _fail(path, f"a list of at most {max_len}", value)
        return [spec(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return check


def band(value: Any, path: str) -> list[float]:
    """The target band, [low, high] in newtons."""
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(path, "[low, high]", value)
    low, high = (number(0)(v, f"{path}[{i}]") for i, v in enumerate(value))
    if low > high:
        raise _fail(path, "[low, high] with low <= high", value)
    return [low, high]


def names_to(spec: Spec, max_len: int = 32) -> Spec:
    """An object of channel names (as the configuration allows them) to values."""
    def check(value: Any, path: str) -> dict:
        if not isinstance(value, dict) or len(value) > max_len:
            raise _fail(path, f"an object of at most {max_len} names", value)
        out = {}
        for key, v in value.items():
            if not DEVICE.fullmatch(key):
                raise _fail(path, "names of letters, digits, _ and -", key)
            out[key] = spec(v, f"{path}.{key}")
        return out
    return check


# -- the payloads ----------------------------------------------------------------------------
SECONDS = number(0, 400 * 86400)      # a duration; a day's can exceed 24 h only by DST's hour
COUNT = number(0, 1e9)
NEWTONS = number(-1e4, 1e4)

WEIGHT_BEARING_DAY = obj(
    {"sessions": COUNT, "total_s": SECONDS, "in_target_s": SECONDS, "mean_n": NEWTONS, "peak_n": NEWTONS},
    {"fingers_s": SECONDS, "load_ns": number(-1e12, 1e12), "reps": COUNT})

DAY_TOTALS = {"worn_s": SECONDS, "open_s": SECONDS, "weight_bearing": WEIGHT_BEARING_DAY, "vibration_s": SECONDS}
DAY_EXTRA = {"goal_s": SECONDS, "goal_pct": number(0, 1e6), "unknown_s": SECONDS, "open_bouts": COUNT,
             "longest_bout_s": SECONDS, "long_bouts": COUNT,
             # clinical signals and exercise (newer agents)
             "spasms": COUNT, "spasm_s": SECONDS, "pressure_alerts": COUNT, "high_pressure_s": SECONDS,
             "extension_reps": COUNT, "exercise_s": SECONDS,
             "vibration_unconfirmed_s": SECONDS}      # of vibration_s: after an interrupted therapy

DAY = obj({"date": date, **DAY_TOTALS}, {**DAY_EXTRA, "final": boolean})
"""``day/<date>``: one local day's totals (``final`` once the day is over)."""

STATE = obj({
    "time": time,
    "position": one_of("open", "closed", "off", "unknown"),
    "worn": boolean,
    "position_since": maybe(time),
    "channels": names_to(maybe(number(-1e5, 1e5))),
    "load_n": maybe(NEWTONS),
    "load_kg": maybe(number(-1e3, 1e3)),
    "weight_bearing": obj({"active": boolean, "in_band": maybe(boolean), "band_n": maybe(band)},
                          {"reps": maybe(COUNT), "reps_goal": COUNT}),
    "today": obj(DAY_TOTALS, DAY_EXTRA, may_be_empty=True),
    "goal_h": number(0, 24),
    "targets": obj({"low": number(), "high": number(), "unit": text(40)}),
    "therapy": obj({"running": boolean, "level": maybe(text(40)), "until": maybe(time)}),
    "faults": list_of(obj({"channel": text(64), "kind": text(64), "text": text(200)}), 32),
}, {
    # the exercise session and its live count (newer agents)
    "exercise": obj({"active": boolean}, {"reps": maybe(COUNT), "since": maybe(time), "until": maybe(time),
                                          "today_reps": COUNT, "goal_reps": maybe(COUNT),
                                          "goal_pct": maybe(number(0, 1e6))}),
    # the IANA zone the monitor's times are local to (newer agents)
    "zone": maybe(text(64)),
    # what is going on now (newer agents): a spasm, high pressure under the palm
    "spasm": obj({"active": boolean, "since": maybe(time)}),
    "pressure": obj({"high": boolean, "since": maybe(time)}),
})
"""``state``: the agent's snapshot (``pi_agent.render.state_payload``)."""

LOAD = obj({"ts": number(0), "load_n": NEWTONS, "in_band": maybe(boolean), "session": boolean},
           {"fingers_share": maybe(number(0, 1))})
"""``load``: the live load during weight bearing (``pi_agent.render.load_payload``)."""

RESPONSE = obj({"status": one_of("ok", "error")}, {"transaction": maybe(text(64)), "error": text(300)})
"""``response/<command>``: a device's answer to a request (``exercise_start`` and
``exercise_stop`` are the ones the dashboard sends, and reads the answers of)."""

EVENT_ID = text(64)
EVENT = obj({"id": EVENT_ID, "type": text(40), "time": time})
"""``event``: every event has an id (retries repeat it), a type and a time."""

EVENTS = {
    "wb_session": obj({"id": EVENT_ID, "type": text(40), "time": time, "day": date, "duration_s": SECONDS,
                       "mean_n": NEWTONS, "peak_n": NEWTONS, "in_target_s": SECONDS},
                      {"target_n": band, "reps": COUNT}),
    "alert": obj({"id": EVENT_ID, "type": text(40), "time": time, "reason": text(64), "text": text(300)}),
}
"""The events the card shows, in full; any other type needs only the envelope."""


def _json(payload: bytes) -> Any:
    if len(payload) > MAX_PAYLOAD:
        raise Unreadable(f"the message: expected at most {MAX_PAYLOAD} bytes, got {len(payload)}")
    try:
        return jsontext.loads(payload, parse_constant=jsontext.no_constant)
    except jsontext.TooDeep:
        raise Unreadable("the message: expected JSON, got JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unreadable(f"the message: expected JSON, got {_shown(payload)} ({exc})") from None


def read(kind: str, payload: bytes, day: str | None = None) -> Any:
    """The message on topic ``kind`` ('status', 'state', 'load', 'day', 'event', 'response'), checked
    and cleaned; ``day``: the date in a ``day/<date>`` topic. Raises Unreadable."""
    if kind == "status":
        if payload not in (b"online", b"offline"):
            raise _fail("status", "'online' or 'offline'", payload)
        return payload.decode()
    value = _json(payload)
    if kind == "state":
        return STATE(value, "")
    if kind == "load":
        return LOAD(value, "")
    if kind == "day":
        date(day, "the topic's date")
        record = DAY(value, "")
        if record["date"] != day:
            raise _fail("date", f"the topic's date {day}", record["date"])
        return record
    if kind == "event":
        event = EVENT(value, "")
        spec = EVENTS.get(event["type"])
        return spec(value, "") if spec else event
    if kind == "response":
        return RESPONSE(value, "")
    raise Unreadable(f"the topic: expected status, state, load, day/<date>, event or response, got {kind!r}")
