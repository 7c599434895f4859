"""The bounded event outbox, on a real SQLite store file: bounded by count and by age,
the oldest dropped first, the drops counted, kept across restarts and told once."""

from __future__ import annotations

import json

from pi_agent.mqtt.outbox import Outbox
from pi_agent.store import FILENAME, Store

DAY = 86400.0


class Wall:
    """A wall clock the test moves."""

    def __init__(self, t: float = 1_777_629_600.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def fill(outbox: Outbox, wall: Wall, n: int, start: int = 0, every: float = 60.0) -> None:
    for i in range(start, start + n):
        outbox.add(f"e{i}", "openpalm/dev1/event", json.dumps({"id": f"e{i}", "n": i}))
        wall.t += every


def ids(outbox: Outbox) -> list[str]:
    return [row[0] for row in outbox.pending(100_000)]


def report(drops):
    return "r1", "openpalm/dev1/event", json.dumps({"id": "r1", "type": "outbox_dropped", "dropped": drops["count"]})


def test_past_the_count_the_oldest_go_first_and_are_counted(tmp_path):
    """With max_events 100, 150 events leave the newest 100, and 50 drops counted."""
    Store(tmp_path).close()
    wall = Wall()
    outbox = Outbox(tmp_path, max_events=100, max_age_s=30 * DAY, wall=wall)
    fill(outbox, wall, 150)
    assert ids(outbox) == [f"e{i}" for i in range(50, 150)]
    assert outbox.dropped == 50


def test_events_older_than_the_age_go_even_under_the_count(tmp_path):
    """Events older than max_age_s are dropped at the next write, and when the agent starts again."""
    Store(tmp_path).close()
    wall = Wall()
    outbox = Outbox(tmp_path, max_events=1000, max_age_s=2 * DAY, wall=wall)
    fill(outbox, wall, 10, every=3600)
    wall.t += 2 * DAY - 5 * 3600                        # the first 5 are now older than 2 days
    fill(outbox, wall, 1, start=10)
    assert ids(outbox) == [f"e{i}" for i in range(5, 11)]
    outbox.close()
    wall.t += 3 * DAY                                   # switched off for 3 days
    again = Outbox(tmp_path, max_events=1000, max_age_s=2 * DAY, wall=wall)
    assert ids(again) == [] and again.dropped == 6


def test_drops_are_told_once_in_one_event_and_survive_a_restart(tmp_path):
    """The count of drops is kept in the store until told; telling it adds one event and forgets them."""
    Store(tmp_path).close()
    wall = Wall()
    outbox = Outbox(tmp_path, max_events=100, max_age_s=30 * DAY, wall=wall)
    fill(outbox, wall, 130)
    outbox.close()
    outbox = Outbox(tmp_path, max_events=100, max_age_s=30 * DAY, wall=wall)     # a restart
    drops = outbox.take_drops(report)
    assert drops["count"] == 30 and drops["first"] < drops["last"]
    assert ids(outbox)[-1] == "r1" and json.loads(outbox.pending(1000)[-1][2])["dropped"] == 30
    assert outbox.take_drops(report) is None, "told once"


def test_the_store_file_stays_bounded_however_long_the_broker_is_away(tmp_path):
    """Months of events with no broker: the file grows to the bound's size and no further."""
    store = Store(tmp_path)
    wall = Wall()
    outbox = Outbox(tmp_path, max_events=100, max_age_s=60 * DAY, wall=wall)
    payload = "x" * 300

    def size() -> int:
        return sum(p.stat().st_size for p in tmp_path.glob(FILENAME + "*"))

    for i in range(200):
        outbox.add(f"a{i}", "t", payload)
        wall.t += 6 * 3600                              # four events a day: 50 days
    at_bound = size()
    for i in range(400):
        outbox.add(f"b{i}", "t", payload)
        wall.t += 6 * 3600                              # 100 days more
    assert len(outbox) == 100 and ids(outbox)[-1] == "b399" and ids(outbox)[0] == "b300"
    assert size() <= at_bound + 64 * 1024, (size(), at_bound)
    assert size() < 2 * 1024 * 1024
    store.close()
