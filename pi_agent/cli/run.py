"""``pi-agent run``: the agent on the Pi's sensors until stopped, or with ``--simulate``
on simulated hardware playing a scenario in (sped-up) real time, ending with each
simulated day's totals."""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path

from pi_agent import config
from pi_agent.cli.common import (EX_UNAVAILABLE, exit_on_signal, folder_arg, log, on_signals, state_dir_of, with_config,
                                 zone_of)
from pi_agent.errors import ConfigError, OutputError, SensorError, StoreAccessError, StoreError
from pi_agent.systemd import Notifier, writes_to_journal

LINE_HELP = """\
what the line says:
  hand open        the splint is on and the hand is in the open position
                   (wrist bent back, fingers straight): the time that counts
  hand closed      the splint is on, but the wrist is not bent back enough or
                   the fingers are curled
  splint off       the splint is not on the hand (nothing presses on its palm
                   sensor)
  no reading yet   the agent has just started and has not read the splint yet
  position unknown (sensor fault)
  splint on, position unknown (sensor fault)
                   a splint sensor is not answering or not believable (the
                   "faults" part says which); this time never counts as open
  for 1:05         for how long (hours:minutes) the hand has been so
  today: open 2.5 h of 6 h (42%), worn 3.0 h
                   hours in the open position against the daily goal; hours worn
  wrist 25°, fingers 5°, palm (in the splint) 3.0 N
                   the splint's sensors now: the wrist bent back and the
                   fingers curled, in degrees, and the force on the palm
  pad (heel of the hand), pad (fingers)
                   the load on the two zones of the table pad, in newtons
                   (10 N is about 1 kg)
  --               a sensor with no believable value now (see "faults")
  load 62.0 N (6.3 kg, 9% of body weight), fingers 30%, in the band (50-100 N)
                   both zones together, in kilograms and as a share of the
                   body weight when it is configured, the fingers' share, and
                   where the load is against the therapist's target band
                   ("below the band", "in the band", "over the maximum");
                   "load --" when the pad has no reading
  faults: none     or each sensor fault in words, e.g. "wrist sensor
                   disconnected"; a pad zone "overloaded" carries more than its
                   load cell is rated for, and its load is still measured

With --simulate, the log lines are dated in the simulated day too, as the status lines are.
"""


def add_parser(sub) -> None:
    run = with_config(sub.add_parser("run", help="run the agent (on the Pi's sensors, or --simulate)",
                                     epilog=LINE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter))
    run.add_argument("--simulate", metavar="SCENARIO", type=Path,
                     help="run on simulated hardware playing this scenario file, in real time")
    run.add_argument("--speed", type=float, default=1.0, help="with --simulate: play N times faster")
    run.add_argument("--state-dir", type=folder_arg, help="folder of the durable store")
    run.add_argument("--motor-trace", type=Path, metavar="FILE",
                     help="with --simulate: record every level of the simulated motor in FILE")
    run.add_argument("--broker", metavar="URL", help="MQTT broker, mqtt://host:port or mqtts://host:port "
                                                     "(overrides mqtt.broker)")
    run.add_argument("--device-id", metavar="ID", help="device id in MQTT topics (overrides device.id)")
    run.set_defaults(handler=cmd_run)


def cmd_run(args) -> int:
    if args.simulate is None:
        return _run(args)
    from pi_agent import logs
    with logs.held():              # dated by the simulated clock, once it is known
        return _run(args)


def _run(args) -> int:
    from pi_agent.agent import Agent, load_channels
    from pi_agent.display import LineDisplay
    from pi_agent.render import status_line
    from pi_agent.store import Store, refuse_own_file, refuse_unusable

    cfg = config.load(args.config)
    if args.device_id is not None:
        _check_device_id(args.device_id)
    channels = load_channels(cfg)
    broker = args.broker or cfg.mqtt.broker
    password = config.mqtt_password(cfg)
    if broker:
        from pi_agent.mqtt import check_credentials
        check_credentials(cfg, broker, password)  # a bad URL or clear-text password: before anything starts
    tty = sys.stdout is not None and sys.stdout.isatty()      # (None: standard output closed)
    display = LineDisplay(sys.stdout, every_s=0.25 if tty else 1.0, tty=tty,
                          shown=sys.stdout is not None and not writes_to_journal(sys.stdout))  # journal: events only
    links = []
    notifier = Notifier()

    pace = Pace()

    def after_step(agent) -> None:
        pace.step(agent.clock.monotonic())
        display.update(time.monotonic(), lambda: status_line(agent.core.snapshot(), zone, agent.clock.wall()))
        for link in links:
            link.after_step(agent)
        if notifier.enabled:
            notifier.loop_alive(time.monotonic(), lambda: systemd_status(agent, links))

    def connect(agent, state_dir) -> None:
        """MQTT for this agent (a simulated power cut hands the link to the new agent)."""
        if not broker:
            return
        from pi_agent.mqtt import MqttLink, Outbox, device_id
        if links:
            links[0].attach(agent)
        else:
            outbox = Outbox(state_dir, max_events=cfg.mqtt.outbox_max_events,
                            max_age_s=cfg.mqtt.outbox_max_days * 86400, wall=agent.clock.wall)
            links.append(MqttLink(cfg, agent, outbox, device=device_id(cfg, args.device_id),
                                  broker=broker, password=password, zone=zone))
            links[0].start()

    if args.simulate is not None:
        from mock_hw import scenario_file
        from pi_agent.clock import ScaledClock
        from pi_agent.simulated_run import SimulatedRun
        if not 0 < args.speed <= 100_000:        # NaN fails this too
            raise ConfigError(f"--speed: expected a number above 0 up to 100000, got {args.speed:g}")
        if args.motor_trace is not None:
            refuse_own_file(args.motor_trace, (args.state_dir, state_dir_of(cfg, None)), "--motor-trace")
            try:
                open(args.motor_trace, "a", encoding="utf-8").close()
            except OSError as exc:
                raise ConfigError(f"--motor-trace {args.motor_trace}: cannot write the trace file: "
                                  f"{exc.strerror}") from None
        scen = scenario_file.load(args.simulate, {n: c.kind for n, c in channels.items()})
        zone = zone_of(cfg, scen.timezone)
        temporary = args.state_dir is None
        # A temporary store is removed on every way out: SIGTERM too, even before the run
        # starts (SIGINT already ends in KeyboardInterrupt; the run's own handlers follow).
        signal.signal(signal.SIGTERM, exit_on_signal)
        state_dir = Path(tempfile.mkdtemp(prefix="openpalm-run-")) if temporary else args.state_dir
        try:
            refuse_unusable(state_dir)       # before the resume marker is written beside it
            start_at = _resume_point(state_dir, args.simulate, args.speed)
            if start_at >= scen.timeline.duration:
                log.info("scenario %s already finished in %s", args.simulate, state_dir)
                print(f"To look at it: {status_command_for(state_dir)}")
                return 0
            clock = ScaledClock(scen.start_wall(zone.key) + start_at, args.speed, started=False)   # at sampling
            clock.step_wall(sum(i.value for i in scen.timeline.instants
                                if i.kind == "clock_step" and i.t < start_at))
            from pi_agent import logs
            logs.use_clock(clock.wall, zone)       # the log speaks of the simulated day, not of today
            if temporary:
                log.info("simulated data goes to %s, removed at the end (use --state-dir to keep it)",
                         state_dir)
            sim = SimulatedRun(cfg, scen, clock, zone=zone, state_dir=state_dir, bus_time=False,
                                after_step=after_step, start_at=start_at, real_time=True,
                                motor_trace=args.motor_trace, on_agent=lambda agent: connect(agent, state_dir))
            on_signals(sim.stop)
            atexit.register(sim.close)                 # the motor off for good, on every way out
            log.info("sampling started on simulated hardware: %s (%s, %g times real time, at %.0f s)",
                     scen.name or args.simulate, zone.key, args.speed, start_at)
            clock.start()                          # (said first: the line is stamped with the start)
            try:
                finished = sim.run()
            finally:
                sim.finish()
                for link in links:
                    link.stop()
            if sim.rig.trace_error is not None:
                raise OutputError(f"--motor-trace: {sim.rig.trace_error}")
            if sim.agent is not None:                 # (None: stopped during a power cut)
                display.update(time.monotonic(),
                               lambda: status_line(sim.agent.core.snapshot(), zone, sim.agent.clock.wall()),
                               force=True)           # the last moment, always shown
            display.close()
            log.info("scenario %s", "finished" if finished else "stopped")
            note = pace.note(args.speed, args.simulate) if pace.coarse() else None
            print("\n".join(simulated_summary(cfg, state_dir, sim.days_seen, finished, temporary, note)))
            return 0
        finally:
            if temporary:
                shutil.rmtree(state_dir, ignore_errors=True)

    from pi_agent.clock import UNSET_WALL, SystemClock
    from pi_agent.motors import open_motor
    from pi_agent.player import MotorThread, make_player
    from sensors.array import open_i2c
    zone = zone_of(cfg)
    state_dir = state_dir_of(cfg, args.state_dir)
    store = Store(state_dir)
    try:
        i2c = open_i2c(cfg.hardware.i2c_bus)
    except SensorError as exc:
        print(f"pi-agent run: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    clock = SystemClock()
    if time.time() < UNSET_WALL:
        log.warning("the wall clock reads %s: it was never set (no real-time clock, no network time yet); "
                    "until it is, the time is counted as at 1971-01-02 00:00 UTC", time.strftime("%Y-%m-%d", time.gmtime()))
    try:
        player = make_player(cfg, open_motor(cfg, i2c), clock, zone)
    except (SensorError, OSError, ImportError, RuntimeError) as exc:
        print(f"pi-agent run: cannot open the vibration motor: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    atexit.register(player.close)            # the motor is off on every way out
    agent = Agent(cfg, clock, i2c, channels, zone=zone, store=store, player=player,
                  calibration_path=cfg.calibration_path if cfg.path else None)  # the shipped one: read-only
    agent.poll_motor = False
    MotorThread(player).start()
    if cfg.therapy.button_pin >= 0:
        agent.attach_button(cfg.therapy.button_pin)
    connect(agent, state_dir)
    on_signals(agent.stop)
    log.info("sampling started on the sensors of I2C bus %d", cfg.hardware.i2c_bus)
    try:
        agent.run_forever(after_step=lambda: after_step(agent))
    finally:
        agent.close()
        for link in links:
            link.stop()
        display.close()
    return 0


class Pace:
    """How often a sped-up run really looked at the sensors, in scenario seconds: at high
    speeds the machine cannot read as often as a Pi does, and the totals say less."""

    COARSE_S = 2.0                       # a look less often than this misses what the rules need

    def __init__(self) -> None:
        self.first = self.last = None
        self.steps = 0
        self.widest = 0.0

    def step(self, t: float) -> None:
        if self.last is not None:
            self.widest = max(self.widest, t - self.last)
        else:
            self.first = t
        self.last = t
        self.steps += 1

    def mean(self) -> float:
        return (self.last - self.first) / (self.steps - 1) if self.steps > 1 else 0.0

    def coarse(self) -> bool:
        return self.steps > 1 and self.widest > self.COARSE_S

    def note(self, speed: float, scenario: Path) -> str:
        return (f"Note: at {speed:g} times real time this machine looked at the sensors every "
                f"{_seconds(self.mean())} of the scenario on average (at worst {_seconds(self.widest)} apart), not "
                f"many times a second as on a Pi: short events can be missed and the times above are "
                f"approximate. For exact totals: {program()} simulate {shlex.quote(str(scenario))} --report text")


def _seconds(x: float) -> str:
    return f"{x:.2f} s" if x < 1 else f"{x:.0f} s"


def simulated_summary(cfg, state_dir: Path, days_seen, finished: bool, temporary: bool,
                      note: str | None = None) -> list[str]:
    """What ``run --simulate`` ends with: each simulated day's totals, from the store, a
    ``note`` on them if any, and (last) how to look at them again."""
    from pi_agent.core.days import Day
    from pi_agent.render import Goals, day_lines
    from pi_agent.store import Store
    store = Store(state_dir, readonly=True)
    try:
        days = {d: Day.from_json(r) if r else None for d, r in store.days().items() if d in days_seen}
    finally:
        store.close()
    lines = ["", "The simulated " + ("days" if len(days) > 1 else "day") + (":" if finished else ", so far:")]
    for day, record in days.items():
        lines += day_lines(day, record, cfg.positioning.long_bout_min, Goals.of(cfg))
    if not days:
        lines.append("  nothing tracked")
    if note:
        lines.append(note)
    if temporary:
        lines.append("This run's store was temporary and is removed now. To keep it and look at it again, "
                     "run with --state-dir DIR, then: " + status_command_for(Path("DIR")))
    else:
        lines.append(f"To look at it again: {status_command_for(state_dir)}")
    return lines


def program() -> str:
    """The program as it was called, to print commands a person can paste: ``pi-agent``
    when that is the one on the PATH, else the path it was called by."""
    called = sys.argv[0] if Path(sys.argv[0]).name == "pi-agent" else "pi-agent"
    found = shutil.which("pi-agent")
    if called != "pi-agent" and found and Path(found).resolve() == Path(called).resolve():
        called = "pi-agent"                     # on the PATH: the short name is exact
    return shlex.quote(called)


def status_command_for(state_dir: Path) -> str:
    """The exact command that shows this store."""
    return f"{program()} status --state-dir {shlex.quote(str(state_dir))}"


def systemd_status(agent, links) -> str:
    """The STATUS= line: position, today's open hours, broker connected or not."""
    from pi_agent.render import systemd_status as render
    return render(agent.core.snapshot(), links[0].connected.is_set() if links else None)


def _check_device_id(value: str) -> None:
    import re
    if not re.fullmatch(config.DEVICE_ID, value):
        raise ConfigError(f"--device-id: expected {config.DEVICE_ID_TEXT}, got '{value}'")


def _resume_point(state_dir: Path, scenario_path: Path, speed: float) -> float:
    """Where a restarted ``run --simulate`` picks the scenario up: the simulated world
    went on while the agent was down, as a real hand does while a Pi reboots."""
    marker = Path(state_dir) / "simulation.json"
    ident = {"scenario": str(Path(scenario_path).resolve()), "speed": speed}
    try:
        saved = json.loads(marker.read_text())
        if {k: saved.get(k) for k in ident} == ident:
            return max(0.0, (time.time() - saved["started"]) * speed)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    tmp = marker.with_suffix(".tmp")
    try:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({**ident, "started": time.time()}))
        os.replace(tmp, marker)
    except PermissionError:
        raise StoreAccessError(f"{state_dir}: cannot write in the state directory: permission denied or a "
                               f"read-only file system (check its owner, mode and mount); nothing was changed") from None
    except OSError as exc:
        raise StoreError(f"{state_dir}: cannot write in the state directory: {exc.strerror}") from None
    return 0.0
