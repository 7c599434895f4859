"""Sensor drivers: ADS1115 raw counts to physical units, and fault detection."""
