"""Tare: the empty pad's raw counts averaged over a few seconds, if it keeps still. Pure."""

from __future__ import annotations

import statistics
from typing import Any

from sensors.channel import Reading


class TareJob:
    def __init__(self, channels: tuple[str, ...], t_end: float, transaction: Any) -> None:
        self.t_end = t_end
        self.transaction = transaction
        self.raw: dict[str, list[int]] = {ch: [] for ch in channels}
        self.load: list[float] = []

    def feed(self, readings: list[Reading], load: float | None) -> str | None:
        """Take the pad's readings; a problem that ends the job (a fault), else None."""
        for r in readings:
            if r.channel in self.raw:
                if r.raw is None or r.fault is not None:
                    return f"tare: the {r.channel} sensor is in fault ({r.fault}); nothing changed"
                self.raw[r.channel].append(r.raw)
        if load is not None:
            self.load.append(load)
        return None

    def result(self, max_sd_n: float, wake_n: float) -> tuple[dict[str, float] | None, str | None]:
        """(tare in raw counts per channel, None) for a steady empty pad, else (None, why not)."""
        sd = statistics.pstdev(self.load) if len(self.load) > 1 else 0.0
        mean = statistics.fmean(self.load) if self.load else 0.0
        if len(self.load) < 10 or sd > max_sd_n:
            return None, (f"tare refused: the pad was not steady (it varied by {sd:.2f} N, more than "
                          f"{max_sd_n:g} N); keep it still and empty, then try again. Nothing changed.")
        if mean > 2 * wake_n:
            return None, (f"tare refused: the pad carries {mean:.1f} N; take everything off it, then try "
                          f"again. Nothing changed.")
        return {ch: round(statistics.fmean(raw), 1) for ch, raw in self.raw.items()}, None
