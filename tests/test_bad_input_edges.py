"""Bad input from outside at its edges: JSON nested too deeply or in another encoding,
special files where a file is read, a standard output that refuses writes, clients that
reset their connection. Each gets one clear line (or nothing at all) and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from test_bad_input import _one_line_error


@pytest.mark.parametrize("text, deep", [
    ("1", 0), ('"[[[["', 0), ("[]", 1), ('{"a": [1, {"b": "]]]"}]}', 3),
    ('["\\"[", [[]]]', 3), ("[" * 101 + "]" * 101, 101),
])
def test_json_depth_is_measured_on_the_text(text, deep):
    """The nesting of JSON text, brackets inside strings (escaped quotes too) not counted."""
    from pi_agent.core import jsontext
    assert jsontext.depth(text) == deep


def test_json_too_deep_is_refused_before_it_is_parsed(monkeypatch):
    """Text nested over the bound is refused without json.loads recursing into it (a
    RecursionError deep in a server's thread leaves 'unraisable' errors behind); text at
    the bound is parsed."""
    import json
    from pi_agent.core import jsontext
    parsed = []
    monkeypatch.setattr(json, "loads", lambda text, **kw: parsed.append(text))
    with pytest.raises(jsontext.TooDeep, match="nested more than 100 deep"):
        jsontext.loads(b"[" * 101 + b"]" * 101)
    assert parsed == []
    jsontext.loads("[" * 100 + "]" * 100)
    assert len(parsed) == 1


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-32-le", "utf-16"])
def test_json_in_utf16_or_32_is_refused_as_the_agent_refuses_it(encoding):
    """UTF-16 or 32 bytes, which json.loads alone would decode: refused (a ValueError), as
    the agent's requests and scenarios refuse them. Bytes whose UTF-8 reading hides
    brackets in a false string (U+0122 is the bytes 22 01) are measured and parsed as one
    and the same text, so depth is never measured on one text and parsed on another."""
    from pi_agent.core import jsontext
    for payload in ('["\u0122",' + "[" * 1500 + '"x"', '{"device": "a", "command": "status"}'):
        with pytest.raises(ValueError):
            jsontext.loads(payload.encode(encoding))


def test_json_depth_of_an_unterminated_string_is_measured_in_linear_time():
    """A quote and then 20,000 escaped quotes (40 KB, a string never closed): measured in
    one pass, in milliseconds (seconds when each quote started a scan to the end again)."""
    import time
    from pi_agent.core import jsontext
    text = '"' + '\\"' * 20_000
    started = time.process_time()
    assert jsontext.depth(text) == 0
    assert time.process_time() - started < 0.5


def test_a_fifo_or_a_device_as_a_file_to_read_is_one_line_not_a_hang(tmp_path):
    """A FIFO (whose read would wait for a writer for ever) or /dev/null as the
    configuration, given by --config or $OPENPALM_CONFIG, or as the calibration file or
    the MQTT password file it names: one line naming it, exit 78, at once."""
    from agentproc import write_config
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args, env in [(("--config", str(fifo)), None), (("--config", "/dev/null"), None),
                      ((), {"OPENPALM_CONFIG": str(fifo)})]:
        line = _one_line_error(run_cli("check-config", *args, env=env, timeout=30), 78)
        assert "expected a configuration file, got a special file" in line
    cfgfile = write_config(tmp_path / "cal", f'[hardware]\ncalibration = "{fifo}"')
    line = _one_line_error(run_cli("check-config", "--config", str(cfgfile), timeout=30), 78)
    assert line.endswith(f"{fifo}: expected a calibration file, got a folder or a special file")
    cfgfile = write_config(tmp_path / "pw", f'[mqtt]\npassword_file = "{fifo}"')
    line = _one_line_error(run_cli("run", "--config", str(cfgfile), "--broker", "mqtt://127.0.0.1:1",
                                   timeout=30), 78)
    assert f"'{fifo}' is not a regular file" in line


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("args", [("check-config",),
                                  ("simulate", str(ROOT / "scenarios" / "example-exercise.json"), "--report", "json")])
def test_a_full_standard_output_is_one_line_with_exit_74(args):
    """A command whose printing fails (stdout on a full disk: /dev/full) says so in one line, exit 74, no traceback."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "pi_agent", *args], cwd=ROOT, stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip() and " INFO " not in line]
    assert (result.returncode, lines) == (74, [f"pi-agent {args[0]}: cannot write the standard output: "
                                               "No space left on device"])


def test_a_client_that_resets_the_connection_leaves_no_traceback(dashboard_base, capfd):
    """Ten requests whose clients reset the connection at once (SO_LINGER 0): nothing on
    stderr (a reset once printed a ConnectionResetError traceback each), and the dashboard
    answers the next request; the server's error hook stays quiet for a reset and logs
    anything else."""
    import http.client
    import socket
    import struct
    host, cookie = dashboard_base
    address = (host.split(":")[0], int(host.split(":")[1]))
    for _ in range(10):
        s = socket.create_connection(address)
        s.sendall(f"GET /api/fleet HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n".encode())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.request("GET", "/api/fleet", headers={"Cookie": cookie})
    assert conn.getresponse().status == 200
    from pi_agent.dashboard.server import Server
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        Server.handle_error(None, None, ("127.0.0.1", 5))
    assert "Traceback" not in capfd.readouterr().err
