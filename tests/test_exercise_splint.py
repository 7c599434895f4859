"""Exercise needs the splint on (its finger sensor counts the repetitions); the session's end as the state shows it."""

from __future__ import annotations

import pytest

from test_exercise import WALL0, Hand, exercise_cfg
from sensors.channel import Reading


def test_no_session_starts_with_the_splint_off():
    """The splint's finger sensor counts the repetitions: with the splint known to be off, a
    start (a command, the button held) is refused, saying so, and nothing is counted or
    booked (a 10-minute session with the splint on the table was booked as exercise);
    once the splint is on, a session starts."""
    hand = Hand(exercise_cfg())

    def splint(palm, seconds):
        for _ in range(int(seconds * 4)):
            hand.t += 0.25
            hand.take(hand.core.feed([Reading("wrist", hand.t, 0, 20.0), Reading("fingers", hand.t, 0, 40.0),
                                      Reading("palm", hand.t, 0, palm)], WALL0 + hand.t))
    splint(0.0, 10)
    refused = hand.command("exercise_start", minutes=10)
    assert refused.status == "error" and "the splint is off: put it on first" in refused.error, refused
    hand.take(hand.core.button(hand.t, WALL0 + hand.t, held=True))
    assert not hand.core.exercise.running and hand.typed("exercise_started") == []
    assert [e.data["text"] for e in hand.events if e.data.get("reason") == "refused"][-1].endswith("put it on first "
                                                                                                   "(its finger sensor counts the repetitions)")
    splint(3.0, 10)
    assert hand.command("exercise_start", minutes=10).status == "ok" and hand.core.exercise.running


def test_a_session_ends_when_the_splint_is_taken_off():
    """The splint taken off 5 s into a 10-minute session: the session ends then (reason
    splint_off), and the day books its seconds, not 600 (while worn time was 15 s)."""
    hand = Hand(exercise_cfg())
    hand.move(10)
    assert hand.command("exercise_start", minutes=10).status == "ok"
    hand.move(5)
    for _ in range(40):                      # 10 s of the splint on the table
        hand.t += 0.25
        hand.take(hand.core.feed([Reading("wrist", hand.t, 0, 20.0), Reading("fingers", hand.t, 0, 40.0),
                                  Reading("palm", hand.t, 0, 0.0)], WALL0 + hand.t))
    assert not hand.core.exercise.running
    [ended] = hand.typed("exercise_session")
    assert ended.data["ended"] == "splint_off" and ended.data["duration_s"] < 20, ended.data
    hand.take(hand.core.tick(hand.t + 600, WALL0 + hand.t + 600))
    assert hand.today.exercise_s < 20


def test_the_end_in_the_snapshot_holds_still_between_two_clocks():
    """The session's end in wall time is the same at every turn although the wall clock and
    the monotonic one are read a few milliseconds apart (the retained state's 'until' did change
    by a millisecond now and then); a step of the wall clock moves it with the clock."""
    hand = Hand(exercise_cfg())
    hand.command("exercise_start", minutes=3)
    ends = set()
    for jitter in (0.0, 0.004, -0.003, 0.0009, 0.002):
        hand.t += 0.05
        hand.take(hand.core.feed([Reading("fingers", hand.t, 0, 40.0)], WALL0 + hand.t + jitter))
        ends.add(hand.core.snapshot().exercise.until_wall)
    assert len(ends) == 1 and ends.pop() == pytest.approx(WALL0 + 180, abs=1e-3)
    for step in (10.4, -86400):                 # NTP, 10.4 s ahead; then a day back
        ends = set()
        for jitter in (0.0, 0.004, -0.003):
            hand.t += 0.05
            hand.take(hand.core.feed([Reading("fingers", hand.t, 0, 40.0)], WALL0 + hand.t + step + jitter))
            ex = hand.core.snapshot().exercise
            ends.add((ex.since_wall, ex.until_wall))
        assert len(ends) == 1, ends
        since, until = ends.pop()
        assert since == pytest.approx(WALL0 + round(step), abs=1e-3) and until - since == pytest.approx(180, abs=1e-3)
