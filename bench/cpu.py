"""The CPU a second of real time of `pi-agent run --simulate --speed 1` as a process, in
each state of the hand, and the floor under it: what a wake-up costs before the agent
does anything, and what a turn of the loop costs with cold caches."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import OPEN, PRESSED, ROOT, agent_process, bench_config, bench_scenario


def _process_cpu_s(pid: int) -> float:
    """CPU time (user + system) of every thread of a process, in seconds: the scheduler's
    nanosecond count where the kernel keeps one, else the 10-ms ticks of /proc/PID/stat."""
    try:
        total = 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
        if total:
            return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wakes(pid: int) -> int:
    """Voluntary context switches of a process's threads: its sleeps, so its wake-ups."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches"):
                total += int(line.split()[1])
    return total


def _cpu_window(proc: subprocess.Popen, window: float) -> tuple[float, float]:
    """(% of one core, wake-ups a second) of a running process over ``window`` seconds."""
    c0, w0, t0 = _process_cpu_s(proc.pid), _wakes(proc.pid), time.monotonic()
    time.sleep(window)
    c1, w1, t1 = _process_cpu_s(proc.pid), _wakes(proc.pid), time.monotonic()
    return 100 * (c1 - c0) / (t1 - t0), (w1 - w0) / (t1 - t0)


def _broker(folder: Path):
    """A Mosquitto on a free loopback port: (process, port), or None if not installed."""
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists():
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = folder / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n" + ("user root\n" if os.geteuid() == 0 else ""))
    broker = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return broker, port


CPU_STATES = {            # name: (what the hand does, runs in a full measurement)
    "idle": ({}, 1),
    "worn": (OPEN, 3),
    "pressed": (PRESSED, 3),
    "mqtt": (PRESSED, 1),
}


def cpu_states(quick: bool) -> dict:
    """`pi-agent run --simulate --speed 1` as a process, in real time, in four states: the
    splint off and the pad empty (idle); the splint worn, the pad empty (worn); the splint
    worn and the pad pressed in a weight-bearing session (pressed); pressed, connected to
    a Mosquitto on loopback and publishing 20 load messages a second (mqtt). For each, its
    CPU time (user + system, every thread, from /proc) over a window after start-up, in
    % of one core: 60 s (5 s with --quick), the median of the runs and their range; and
    its wake-ups a second. Peak resident memory (VmHWM) of the idle process."""
    folder = Path(tempfile.mkdtemp())
    window = 5.0 if quick else 60.0
    out: dict = {}
    for name, (values, runs) in CPU_STATES.items():
        figures = []
        for _ in range(1 if quick else runs):
            broker, extra = None, ()
            if name == "mqtt":
                broker = _broker(folder)
                if broker is None:
                    out["cpu_mqtt_note"] = "mosquitto is not installed"
                    break
                extra = ("--broker", f"mqtt://127.0.0.1:{broker[1]}", "--device-id", "bench")
            proc = agent_process(folder, [{"hold": 86400, "set": values}], *extra)
            try:
                time.sleep(4.0)                 # start-up (imports, the store) is not the steady cost
                figures.append(_cpu_window(proc, window))
                if name == "idle":
                    status = Path(f"/proc/{proc.pid}/status").read_text()
                    hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
                    out["rss_mb"] = round(int(hwm.split()[1]) / 1024, 1)
            finally:
                proc.terminate()
                proc.wait(10)
                if broker is not None:
                    broker[0].terminate()
                    broker[0].wait(5)
        if figures:
            cpu = sorted(f[0] for f in figures)
            out[f"cpu_{name}_pct"] = round(statistics.median(cpu), 3)
            out[f"cpu_{name}_runs"] = [round(c, 3) for c in cpu]
            out[f"wakes_{name}_per_s"] = round(statistics.median(f[1] for f in figures), 1)
    shutil.rmtree(folder, ignore_errors=True)
    return out


# What a wake-up costs before the agent does anything: the floor under the CPU figures.
_WAIT_LOOP = """
import sys, time
from pi_agent.clock import SystemClock
clock, period = SystemClock(), 1.0 / float(sys.argv[1])
due = time.monotonic()
while True:
    due += period
    clock.sleep(due - time.monotonic())
"""


def wake_costs(quick: bool) -> dict:
    """Why a reading costs microseconds in virtual time and far more in real time.
    ``cpu_floor_{worn,pressed}_pct``: a process that only waits as the agent does (the
    same timed lock acquire, ``SystemClock.sleep``) at the agent's wake-up rates, 12 and
    100 a second, measured as ``cpu_states`` measures the agent: CPU over a window (20 s,
    5 s with --quick) after start-up; the kernel's and Python's share of each wake-up.
    ``turn_us_warm`` and ``turn_us_cold``: one turn of the loop in the everyday state (as
    ``sample_us_daily``, but per turn), warm, and after a byte was written to every
    64-byte line of a 64-MB buffer between two turns, evicting the caches, as a process
    that slept finds them on a shared machine;
    the median of 10 batches of 200 turns."""
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun
    out: dict = {}
    window = 5.0 if quick else 20.0
    for name, rate in (("worn", 12), ("pressed", 100)):
        proc = subprocess.Popen([sys.executable, "-c", _WAIT_LOOP, str(rate)], cwd=ROOT)
        try:
            time.sleep(1.0)
            out[f"cpu_floor_{name}_pct"] = round(_cpu_window(proc, window)[0], 3)
        finally:
            proc.terminate()
            proc.wait(10)
    cfg = bench_config()
    scen = bench_scenario(cfg, [{"hold": 36000, "set": OPEN}])
    with SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=None) as sim:
        agent = sim.agent
        agent.run_until(5)
        caches = bytearray(64 << 20)
        ones = b"\x01" * (len(caches) // 64)        # a byte per 64-byte cache line
        for label, evict in (("warm", False), ("cold", True)):
            batches = []
            for _ in range(10):
                spent = 0
                for _ in range(200):
                    if evict:
                        caches[::64] = ones
                    t0 = time.thread_time_ns()
                    agent.step()
                    spent += time.thread_time_ns() - t0
                batches.append(spent / 200 / 1e3)
            out[f"turn_us_{label}"] = round(statistics.median(batches), 1)
    return out
