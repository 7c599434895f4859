"""When the loop reads what: its turns and their times.

The pad's zones are one turn, read together (so the load is the sum of readings taken
together), at the pad's rate, or fast (``weight_bearing.active_rate_hz``) while a session
or a tare runs. Every other chip is a turn of its own that reads one of its channels a
time, round robin, so that a chip's conversions never block the loop for long; each of
its channels is read at the chip's ``rate_hz``. A turn that comes late is not caught up
in a burst: it is due again one period after it ran.
"""

from __future__ import annotations

from pi_agent.core import PAD_CHANNELS

PAD_TURN = "(pad)"       # the pad's turn (chips' turns are keyed by the chips' names)


class Schedule:
    def __init__(self, cfg, channels, by_chip: dict, has_pad: bool, now: float) -> None:
        pad = [n for n in PAD_CHANNELS if n in channels] if has_pad else []
        self.turns: dict[str, tuple[str, ...]] = {PAD_TURN: tuple(pad)} if pad else {}
        for chip, chs in by_chip.items():
            names = tuple(c.name for c in chs if c.name not in pad)
            if names:
                self.turns[chip] = names
        self.periods = {turn: 1.0 / cfg.chips[channels[names[0]].chip].rate_hz
                        for turn, names in self.turns.items()}
        self.fast_period = 1.0 / cfg.weight_bearing.active_rate_hz
        self.due = {turn: now for turn in self.turns}
        self.cursor = {turn: 0 for turn in self.turns}    # a chip's channel read next

    def next(self) -> tuple[str, float]:
        """The turn due first, and when."""
        due = self.due
        turn = min(due, key=due.__getitem__)
        return turn, due[turn]

    def channels(self, turn: str) -> tuple[str, ...]:
        """The channels this turn reads (a chip's next one, round robin)."""
        names = self.turns[turn]
        if turn == PAD_TURN:
            return names
        index = self.cursor[turn]
        self.cursor[turn] = (index + 1) % len(names)
        return (names[index],)

    def period(self, turn: str, fast: bool) -> float:
        """Time between two of the turn's readings."""
        if turn == PAD_TURN:
            return self.fast_period if fast else self.periods[turn]
        return self.periods[turn] / len(self.turns[turn])

    def done(self, turn: str, due: float, now: float, fast: bool) -> None:
        """The turn due at ``due`` ran (it is ``now``): when it is due next."""
        period = self.period(turn, fast)
        due += period
        self.due[turn] = due if due > now - period else now      # late: no catch-up burst

    def pad_now(self, now: float) -> None:
        """Read the pad at once (a tare starts)."""
        if PAD_TURN in self.due:
            self.due[PAD_TURN] = now
