"""When the loop reads what: its turns and their times.

The pad's zones are one turn, read together (so the load is the sum of readings taken
together), at the pad's rate, or fast (``weight_bearing.active_rate_hz``) while a session
or a tare runs. Every other chip is a turn of its own that reads one of its channels a
time, round robin, so that a chip's conversions never block the loop for long; each of
its channels is read at the chip's ``rate_hz``. A turn that comes late is not caught up
in a burst: it is due again one period after it ran.

During an exercise session the fingers have a turn of their own, at
``exercise.rate_hz`` (their chip's turn reads its other channels meanwhile); outside a
session that turn is idle.

Wake-ups cost more than readings (on a Pi as on a virtual machine, a sleeping process
woken pays far more than the few microseconds a reading takes), so the loop takes a turn
that is due within a tenth of its own period along with the turn it woke for
(``slack``): the splint's turns ride on the pad's fast reads, and the pad's slow reads
on the splint's. A turn taken early keeps its grid: it is next due one period after the
time it was due, not after the time it ran. A chip's turn also names the channel it
reads next (``following``), whose conversion the chip starts as it reads this one
(not while the fingers have their own turn on that chip: their fast conversions would
wait behind it).
"""

from __future__ import annotations

from pi_agent.core import PAD_CHANNELS

PAD_TURN = "(pad)"       # the pad's turn (chips' turns are keyed by the chips' names)
FINGERS_TURN = "(fingers)"   # the fingers' own turn during an exercise session
IDLE = float("inf")      # the due time of a turn that is not reading now
SLACK = 0.1              # a turn is taken this share of its period early, with another one


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
        self.data_rates: dict[str, int] = {}              # a turn's conversion rate, if not its channels'
        if "fingers" in channels:
            self.turns[FINGERS_TURN] = ("fingers",)
            self.periods[FINGERS_TURN] = 1.0 / cfg.exercise.rate_hz
            self.due[FINGERS_TURN] = IDLE
            self.data_rates[FINGERS_TURN] = cfg.exercise.data_rate

    def next(self) -> tuple[str, float]:
        """The turn due first, and when."""
        due = self.due
        turn = min(due, key=due.__getitem__)
        return turn, due[turn]

    def channels(self, turn: str, fingers_fast: bool = False) -> tuple[str, ...]:
        """The channels this turn reads (a chip's next one, round robin; the fingers in
        their own turn while ``fingers_fast``, and then only there)."""
        names = self.turns[turn]
        if turn == FINGERS_TURN:
            return names if fingers_fast else ()
        if turn == PAD_TURN:
            return names
        index = self.cursor[turn]
        if fingers_fast and names[index] == "fingers" and len(names) > 1:
            index = (index + 1) % len(names)
        self.cursor[turn] = (index + 1) % len(names)
        return (names[index],)

    def following(self, turn: str, fingers_fast: bool = False) -> str | None:
        """The channel this turn reads next time, whose conversion may start now (None:
        the pad's turn, which reads converting chips; or none to start)."""
        if turn == FINGERS_TURN:
            return "fingers" if fingers_fast else None
        if turn == PAD_TURN:
            return None
        names = self.turns[turn]
        if fingers_fast and "fingers" in names:
            return None
        return names[self.cursor[turn]]

    def slack(self, turn: str, fast: bool, fingers_fast: bool = False) -> float:
        """How early the turn may be taken along with another (a share of its period)."""
        return SLACK * self.period(turn, fast, fingers_fast)

    def period(self, turn: str, fast: bool, fingers_fast: bool = False) -> float:
        """Time between two of the turn's readings."""
        if turn == PAD_TURN:
            return self.fast_period if fast else self.periods[turn]
        if turn == FINGERS_TURN:
            return self.periods[turn]
        names = self.turns[turn]
        if fingers_fast and "fingers" in names and len(names) > 1:
            return self.periods[turn] / (len(names) - 1)
        return self.periods[turn] / len(names)

    def done(self, turn: str, due: float, now: float, fast: bool, fingers_fast: bool = False) -> None:
        """The turn due at ``due`` ran (it is ``now``): when it is due next."""
        if turn == FINGERS_TURN and not fingers_fast:
            self.due[turn] = IDLE                   # the session is over
            return
        period = self.period(turn, fast, fingers_fast)
        due += period
        self.due[turn] = due if due > now - period else now      # late: no catch-up burst

    def fingers_now(self, now: float, fingers_fast: bool) -> None:
        """After a command or the button: a session that has just started reads the fingers
        in their own turn from now."""
        if fingers_fast and self.due.get(FINGERS_TURN) == IDLE:
            self.due[FINGERS_TURN] = now

    def pad_now(self, now: float) -> None:
        """Read the pad at once (a tare starts)."""
        if PAD_TURN in self.due:
            self.due[PAD_TURN] = now
