"""`pi-agent run` as a real process, as the tests start it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import CONFIG, ROOT


def write_config(folder: Path, extra: str = "") -> Path:
    """A private copy of the shipped configuration and calibration, with the keys of
    ``extra`` ("[section]" lines, then "key = value" lines) set in it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG.parent / "calibration.toml", folder / "calibration.toml")
    text = CONFIG.read_text()
    path = folder / "agent.toml"
    path.write_text(_merge(text, extra))
    return path


def _merge(text: str, extra: str) -> str:
    """Set keys of ``extra`` ([section] then key = value lines) in the TOML ``text``."""
    section = None
    out = text.splitlines()
    for line in extra.strip().splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("["):
            section = line
            continue
        key = line.split("=")[0].strip()
        current, done = None, False
        for i, raw in enumerate(out):
            if raw.startswith("["):
                current = raw
            if current == section and raw.startswith(f"{key} ="):
                out[i] = line
                done = True
                break
        if not done:
            idx = out.index(section) if section in out else None
            if idx is None:
                out += ["", section, line]
            else:
                out.insert(idx + 1, line)
    return "\n".join(out) + "\n"


class CpuWait:
    """How long the threads of a process waited for a CPU, by the kernel's own account
    (``run_delay`` in /proc/PID/task/*/schedstat, summed: a thread that waits while it
    holds Python's GIL holds up the others), sampled every 10 ms with this process's
    monotonic and wall clocks. What a busy machine takes from the agent, so that a test
    can tell it apart from what the agent does."""

    def __init__(self, pid: int) -> None:
        self.tasks = Path(f"/proc/{pid}/task")
        self.samples: list[tuple[float, float, float]] = []     # (monotonic, wall, seconds waited so far)
        self.running = True
        self.sample()
        threading.Thread(target=self._run, daemon=True).start()

    def sample(self) -> float | None:
        waited = 0.0
        try:
            for task in self.tasks.iterdir():
                try:
                    waited += int((task / "schedstat").read_text().split()[1]) / 1e9
                except (OSError, IndexError, ValueError):
                    pass                        # a thread that just ended
        except OSError:
            return None                         # the process is gone
        self.samples.append((time.monotonic(), time.time(), waited))
        return waited

    def _run(self) -> None:
        while self.running and self.sample() is not None:
            time.sleep(0.01)

    def between(self, t0: float, t1: float, clock: str = "monotonic") -> float:
        """Seconds waited for a CPU from t0 to t1 (or a little more: from the last sample
        before t0 to the first after t1)."""
        i = 0 if clock == "monotonic" else 1
        samples = list(self.samples)
        before = [s[2] for s in samples if s[i] <= t0] or [samples[0][2]]
        after = [s[2] for s in samples if s[i] >= t1] or [samples[-1][2]]
        return max(0.0, after[0] - before[-1])

    def stop(self) -> None:
        self.running = False


def teardown(*steps) -> None:
    """Every step of a test's clean-up, even after one failed (no broker, dashboard or agent
    is left running by a test that failed), then the first failure."""
    first = None
    for step in steps:
        try:
            step()
        except BaseException as exc:          # noqa: BLE001 - raised again below
            first = first or exc
    if first is not None:
        raise first


class AgentProcess:
    def __init__(self, scenario: dict | Path, folder: Path, *, speed: float = 10, broker: str | None = None,
                 device: str = "dev1", config: Path | None = None, extra_args=(),
                 state_dir: Path | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        if isinstance(scenario, dict):
            path = self.folder / "scenario.json"
            path.write_text(json.dumps(scenario))
            scenario = path
        args = [sys.executable, "-m", "pi_agent", "run", "--config", str(config or CONFIG),
                "--simulate", str(scenario), "--speed", str(speed), "--state-dir", str(state_dir or self.folder / "state"),
                "--device-id", device, *extra_args]
        if broker:
            args += ["--broker", broker]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("JOURNAL_STREAM", None)
        self.lines: list[str] = []
        # The log goes to a file, not a pipe: a pipe would hold the agent up whenever this
        # process, sharing the CPU, is slow to read it (a flood of requests writes a line each).
        self.log_path = self.folder / "agent.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        """Follow the log file into ``lines``, to its end once the process has ended."""
        pending = b""
        with open(self.log_path, "rb") as log:
            while True:
                ended = self.proc.poll() is not None
                chunk = log.read()
                if chunk:
                    *done, pending = (pending + chunk).split(b"\n")
                    self.lines.extend(line.decode("utf-8", "replace") + "\n" for line in done)
                elif ended:
                    break
                else:
                    time.sleep(0.02)
        if pending:
            self.lines.append(pending.decode("utf-8", "replace"))

    def wait_log(self, text: str, timeout: float = 30.0) -> bool:
        return self.wait_count(text, 1, timeout)

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def wait_count(self, text: str, n: int, timeout: float = 60.0, dump: bool = True) -> bool:
        """Wait until ``n`` log lines contain ``text`` (or the process ended); in vain, the
        agent's threads are dumped to its log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(text) >= n:
                return True
            if self.proc.poll() is not None:
                self.reader.join(5)         # the lines it wrote before it ended
                return self.count(text) >= n
            time.sleep(0.05)
        if dump:
            self.dump_threads()         # a failure shows where the agent's threads were waiting
        return False

    def dump_threads(self, timeout: float = 10.0) -> None:
        """SIGUSR1: the agent writes every thread's stack to its log (and goes on)."""
        if self.proc.poll() is None:
            seen = self.count("Current thread 0x")
            self.proc.send_signal(signal.SIGUSR1)
            self.wait_count("Current thread 0x", seen + 1, timeout, dump=False)

    def log(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 10) -> int:
        """SIGTERM, and the exit status; a process that does not stop in time is killed
        (and the test fails), so no test leaves one behind."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise


def traced_real_time_run(cfg, scen, state_dir: Path, trace: Path) -> tuple[list, float, float, "CpuWait"]:
    """The real agent in real time on the simulated hardware (its motor thread, the rig's
    motor) through ``scen``, the motor's levels traced to ``trace``: (its events, the
    scenario's origin on the agent's clock, this process's monotonic time less the agent's,
    the kernel's CPU waits of this process over the run)."""
    from pi_agent.clock import ScaledClock
    from pi_agent.simulated_run import SimulatedRun
    events: list = []
    clock = ScaledClock(scen.start_wall(), 1.0)
    waits = CpuWait(os.getpid())
    try:
        with SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=state_dir, bus_time=False,
                          real_time=True, motor_trace=trace, on_event=events.append) as sim:
            real = time.monotonic() - clock.monotonic()          # the agent's clock runs at real speed
            sim.run()
            sim.finish()
            origin = sim.origin
    finally:
        waits.stop()
    return events, origin, real, waits
