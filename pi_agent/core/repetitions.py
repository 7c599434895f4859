"""Weight-shift repetitions within one weight-bearing session. Pure.

The rule (docs/scenario-format.md, "Clinical signals"): inside a session, a repetition is
counted each time the load rises into the target band from below, after it fell under
``rep_drop_pct`` % of the band's bottom since the session began or since the previous
repetition. Therapists prescribe rocking onto the hand and off it: this counts the rocks.

It runs on the mean of the last ``MEAN_N`` readings (0.1 s at the pad's active rate): a
trough one newton from the drop level is then four standard deviations of noise away,
and the load's noise at the band's bottom re-arms nothing.
"""

from __future__ import annotations

from pi_agent.core.smoothing import Recent

MEAN_N = 10
MAX_GAP_S = 0.1       # readings further apart start the mean afresh


class Repetitions:
    def __init__(self, drop_pct: float) -> None:
        self.drop = drop_pct / 100.0
        self._mean = Recent(MEAN_N, MAX_GAP_S)
        self.count = 0
        self._armed = False      # fell under the drop level since the start or the last repetition
        self._below = True       # the last (mean) load was under the band

    def restart(self) -> None:
        """A new session (being confirmed) begins: nothing counted, nothing armed."""
        self._mean.reset()
        self.count = 0
        self._armed = False
        self._below = True

    def feed(self, t: float, load: float, band) -> bool:
        """A reading of the session's load; True when it completed a repetition."""
        if band is None:
            return False
        _, z = self._mean.mean(t, load)
        if z < self.drop * band.low_n:
            self._armed = True
        if z < band.low_n:
            self._below = True
            return False
        counted = self._below and z <= band.high_n and self._armed
        if counted:
            self.count += 1
            self._armed = False
        self._below = False
        return counted
