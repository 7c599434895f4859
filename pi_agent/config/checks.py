"""The value checks of the configuration schema.

A check takes a value as TOML gives it and returns ``(value, None)`` when it is valid, or
``(None, "expected ..., got ...")``: the second half of the one line a user reads. Each
check also says, as ``check.type``, the Python type of the values it lets through; the
typed configuration's fields are declared with it.
"""

from __future__ import annotations

import ipaddress
import math

import re
import zoneinfo
from typing import Any, Callable

from pi_agent.config.secrets import PASSWORD_ENV
from sensors.units import GAINS, is_number

Check = Callable[[Any], "tuple[Any, str | None]"]


SHOWN_CHARS = 40     # of a long value, this much is shown in its error line


def got(value: Any) -> str:
    """How a found value is shown, on one line: ``got 3``, ``got 'fast'``; a long one cut
    short with its length, a text with line breaks or control characters quoted as Python
    does (an integer too long to show by its number of digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 24:
        return f"got an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    return f"got {shown(value)}"


def shown(value: Any) -> str:
    """A value or a name as an error line quotes it: ``'fast'``, ``3``; cut short with its
    length when long, quoted as Python does when it holds control characters."""
    text = f"'{value}'" if isinstance(value, str) and value.isprintable() else repr(value)
    if len(text) > SHOWN_CHARS + 20:
        size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters as written"
        text = f"{text[:SHOWN_CHARS]}... ({size})"
    return text


_is_number = is_number


def _typed(check, type_: type) -> Check:
    check.type = type_
    return check


def number(lo: float | None = None, hi: float | None = None, *, integer: bool = False,
           lo_open: bool = False) -> Check:
    what = "a whole number" if integer else "a number"
    if lo is not None and hi is not None:
        what += f" from {lo:g} to {hi:g}" if not lo_open else f" above {lo:g} up to {hi:g}"
    elif lo is not None:
        what += f" above {lo:g}" if lo_open else f" of at least {lo:g}"

    def check(v):
        if not _is_number(v) or (integer and not isinstance(v, int)):
            return None, f"expected {what}, {got(v)}"
        if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi):
            return None, f"expected {what}, {got(v)}"
        return v, None
    check.what = what
    return _typed(check, int if integer else float)


def boolean(v):
    if isinstance(v, bool):
        return v, None
    return None, f"expected true or false, {got(v)}"


boolean.type = bool


def text(pattern: str | None = None, what: str = "a string") -> Check:
    def check(v):
        if not isinstance(v, str) or (pattern and v and not re.fullmatch(pattern, v)):
            return None, f"expected {what}, {got(v)}"
        return v, None
    return _typed(check, str)


# A file or folder the configuration names: a NUL cannot be in a path, and a name of spaces
# only, or with a space at either end, is a typo (it made a folder named " ").
PATH_NAME = text(r"[^\x00\s](?:[^\x00]*[^\x00\s])?", "a file or folder name with no NUL and no space at either end")


def choice(*options: Any) -> Check:
    types = {type(o) for o in options}

    def check(v):
        if v in options and type(v) in types:
            return v, None
        shown = ", ".join(repr(o) if isinstance(o, str) else str(o) for o in options)
        return None, f"expected one of {shown}, {got(v)}"
    return _typed(check, next(iter(types)) if len(types) == 1 else object)


def gain(v):
    if v == "2/3":
        return 2 / 3, None
    if _is_number(v) and v in GAINS and v != 2 / 3:
        return v, None
    found = got(v) if v != 2 / 3 else "got 0.667 (write it as \"2/3\")"
    return None, f"expected one of 2/3, 1, 2, 4, 8, 16, {found}"


gain.type = float


def timezone(v):
    if not isinstance(v, str):
        return None, f"expected an IANA time zone such as 'Europe/London', {got(v)}"
    if v == "":
        return v, None
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None, f"expected an IANA time zone such as 'Europe/London', {got(v)}"
    return v, None


timezone.type = str


def i2c_address(v):
    if isinstance(v, int) and not isinstance(v, bool) and 0x48 <= v <= 0x4B:
        return v, None
    return None, f"expected an ADS1115 address 0x48 to 0x4B (ADDR to GND, VDD, SDA, SCL), {got(v)}"


i2c_address.type = int


# The MQTT broker's URL: one parser for mqtt.broker, `run --broker` and `dashboard --broker`,
# so that check-config, run and the dashboard never disagree about one.
BROKER_FORM = "mqtt://host:port or mqtts://host:port"
BROKER_PORTS = {"mqtt": 1883, "mqtts": 8883}
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?")   # (a label: at most 63, as DNS says)


def broker_parts(url: Any) -> "tuple[tuple[str, str, int] | None, str | None]":
    """``mqtt://host:port`` or ``mqtts://host:port`` -> ``((scheme, host, port), None)``, or
    ``(None, "expected ..., got ...")``. The host is a name, an IPv4 address or an IPv6
    address in brackets (given back without them); the port 1 to 65535, by default 1883
    (8883 with TLS); a lone '/' may follow. A user name or password (they have keys of
    their own, and are never shown back), a path, a query or a fragment are refused."""
    if not isinstance(url, str):
        return None, f"expected {BROKER_FORM}, {got(url)}"
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in BROKER_PORTS:
        return None, f"expected {BROKER_FORM}, {got(url)}"
    if "@" in rest:
        hidden = f"{url[:len(scheme) + 3]}...@{rest.rpartition('@')[2]}"
        return None, (f"expected no user name or password in the URL (set mqtt.username, and the password in "
                      f"mqtt.password_file or ${PASSWORD_ENV}), {got(hidden)}")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if rest[len(authority):] not in ("", "/"):
        return None, f"expected nothing after the host and port but a lone '/' (no path, query or fragment), {got(url)}"
    if authority.startswith("["):
        host, bracket, port = authority[1:].partition("]")
        if not bracket or not _is_ipv6(host) or (port and not port.startswith(":")):
            return None, f"expected a host name, an IPv4 address or an IPv6 address in brackets ([::1]), {got(url)}"
        port = port[1:] if port else None
    else:
        host, colon, port = authority.partition(":")
        if not _is_host_name_or_ipv4(host):
            return None, f"expected a host name, an IPv4 address or an IPv6 address in brackets ([::1]), {got(url)}"
        port = port if colon else None
    if port is None:
        return (scheme, host.lower(), BROKER_PORTS[scheme]), None
    if not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535:
        return None, f"expected a port number from 1 to 65535, {got(url)}"
    return (scheme, host.lower(), int(port)), None


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return "%" not in text           # a zone (fe80::1%eth0): not in a URL


def _is_host_name_or_ipv4(text: str) -> bool:
    if re.fullmatch(r"[0-9.]+", text):            # all digits: an IPv4 address or nothing
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            return False
        return True
    return len(text) <= 253 and _HOST_NAME.fullmatch(text) is not None


def broker(v):
    """The check of mqtt.broker: a URL ``broker_parts`` takes, or empty (no MQTT)."""
    if v == "":
        return v, None
    _, problem = broker_parts(v)
    return (None, problem) if problem else (v, None)


broker.type = str
