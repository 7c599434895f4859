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

from bench.clinic import wait_port
from bench.common import OPEN, PRESSED, ROOT, agent_process, bench_config, bench_scenario
from bench.cpu import cpu_states, wake_costs


# -- sample_us, sample_us_daily and floor_us ---------------------------------------------------
def _cost_per_reading(cfg, values: dict, quick: bool) -> float:
    """CPU time per channel reading through the whole loop, in virtual time with the
    hand as ``values`` says; the median of 20 batches."""
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun
    scen = bench_scenario(cfg, [{"hold": 36000, "set": values}])
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
    sim.close()
    return statistics.median(samples)


def sample_cost(quick: bool) -> dict:
    """CPU time per channel reading through the whole path (the lean reads, single shot
    and continuous, on the register model, conversion, fault detection, trackers, day
    accounting), in virtual time, median of 20 batches: ``sample_us_daily`` in the
    everyday state (splint worn, pad empty: 12 splint and 4 pad readings a second),
    ``sample_us`` in a weight-bearing session (200 pad readings a second, each one
    two-byte read of a continuously converting chip, and the splint's 12). The floor:
    the same register model read directly, the same reads in the session's mix (a
    continuous chip: one read of its conversion register; a single-shot chip: config
    write, ready poll, result read), weighted by each channel's reading rate."""
    from pi_agent.clock import VirtualClock
    from pi_agent.core import PAD_CHANNELS
    from pi_agent.simulated_run import SimulatedRun
    cfg = bench_config()
    sample_us = _cost_per_reading(cfg, PRESSED, quick)
    daily_us = _cost_per_reading(cfg, OPEN, quick)
    per_batch = 500 if quick else 3000
    scen = bench_scenario(cfg, [{"hold": 36000, "set": PRESSED}])
    sim = SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=None)
    sim.agent.run_until(5)             # the chips as the agent leaves them: the pad's converting
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
    return {"sample_us": round(sample_us, 2), "sample_us_daily": round(daily_us, 2), "floor_us": round(floor_us, 2),
            "sample_floor_ratio": round(sample_us / floor_us, 2)}


# -- readings against the schedule and against the chips' data rates (real time) ------------------
def _real_time_sim(cfg, steps, state_dir=None):
    from pi_agent.clock import ScaledClock
    from pi_agent.simulated_run import SimulatedRun
    scen = bench_scenario(cfg, steps)
    clock = ScaledClock(time.time(), 1.0)
    sim = SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=state_dir, bus_time=False, real_time=True)
    return sim, clock


def readings_delivered(quick: bool) -> dict:
    """Readings delivered a second in real time, with the register model taking each
    conversion's real time, during a weight-bearing session with the splint worn, against
    two references: ``schedule_kept``, the readings the schedule asks for (the pad's two
    zones at active_rate_hz, each splint channel at its chip's rate_hz: 212 a second);
    ``data_rate_share``, the conversions the chips make at their configured data rates
    (128 + 475 + 475 a second): how much of what the converters produce the agent uses."""
    cfg = bench_config()
    seconds = 5.0 if quick else 20.0
    sim, clock = _real_time_sim(cfg, [{"hold": 3600, "set": PRESSED}])
    agent = sim.agent
    agent.run_until(1.0)
    conversions0 = {chip: m.conversions for chip, m in sim.rig.chips.items()}
    t0 = clock.monotonic()
    agent.run_until(t0 + seconds)
    elapsed = clock.monotonic() - t0
    delivered = sum(m.conversions - conversions0[chip] for chip, m in sim.rig.chips.items())
    asked = (cfg.weight_bearing.active_rate_hz * 2 + cfg.chips["splint"].rate_hz * 3) * elapsed
    data_rates = {s.chip: s.data_rate for s in cfg.sensors.values()}   # a chip converts at its channels' rate
    sim.finish()
    return {"schedule_kept": round(delivered / asked, 3),
            "data_rate_share": round(delivered / (sum(data_rates.values()) * elapsed), 3),
            "readings_per_s": round(delivered / elapsed, 1)}


def feedback_latency(quick: bool) -> dict:
    """`pi-agent run --simulate --speed 1 --motor-trace FILE` as a process: in a session
    (30 N, under the band), the load steps to 70 N (in the band) and back, both zones at
    once, each step after a random hold of 1.2 to 1.8 s, so it lands at a random phase of
    the pad's 10-ms readings; the time from each step to the motor's first level above 0
    (the in-band cue), both in scenario time as the agent's own clock counts it (the
    scenario's step, the motor trace's stamp)."""
    import random
    rng = random.Random(20)
    steps_n = 10 if quick else 50
    low, high = {"pad_palm": 20, "pad_fingers": 10}, {"pad_palm": 45, "pad_fingers": 25}
    steps, t, step_at = [{"hold": 2.0, "set": low}], 2.0, []
    for _ in range(steps_n):
        up, down = round(rng.uniform(1.2, 1.8), 4), round(rng.uniform(1.2, 1.8), 4)
        step_at.append(t)
        steps += [{"hold": up, "set": high}, {"hold": down, "set": low}]
        t += up + down
    folder = Path(tempfile.mkdtemp())
    trace = folder / "motor.trace"
    proc = agent_process(folder, steps + [{"hold": 1.0}], "--motor-trace", str(trace))
    try:
        proc.wait(t + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    changes = [tuple(map(float, line.split())) for line in trace.read_text().splitlines() if line.strip()]
    latencies = []
    for at in step_at:
        after = [ct for ct, level in changes if ct >= at and level > 0]
        if after and after[0] - at < 1.0:
            latencies.append((after[0] - at) * 1000)
    shutil.rmtree(folder, ignore_errors=True)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    return {"feedback_ms_p50": round(p(0.5), 2), "feedback_ms_p99": round(p(0.99), 2),
            "feedback_ms_max": round(latencies[-1], 2), "feedback_steps": len(latencies),
            "feedback_steps_missed": steps_n - len(latencies)}


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


# -- mqtt_ms ---------------------------------------------------------------------------------------------
def mqtt_latency(quick: bool) -> dict:
    """A reading's time to a subscriber: the load messages of a weight-bearing session from
    a real-time agent to a subscriber on a real Mosquitto on loopback, from the wall time
    the message carries (that of the pad reading its load is from; the agent's clock is
    this machine's) to the subscriber's receipt."""
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
        wait_port(port)
        subscribed = threading.Event()
        sub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-sub")
        sub.on_message = lambda c, u, m: latencies.append((time.time() - json.loads(m.payload)["ts"]) * 1000)
        sub.on_subscribe = lambda *_: subscribed.set()
        sub.connect("127.0.0.1", port)
        sub.subscribe("openpalm/bench/load", 0)
        sub.loop_start()
        if not subscribed.wait(30):
            raise RuntimeError(f"the bench's Mosquitto on port {port} did not take a subscription in 30 s")
        cfg = bench_config()
        scen = bench_scenario(cfg, [{"hold": 1, "set": {"pad_palm": 40, "pad_fingers": 25}}, {"hold": 3600}])
        clock = ScaledClock(time.time(), 1.0)
        sim = SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=folder / "state", bus_time=False,
                            real_time=True)
        link = MqttLink(cfg, sim.agent, Outbox(folder / "state"), device="bench", broker=f"mqtt://127.0.0.1:{port}",
                        password=None, zone=scen.zone())
        link.start()
        sim.after_step = link.after_step
        if not link.connected.wait(30):
            raise RuntimeError(f"the agent did not connect to the bench's Mosquitto on port {port} in 30 s")
        sim._run_until(4.0 if quick else 20.0)
        sim.finish()
        link.stop()
        sub.loop_stop()
    finally:
        broker.terminate()
        broker.wait(5)
        shutil.rmtree(folder, ignore_errors=True)
    if not latencies:
        raise RuntimeError("no load message reached the subscriber")
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
    cfg = bench_config()
    scen = bench_scenario(cfg, [{"hold": 7200, "set": OPEN}])
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


ALL = [sample_cost, readings_delivered, feedback_latency, sim_day, cpu_states, wake_costs, mqtt_latency, store_writes, clinic]
