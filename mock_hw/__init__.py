"""Simulated hardware at the level the real libraries speak.

The ADS1115 and the DRV2605L are modelled register by register behind an object with
the busio I2C methods (``mock_hw.i2c.MockI2C``), so Adafruit's unmodified drivers run on
them; the same chips answer an smbus2-like object (``mock_hw.smbus.MockSMBus``); outputs
use gpiozero's own mock pin factory, passed to each device. ``mock_hw.scenario_file``
reads a scenario file and turns it into physical values over time (its timeline), and
``mock_hw.rig``, the simulated hardware of one OpenPalm, wires those values to the
simulated chips through the inverse of the configured calibration. The agent is run on
the rig through a scenario by ``pi_agent.simulated_run``.
"""
