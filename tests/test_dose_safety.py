"""The daily dose holds in real motor time across crashes: a dose is booked before the
motor starts it, and a power cut's open dose counts as delivered up to its
planned end. Measured on the simulated motor's own trace."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zoneinfo

import pytest

from agentproc import CpuWait, write_config
from conftest import ROOT, run_cli
from mock_hw import scenario_file
from pi_agent import config
from pi_agent.clock import VirtualClock
from pi_agent.simulated_run import SimulatedRun, run_scenario
from pi_agent.store import Store


def on_time(trace_lines, kills=()):
    """Seconds the motor was on, from trace lines 't level' (scenario time); a run that was
    killed ends at its kill time (the next run's first line is its 'off at start')."""
    total, on_since, kills = 0.0, None, sorted(kills)
    for line in trace_lines:
        t, level = (float(x) for x in line.split())
        if on_since is not None:
            end = t
            while kills and kills[0] < t:          # the process died before this line
                end = min(end, kills.pop(0))
            total += max(0.0, end - on_since)
            on_since = None
        if level > 0:
            on_since = t
    return total


def cmd(name, **args):
    return {"command": {"name": name, "args": args}}


def _day_of_therapy_with_power_cuts(seed: int) -> dict:
    """Requests back to back with rests, and power cuts at random moments inside therapy."""
    rng = random.Random(seed)
    steps = []
    for _ in range(14):
        steps.append(cmd("vibration_start", level="low", minutes=rng.choice([3, 5, 10, 30])))
        run = rng.uniform(20, 500)
        steps += [{"hold": run}, {"power_cut": {"off": rng.uniform(1, 120)}}, {"hold": 700}]
    return {"start": "2026-05-01T07:00:00", "timezone": "Europe/Berlin", "seed": seed, "steps": steps}


@pytest.mark.parametrize("seed", range(6))
def test_power_cuts_in_therapy_never_let_the_motor_past_the_daily_maximum(cfg, tmp_path, seed):
    """Power cuts at random moments in therapy: the motor's real on-time (its trace) stays
    within the daily maximum, and the store's total is never below it."""
    scen = scenario_file.parse(_day_of_therapy_with_power_cuts(seed), {n: s.kind for n, s in cfg.sensors.items()})
    trace = tmp_path / "motor.trace"
    with SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path,
                       motor_trace=trace) as sim:
        sim.run()
        sim.finish()
        assert sim.power_cuts == 14
    real = on_time(trace.read_text().splitlines())
    limit = cfg.therapy.max_daily_min * 60
    store = Store(tmp_path, readonly=True)
    booked = store.days()["2026-05-01"]["vibration_s"]
    doses = store.doses("2026-05-01")
    store.close()
    assert real <= limit + 1e-6
    assert booked >= real - 1e-6
    assert all(d["stop"] is not None for d in doses), "every dose is closed after the restarts"
    assert booked > 0.9 * limit, "the day reached its maximum (by the books: an interrupted dose counts whole)"


def test_a_dose_is_in_the_store_before_the_motor_starts(cfg, tmp_path):
    """At the moment the motor first turns on for therapy, the store already has the dose and its planned end."""
    scen = scenario_file.parse({"start": "2026-05-01T09:00:00", "steps": [
        {"hold": 2}, cmd("vibration_start", level="high", minutes=5), {"hold": 10}]},
        {n: s.kind for n, s in cfg.sensors.items()})
    seen = []
    with SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path) as sim:
        motor = sim.rig.motor
        original = motor.set_level

        def set_level(level):
            if level > 0:
                seen.append(Store(tmp_path, readonly=True).doses())
            original(level)
        motor.set_level = set_level
        sim.run()
        sim.finish()
    first = seen[0]
    assert len(first) == 1 and first[0]["stop"] is None
    assert first[0]["planned_end"] - first[0]["start"] == pytest.approx(300, abs=0.5)


def test_a_stop_as_the_power_comes_back_stops_the_new_agent(cfg, tmp_path):
    """A stop (a signal) that lands while the agent of after a power cut is being built:
    that agent stops too, and the run ends there (the stop saw no agent, so nothing
    stopped the new one, and the run went on to the scenario's end, every sleep cut short)."""
    scen = scenario_file.parse({"start": "2026-05-01T09:00:00", "timezone": "Europe/Berlin", "seed": 1, "steps": [
        {"hold": 60}, {"power_cut": {"off": 10}}, {"hold": 3600}]}, {n: s.kind for n, s in cfg.sensors.items()})
    sim = SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path)
    build = sim._new_agent

    def signalled_while_building():
        sim.stop()
        return build()
    sim._new_agent = signalled_while_building
    try:
        assert sim.run() is False
        assert sim.agent.stopping.is_set() and sim.scenario_time() < 100
    finally:
        sim.finish()


def test_sigkill_during_therapy_never_lets_the_motor_past_the_daily_maximum(tmp_path):
    """A real `pi-agent run --simulate`, killed with SIGKILL at random moments during therapy
    and restarted each time: the motor's on-time stays within a (small) daily maximum and
    the store's total is never below it."""
    cfgfile = write_config(tmp_path / "cfg", "[therapy]\nmax_daily_min = 2\nmax_continuous_min = 1\nrest_min = 1\nprotocol_block_min = 1\n")
    cfg = config.load(cfgfile)
    steps = []
    for _ in range(30):
        steps += [cmd("vibration_start", level="low", minutes=1), {"hold": 150}]
    scenario = tmp_path / "therapy.json"
    scenario.write_text(json.dumps({"start": "2026-05-01T09:00:00", "timezone": "Europe/Berlin", "steps": steps}))
    trace, state = tmp_path / "motor.trace", tmp_path / "state"
    speed = 60.0
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("JOURNAL_STREAM", None)
    args = [sys.executable, "-m", "pi_agent", "run", "--config", str(cfgfile), "--simulate", str(scenario),
            "--speed", str(speed), "--state-dir", str(state), "--motor-trace", str(trace)]
    rng = random.Random(4)
    kills = []
    deadline = time.monotonic() + 240
    while True:
        before = len(trace.read_text().splitlines()) if trace.exists() else 0
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output: list[str] = []
        threading.Thread(target=lambda p=proc, out=output: out.extend(p.stdout), daemon=True).start()
        # Wait for this run's motor to run (the agent's own trace says so), then kill it at a
        # random moment; once the day's maximum refuses more, stop this last run cleanly.
        running = False
        while time.monotonic() < deadline and proc.poll() is None:
            lines = trace.read_text().splitlines()[before:] if trace.exists() else []
            if lines and float(lines[-1].split()[1]) > 0:
                running = True
                break
            if any("vibration is reached" in line for line in output):     # refused: the day is full
                break
            time.sleep(0.02)
        if not running or len(kills) >= 8:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) in (0, -signal.SIGTERM), "".join(output)
            break
        time.sleep(rng.uniform(0.05, 0.8))         # inside the 1-second (real time) block
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        started = json.loads((state / "simulation.json").read_text())["started"]
        kills.append((time.time() - started) * speed)      # scenario time, a little after the kill
    assert len(kills) >= 2, "killed during therapy"
    real = on_time(trace.read_text().splitlines(), kills)
    store = Store(state, readonly=True)
    booked = store.days()["2026-05-01"]["vibration_s"]
    store.close()
    limit = cfg.therapy.max_daily_min * 60
    assert real <= limit + 1e-6, (real, kills)
    assert booked >= real - 1e-6, (booked, real)
    assert booked >= 0.9 * limit, "the day came close to its maximum"


def test_a_sped_up_run_plays_a_therapy_for_its_length_in_scenario_time(tmp_path):
    """`run --simulate --speed 1000` with a 2-minute therapy: the motor trace shows it on for
    about 2 minutes of scenario time (the motor thread waited up to 0.25 s of real time,
    250 s of scenario, and played it 251 s), and no false 'loop stopped beating'."""
    scenario = tmp_path / "therapy.json"
    scenario.write_text(json.dumps({"start": "2026-05-01T09:00:00", "timezone": "Europe/Berlin", "steps": [
        {"hold": 600}, cmd("vibration_start", level="low", minutes=2), {"hold": 600}]}))
    trace = tmp_path / "motor.trace"
    proc = subprocess.Popen([sys.executable, "-m", "pi_agent", "run", "--simulate", str(scenario), "--speed", "1000",
                             "--state-dir", str(tmp_path / "state"), "--motor-trace", str(trace)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    waits = CpuWait(proc.pid)
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
        waits.stop()
    waited = waits.between(0, float("inf"))          # all the run waited for a CPU: a bound on its lateness
    assert proc.returncode == 0, stderr
    assert "stopped beating" not in stderr, stderr
    played = on_time(trace.read_text().splitlines())
    # 50 ms of real-time lateness allowed (50 s of scenario), and what the busy machine took.
    assert 100 <= played <= 170 + 1000 * waited, (played, waited, trace.read_text())


@pytest.mark.parametrize("jumps", [[86400], [-86400, -86400]], ids=["a day ahead", "a day back twice"])
def test_wall_clock_jumps_open_no_fresh_daily_budget(cfg, tmp_path, jumps):
    """Three 30-minute doses, then the wall clock jumps a day (ahead, or back twice) and three
    more are asked for each time: the motor's real on-time (its trace) stays within the daily maximum."""
    steps = []
    for jump in [None] + jumps:
        steps += [{"clock_step": jump}] if jump is not None else []
        for _ in range(3):
            steps += [cmd("vibration_start", level="low", minutes=30), {"hold": 2410}]
    scen = scenario_file.parse({"start": "2026-05-01T09:00:00", "timezone": "Europe/Berlin", "seed": 1,
                                "steps": steps}, {n: s.kind for n, s in cfg.sensors.items()})
    trace = tmp_path / "motor.trace"
    _, report = run_scenario(cfg, scen, state_dir=tmp_path, zone=scen.zone(), motor_trace=trace)
    real = on_time(trace.read_text().splitlines())
    limit = cfg.therapy.max_daily_min * 60
    assert limit - 1 <= real <= limit + 0.1, real
    assert sum(day["vibration_s"] for day in report["days"].values()) <= limit + 1e-3, report["days"]


def test_an_interrupted_therapy_shows_what_nobody_saw_played(cfg, tmp_path):
    """A 5-minute therapy cut by a 10-minute power cut after 130 s: the day counts 300 s (the
    limits must assume the motor ran to its planned end), and says which part of them is
    unconfirmed (beyond the last checkpoint of the dose); its event gives the confirmed
    seconds, which the motor's trace really played; status, the report and the journal say so."""
    scen = scenario_file.parse({"start": "2026-05-01T09:00:00", "timezone": "Europe/Berlin", "seed": 1, "steps": [
        {"hold": 10}, cmd("vibration_start", level="low", minutes=5), {"hold": 130},
        {"power_cut": {"off": 600}}, {"hold": 60}]}, {n: s.kind for n, s in cfg.sensors.items()})
    trace, events = tmp_path / "motor.trace", []
    _, report = run_scenario(cfg, scen, state_dir=tmp_path, zone=scen.zone(), motor_trace=trace,
                             on_event=events.append)
    day = report["days"]["2026-05-01"]
    played = on_time(trace.read_text().splitlines())
    [ended] = [e.data for e in events if e.type == "vibration_session"]
    assert ended["reason"] == "interrupted" and ended["seconds"] == pytest.approx(300, abs=1)
    assert 60 <= ended["confirmed_s"] <= played <= 131, (ended, played)
    assert day["vibration_s"] == pytest.approx(300, abs=1)
    assert day["vibration_unconfirmed_s"] == pytest.approx(300 - ended["confirmed_s"], abs=0.2)
    from pi_agent.render import journal_line
    assert "min of it confirmed" in journal_line(next(e for e in events if e.type == "vibration_session"))[1]
    status = run_cli("status", "--state-dir", str(tmp_path), "--date", "2026-05-01")
    assert status.returncode == 0 and "of it unconfirmed" in status.stdout, status.stdout + status.stderr
    html = run_cli("report", "--state-dir", str(tmp_path), "--from", "2026-05-01", "--to", "2026-05-01",
                   "--format", "html", "--output", str(tmp_path / "r.html"))
    assert html.returncode == 0, html.stderr
    assert "unconfirmed" in (tmp_path / "r.html").read_text()


def _therapy_day(start: str, minutes: float = 5) -> dict:
    return {"start": start, "timezone": "Europe/Berlin", "seed": 1,
            "steps": [{"hold": 5}, cmd("vibration_start", level="low", minutes=minutes), {"hold": minutes * 60 + 30}]}


def test_a_damaged_store_leaves_no_therapy_until_midnight(cfg, tmp_path, caplog):
    """A store found damaged is moved aside with today's dose log in it: the daily maximum
    cannot be known, so no therapy until midnight (the request is refused, saying why, and
    the motor stays off), also after a restart later that day; the next day is whole."""
    kinds = {n: s.kind for n, s in cfg.sensors.items()}
    run_scenario(cfg, scenario_file.parse(_therapy_day("2026-05-01T09:00:00"), kinds), state_dir=tmp_path,
                 zone=zoneinfo.ZoneInfo("Europe/Berlin"))
    db = tmp_path / "openpalm.db"
    with sqlite3.connect(db) as conn:            # the write-ahead log into the file, then half of it gone
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 2)
    for start in ("2026-05-01T14:00:00", "2026-05-01T20:00:00"):      # found damaged; a restart later that day
        trace = tmp_path / f"motor-{start[11:13]}.trace"
        caplog.clear()
        run_scenario(cfg, scenario_file.parse(_therapy_day(start), kinds), state_dir=tmp_path,
                     zone=zoneinfo.ZoneInfo("Europe/Berlin"), motor_trace=trace)
        assert on_time(trace.read_text().splitlines()) == 0
        [refused] = [r.getMessage() for r in caplog.records if "vibration_start refused" in r.getMessage()]
        assert "lost with a damaged store" in refused and "until midnight" in refused, refused
    assert list(tmp_path.glob("openpalm.db.damaged-*")), "the damaged file is kept aside"
    trace = tmp_path / "motor-back.trace"      # the wall clock set back a day, a restart, then forward again
    back = {"start": "2026-05-01T21:00:00", "timezone": "Europe/Berlin", "seed": 1, "steps": [
        {"hold": 5}, {"clock_step": -86400}, {"power_cut": {"off": 1}}, {"hold": 5},
        cmd("vibration_start", level="low", minutes=5), {"hold": 30}, {"clock_step": 86400},
        cmd("vibration_start", level="low", minutes=5), {"hold": 330}]}
    run_scenario(cfg, scenario_file.parse(back, kinds), state_dir=tmp_path, zone=zoneinfo.ZoneInfo("Europe/Berlin"),
                 motor_trace=trace)
    assert on_time(trace.read_text().splitlines()) == 0
    trace = tmp_path / "motor-next-day.trace"
    run_scenario(cfg, scenario_file.parse(_therapy_day("2026-05-02T09:00:00"), kinds), state_dir=tmp_path,
                 zone=zoneinfo.ZoneInfo("Europe/Berlin"), motor_trace=trace)
    assert on_time(trace.read_text().splitlines()) == pytest.approx(300, abs=1)


def test_a_store_emptied_to_0_bytes_leaves_no_therapy_until_midnight(cfg, tmp_path):
    """A file system that lost a store's writes leaves it at 0 bytes: it was taken for a new
    store, and the day's whole maximum was given again. It goes aside as damaged."""
    kinds = {n: s.kind for n, s in cfg.sensors.items()}
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    run_scenario(cfg, scenario_file.parse(_therapy_day("2026-05-01T09:00:00"), kinds), state_dir=tmp_path, zone=zone)
    (tmp_path / "openpalm.db").write_bytes(b"")
    for log in ("openpalm.db-wal", "openpalm.db-shm"):     # (its log and index gone with the lost writes)
        (tmp_path / log).unlink(missing_ok=True)
    trace = tmp_path / "motor.trace"
    run_scenario(cfg, scenario_file.parse(_therapy_day("2026-05-01T14:00:00"), kinds), state_dir=tmp_path, zone=zone,
                 motor_trace=trace)
    assert on_time(trace.read_text().splitlines()) == 0
    assert list(tmp_path.glob("openpalm.db.damaged-*"))


def test_the_player_plays_no_therapy_on_a_closed_day():
    """Below every caller: a therapy order on a day whose dose log was lost ends at once."""
    from pi_agent.core import orders
    from pi_agent.player import MotorPlayer
    levels = []

    class Motor:
        def set_level(self, level):
            levels.append(level)

        def close(self):
            pass
    clock = VirtualClock(start_wall=1_777_600_000.0)
    player = MotorPlayer(Motor(), clock, max_continuous_s=1800, max_daily_s=5400, since_midnight=lambda: 3600.0)
    player.close_day(until=7200.0)
    player.apply(orders.Therapy(0.5, ((0.0, 300.0),), 300.0))
    player.poll(0.0)
    clock.advance(10)
    player.poll(10.0)
    assert max(levels, default=0.0) == 0.0 and player.take_stops()


def test_clock_steps_back_with_power_cuts_never_open_the_daily_maximum(tmp_path):
    """A 10-minute start, 45 s of it, the wall clock set back 50 s and a power cut, again and
    again, then one more start: the interrupted therapies counted as nothing (the restart was
    dated before them), so the motor ran 735 s on a 10-minute day. Each now counts to its
    planned end, and the motor's real on-time stays within the daily maximum."""
    from pi_agent import config
    cfg = config.load(write_config(tmp_path / "etc", "[therapy]\nmax_daily_min = 10"))
    steps = []
    for _ in range(4):
        steps += [cmd("vibration_start", level="low", minutes=10), {"hold": 45}, {"clock_step": -50},
                  {"power_cut": {"off": 1}}, {"hold": 5}]
    steps += [cmd("vibration_start", level="low", minutes=10), {"hold": 700}]
    scen = scenario_file.parse({"start": "2026-05-01T09:00:00", "timezone": "Europe/Berlin", "seed": 1,
                                "steps": steps}, {n: s.kind for n, s in cfg.sensors.items()})
    trace = tmp_path / "motor.trace"
    _, report = run_scenario(cfg, scen, state_dir=tmp_path / "state", zone=scen.zone(), motor_trace=trace)
    played = on_time(trace.read_text().splitlines())
    assert played <= 600 + 0.1, played
    assert report["days"]["2026-05-01"]["vibration_s"] >= played - 1e-6


def test_a_damaged_store_found_by_a_clock_behind_stays_closed_when_ntp_sets_it(cfg, tmp_path):
    """The damaged store found at a boot whose clock says the day before (a Pi's clock until
    NTP sets it), then stepped forward to the real day: that day stays closed (it was given
    its whole maximum again: 20 minutes on a 10-minute day)."""
    kinds = {n: s.kind for n, s in cfg.sensors.items()}
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    run_scenario(cfg, scenario_file.parse(_therapy_day("2026-05-04T10:00:00"), kinds), state_dir=tmp_path, zone=zone)
    db = tmp_path / "openpalm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 2)
    trace = tmp_path / "motor.trace"
    behind = {"start": "2026-05-03T23:40:00", "timezone": "Europe/Berlin", "seed": 1, "steps": [
        {"hold": 60}, {"clock_step": 37800}, {"hold": 1500}, cmd("vibration_start", level="low", minutes=5), {"hold": 330}]}
    run_scenario(cfg, scenario_file.parse(behind, kinds), state_dir=tmp_path, zone=zone, motor_trace=trace)
    assert on_time(trace.read_text().splitlines()) == 0


def test_a_clock_stepped_forward_before_a_power_cut_gives_no_rest(tmp_path):
    """4 minutes of therapy (the continuous maximum), the wall clock stepped an hour forward,
    a power cut of 1 s, and another 4 minutes asked for: the dose just ended looked an hour
    old, and the motor ran 8 minutes with a 6-s break. The rest now counts from the restart."""
    from pi_agent import config
    cfg = config.load(write_config(tmp_path / "etc", "[therapy]\nmax_continuous_min = 4\nrest_min = 2\n"
                                                     "protocol_block_min = 3"))
    scen = scenario_file.parse({"start": "2026-05-04T10:00:00", "timezone": "Europe/Berlin", "seed": 1, "steps": [
        {"hold": 5}, cmd("vibration_start", level="low", minutes=4), {"hold": 240}, {"clock_step": 3600},
        {"power_cut": {"off": 1}}, {"hold": 5}, cmd("vibration_start", level="low", minutes=4), {"hold": 250}]},
        {n: s.kind for n, s in cfg.sensors.items()})
    trace = tmp_path / "motor.trace"
    run_scenario(cfg, scen, state_dir=tmp_path / "state", zone=scen.zone(), motor_trace=trace)
    assert on_time(trace.read_text().splitlines()) <= 240 + 0.5
