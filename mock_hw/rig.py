"""The simulated hardware of one OpenPalm: an I2C bus with an ADS1115 model per
configured chip, whose inputs carry a scenario's physical values turned into volts
through the inverse of the configured calibration, and the scenario's faults. A load
cell channel is a ``Bridge`` on its differential pair, whose offset and volts per newton
are its calibration's tare and slope; a scenario's ``disconnected`` on it is a broken
signal lead. A force-sensing resistor saturates: above its configured ``range_n`` (an
FSR 402: about 20 N) its resistance stops falling, so it reads as at its range, whatever
the load (its calibration's table, which goes on rising, would otherwise let it measure
loads no real one can).

The rig outlives the agent: after a simulated power cut, a new agent starts on the same
rig, as a rebooted Pi finds the same splint and pad. ``close()`` it (or use it in a
``with`` block) when the simulation is over: the motor is closed and gpiozero's default
pin factory is the one from before the rig.
"""

from __future__ import annotations

import bisect
import random

from mock_hw.ads1115 import BRIDGE_NOISE_V, ADS1115Model, Bridge
from mock_hw.gpio import make_default, mock_factory, restore_default
from mock_hw.i2c import MockI2C
from mock_hw.scenario_file import Scenario
from pi_agent.motors import open_motor
from sensors.units import lsb_volts

# Electrical noise of a real build: the ADS1115's own noise plus ripple of a Pi's 3.3 V
# rail through the sensor dividers, about 0.5 mV at gain 1.
DEFAULT_NOISE_LSB = 4.0


class NoisySource:
    """Each channel's value with the scenario's seeded Gaussian noise, sample by sample."""

    def __init__(self, scenario: Scenario, channels: dict[str, str]) -> None:
        self.timeline = scenario.timeline
        self._rng = random.Random(scenario.seed)
        self._sigma = {ch: scenario.noise_deg if kind == "flex" else scenario.noise_newton
                       for ch, kind in channels.items()}

    def sampler(self, channel: str):
        """``f(t)``: the channel's noisy value at scenario time ``t``. Bound once per
        channel, because the simulated chips ask for a value at every conversion."""
        value, sigma, gauss = self.timeline.value, self._sigma[channel], self._rng.gauss
        if not sigma:
            return lambda t: value(channel, t)
        return lambda t: value(channel, t) + gauss(0.0, sigma)


class Rig:
    def __init__(self, cfg, channels: dict, clock, scenario: Scenario | None = None, *,
                 noise_lsb: float | None = None, bus_time: bool = True) -> None:
        """``channels``: the agent's ``sensors.channel.Channel``s (their calibrations are
        what the rig inverts). ``noise_lsb``: the electrical noise of every chip, in counts
        RMS, bridges included; None: as built (``DEFAULT_NOISE_LSB`` on the chips of
        dividers, ``BRIDGE_NOISE_V`` from each load cell). ``bus_time``: let each
        transfer's wire time pass on ``clock`` (for virtual time; real time passes by itself)."""
        self.cfg = cfg
        self.clock = clock
        self.vdd = cfg.hardware.vdd
        self.channels = channels
        # The sensors' physics: the calibration as it was when the rig was built. The agent
        # may re-calibrate (tare) later; the simulated world does not change with it.
        self.physics = {name: ch.calibration for name, ch in channels.items()}
        self.bus = MockI2C(clock, 400_000 if bus_time else None)
        self.scenario = scenario
        self.source = NoisySource(scenario, {n: c.kind for n, c in channels.items()}) if scenario else None
        self.fixed: dict[str, float] = {}       # channel -> value, for tests without a scenario
        self.origin = 0.0                       # monotonic time of the scenario's t = 0
        self.disconnected: set[str] = set()
        self.chips: dict[str, ADS1115Model] = {}
        self.bridges: dict[str, Bridge] = {}     # load cell channel -> its bridge (faults for tests)
        seed = scenario.seed if scenario else 0
        for i, (chip, c) in enumerate(cfg.chips.items()):
            wired = [ch for ch in channels.values() if ch.chip == chip]
            seeds = random.Random(seed * 1000 + i)
            bridge_noise_v = BRIDGE_NOISE_V if noise_lsb is None else 0.0
            source = self._input_source(wired, bridge_noise_v, seeds)
            only_bridges = wired and all(ch.bridge for ch in wired)
            chip_noise = noise_lsb if noise_lsb is not None else 0.0 if only_bridges else DEFAULT_NOISE_LSB
            model = ADS1115Model(clock, source, noise_lsb=chip_noise, seed=seeds.randrange(2**32))
            self.chips[chip] = model
            self.bus.add(c.address, model)
        self.closed = False
        self._trace = None
        self.trace_error: str | None = None     # the first write to the motor trace that failed
        self.motor = self._motor(cfg)
        self._active: list = []
        self._window = (0.0, -1.0)    # scenario times between which the active faults hold
        self._changes = sorted({x for f in scenario.timeline.faults for x in (f.start, f.end)}) if scenario else []
        if self._changes:
            self.bus.before_transfer = self._sync_faults

    def _motor(self, cfg):
        """The vibration motor as configured: an ERM on the rig's own gpiozero mock PWM
        pins (passed to it; the button, if any, is on them too), or a DRV2605L model on the
        same simulated I2C bus as the ADCs. For the rig's life the mock pins are also
        gpiozero's default, so nothing in a simulation can reach a real pin; ``close()``
        puts the previous default back."""
        self.pins = mock_factory()
        self._previous_pins = make_default(self.pins)
        try:
            if cfg.haptics.backend == "drv2605l":
                from mock_hw.drv2605l import DRV2605LModel
                self.drv = DRV2605LModel()
                self.bus.add(cfg.haptics.drv2605l_address, self.drv)
            return open_motor(cfg, self.bus, pin_factory=self.pins)
        except BaseException:
            self.pins.close()
            restore_default(self.pins, self._previous_pins)
            raise

    def trace_motor(self, path) -> None:
        """Record every level the motor is set to, with the scenario time, in a file: an
        oscilloscope on the simulated motor, for tests and benchmarks."""
        self._trace = out = open(path, "a", buffering=1, encoding="utf-8")
        motor, clock, rig = self.motor, self.clock, self
        original = motor.set_level

        def set_level(level: float) -> None:
            original(level)
            if rig.trace_error is None:
                try:
                    out.write(f"{clock.monotonic() - rig.origin:.4f} {level:.3f}\n")
                except OSError as exc:       # the motor never depends on its trace: noted, said at the end
                    rig.trace_error = f"cannot write the motor trace {path}: {exc.strerror or exc}"
        motor.set_level = set_level

    def close(self) -> None:
        """The end of the simulated hardware: the motor off and closed, the mock pins
        closed, gpiozero's previous default pin factory back. Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            self.motor.close()
        finally:
            if self._trace is not None:
                try:
                    self._trace.close()
                except OSError as exc:
                    self.trace_error = self.trace_error or f"cannot write the motor trace: {exc.strerror or exc}"
            self.pins.close()
            restore_default(self.pins, self._previous_pins)

    def __enter__(self) -> "Rig":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def power_cut(self) -> None:
        """The supply is gone: the motor stops, whatever the agent was doing."""
        self.motor.set_level(0.0)

    def _input_source(self, wired: list, bridge_noise_v: float, seeds: random.Random):
        """The chip's input voltages: each channel's physical value (the scenario's, with its
        noise, or a test's fixed one) through the inverse of its calibration; a load cell's
        through its bridge, on its two inputs."""
        inputs = {}
        for ch in wired:
            value = self._value(ch.name)
            if not ch.bridge:
                if ch.kind == "force":
                    value = _saturating(value, self.cfg.sensors[ch.name].range_n)
                inputs[ch.input] = self._divider(ch.name, value, self.physics[ch.name].to_counts, lsb_volts(ch.gain))
                continue
            cal, lsb = self.physics[ch.name], lsb_volts(ch.gain)
            bridge = Bridge(value, excitation_v=self.vdd, volts_per_n=lsb / cal.newtons_per_count,
                            offset_v=cal.tare * lsb, noise_v=bridge_noise_v, seed=seeds.randrange(2**32))
            self.bridges[ch.name] = bridge
            inputs[ch.input], inputs[ch.negative] = bridge.positive, bridge.negative

        def volts(input_: int, t: float) -> float:
            at = inputs.get(input_)
            return 0.0 if at is None else at(t)
        return volts

    def _value(self, name: str):
        """``f(t)``: the channel's physical value at monotonic ``t`` (a test's fixed value, or
        the scenario's with its noise)."""
        sample = self.source.sampler(name) if self.source else None
        fixed, rig = self.fixed, self

        def value(t: float) -> float:
            if name in fixed:
                return fixed[name]
            return sample(t - rig.origin) if sample else 0.0
        return value

    def _divider(self, name: str, value, to_counts, lsb: float):
        """A divider's middle point: the value's counts in volts; the top rail when its
        lead is broken (the input's pull-up)."""
        disconnected, vdd = self.disconnected, self.vdd

        def volts(t: float) -> float:
            return vdd if name in disconnected else to_counts(value(t)) * lsb
        return volts

    def scenario_time(self) -> float:
        return self.clock.monotonic() - self.origin

    def _sync_faults(self) -> None:
        """Apply the scenario's faults active now (called before every transfer)."""
        t = self.clock.monotonic() - self.origin
        lo, hi = self._window
        if lo <= t < hi:
            return
        i = bisect.bisect_right(self._changes, t)
        self._window = (self._changes[i - 1] if i else float("-inf"),
                        self._changes[i] if i < len(self._changes) else float("inf"))
        active = [f for f in self.scenario.timeline.faults if f.start <= t < f.end]
        if active == self._active:
            return
        self._active = active
        self.disconnected.clear()
        self.disconnected.update(f.channel for f in active if f.kind == "disconnected")
        for name, bridge in self.bridges.items():   # a broken signal lead, for the fault's time
            if name in self.disconnected:
                bridge.fault = "open_signal"
            elif bridge.fault == "open_signal":
                bridge.fault = None
        for model in self.chips.values():
            model.stuck_inputs = set()
        self.bus.failing = set()
        for f in active:
            ch = self.channels[f.channel]
            if f.kind == "stuck":
                self.chips[ch.chip].stuck_inputs.add(ch.input)
            elif f.kind == "i2c_error":
                self.bus.failing.add(self.cfg.chips[ch.chip].address)


def _saturating(value, range_n: float):
    """``f(t)``: a force-sensing resistor's force, which it follows up to ``range_n`` only."""
    def saturated(t: float) -> float:
        return min(value(t), range_n)
    return saturated
