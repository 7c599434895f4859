"""Running under systemd: notify protocol and watchdog, clean shutdown, the unit's checks."""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from agentproc import AgentProcess, CpuWait, write_config
from broker import Broker, Listener, free_port
from conftest import ROOT, JournalStream
from dashboard_proc import PASSWORD, NoRedirect, stop
from pi_agent.store import Store

OPEN = {"palm": 3, "wrist": 25, "fingers": 5}
UNIT = ROOT / "systemd" / "pi-agent.service"


# Linux's SO_TIMESTAMPNS (not in Python's socket module): the kernel stamps each datagram
# with the wall time at which the sender sent it, whenever the test gets to read it.
SO_TIMESTAMPNS = 35
TIMESPEC = struct.calcsize("ll")      # struct timespec: time_t seconds, long nanoseconds


class FakeSystemd:
    """A NOTIFY_SOCKET of our own: every datagram with the time it was sent (the kernel's
    stamp, taken in the agent's send call; wall-clock seconds, as ``time.time()``)."""

    def __init__(self, folder):
        self.path = str(folder / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self.running = True
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while self.running:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, 64)
            except socket.timeout:
                continue
            except OSError:
                return
            [sent] = [struct.unpack("ll", d[:TIMESPEC]) for level, kind, d in ancillary
                      if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS]
            for line in data.decode().splitlines():
                self.messages.append((sent[0] + sent[1] / 1e9, line))

    def lines(self, prefix):
        return [(t, m) for t, m in list(self.messages) if m.startswith(prefix)]

    def pings(self, after=float("-inf")):
        return [t for t, _ in self.lines("WATCHDOG=1") if t > after]

    def close(self):
        self.running = False
        self.sock.close()


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_ready_status_and_watchdog_from_a_real_process(tmp_path, ram_dir):
    """READY=1 once sampling runs, STATUS lines, and WATCHDOG=1 at half of WATCHDOG_USEC,
    never a full WATCHDOG_USEC apart (by the times the agent sent them, less the time the
    kernel kept the agent waiting for a CPU)."""
    systemd = FakeSystemd(tmp_path)
    os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"] = systemd.path, "1000000"
    try:
        agent = AgentProcess({"start": "2026-05-01T10:00:00", "steps": [{"hold": 7200, "set": OPEN}]},
                             tmp_path / "a", speed=20, state_dir=ram_dir)     # its checkpoints: no disk's fsync
    finally:
        del os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"]
    waited = CpuWait(agent.proc.pid)
    try:
        assert wait_until(lambda: systemd.lines("READY=1")), agent.log()
        ready_at = systemd.lines("READY=1")[0][0]
        assert wait_until(lambda: systemd.pings(after=ready_at + 5)), agent.log()
        pings = [t for t in systemd.pings(after=ready_at) if t <= ready_at + 5]
        gaps = [(b - a, waited.between(a, b, clock="wall")) for a, b in zip(pings, pings[1:])]
        assert min(g for g, _ in gaps) >= 0.45, "never before half the watchdog interval"
        assert statistics.median(g - w for g, w in gaps) <= 0.6, f"at half the interval: {gaps}"
        assert max(g - w for g, w in gaps) < 1.0, f"a ping within each watchdog interval: {gaps}"
        status = [m for _, m in systemd.lines("STATUS=")]
        assert status and re.match(r"STATUS=(hand open|hand closed|splint off|no reading yet|(splint on, )?position unknown \(sensor fault\)); open today \d+\.\d h of 6 h", status[-1])
        assert agent.terminate() == 0
        assert systemd.lines("STOPPING=1")
    finally:
        waited.stop()
        agent.kill()
        systemd.close()


def test_watchdog_pings_stop_when_the_sampling_loop_stalls(tmp_path, cfg):
    """The pings come from the sampling loop: when it stalls they stop (the other threads
    go on), and they come back when it runs again."""
    from mock_hw import scenario_file
    from pi_agent.clock import ScaledClock
    from pi_agent.simulated_run import SimulatedRun
    from pi_agent.systemd import Notifier
    systemd = FakeSystemd(tmp_path)
    notifier = Notifier({"NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "400000"})
    scen = scenario_file.parse({"start": "2026-05-01T10:00:00", "steps": [{"hold": 3600, "set": OPEN}]},
                              {n: s.kind for n, s in cfg.sensors.items()})
    stall = threading.Event()
    stalled = threading.Event()
    release = threading.Event()
    made = {}

    def run():
        """The loop runs in its own thread (as the store's connection wants: made here)."""
        clock = ScaledClock(scen.start_wall(), 1.0)
        sim = SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=tmp_path / "st", real_time=True,
                            bus_time=False, after_step=lambda agent: notifier.loop_alive(time.monotonic(), lambda: "running"))
        read = sim.agent.sensors.read_channel

        def maybe_stall(chip, index, *rest):
            if stall.is_set():
                made["stalled_at"] = time.time()   # the loop's own moment: it stops here
                stalled.set()
                release.wait(30)
                made["released_at"] = time.time()
            return read(chip, index, *rest)
        sim.agent.sensors.read_channel = maybe_stall
        made["sim"] = sim
        sim.run()
        sim.finish()
    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    try:
        assert wait_until(lambda: len(systemd.pings()) >= 4)
        stall.set()
        assert stalled.wait(10)
        time.sleep(1.0)              # the stall: 5 watchdog intervals of 0.2 s
        assert systemd.pings(after=made["stalled_at"]) == [], "no pings while stalled"
        assert runner.is_alive()
        stall.clear()
        release.set()
        assert wait_until(lambda: "released_at" in made and systemd.pings(after=made["released_at"]), 10), \
            "pings again"
    finally:
        release.set()
        made["sim"].agent.stop()
        runner.join(10)
        systemd.close()


def test_sigterm_is_a_clean_stop_within_five_seconds(tmp_path, ram_dir):
    """SIGTERM: within 5 s exit 0, motor off, the store checkpointed (no tracked time lost)
    and 'offline' on the broker (said, not the last will)."""
    broker = Broker(tmp_path / "broker").start()
    cfg = write_config(tmp_path / "cfg", "[mqtt]\nkeepalive_s = 60\n")
    live = Listener(broker.port, topics=("openpalm/dev1/status",))
    assert live.connected.wait(10)
    steps = [{"hold": 1}, {"command": {"name": "vibration_start", "args": {"level": "low", "minutes": 20}}},
             {"hold": 20, "set": OPEN}, {"command": {"name": "set_goal", "args": {"hours": 6}}}, {"hold": 7200}]
    agent = AgentProcess({"start": "2026-05-01T10:00:00", "timezone": "UTC", "steps": steps}, tmp_path / "a",
                         speed=10, broker=broker.url, config=cfg, state_dir=ram_dir,
                         extra_args=["--motor-trace", str(tmp_path / "motor")])
    try:
        assert live.wait_for(lambda ms: ms and ms[-1]["payload"] == b"online", 20), agent.log()
        # 21 s of the agent's time, open, the motor running (before its first checkpoint at 60 s).
        assert agent.wait_log("command set_goal", 30), agent.log()
        waits = CpuWait(agent.proc.pid)
        t0 = time.monotonic()
        code = agent.terminate(30)
        stopped = time.monotonic()
        waits.stop()
        # Within 5 s of its own running: what a busy machine kept it waiting for a CPU is not its.
        assert code == 0 and stopped - t0 <= 5.0 + waits.between(t0, stopped), (stopped - t0)
        trace = [line.split() for line in (tmp_path / "motor").read_text().splitlines()]
        levels = [float(level) for _, level in trace]
        assert max(levels) > 0 and levels[-1] == 0, "the motor ran, and is off"
        off_at = float(trace[-1][0])     # the agent's own time (scenario seconds) as it stopped
        assert live.wait_for(lambda ms: ms[-1]["payload"] == b"offline", 10), "offline, said by the agent"
        assert wait_until(lambda: "Client openpalm-dev1 disconnected." in (broker.folder / "mosquitto.log").read_text()), \
            "a clean MQTT disconnect (after which a broker never sends the will)"
        day = Store(ram_dir, readonly=True).load_day("2026-05-01")
        assert off_at >= 21 and day["open_s"] >= off_at - 1 - 10, (day["open_s"], off_at)
    finally:
        agent.kill()
        live.close()
        broker.stop()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not on this machine")
def test_unit_passes_systemd_analyze(tmp_path):
    """The unit verifies, and its exposure in `systemd-analyze security` is at most 2.0."""
    _verifies_with_low_exposure(UNIT, tmp_path)
    text = UNIT.read_text()
    for setting in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "RestartPreventExitStatus=77 78",
                    "DevicePolicy=closed", "DeviceAllow=/dev/i2c-1", "ProtectSystem=strict", "StateDirectory=",
                    "ConfigurationDirectory=", "LoadCredential=mqtt_password", "RestrictAddressFamilies=",
                    "SystemCallFilter=", "MemoryMax=", "SupplementaryGroups=i2c gpio"):
        assert setting in text, setting


def test_logs_suit_the_journal(tmp_path):
    """Under systemd: a syslog priority on each line, no timestamp of our own, one line an event."""
    import logging
    from pi_agent import logs
    stream = JournalStream(tmp_path / "journal")
    os.environ["JOURNAL_STREAM"] = stream.journal_env()
    try:
        logs.setup("INFO", stream)
        log = logging.getLogger("pi_agent.test")
        log.warning("fault: finger sensor disconnected")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("the sampling loop failed")
    finally:
        del os.environ["JOURNAL_STREAM"]
        logs.setup("WARNING")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "<4>pi_agent.test: fault: finger sensor disconnected"
    assert len(lines) == 2 and lines[1].startswith("<3>pi_agent.test: the sampling loop failed | Traceback")
    assert "RuntimeError: boom" in lines[1]
    assert not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", stream.getvalue())


def test_the_status_line_is_built_every_two_seconds_not_at_every_turn(tmp_path):
    """`loop_alive` runs after every turn (100 a second in a session); the status line,
    built from a snapshot of the core (more than a whole turn costs), is built once at
    READY, then at most every STATUS_EVERY_S, and sent only when it changed."""
    from pi_agent.systemd import STATUS_EVERY_S, Notifier
    path = str(tmp_path / "notify")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.setblocking(False)
    notifier = Notifier({"NOTIFY_SOCKET": path})
    built = []
    texts = iter(["still"] * 3 + ["moved"] * 100)

    def status():
        built.append(1)
        return next(texts)

    for turn in range(1001):                      # 10 s of turns, 100 a second
        notifier.loop_alive(turn / 100, status)
    sent = []
    while True:
        try:
            sent.append(receiver.recv(4096).decode())
        except BlockingIOError:
            break
    receiver.close()
    assert len(built) == 1 + int(10 // STATUS_EVERY_S)
    assert sent == ["READY=1\nSTATUS=still", "STATUS=moved"]


def test_a_journal_stream_that_names_another_file_gets_no_priorities(tmp_path, monkeypatch):
    """``$JOURNAL_STREAM`` inherited by a shell whose standard error goes to a file: that
    file is not the journal, so its lines carry their time and no ``<6>`` priority."""
    import logging
    from pi_agent import logs
    journal, elsewhere = JournalStream(tmp_path / "journal"), JournalStream(tmp_path / "file")
    monkeypatch.setenv("JOURNAL_STREAM", journal.journal_env())
    try:
        logs.setup("INFO", elsewhere)
        logging.getLogger("pi_agent.test").info("sampling started")
    finally:
        logs.setup("WARNING")
    line = elsewhere.getvalue().strip()
    assert not line.startswith("<") and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line), line


# -- the dashboard's unit ---------------------------------------------------------------------------
DASHBOARD_UNIT = ROOT / "systemd" / "openpalm-dashboard.service"
# The agent's settings that are its own: its name, its user and devices, its notifications and store.
AGENT_ONLY = {"Description", "After", "Type", "NotifyAccess", "WatchdogSec", "ExecStart", "RestartPreventExitStatus", "User", "Group",
              "SupplementaryGroups", "StateDirectory", "StateDirectoryMode", "LoadCredential", "DeviceAllow",
              "MemoryMax"}


def unit_settings(path) -> dict[str, list[str]]:
    """A unit's settings, each key with its values in order (comments and sections left out)."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not on this machine")
def test_dashboard_unit_passes_systemd_analyze(tmp_path):
    """The dashboard's unit verifies, and its exposure in `systemd-analyze security` is at most 2.0."""
    _verifies_with_low_exposure(DASHBOARD_UNIT, tmp_path)


def _verifies_with_low_exposure(path, tmp_path) -> None:
    """``systemd-analyze verify`` passes the unit (its program a stand-in), and its exposure
    in ``systemd-analyze security`` is at most 2.0."""
    unit = tmp_path / path.name
    exe = tmp_path / "pi-agent"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    unit.write_text(path.read_text().replace("/opt/openpalm/venv/bin/pi-agent", str(exe)))
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    assert "Invalid" not in verify.stderr and "Unknown" not in verify.stderr, verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(path)], capture_output=True,
                              text=True)
    level = float(re.search(rf"Overall exposure level for {re.escape(path.name)}: (\d+\.\d+)",
                            security.stdout).group(1))
    assert level <= 2.0, security.stdout


def test_dashboard_unit_is_sandboxed_as_the_agent_and_installed_as_the_readme_says():
    """The dashboard's unit has every sandbox setting of the agent's that is not the agent's
    own, no devices, a user that is neither root nor the agent's, restarts on failure (not
    on exit 78, nor 243, systemd's for a missing credential file), runs the installed
    `pi-agent dashboard` on a configuration of its own beside the agent's (so that it logs
    in to the broker as itself, not as the device; listening where dashboard.listen says:
    this machine by default), and gets its password hash and its own broker password as
    the credentials the program reads. The README's install steps set it up."""
    from pi_agent import config
    from pi_agent.dashboard import auth
    agent, dash = unit_settings(UNIT), unit_settings(DASHBOARD_UNIT)
    for key in sorted(set(agent) - AGENT_ONLY):
        assert dash.get(key) == agent[key], key
    assert dash["PrivateDevices"] == ["yes"] and "DeviceAllow" not in dash
    assert dash["DynamicUser"] == ["yes"] and "User" not in dash and "SupplementaryGroups" not in dash
    assert dash["Restart"] == ["on-failure"] and dash["RestartPreventExitStatus"] == ["78 243"]
    [exec_start] = dash["ExecStart"]
    agent_exe, _, agent_config = agent["ExecStart"][0].partition(" run ")
    folder = agent_config.removeprefix("--config ").rsplit("/", 1)[0]
    own_config = f"--config {folder}/dashboard.toml"
    assert exec_start == f"{agent_exe} dashboard {own_config}", exec_start
    assert "--listen" not in exec_start and config.defaults().dashboard.listen.startswith("127.0.0.1:")
    assert f"{auth.CREDENTIAL}:{folder}/{config.defaults().dashboard.password_file}" in dash["LoadCredential"]
    assert f"mqtt_password:{folder}/dashboard_mqtt_password" in dash["LoadCredential"]
    assert f"mqtt_password:{folder}/mqtt_password" in agent["LoadCredential"], "the device's, not the dashboard's"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = readme[readme.index("## On a Raspberry Pi"):readme.index("## What the numbers mean")]
    for step in (f"pi-agent dashboard-password {own_config}", f"systemd/{DASHBOARD_UNIT.name} /etc/systemd/system/",
                 f"{folder}/dashboard_mqtt_password", 'username = "dashboard"',
                 "systemctl enable --now openpalm-dashboard", "journalctl -u openpalm-dashboard"):
        assert step in install, step


def test_the_dashboard_reads_its_password_from_systemds_credential(tmp_path):
    """Under the unit the hash file is root's (0600) and systemd hands a copy over in
    $CREDENTIALS_DIRECTORY: the dashboard logs in with that password, not the file's."""
    from pi_agent.dashboard import auth
    cfg = write_config(tmp_path / "etc")
    auth.write_hash(tmp_path / "etc" / "dashboard_password", auth.hash_password("not-the-one-1"))
    creds = tmp_path / "credentials"
    creds.mkdir()
    auth.write_hash(creds / "dashboard_password", auth.hash_password(PASSWORD))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"} | {"CREDENTIALS_DIRECTORY": str(creds)}
    proc = subprocess.Popen([sys.executable, "-m", "pi_agent", "dashboard", "--config", str(cfg), "--broker",
                             "mqtt://127.0.0.1:1", "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "dashboard.log", "w"))
    base, opener = f"http://127.0.0.1:{port}", urllib.request.build_opener(NoRedirect)
    try:
        assert wait_until(lambda: _answers(base + "/healthz") or proc.poll() is not None, 20)
        assert proc.poll() is None, (tmp_path / "dashboard.log").read_text()
        for password, where in ((PASSWORD, "/"), ("not-the-one-1", "/login?failed=1")):
            with pytest.raises(urllib.error.HTTPError) as info:
                opener.open(base + "/login", data=f"password={password}".encode())
            assert info.value.headers["Location"] == where, password
    finally:
        stop(proc)


def _answers(url) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False
