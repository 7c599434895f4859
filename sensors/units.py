"""ADS1115 facts and units shared by the drivers, the calibration and the simulated hardware."""

import math
from typing import Any

# Programmable gain -> full-scale range in volts (datasheet table 3).
FULL_SCALE_V = {2 / 3: 6.144, 1: 4.096, 2: 2.048, 4: 1.024, 8: 0.512, 16: 0.256}
GAINS = tuple(FULL_SCALE_V)
DATA_RATES = (8, 16, 32, 64, 128, 250, 475, 860)
MAX_COUNT = 32767
G = 9.80665          # standard gravity: newtons per kilogram of load
MIN_COUNT = -32768


def lsb_volts(gain: float) -> float:
    """Volts per count at ``gain``."""
    return FULL_SCALE_V[gain] / 32768.0


def gain_label(gain: float) -> str:
    return "2/3" if gain == 2 / 3 else str(int(gain))


def is_number(v: Any) -> bool:
    """A finite int or float: NaN, the infinities, booleans and ints too large for a float
    are no value a setting, a calibration or a scenario can take."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:            # an int beyond a float's range
        return False
