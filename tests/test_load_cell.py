"""The load-cell pad: a bridge on the ADS1115's differential inputs, read through Adafruit's
unmodified driver on the register model; its resolution, its faults, its calibration."""

from __future__ import annotations

import contextlib
import logging
import re
import statistics
import zoneinfo

import pytest
from adafruit_ads1x15 import ADS1115, AnalogIn
from adafruit_ads1x15.ads1x15 import Pin
from hypothesis import assume, given, settings, strategies as st

from conftest import CONFIG, ROOT
from mock_hw import scenario_file
from mock_hw.ads1115 import BRIDGE_NOISE_V, ADS1115Model
from mock_hw.i2c import MockI2C
from mock_hw.rig import Rig
from pi_agent import config
from pi_agent.clock import VirtualClock
from pi_agent.core import Core
from pi_agent.render import journal_line, state_payload, status_line, systemd_status
from pi_agent.simulated_run import SimulatedRun
from sensors.ads1115 import DIFFERENTIAL_MUX, mux
from sensors.array import SensorArray, build_channels
from sensors.calibration import LINEARITY_PCT, LoadCellCalibration, load_calibration
from sensors.channel import LOAD_CELL_STUCK_MIN_SAMPLES, OPEN_EXCITATION_V
from sensors.units import G, lsb_volts

PADS = ["pad_palm", "pad_fingers"]
# The resolution the README states: one count at gain 16 of a 20 kg, 2.0 mV/V cell excited
# from 3.3 V (196.133 N / (6.6 mV / 7.8125 uV)).
STATED_N_PER_COUNT = 0.232


@contextlib.contextmanager
def _pad(cfg, clock, noise_lsb=0.0):
    """The configured channels on a rig (noise-free unless asked), and their array."""
    channels = build_channels(cfg, load_calibration(cfg.calibration_path))
    with Rig(cfg, channels, clock, noise_lsb=noise_lsb) as rig:
        yield rig, SensorArray.configured(cfg, rig.bus, channels, clock), channels


def _one_board(cfg):
    """Both zones on one ADS1115 (0x4B): the palm zone on A0-A1, the fingers zone on A2-A3."""
    return config.changed(cfg, chips={"pad": {"address": 0x4B, "mode": "single", "rate_hz": 2.0}},
                          sensors={"pad_palm": {"chip": "pad", "input": 0}, "pad_fingers": {"chip": "pad", "input": 2}})


def test_register_model_converts_each_differential_pair_as_the_driver_asks():
    """AnalogIn(ads, A0, A1) and the other three pairs set the multiplexer to the datasheet's
    settings 0 to 3, and the model returns the positive input less the negative one, signed."""
    clock = VirtualClock()
    volts = (1.0, 0.9, 0.3, 0.1)
    bus = MockI2C(clock, 400_000)          # the driver's own wait spins on the bus: let time pass
    model = ADS1115Model(clock, lambda i, t: volts[i])
    bus.add(0x48, model)
    ads = ADS1115(bus, gain=1, address=0x48)
    for (p, n), setting in DIFFERENTIAL_MUX.items():
        assert AnalogIn(ads, p, n).value == round((volts[p] - volts[n]) / lsb_volts(1))
        assert (model.config >> 12) & 0x07 == setting == mux(p, n)
    assert AnalogIn(ads, Pin.A2).value == round(0.3 / lsb_volts(1)) and (model.config >> 12) & 0x07 == mux(2) == 6


def test_the_default_pad_reads_load_cells_on_differential_pairs_at_gain_16(cfg, clock):
    """The default configuration reads each zone as a load cell on A0-A1 at gain 16: the
    chip's configuration register shows differential setting 0 and the +-0.256 V range."""
    with _pad(cfg, clock) as (rig, array, channels):
        rig.fixed.update(pad_palm=30.0, pad_fingers=10.0)
        array.read(PADS)
        for zone in PADS:
            conf = rig.chips[cfg.sensors[zone].chip].config
            assert channels[zone].bridge and (conf >> 12) & 0x07 == 0 and (conf >> 9) & 0x07 == 5


@settings(max_examples=80)
@given(palm=st.floats(0, 200), fingers=st.floats(0, 200), one_board=st.booleans())
def test_load_goes_to_counts_and_back_within_the_stated_resolution(palm, fingers, one_board):
    """From 0 to 200 N, a zone's load goes to raw counts (the bridge on the register model,
    Adafruit's driver) and back to newtons within half of the stated resolution (one count,
    0.232 N), on the two boards of the default pad or on one board's two pairs; above the
    cell's rating (196.1 N) it is reported as an overload and keeps its value."""
    cfg = config.load(CONFIG)
    cfg = _one_board(cfg) if one_board else cfg
    clock = VirtualClock()
    with _pad(cfg, clock) as (rig, array, channels):
        rig.fixed.update(pad_palm=palm, pad_fingers=fingers)
        readings = {r.channel: r for r in array.read(PADS)}
        for zone, load in (("pad_palm", palm), ("pad_fingers", fingers)):
            r, cal = readings[zone], channels[zone].calibration
            assert cal.newtons_per_count == pytest.approx(STATED_N_PER_COUNT, abs=0.0005)
            assert r.raw == round(cal.to_counts(load))
            assert abs(r.value - load) <= cal.newtons_per_count / 2 + 1e-9, (zone, load, r)
            rating = channels[zone].rating_n
            if load > rating + cal.newtons_per_count:
                assert r.fault == "overload"
            elif load < rating - cal.newtons_per_count:
                assert r.fault is None


def test_overload_is_reported_and_never_clipped_into_the_band(cfg, tmp_path):
    """A push of 300 N on the palm zone (a 20 kg cell: 196 N) raises an 'overload' fault for
    that zone and clears it after; the load is measured all along (the session's peak is
    the push, and the over-maximum alarm sounds)."""
    data = {"start": "2026-05-01T10:00:00", "seed": 2, "noise": {"newton": 0.2},
            "steps": [{"hold": 5}, {"ramp": 2, "to": {"pad_palm": 60, "pad_fingers": 20}}, {"hold": 10},
                      {"ramp": 2, "to": {"pad_palm": 300}}, {"hold": 5}, {"ramp": 2, "to": {"pad_palm": 60}},
                      {"hold": 5}, {"ramp": 2, "to": {"pad_palm": 0, "pad_fingers": 0}}, {"hold": 5}]}
    scen = scenario_file.parse(data, {n: s.kind for n, s in cfg.sensors.items()})
    events = []
    with SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone(), state_dir=tmp_path,
                    on_event=events.append) as sim:
        sim.run()
    raised = [e for e in events if e.type == "fault_raised"]
    cleared = [e for e in events if e.type == "fault_cleared"]
    assert [(e.data["channel"], e.data["kind"]) for e in raised] == [("pad_palm", "overload")]
    assert raised[0].data["text"] == "pad (heel of the hand) sensor overloaded (more than its load cell is rated for)"
    assert [(e.data["channel"], e.data["kind"]) for e in cleared] == [("pad_palm", "overload")]
    # The ramps cross the rating at 17 + 2 * 136/240 s and at 24 + 2 * 104/240 s.
    assert raised[0].t - sim.origin == pytest.approx(18.13, abs=0.1)
    assert cleared[0].t - sim.origin == pytest.approx(24.87, abs=0.1)
    session = next(e for e in events if e.type == "wb_session")
    assert session.data["peak_n"] == pytest.approx(320, rel=0.02)
    assert any(e.type == "haptic" and e.data["reason"] == "over_max" for e in events)


def test_open_signal_and_excitation_leads_are_reported_disconnected(cfg, clock):
    """A broken S+ lead reads the negative full scale, a broken E+ or E- lead reads near zero:
    both are 'disconnected' on that zone only, and the zone reads its load again once mended."""
    with _pad(cfg, clock, noise_lsb=None) as (rig, array, channels):
        rig.fixed.update(pad_palm=40.0, pad_fingers=20.0)
        zero_band = OPEN_EXCITATION_V / lsb_volts(16)
        for fault, raw_ok in (("open_signal", lambda raw: raw == -32768),
                              ("open_excitation", lambda raw: abs(raw) <= zero_band)):
            rig.bridges["pad_palm"].fault = fault
            for _ in range(5):
                clock.sleep(0.01)
                readings = {r.channel: r for r in array.read(PADS)}
                assert readings["pad_palm"].fault == "disconnected" and readings["pad_palm"].value is None
                assert raw_ok(readings["pad_palm"].raw), (fault, readings["pad_palm"])
                assert readings["pad_fingers"].fault is None
            rig.bridges["pad_palm"].fault = None
            clock.sleep(0.01)
            palm = next(r for r in array.read(PADS) if r.channel == "pad_palm")
            assert palm.fault is None and abs(palm.value - 40.0) < 1.5


def test_an_empty_pad_never_reads_near_zero(cfg, clock):
    """The empty pad reads its zero-shift (about 224 counts), far outside the band around
    zero that means a broken excitation lead, whatever the noise."""
    with _pad(cfg, clock, noise_lsb=None) as (rig, array, channels):
        raws = []
        for _ in range(2000):
            clock.sleep(0.01)
            raws += [r.raw for r in array.read(PADS) if r.fault is None]
        assert len(raws) == 4000 and min(raws) > 200 and max(raws) < 250


def test_bridge_noise_is_what_a_bridge_shows_at_gain_16(cfg, clock):
    """A steady load reads with the bridge's noise, about 0.7 of a count RMS at gain 16
    (with the rounding to whole counts), centred on the load."""
    with _pad(cfg, clock, noise_lsb=None) as (rig, array, channels):
        rig.fixed.update(pad_palm=50.3, pad_fingers=0.0)
        values, raws = [], []
        for _ in range(4000):
            clock.sleep(1 / 475)
            r = next(r for r in array.read(PADS) if r.channel == "pad_palm")
            values.append(r.value)
            raws.append(r.raw)
    sigma = BRIDGE_NOISE_V / lsb_volts(16)
    assert 0.6 < sigma < 0.8
    assert statistics.pstdev(raws) == pytest.approx((sigma ** 2 + 1 / 12) ** 0.5, rel=0.07)
    assert statistics.fmean(values) == pytest.approx(50.3, abs=0.03)


def test_a_load_cell_is_stuck_only_after_many_identical_readings(cfg):
    """A load cell repeats a count by chance (its noise is under one count), so 24 identical
    readings are no fault; 25 are, once stuck_after_s has passed. A divider still needs 6."""
    channels = build_channels(cfg, load_calibration(cfg.calibration_path))
    cell, fsr = channels["pad_palm"], channels["palm"]
    raw = 400
    for i in range(LOAD_CELL_STUCK_MIN_SAMPLES):
        fault = cell.accept(float(i), raw).fault
        assert fault == (None if i < LOAD_CELL_STUCK_MIN_SAMPLES - 1 else "stuck"), i
    assert [fsr.accept(float(i), 20000).fault for i in range(6)] == [None] * 5 + ["stuck"]



def test_overload_and_open_lead_are_said_as_such_in_every_view(cfg):
    """The channel's own judgement of raw counts reaches the core: 250 N on the palm zone is an
    'overload' whose load still counts (the status line, systemd's status, MQTT's state and
    the journal name it); a broken signal lead is 'disconnected' and the load is unknown."""
    zone = zoneinfo.ZoneInfo("Europe/London")
    wall = 1_776_000_000.0
    channels = build_channels(cfg, load_calibration(cfg.calibration_path))
    palm, fingers = channels["pad_palm"], channels["pad_fingers"]
    core = Core(cfg, zone)

    def feed(t, palm_raw, fingers_n=10.0):
        readings = [palm.accept(t, palm_raw), fingers.accept(t, round(fingers.calibration.to_counts(fingers_n)))]
        return readings, core.feed(readings, wall + t).events

    readings, events = feed(0.0, round(palm.calibration.to_counts(250.0)))
    assert readings[0].fault == "overload" and readings[0].value == pytest.approx(250.0, abs=0.3)
    said = "pad (heel of the hand) sensor overloaded (more than its load cell is rated for)"
    raised = [e for e in events if e.type == "fault_raised"]
    assert [(e.data["channel"], e.data["kind"], e.data["text"]) for e in raised] == [("pad_palm", "overload", said)]
    assert journal_line(raised[0]) == (logging.WARNING, f"fault: {said}")
    snap = core.snapshot()
    assert snap.load_n == pytest.approx(260.0, abs=0.5)
    line = status_line(snap, zone, wall)
    assert f"faults: {said}" in line and f"load {snap.load_n:.1f} N" in line
    assert systemd_status(snap, None).endswith("; 1 sensor fault")
    state = state_payload(snap, zone, wall)
    assert state["faults"] == [{"channel": "pad_palm", "kind": "overload", "text": said}]
    assert state["load_n"] == pytest.approx(260.0, abs=0.5)

    readings, events = feed(1.0, -32768)                  # S+ broken: the negative full scale
    assert readings[0].fault == "disconnected" and readings[0].value is None
    said = "pad (heel of the hand) sensor disconnected"
    assert [(e.data["kind"], e.data["text"]) for e in events if e.type == "fault_raised"] == [("disconnected", said)]
    snap = core.snapshot()
    assert snap.load_n is None and "load --" in status_line(snap, zone, wall)
    state = state_payload(snap, zone, wall)
    assert state["faults"] == [{"channel": "pad_palm", "kind": "disconnected", "text": said}]
    assert state["load_n"] is None


def test_a_simulated_fsr_pad_saturates_at_its_range(cfg, clock):
    """A pad of force-sensing resistors (allowed for a band within their 20 N) follows its
    load only up to its range on the register model: 75 N on a zone reads about 20 N, so the
    default band of 50-100 N could not be measured, which is why check-config refuses it."""
    fsr = {"kind": "force", "gain": 1, "range_n": 20.0}
    light = config.changed(cfg, weight_bearing={"target_low": 5.0, "target_high": 15.0, "start_n": 3.0,
                                                "end_n": 2.0, "wake_n": 1.0},
                           sensors={"pad_palm": fsr, "pad_fingers": fsr})
    with pytest.raises(config.ConfigError, match="force-sensing resistors cannot measure the band"):
        config.changed(cfg, sensors={"pad_palm": fsr, "pad_fingers": fsr})
    cals = load_calibration(cfg.calibration_path)
    cals.update(pad_palm=cals["palm"], pad_fingers=cals["palm"])      # an FSR 402's curve, as in the splint
    channels = build_channels(light, cals)
    with Rig(light, channels, clock, noise_lsb=0.0) as rig:
        array = SensorArray.configured(light, rig.bus, channels, clock)
        rig.fixed.update(pad_palm=75.0, pad_fingers=12.0)
        readings = {r.channel: r for r in array.read(PADS)}
    assert readings["pad_palm"].fault is None and readings["pad_palm"].value == pytest.approx(20.0, abs=0.2)
    assert readings["pad_fingers"].value == pytest.approx(12.0, abs=0.1)

# -- the calibration ---------------------------------------------------------------------------
counts = st.floats(-2000, 2000)
slopes = st.floats(0.05, 2.0)               # newtons a count (gain 16 to gain 1 cells)
weights = st.lists(st.floats(5, 200), min_size=1, max_size=5, unique=True).map(sorted)


def _exact(zero, slope, newtons):
    return LoadCellCalibration(zero, ((zero, 0.0), *((zero + n / slope, n) for n in newtons)))


@given(zero=counts, slope=slopes, newtons=weights, tare_shift=st.floats(-100, 100), load=st.floats(0, 500))
def test_calibration_round_trips_counts_and_newtons(zero, slope, newtons, tare_shift, load):
    """Exact known weights give back their slope; newtons -> counts -> newtons is the
    identity, after any tare; a tare moves the zero and keeps the slope."""
    assume(all(b - a > 0.5 for a, b in zip(newtons, newtons[1:])))
    cal = _exact(zero, slope, newtons).with_tare(zero + tare_shift, "2026-05-01")
    assert cal.newtons_per_count == pytest.approx(slope, rel=1e-9)
    assert cal.to_physical(cal.to_counts(load)) == pytest.approx(load, abs=1e-6)
    assert cal.to_physical(zero + tare_shift) == 0
    assert cal.rescaled(8).to_physical(cal.to_counts(load) / 2) == pytest.approx(load, abs=1e-6)


@given(slope=slopes, newtons=st.lists(st.floats(5, 200), min_size=2, max_size=5, unique=True).map(sorted),
       jitter=st.lists(st.floats(-0.3, 0.3), min_size=5, max_size=5))
def test_weights_on_a_line_pass_the_linearity_check(slope, newtons, jitter):
    """Known weights on a straight line, each read within a third of a count, pass."""
    assume(all(b - a > 1 for a, b in zip(newtons, newtons[1:])))
    zero = 224.4
    points = ((zero, 0.0), *((zero + n / slope + j, n) for n, j in zip(newtons, jitter)))
    assert LoadCellCalibration(zero, points).linearity_problem() is None


@given(slope=st.floats(0.1, 0.3), newtons=st.lists(st.floats(9.8, 200), min_size=3, max_size=5, unique=True).map(sorted),
       which=st.integers(0, 4), off_pct=st.floats(10, 30), sign=st.sampled_from([-1, 1]))
def test_a_weight_off_the_line_is_named(slope, newtons, which, off_pct, sign):
    """Of three weights or more (1 kg and up, at a load cell's resolution), one that reads
    10 % or more off the line of the others fails the check, and the line names it and
    what it reads on the line through the others."""
    assume(all(b / a > 1.2 for a, b in zip(newtons, newtons[1:])))
    which %= len(newtons)
    zero = 224.4
    read = [n * (1 + sign * off_pct / 100) if i == which else n for i, n in enumerate(newtons)]
    points = ((zero, 0.0), *((zero + r / slope, n) for r, n in zip(read, newtons)))
    problem = LoadCellCalibration(zero, points).linearity_problem()
    assert problem is not None
    kg = newtons[which] / G
    m = re.search(rf"{re.escape(f'{kg:g}')} kg \(.* N\) reads .* N on the line through the others \(([-+][\d.]+) %; "
                  rf"more than {LINEARITY_PCT:g} % is not a straight line\)", problem)
    assert m and float(m.group(1)) == pytest.approx(sign * off_pct, abs=0.15), problem


def test_readme_states_the_pads_resolution():
    """The README gives the resolution the shipped calibration has (0.232 N a count at gain
    16 and 475 SPS) and the data rate the configuration reads the pad at."""
    cal = load_calibration(ROOT / "config" / "calibration.toml")["pad_palm"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{cal.newtons_per_count:.3f} N" == f"{STATED_N_PER_COUNT:.3f} N" and "0.232 N" in readme
    cfg = config.load(CONFIG)
    assert {cfg.sensors[z].data_rate for z in PADS} == {475} and "475 SPS" in readme
