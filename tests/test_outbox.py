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


def test_a_long_time_without_broker_keeps_the_newest_and_says_so_once_when_it_returns(tmp_path):
    """The real agent (virtual time) and its MQTT link with no broker: 130 weight-bearing
    sessions against a bound of 100 events. The store keeps the newest 100; when a real
    Mosquitto appears, those 100 arrive and one outbox_dropped event says 30 were dropped;
    a second resynchronisation (Home Assistant online) does not say it again."""
    import time

    from agentproc import write_config
    from broker import Broker, Listener, free_port
    from mock_hw import scenario_file
    from pi_agent import config
    from pi_agent.clock import VirtualClock
    from pi_agent.mqtt import MqttLink
    from pi_agent.simulated_run import SimulatedRun
    from test_mqtt import session_steps

    cfg = config.load(write_config(tmp_path / "cfg", "[mqtt]\nreconnect_max_s = 1\noutbox_max_events = 100\n"))
    steps = [{"hold": 2}, *session_steps(130, gap=8), {"hold": 30}]
    scen = scenario_file.parse({"start": "2026-05-01T08:00:00", "timezone": "Europe/Berlin", "seed": 1,
                                "steps": steps}, {n: s.kind for n, s in cfg.sensors.items()})
    clock = VirtualClock(scen.start_wall())
    sim = SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=tmp_path / "state")
    port = free_port()
    outbox = Outbox(tmp_path / "state", max_events=cfg.mqtt.outbox_max_events,
                    max_age_s=cfg.mqtt.outbox_max_days * DAY, wall=clock.wall)
    link = MqttLink(cfg, sim.agent, outbox, device="dev1", broker=f"mqtt://127.0.0.1:{port}", password=None,
                    zone=scen.zone())
    link.start()
    sim.after_step = link.after_step
    broker = listener = None
    try:
        sim._run_until(scen.timeline.duration)
        sessions = [line for line in outbox.pending(1000) if '"wb_session"' in line[2]]
        assert outbox.dropped == 30 and len(outbox) == 100 == len(sessions)
        kept = [json.loads(p)["start"] for _, _, p in sessions]
        broker = Broker(tmp_path / "broker", port=port).start()
        listener = Listener(port, topics=("openpalm/dev1/event",))
        assert listener.connected.wait(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len({e["id"] for e in listener.json("/event")}) < 101:
            link.after_step(sim.agent)                 # the agent's thread: what the loop does each step
            time.sleep(0.02)
        events = list({e["id"]: e for e in listener.json("/event")}.values())
        reports = [e for e in events if e["type"] == "outbox_dropped"]
        assert len(reports) == 1 and reports[0]["dropped"] == 30, reports
        assert sorted(e["start"] for e in events if e["type"] == "wb_session") == sorted(kept)
        assert max(kept) > min(kept) and len(events) == 101
        link._resync.set()                             # Home Assistant comes online: everything again
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(outbox):
            link.after_step(sim.agent)
            time.sleep(0.02)
        link.after_step(sim.agent)
        told = {e["id"] for e in listener.json("/event") if e["type"] == "outbox_dropped"}
        assert len(told) == 1, "said once (a repeat for want of an acknowledgement has the same id)"
    finally:
        link.stop()
        sim.close()
        if listener is not None:
            listener.close()
        if broker is not None:
            broker.stop()


class Sent:
    """A publication (paho's ``MQTTMessageInfo``) the test acknowledges."""

    def __init__(self) -> None:
        self.acked = False

    def is_published(self) -> bool:
        return self.acked


def test_acknowledged_events_leave_in_one_commit_and_stay_gone_after_a_restart(tmp_path):
    """Five events the broker acknowledges together leave the outbox in one commit (not
    five fsyncs in the sampling loop); one not yet acknowledged stays; a new process sees
    the same."""
    from pi_agent.mqtt.outbox import InFlight
    Store(tmp_path).close()
    wall = Wall()
    outbox = Outbox(tmp_path, wall=wall)
    fill(outbox, wall, 6)
    in_flight, sent = InFlight(outbox), {}
    in_flight.flush(lambda topic, payload: sent.setdefault(json.loads(payload)["id"], Sent()))
    for event_id in ("e0", "e1", "e2", "e3", "e4"):
        sent[event_id].acked = True
    commits = outbox.commits
    in_flight.acknowledged()
    assert ids(outbox) == ["e5"]
    assert (outbox.removals, outbox.commits) == (1, commits)
    in_flight.acknowledged()                            # nothing new: no commit at all
    assert outbox.removals == 1
    outbox.close()
    assert ids(Outbox(tmp_path, wall=wall)) == ["e5"]
