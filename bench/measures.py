"""The measurements. Each returns a dict of figures (keys of the JSON output)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "agent.toml"
OPEN = {"palm": 3.0, "wrist": 25.0, "fingers": 5.0}


def _cfg():
    from pi_agent import config
    return config.load(CONFIG)


def _scenario(cfg, steps, start="2026-05-01T10:00:00", noise=True):
    from mock_hw import scenario_file
    data = {"start": start, "timezone": "UTC", "seed": 9, "steps": steps}
    if noise:
        data["noise"] = {"deg": 1.0, "newton": 0.2}
    return scenario_file.parse(data, {n: s.kind for n, s in cfg.sensors.items()})


# -- sample_us and floor_us -------------------------------------------------------------------
def sample_cost(quick: bool) -> dict:
    """CPU time per channel reading through the whole path (Adafruit's driver on the
    register model, conversion, fault detection, trackers, day accounting), in virtual time
    during a weight-bearing session with the splint worn; median of 20 batches. The floor:
    the same register model read directly, the same reads in the same mix (a continuous
    chip: one read of its conversion register; a single-shot chip: config write,
    conversion, ready poll, result read), weighted by each channel's reading rate."""
    from pi_agent.clock import VirtualClock
    from pi_agent.core import PAD_CHANNELS
    from pi_agent.simulated_run import SimulatedRun
    cfg = _cfg()
    scen = _scenario(cfg, [{"hold": 36000, "set": {**OPEN, "pad_palm": 40, "pad_fingers": 25}}])
    sim = SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=None)
    agent = sim.agent
    agent.run_until(5)
    per_batch = 500 if quick else 3000
    samples = []
    for _ in range(20):
        n0, c0 = agent.readings, time.process_time()
        while agent.readings - n0 < per_batch:
            agent.step()
        samples.append((time.process_time() - c0) / (agent.readings - n0) * 1e6)
    sample_us = statistics.median(samples)
    # The floor: each channel's chip, its registers written and read directly.
    clock = sim.clock
    floor, weights = 0.0, 0.0
    for name, s in cfg.sensors.items():
        model, chip = sim.rig.chips[s.chip], cfg.chips[s.chip]
        rate = cfg.weight_bearing.active_rate_hz if name in PAD_CHANNELS else chip.rate_hz
        reads = []
        if chip.mode == "continuous":
            model.write(b"\x00")              # the pointer at the conversion register
        for _ in range(20):
            c0 = time.process_time()
            if chip.mode == "continuous":
                for _ in range(per_batch):
                    clock.sleep(1 / rate)
                    model.read(2)
            else:
                word = 0x8000 | (4 + s.input) << 12 | 0x0200 | 0x0100 | 0x0083   # single shot, gain 1, 128 SPS
                for _ in range(per_batch):
                    model.write(bytes((0x01, word >> 8, word & 0xFF)))
                    clock.sleep(1 / 128)
                    model.read(2)
                    model.write(b"\x00")
                    model.read(2)
            reads.append((time.process_time() - c0) / per_batch * 1e6)
        floor += rate * statistics.median(reads)
        weights += rate
    floor_us = floor / weights
    sim.close()
    return {"sample_us": round(sample_us, 2), "floor_us": round(floor_us, 2),
            "sample_floor_ratio": round(sample_us / floor_us, 2)}


# -- adc_efficiency and feedback latency (real time) --------------------------------------------
def _real_time_sim(cfg, steps, state_dir=None):
    from pi_agent.clock import ScaledClock
    from pi_agent.simulated_run import SimulatedRun
    scen = _scenario(cfg, steps)
    clock = ScaledClock(time.time(), 1.0)
    sim = SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=state_dir, bus_time=False, real_time=True)
    return sim, clock


def adc_efficiency(quick: bool) -> dict:
    """Readings delivered per second ÷ readings the default schedule asks for, in real time
    with the register model taking each conversion's real time, during a weight-bearing
    session with the splint worn (pad: active_rate_hz per zone; splint: rate_hz per channel)."""
    cfg = _cfg()
    seconds = 5.0 if quick else 20.0
    sim, clock = _real_time_sim(cfg, [{"hold": 3600, "set": {**OPEN, "pad_palm": 40, "pad_fingers": 25}}])
    agent = sim.agent
    agent.run_until(1.0)
    conversions0 = {chip: m.conversions for chip, m in sim.rig.chips.items()}
    t0 = clock.monotonic()
    agent.run_until(t0 + seconds)
    elapsed = clock.monotonic() - t0
    delivered = sum(m.conversions - conversions0[chip] for chip, m in sim.rig.chips.items())
    asked = (cfg.weight_bearing.active_rate_hz * 2 + cfg.chips["splint"].rate_hz * 3) * elapsed
    sim.finish()
    return {"adc_efficiency": round(delivered / asked, 3), "adc_readings_per_s": round(delivered / elapsed, 1)}


def feedback_latency(quick: bool) -> dict:
    """Real-time loop on simulated hardware: the load steps from 30 N (a session, under the
    band) to 70 N (in the band), both zones at once; the time from the step to the motor
    pin's change, from gpiozero's mock pin history."""
    cfg = _cfg()
    steps_n = 5 if quick else 50
    steps = [{"hold": 2, "set": {"pad_palm": 20, "pad_fingers": 10}}]
    for _ in range(steps_n):
        steps += [{"hold": 1.5, "set": {"pad_palm": 45, "pad_fingers": 25}},
                  {"hold": 1.5, "set": {"pad_palm": 20, "pad_fingers": 10}}]
    sim, clock = _real_time_sim(cfg, steps)
    pin = sim.rig.pins.pin(cfg.haptics.pin)
    origin_real = clock._origin + sim.origin / clock.speed
    pin.clear_states()
    cleared = time.monotonic()
    sim.run()
    states = list(pin.states)
    sim.finish()
    t, changes = cleared, []
    for s in states[1:]:
        t += s.timestamp
        changes.append((t, s.state))
    latencies = []
    for i in range(steps_n):
        step_at = origin_real + 2 + i * 3.0
        after = [ct for ct, v in changes if ct >= step_at and v > 0]
        if after and after[0] - step_at < 1.0:
            latencies.append((after[0] - step_at) * 1000)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    return {"feedback_ms_p50": round(p(0.5), 2), "feedback_ms_p99": round(p(0.99), 2),
            "feedback_ms_max": round(latencies[-1], 2), "feedback_steps": len(latencies)}


# -- sim_day_s ------------------------------------------------------------------------------------
def sim_day(quick: bool) -> dict:
    """Wall seconds for `pi-agent simulate` of the 24-hour demo day at default rates, as a
    process; with --quick, its first 3 hours, times 8."""
    scenario = ROOT / "scenarios" / "demo-day.json"
    factor = 1
    if quick:
        data = json.loads(scenario.read_text())
        kept, total = [], 0.0
        for step in data["steps"]:
            span = step.get("hold", 0) + step.get("ramp", 0) + step.get("fault", {}).get("for", 0)
            if total + span > 3 * 3600:
                step = {**step, "hold": 3 * 3600 - total} if "hold" in step else step
                kept.append(step)
                break
            kept.append(step)
            total += span
        data["steps"] = kept
        tmp = Path(tempfile.mkdtemp()) / "three-hours.json"
        tmp.write_text(json.dumps(data))
        scenario, factor = tmp, 8
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pi_agent", "simulate", str(scenario)], check=True, cwd=ROOT,
                   capture_output=True)
    return {"sim_day_s": round((time.perf_counter() - t0) * factor, 1)}


# -- idle_cpu_pct and rss_mb (a real process) ------------------------------------------------------------
def idle_process(quick: bool) -> dict:
    """`pi-agent run --simulate` with the splint off and the pad empty, in real time: the CPU
    it uses over a window after start-up (user + system, % of one core), and its peak
    resident memory (VmHWM)."""
    folder = Path(tempfile.mkdtemp())
    scenario = folder / "idle.json"
    scenario.write_text(json.dumps({"start": "2026-05-01T10:00:00", "steps": [{"hold": 86400}]}))
    proc = subprocess.Popen([sys.executable, "-m", "pi_agent", "run", "--simulate", str(scenario),
                             "--state-dir", str(folder / "state")], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(3.0)
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu():
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks
        window = 5.0 if quick else 60.0
        c0, t0 = cpu(), time.monotonic()
        time.sleep(window)
        c1, t1 = cpu(), time.monotonic()
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024
    finally:
        proc.terminate()
        proc.wait(10)
    return {"idle_cpu_pct": round(100 * (c1 - c0) / (t1 - t0), 2), "rss_mb": round(hwm, 1)}


# -- mqtt_ms ---------------------------------------------------------------------------------------------
def mqtt_latency(quick: bool) -> dict:
    """A reading's time to a subscriber: the load messages of a weight-bearing session from
    a real-time agent to a subscriber on a real Mosquitto on loopback (the message carries
    the wall time of its reading; the agent's clock is this machine's)."""
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists():
        return {"mqtt_ms_p50": None, "mqtt_ms_p99": None, "mqtt_note": "mosquitto is not installed"}
    import paho.mqtt.client as paho
    from pi_agent.clock import ScaledClock
    from pi_agent.mqtt import MqttLink, Outbox
    from pi_agent.simulated_run import SimulatedRun
    folder = Path(tempfile.mkdtemp())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = folder / "m.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                    + ("user root\n" if os.geteuid() == 0 else ""))
    broker = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latencies = []
    try:
        time.sleep(0.5)
        sub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-sub")
        sub.on_message = lambda c, u, m: latencies.append((time.time() - json.loads(m.payload)["ts"]) * 1000)
        sub.connect("127.0.0.1", port)
        sub.subscribe("openpalm/bench/load", 0)
        sub.loop_start()
        cfg = _cfg()
        scen = _scenario(cfg, [{"hold": 1, "set": {"pad_palm": 40, "pad_fingers": 25}}, {"hold": 3600}])
        clock = ScaledClock(time.time(), 1.0)
        sim = SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=folder / "state", bus_time=False,
                            real_time=True)
        link = MqttLink(cfg, sim.agent, Outbox(folder / "state"), device="bench", broker=f"mqtt://127.0.0.1:{port}",
                        password=None, zone=scen.zone())
        link.start()
        sim.after_step = link.after_step
        link.connected.wait(5)
        sim._run_until(4.0 if quick else 20.0)
        sim.finish()
        link.stop()
        sub.loop_stop()
    finally:
        broker.terminate()
        broker.wait(5)
    latencies.sort()
    return {"mqtt_ms_p50": round(latencies[len(latencies) // 2], 2),
            "mqtt_ms_p99": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
            "mqtt_messages": len(latencies)}


# -- store_writes_per_hour ---------------------------------------------------------------------------------
def store_writes(quick: bool) -> dict:
    """Store commits in the second hour of a steady simulated day (splint worn and open,
    in virtual time): checkpoints, plus any outbox and dose writes."""
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun
    cfg = _cfg()
    scen = _scenario(cfg, [{"hold": 7200, "set": OPEN}])
    sim = SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=Path(tempfile.mkdtemp()))
    sim._run_until(3600)
    before = sim.agent.store.commits
    sim._run_until(7200)
    sim.close()
    return {"store_writes_per_hour": sim.agent.store.commits - before}


# -- clinic ----------------------------------------------------------------------------------------------
def clinic(quick: bool) -> dict:
    """How many simulated devices one Mosquitto and one `pi-agent dashboard` follow with every
    update shown within 1 s (bench/clinic.py), and the dashboard's peak memory at that size."""
    from bench.clinic import clinic_capacity
    return clinic_capacity(quick)


ALL = [sample_cost, adc_efficiency, feedback_latency, sim_day, idle_process, mqtt_latency, store_writes, clinic]
