"""The lean reads (single shot and continuous) against Adafruit's unmodified driver (the
reference), the overlapped conversions, and the loop's wake-ups that these save."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from mock_hw.ads1115 import ADS1115Model
from mock_hw.i2c import MockI2C
from pi_agent.clock import VirtualClock
from pi_agent.errors import ConversionTimeout
from sensors.ads1115 import ADS1115Reader
from sensors.units import lsb_volts
from strategies import data_rates, gains

VOLTS = (0.4, 1.3, 2.2, 3.1)


def _reader(lean: bool, seed: int = 5, noise_lsb: float = 3.0, volts=VOLTS, drift: float = 0.01,
            continuous: bool = False):
    """A reader on its own bus, register model (with noise, inputs drifting ``drift`` volts
    a second) and virtual clock, with the wire time of each transfer passing on that clock."""
    clock = VirtualClock()
    bus = MockI2C(clock, 400_000)
    model = ADS1115Model(clock, lambda i, t: volts[i] + drift * t, noise_lsb=noise_lsb, seed=seed)
    bus.add(0x48, model)
    return ADS1115Reader(bus, 0x48, clock, lean=lean, continuous=continuous), clock, bus, model


@settings(max_examples=40)
@given(gain=gains, data_rate=data_rates, seed=st.integers(0, 2**16),
       inputs=st.lists(st.sampled_from([(0, None), (1, None), (2, None), (3, None), (0, 1), (0, 3), (1, 3), (2, 3)]),
                        min_size=1, max_size=12))
def test_lean_read_gives_the_drivers_readings_transfer_for_transfer(gain, data_rate, seed, inputs):
    """On identical register models, the lean path and Adafruit's driver (its AnalogIn)
    give the same counts, inputs against GND and differential pairs, at the same moments,
    in the same number of bus transfers."""
    lean, lean_clock, lean_bus, _ = _reader(True, seed)
    ref, ref_clock, ref_bus, _ = _reader(False, seed)
    for input_, negative in inputs:
        assert lean.read(input_, gain, data_rate, negative) == ref.read(input_, gain, data_rate, negative)
        assert lean_clock.monotonic() == pytest.approx(ref_clock.monotonic(), abs=1e-12)
    assert lean_bus.transfers == ref_bus.transfers


@settings(max_examples=30)
@given(gain=gains, data_rate=data_rates, inputs=st.lists(st.integers(0, 3), min_size=2, max_size=12))
def test_overlapped_reads_give_the_same_counts_without_waiting_for_a_conversion(gain, data_rate, inputs):
    """Reading each input while starting the next one's conversion: the same counts as the
    driver (steady inputs, no noise), and a read whose conversion ran meanwhile costs
    only the bus's wire time, never a conversion's."""
    lean, clock, _, _ = _reader(True, noise_lsb=0.0, drift=0.0)
    ref, _, _, _ = _reader(False, noise_lsb=0.0, drift=0.0)
    lean.read(inputs[0], gain, data_rate)              # the first: probes and configures
    for i, input_ in enumerate(inputs):
        then = (inputs[i + 1], None, gain, data_rate) if i + 1 < len(inputs) else None
        if i > 0:
            clock.advance(2 / data_rate)               # the loop's time between two turns
        t0 = clock.monotonic()
        raw = lean.read(input_, gain, data_rate, then=then)
        if i > 0:
            assert clock.monotonic() - t0 < 0.3 / data_rate, "no wait for a conversion already done"
        assert raw == ref.read(input_, gain, data_rate)


_CONTINUOUS_STEPS = st.one_of(
    st.tuples(st.just("read"), st.sampled_from([(0, None), (2, None), (0, 1), (2, 3)])),
    st.tuples(st.just("wait"), st.floats(0.0005, 1.5)),
    st.tuples(st.just("brownout"), st.none()),
)


@settings(max_examples=40)
@given(gain=gains, data_rate=data_rates, seed=st.integers(0, 2**16),
       steps=st.lists(_CONTINUOUS_STEPS, min_size=1, max_size=40))
def test_lean_continuous_read_gives_the_drivers_readings_transfer_for_transfer(gain, data_rate, seed, steps):
    """A chip in continuous mode, read by the lean path and by Adafruit's driver on
    identical register models (noise, drifting inputs, a change of input, brown-outs that
    put the chip back in single shot): the same counts at the same moments, in the same
    number of bus transfers, and the chip armed as often."""
    lean, lean_clock, lean_bus, lean_model = _reader(True, seed, continuous=True)
    ref, ref_clock, ref_bus, ref_model = _reader(False, seed, continuous=True)
    for kind, arg in [("read", (0, None))] + steps:
        if kind == "read":
            assert lean.read(arg[0], gain, data_rate, arg[1]) == ref.read(arg[0], gain, data_rate, arg[1])
        elif kind == "wait":
            lean_clock.advance(arg)
            ref_clock.advance(arg)
        else:
            lean_model.power_on_reset()
            ref_model.power_on_reset()
        assert lean_clock.monotonic() == pytest.approx(ref_clock.monotonic(), abs=1e-12)
        assert lean_bus.transfers == ref_bus.transfers
    assert lean.arms == ref.arms


def test_a_conversion_lost_to_a_brownout_is_started_again():
    """The chip reset between starting a conversion and reading it: the read notices (its
    config is not the word written) and converts again, instead of returning the reset
    chip's empty conversion register."""
    lean, clock, _, model = _reader(True, noise_lsb=0.0, volts=(1.0, 2.0, 0.0, 0.0), drift=0.0)
    lean.read(0, 1, 128, then=(1, None, 1, 128))
    clock.advance(0.05)
    model.power_on_reset()
    assert lean.read(1, 1, 128) == round(2.0 / lsb_volts(1)), "AIN1's voltage, not the reset's 0"


def test_another_inputs_conversion_ends_before_this_one_starts():
    """A read of another input than the one started waits for the running conversion to end
    (the chip ignores a start while it converts), then reads the input asked for."""
    lean, clock, _, _ = _reader(True, noise_lsb=0.0, volts=(1.0, 2.0, 0.5, 0.0), drift=0.0)
    lean.read(0, 1, 128, then=(1, None, 1, 128))
    started = clock.monotonic()
    assert lean.read(2, 1, 128) == round(0.5 / lsb_volts(1))
    assert clock.monotonic() - started >= 2 / 128, "AIN1's conversion, then AIN2's"
    assert lean.read(1, 1, 128) == round(2.0 / lsb_volts(1))


def test_a_wedged_chip_times_out_on_an_overlapped_read_too():
    """A conversion that never finishes: ConversionTimeout within a bounded time, and the
    next read starts afresh (and works once the chip does)."""
    lean, clock, _, model = _reader(True, noise_lsb=0.0, volts=(1.0, 2.0, 0.0, 0.0), drift=0.0)
    lean.read(0, 1, 128, then=(1, None, 1, 128))
    model.wedged = True
    t0 = clock.monotonic()
    with pytest.raises(ConversionTimeout):
        lean.read(1, 1, 128)
    assert clock.monotonic() - t0 < 0.1
    model.wedged = False
    model.power_on_reset()
    assert lean.read(1, 1, 128) == round(2.0 / lsb_volts(1))


@pytest.mark.parametrize("pressed, most", [(False, 12.5), (True, 103.0)])
def test_the_loop_wakes_only_for_its_turns(cfg, pressed, most):
    """In virtual time (each sleep of the loop counted as a wake-up): with the splint worn
    the loop wakes once per splint reading (12 a second), the pad's slow reads going
    along; with the pad pressed, once per pad reading (100 a second), the splint's reads
    going along with most of them. No wake-up is spent waiting for a conversion."""
    from mock_hw import scenario_file
    from pi_agent.simulated_run import SimulatedRun
    values = {"palm": 3.0, "wrist": 25.0, "fingers": 5.0}
    if pressed:
        values.update(pad_palm=40.0, pad_fingers=25.0)
    scen = scenario_file.parse({"start": "2026-05-01T10:00:00", "timezone": "UTC", "seed": 3,
                                "noise": {"deg": 1.0, "newton": 0.2}, "steps": [{"hold": 60, "set": values}]},
                               {n: s.kind for n, s in cfg.sensors.items()})
    clock = VirtualClock(scen.start_wall())
    with SimulatedRun(cfg, scen, clock, zone=scen.zone(), bus_time=False) as sim:
        agent = sim.agent
        agent.run_until(5.0)
        wakes = []
        sleep = clock.sleep
        clock.sleep = lambda s: (wakes.append(s) if s > 0 else None, sleep(s))
        readings0 = agent.readings
        agent.run_until(25.0)
        per_s = len(wakes) / 20.0
        assert per_s <= most, per_s
        splint, pad = 12, (200 if pressed else 4)
        assert (agent.readings - readings0) / 20.0 >= 0.99 * (splint + pad), "every reading the schedule asks for"
        short = [w for w in wakes if w < 0.5 / 128]
        assert len(short) <= 1, f"sleeps as short as a conversion's wait (the run's own end aside): {short[:5]}"
