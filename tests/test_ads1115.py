"""The ADS1115 register model, and Adafruit's unmodified driver running on it."""

from __future__ import annotations

import contextlib
import time

import pytest
from adafruit_ads1x15 import ADS1115, AnalogIn
from hypothesis import given, settings, strategies as st

from mock_hw.ads1115 import ADS1115Model, CONFIG_RESET
from mock_hw.i2c import MockI2C
from mock_hw.rig import Rig
from mock_hw.smbus import MockSMBus
from pi_agent.clock import SystemClock, VirtualClock
from pi_agent.errors import BusError, ConversionTimeout
from sensors.ads1115 import ADS1115Reader
from sensors.array import SensorArray, build_channels
from sensors.calibration import load_calibration
from sensors.units import lsb_volts
from conftest import CONFIG
from pi_agent import config
from strategies import data_rates, gains


def _bus(clock, volts=(1.0, 2.0, 0.5, 3.0), **kw):
    bus = MockI2C(clock, 400_000)
    model = ADS1115Model(clock, lambda i, t: volts[i], **kw)
    bus.add(0x48, model)
    return bus, model


def test_register_model_resets_and_converts_single_shot():
    """Config resets to 0x8583; a single-shot conversion clears OS for one period."""
    clock = VirtualClock()
    bus, model = _bus(clock)
    smbus = MockSMBus(bus)
    assert smbus.read_i2c_block_data(0x48, 1, 2) == [0x85, 0x83]
    # AIN1 vs GND, gain 1 (+-4.096 V), 128 SPS, single shot, OS=1.
    smbus.write_i2c_block_data(0x48, 1, [0xD3, 0x83])
    assert smbus.read_i2c_block_data(0x48, 1, 2)[0] & 0x80 == 0, "busy right after the start"
    clock.advance(1 / 128)
    assert smbus.read_i2c_block_data(0x48, 1, 2)[0] & 0x80, "ready after one period"
    hi, lo = smbus.read_i2c_block_data(0x48, 0, 2)
    assert (hi << 8 | lo) == round(2.0 / lsb_volts(1))


def test_register_model_clips_at_full_scale_and_reads_differential():
    """Counts clip at the gain's full scale; mux 0 reads AIN0 - AIN1 as signed counts."""
    clock = VirtualClock()
    bus, model = _bus(clock)
    ads = ADS1115(bus, gain=2, address=0x48)     # +-2.048 V: AIN3 at 3.0 V clips
    assert AnalogIn(ads, 3).value == 32767
    ads.gain = 1
    assert AnalogIn(ads, 0, 1).value == round(-1.0 / lsb_volts(1))


def test_register_model_continuous_mode():
    """In continuous mode a conversion completes every period from the latest input."""
    clock = VirtualClock()
    volts = [1.0, 0, 0, 0]
    bus = MockI2C(clock)
    model = ADS1115Model(clock, lambda i, t: volts[i])
    bus.add(0x48, model)
    smbus = MockSMBus(bus)
    smbus.write_i2c_block_data(0x48, 1, [0x42, 0x83])   # AIN0, gain 1, continuous, 128 SPS
    clock.advance(1.5 / 128)
    first = smbus.read_i2c_block_data(0x48, 0, 2)
    volts[0] = 2.0
    clock.advance(2 / 128)
    second = smbus.read_i2c_block_data(0x48, 0, 2)
    assert (first[0] << 8 | first[1]) == 8000 and (second[0] << 8 | second[1]) == 16000


def test_missing_chip_and_failing_transfers_are_os_errors():
    """An absent address and an injected fault both fail as OSError, as i2c-dev does."""
    clock = VirtualClock()
    bus, _ = _bus(clock)
    with pytest.raises(OSError):
        bus.writeto(0x49, b"\x01")
    bus.failing.add(0x48)
    with pytest.raises(OSError):
        bus.writeto(0x48, b"\x01")


@contextlib.contextmanager
def _array(cfg, clock, gain, data_rate, noise_lsb=0.0):
    """The default channels at one gain and data rate, on a rig without noise (closed after)."""
    written = "2/3" if gain == 2 / 3 else gain     # as agent.toml writes it
    cfg = config.changed(cfg, sensors={n: {"gain": written, "data_rate": data_rate} for n in cfg.sensors})
    channels = build_channels(cfg, load_calibration(cfg.calibration_path))
    with Rig(cfg, channels, clock, noise_lsb=noise_lsb) as rig:
        yield rig, SensorArray.configured(cfg, rig.bus, channels, clock), channels


@settings(max_examples=60)
@given(gain=gains, data_rate=data_rates, fractions=st.lists(st.floats(0.01, 0.99), min_size=5, max_size=5))
def test_physical_values_round_trip_through_the_real_driver(gain, data_rate, fractions):
    """Every channel's physical value within the sensor's range goes to raw counts (through
    Adafruit's driver on the register model) and back within the ADC's resolution and the
    calibration's error."""
    clock = VirtualClock()
    cfg = config.load(CONFIG)
    with _array(cfg, clock, gain, data_rate) as (rig, array, channels):
        for (name, ch), f in zip(channels.items(), fractions):
            if ch.bridge:            # a load cell: anything up to its rating
                rig.fixed[name] = f * ch.rating_n
                continue
            lo = ch.low_rail + 50 if ch.kind == "flex" else 0   # stay clear of the rails
            hi = min(ch.high_rail, 32767) - 200
            if ch.kind == "force":   # a force-sensing resistor: anything up to its range
                hi = min(hi, ch.calibration.to_counts(cfg.sensors[name].range_n))
            counts = lo + f * (hi - lo)
            rig.fixed[name] = ch.calibration.to_physical(counts)
        t0 = clock.monotonic()
        readings = array.read_chip("splint") + array.read(["pad_palm", "pad_fingers"])
        elapsed = clock.monotonic() - t0
        assert elapsed >= 5 / data_rate, "each conversion takes its data-rate period"
        for r in readings:
            ch = channels[r.channel]
            truth = rig.fixed[r.channel]
            c = ch.calibration.to_counts(truth)
            resolution = abs(ch.calibration.to_physical(c + 0.5) - ch.calibration.to_physical(c - 0.5))
            assert r.fault is None
            assert abs(r.value - truth) <= resolution + 1e-9 * max(1.0, abs(truth)), (r, truth)


def test_wedged_conversion_fails_within_bounded_time_virtual(cfg):
    """A conversion-ready bit that never comes back gives ConversionTimeout, not a hang."""
    clock = VirtualClock()
    with _array(cfg, clock, 1, 128) as (rig, array, channels):
        rig.chips["splint"].wedged = True
        t0 = clock.monotonic()
        readings = array.read_chip("splint")
        assert [r.fault for r in readings] == ["adc_timeout"] * 3
        assert clock.monotonic() - t0 < 3 * 0.2
        assert all(r.fault is None for r in array.read(["pad_palm", "pad_fingers"])), "the other chips keep reading"


def test_wedged_conversion_fails_within_bounded_time_real_clock():
    """With the real clock too, a wedged chip costs a bounded, short wait."""
    clock = SystemClock()
    bus, model = _bus(clock)
    model.wedged = True
    reader = ADS1115Reader(bus, 0x48, clock)
    t0 = time.monotonic()
    with pytest.raises(ConversionTimeout):
        reader.read(0, 1, 860)
    assert time.monotonic() - t0 < 0.5


def test_bus_error_becomes_our_error_and_recovers():
    """OSError from the bus becomes BusError; the reader re-probes once the chip answers."""
    clock = VirtualClock()
    bus, model = _bus(clock)
    reader = ADS1115Reader(bus, 0x48, clock)
    assert reader.read(1, 1, 128) == round(2.0 / lsb_volts(1))
    bus.failing.add(0x48)
    with pytest.raises(BusError):
        reader.read(1, 1, 128)
    bus.failing.clear()
    assert reader.read(1, 1, 128) == round(2.0 / lsb_volts(1))


def test_absent_chip_is_a_bus_error():
    """A chip that does not answer at all is a BusError, not a crash."""
    clock = VirtualClock()
    reader = ADS1115Reader(MockI2C(clock), 0x4A, clock)
    with pytest.raises(BusError, match="0x4a does not answer"):
        reader.read(0, 1, 128)


def test_single_shot_read_sleeps_instead_of_spinning(cfg):
    """The driver waits about one conversion time before polling, not hammering the bus."""
    clock = VirtualClock()
    with _array(cfg, clock, 1, 8) as (rig, array, _):
        array.read_chip("splint")              # the first read also probes and configures
        before = rig.bus.transfers
        array.read_chip("splint")
        per_read = (rig.bus.transfers - before) / 3
        assert per_read <= 3.5, per_read   # config write, one poll (rarely two), result


def _continuous(clock, volts):
    bus = MockI2C(clock, 400_000)
    model = ADS1115Model(clock, lambda i, t: volts[i])
    bus.add(0x49, model)
    return bus, model, ADS1115Reader(bus, 0x49, clock, continuous=True)


def test_continuous_chip_reads_its_latest_conversion_in_one_transfer():
    """A chip in continuous mode is armed once; then a reading is one two-byte read of the
    latest conversion, with no wait, and follows its input."""
    clock = VirtualClock()
    volts = [1.0, 0.0, 0.0, 0.0]
    bus, model, reader = _continuous(clock, volts)
    assert reader.read(0, 1, 475) == round(1.0 / lsb_volts(1))     # the arming single shot
    assert model.config & 0x0100 == 0, "the chip converts continuously"
    volts[0] = 2.0
    clock.sleep(0.01)
    before, t0 = bus.transfers, clock.monotonic()
    assert reader.read(0, 1, 475) == round(2.0 / lsb_volts(1))
    assert bus.transfers - before == 1
    assert clock.monotonic() - t0 < 0.001, "no conversion wait"
    for _ in range(300):                   # 3 s at 100 Hz: one check of the chip a second
        clock.sleep(0.01)
        reader.read(0, 1, 475)
    assert bus.transfers - before <= 301 + 2 * 3
    assert reader.arms == 1


def test_continuous_chip_is_armed_again_after_a_brownout():
    """A chip that lost its configuration (a brown-out) reads right again within a second."""
    clock = VirtualClock()
    volts = [1.5, 0.0, 0.0, 0.0]
    bus, model, reader = _continuous(clock, volts)
    reader.read(0, 1, 475)
    model.power_on_reset()
    readings = []
    for _ in range(150):
        clock.sleep(0.01)
        readings.append(reader.read(0, 1, 475))
    assert reader.arms == 2
    assert readings[-1] == round(1.5 / lsb_volts(1))
    assert readings[-50:] == [readings[-1]] * 50


def test_continuous_chip_recovers_after_bus_errors():
    clock = VirtualClock()
    bus, model, reader = _continuous(clock, [0.8, 0.0, 0.0, 0.0])
    reader.read(0, 1, 475)
    bus.failing.add(0x49)
    with pytest.raises(BusError):
        reader.read(0, 1, 475)
    bus.failing.clear()
    model.power_on_reset()                 # it came back from a power loss
    assert reader.read(0, 1, 475) == round(0.8 / lsb_volts(1))
    clock.sleep(0.01)
    assert reader.read(0, 1, 475) == round(0.8 / lsb_volts(1))


def test_a_wedged_continuous_chip_shows_as_stuck(cfg):
    """A chip in continuous mode that stops converting repeats its last value: with the
    ADC's own noise gone from the readings, the channel is reported stuck."""
    clock = VirtualClock()
    with _array(cfg, clock, 1, 475, noise_lsb=4.0) as (rig, array, channels):
        rig.fixed.update(pad_palm=30.0, pad_fingers=20.0)
        for _ in range(20):
            clock.sleep(0.01)
            assert all(r.fault is None for r in array.read(["pad_palm", "pad_fingers"]))
        rig.chips["pad_palm"].wedged = True
        faults = []
        for _ in range(300):
            clock.sleep(0.01)
            faults.append({r.channel: r.fault for r in array.read(["pad_palm", "pad_fingers"])})
        assert faults[-1] == {"pad_palm": "stuck", "pad_fingers": None}


@pytest.mark.parametrize("sigma", [2.0, 4.0, 10.0])
def test_electrical_noise_has_the_configured_spread(sigma):
    """The model's electrical noise is centred, with the standard deviation asked for
    (rounding to whole counts adds under 1 % at these sizes)."""
    import statistics
    clock = VirtualClock()
    model = ADS1115Model(clock, lambda i, t: 1.0, noise_lsb=sigma, seed=3)
    model.write(bytes((0x01, 0x42, 0x83)))          # AIN0 vs GND, gain 1, continuous, 128 SPS
    model.write(b"\x00")
    counts = []
    for _ in range(20000):
        clock.sleep(1 / 128)
        hi, lo = model.read(2)
        counts.append((hi << 8 | lo) - round(1.0 / lsb_volts(1)))
    assert abs(statistics.fmean(counts)) < 0.05 * sigma + 0.02
    assert statistics.pstdev(counts) == pytest.approx(sigma, rel=0.05)
