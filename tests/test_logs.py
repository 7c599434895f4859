"""Logs: one line per event, whatever a message's arguments hold."""

from __future__ import annotations

import io
import logging
import re
import zoneinfo

import pytest

from conftest import JournalStream
from pi_agent import logs
from pi_agent.core import commands

FORGED = "2026-04-15 10:00:00 ERROR pi_agent.motor: FAKE motor stuck on"


@pytest.fixture(params=["plain", "clock", "journal"])
def logged(request, monkeypatch, tmp_path):
    """What the real logging setup writes, in each of its three formatters."""
    stream = io.StringIO()
    if request.param == "journal":
        stream = JournalStream(tmp_path / "journal")
        monkeypatch.setenv("JOURNAL_STREAM", stream.journal_env())
    else:
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    logs.setup("INFO", stream)
    if request.param == "clock":
        logs.use_clock(lambda: 1776240000.0, zoneinfo.ZoneInfo("Europe/Amsterdam"))
    yield stream, request.param
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    logs.setup("WARNING")


def _answer_line(name: str, payload: bytes) -> str:
    """The agent's own log call for a refused command (agent.py), with the error it gets."""
    with pytest.raises(commands.CommandError) as info:
        commands.parse(name, payload)
    logging.getLogger("pi_agent").warning("command %s: %s", name, info.value)
    return str(info.value)


@pytest.mark.parametrize("name, payload", [
    ("identify", ('{"a\\n' + FORGED + '": 1}').encode()),
    ("identify", ('{"a\\r' + FORGED + '": 1}').encode()),
    ("identify", ('{"a\\u2028' + FORGED + '\\u0085x\\u001b[2K\\t": 1}').encode()),
    ("set_targets", ('{"unit": "N\\n' + FORGED + '"}').encode()),
])
def test_a_forged_line_in_an_mqtt_argument_stays_inside_its_own_line(logged, name, payload):
    """An argument name carrying a newline (or CR, U+2028, NEL, ESC) and a fake ERROR line
    is written as one WARNING line, its control characters escaped as repr escapes them."""
    stream, kind = logged
    error = _answer_line(name, payload)
    text = stream.getvalue()
    assert text.count("\n") == 1 and len(text.splitlines()) == 1, text
    assert FORGED[:30] in text and not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", text)   # (a long value is cut)
    assert (error if error.isprintable() else repr(error)[1:-1].replace("\\'", "'")) in text   # (a value already quoted)
    assert text.startswith("<4>pi_agent: " if kind == "journal" else ("2026-04-15 " if kind == "clock" else "20"))


def test_a_huge_name_is_logged_cut_short_on_its_one_line(logged):
    """A 40,000-character MQTT command name (the topic has no size bound but MQTT's):
    its log line is cut after 1,000 characters with the length said, not 40 KB; a
    right-to-left override in it is escaped."""
    stream, _ = logged
    logging.getLogger("pi_agent").warning("command %s: %s", "\u202e" + "x" * 40_000, "unknown command")
    [line] = stream.getvalue().splitlines()
    assert len(line) < 1100 and "\\u202e" in line and line.endswith("... (40031 characters)"), line[-80:]   # (with its escaped override)


def test_a_traceback_still_follows_its_message_as_before(logged):
    """log.exception: the message is one line, the traceback after it is as it was (joined
    by ' | ' in the journal, its own lines elsewhere)."""
    stream, kind = logged
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("pi_agent.test").exception("loop failed on %r\n%s", "x", "FAKE")
    lines = stream.getvalue().splitlines()
    assert "loop failed on 'x'\\nFAKE" in lines[0]
    if kind == "journal":
        assert len(lines) == 1 and " | Traceback (most recent call last): | " in lines[0]
    else:
        assert lines[1] == "Traceback (most recent call last):" and lines[-1] == "RuntimeError: boom"


def test_a_message_without_control_characters_is_written_as_it_is():
    """Escaping touches control characters only: quotes, backslashes and accents stay."""
    assert logs.one_line("it's \"x\" C:\\dir é ✓") == "it's \"x\" C:\\dir é ✓"
    assert logs.one_line("a\nb\r\x00\x7f\x85\u2028\u2029") == "a\\nb\\r\\x00\\x7f\\x85\\u2028\\u2029"
