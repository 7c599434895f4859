"""Exercise with real processes: the requests through a real Mosquitto, SIGKILL in a session,
the shipped example, and the reward on the motor's own trace in real time."""

from __future__ import annotations

from exercise_steps import assert_as_truth, cmd, flicker, movements
from pi_agent import config


def test_exercise_over_mqtt_live_count_session_event_and_day(tmp_path):
    """Through a real Mosquitto: exercise_start and exercise_stop as requests, the live count
    in the state, the session as an event, the day's count in the state's totals; then Home
    Assistant's start and stop buttons, pressed as their discovery message says, do the same."""
    import json

    from agentproc import AgentProcess
    from broker import Broker, Listener
    broker = Broker(tmp_path / "broker").start()
    live = None
    try:
        live = Listener(broker.port)
        assert live.connected.wait(10)
        steps = [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}]
        for _ in range(150):
            steps += flicker(8, 0.3, 0.3, rest=1.4)
        scenario = {"start": "2026-05-01T10:00:00", "timezone": "Europe/Berlin", "seed": 2,
                    "noise": {"deg": 0.7, "newton": 0.2}, "steps": steps}
        agent = AgentProcess(scenario, tmp_path / "agent", speed=2, broker=broker.url)
        try:
            assert live.wait_for(lambda ms: any(m["topic"].endswith("/state") for m in ms), 30), agent.log()
            live.publish("openpalm/dev1/request/exercise_start", json.dumps({"minutes": 5, "transaction": "go"}))

            def states(ms=None):
                return [json.loads(m["payload"]) for m in (live.on("") if ms is None else ms)
                        if m["topic"] == "openpalm/dev1/state"]
            assert live.wait_for(lambda ms: any((s["exercise"]["reps"] or 0) >= 3 for s in states(ms)), 60), \
                agent.log()
            live.publish("openpalm/dev1/request/exercise_stop", json.dumps({"transaction": "stop"}))
            assert live.wait_for(lambda ms: any(b"exercise_session" in m["payload"] for m in ms
                                                if m["topic"].endswith("/event")), 30), agent.log()
            assert live.wait_for(lambda ms: not states(ms)[-1]["exercise"]["active"], 30)
            stopped_at = len(live.on(""))

            discovery = live.on("homeassistant/device/openpalm_dev1/config")[-1]
            buttons = json.loads(discovery["payload"])["cmps"]

            def press(key):
                live.publish(buttons[key]["command_topic"], buttons[key]["payload_press"])
            press("exercise_start")
            assert live.wait_for(lambda ms: any(s["exercise"]["active"] for s in states(ms[stopped_at:])), 30), \
                agent.log()
            press("exercise_stop")
            assert live.wait_for(lambda ms: len({json.loads(m["payload"])["id"] for m in ms if m["topic"].endswith("/event")
                                                 and b"exercise_session" in m["payload"]}) == 2, 30), agent.log()
            assert live.wait_for(lambda ms: not states(ms)[-1]["exercise"]["active"], 30)
        finally:
            agent.terminate()
        responses = {json.loads(m["payload"])["transaction"]: json.loads(m["payload"])
                     for m in live.on("") if "/response/exercise_" in m["topic"]}
        assert responses["go"] == {"status": "ok", "transaction": "go", "data": {"minutes": 5}}
        stopped = responses["stop"]["data"]
        event, pressed = live.events("exercise_session")
        assert event["repetitions"] == stopped["repetitions"] >= 3 and event["ended"] == "stopped"
        assert pressed["source"] == "command" and pressed["ended"] == "stopped"
        last = states()[-1]
        assert last["today"]["extension_reps"] == stopped["repetitions"] + pressed["repetitions"]
        assert last["exercise"]["reps"] is None and not last["exercise"]["active"]
        active = [s["exercise"]["reps"] for s in states(live.on("")[:stopped_at]) if s["exercise"]["active"]]
        assert active == sorted(active), "the live count only grows in a session"
    finally:
        if live is not None:
            live.close()
        broker.stop()


def test_sigkill_in_a_session_keeps_every_published_repetition_and_the_next_agent_reports_it(tmp_path):
    """A real agent killed with SIGKILL in a session (a power cut): every repetition it had
    published is in its store, with the session stored as running; the agent started next
    on that store counts nothing more and reports the session as interrupted, with that count."""
    import json
    import sqlite3

    from agentproc import AgentProcess
    from broker import Broker, Listener
    broker = Broker(tmp_path / "broker").start()
    live = None
    try:
        live = Listener(broker.port)
        assert live.connected.wait(10)
        steps = [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, cmd("exercise_start", minutes=10)]
        for _ in range(200):
            steps += flicker(8, 0.3, 0.3, rest=1.4)
        first = AgentProcess({"start": "2026-05-01T10:00:00", "timezone": "Europe/Berlin", "seed": 4,
                              "noise": {"deg": 0.7, "newton": 0.2}, "steps": steps}, tmp_path / "agent", speed=2,
                             broker=broker.url)

        def counts(ms):
            return [json.loads(m["payload"])["exercise"]["reps"] for m in ms if m["topic"] == "openpalm/dev1/state"]
        try:
            assert live.wait_for(lambda ms: max([c or 0 for c in counts(ms)], default=0) >= 4, 60), first.log()
        finally:
            first.kill()
        published = max(c or 0 for c in counts(live.on("")))
        db = sqlite3.connect(f"file:{tmp_path / 'agent' / 'state' / 'openpalm.db'}?mode=ro", uri=True)
        try:
            stored = json.loads(db.execute("SELECT data FROM days WHERE day = '2026-05-01'").fetchone()[0])
            session = json.loads(db.execute("SELECT value FROM meta WHERE key = 'exercise'").fetchone()[0])
        finally:
            db.close()
        assert stored["extension_reps"] >= published, "a published repetition was lost"
        assert session["repetitions"] == stored["extension_reps"] and session["ended"] == "interrupted"
        heard = len(live.on(""))

        second = AgentProcess({"start": "2026-05-01T11:00:00", "timezone": "Europe/Berlin", "seed": 5,
                               "noise": {"deg": 0.7, "newton": 0.2},
                               "steps": [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, *movements(8),
                                         {"hold": 600}]}, tmp_path / "agent", speed=2, broker=broker.url)
        try:
            assert live.wait_for(lambda ms: any(m["topic"] == "openpalm/dev1/event" and b"exercise_session"
                                                in m["payload"] for m in ms[heard:]), 30), second.log()
            # at least once (QoS 1, the outbox after a restart): consumers de-duplicate by id
            [event] = {e["id"]: e for e in (json.loads(m["payload"]) for m in live.on("openpalm/dev1/event")
                                             if b"exercise_session" in m["payload"])}.values()
            assert event["ended"] == "interrupted" and event["repetitions"] == stored["extension_reps"]
            assert second.wait_log("sampling started", 30)
            assert live.wait_for(lambda ms: any(json.loads(m["payload"])["today"].get("extension_reps")
                                                == stored["extension_reps"] for m in ms[heard:]
                                                if m["topic"] == "openpalm/dev1/state"), 30)
            before = len(live.on(""))
            assert live.wait_for(lambda ms: len([m for m in ms[before:] if m["topic"] == "openpalm/dev1/state"]) >= 3,
                                 60)
            for m in live.on("")[heard:]:
                if m["topic"] == "openpalm/dev1/state":
                    state = json.loads(m["payload"])
                    assert not state["exercise"]["active"]
                    assert state["today"].get("extension_reps", stored["extension_reps"]) == stored["extension_reps"]
        finally:
            second.terminate()
    finally:
        if live is not None:
            live.close()
        broker.stop()


def test_the_shipped_example_counts_as_the_truth(shipped_day):
    """scenarios/example-exercise.json (flickers, twitches, a slow full opening, movements
    before, between and after its two sessions, the second ending at its time limit): the
    report's extension_reps is the truth's, exercise_s within 2 s a session."""
    import json

    from conftest import SCENARIOS
    from mock_hw import scenario_file as scenario_mod
    cfg = config.defaults()
    data = json.loads((SCENARIOS / "example-exercise.json").read_text())
    scen = scenario_mod.parse(data, {n: s.kind for n, s in cfg.sensors.items()})
    report, events = shipped_day("example-exercise")
    sessions = assert_as_truth(scen, report)
    assert [len(reps) for _, _, reps in sessions] == [16, 20]
    ended = [json.loads(e)["ended"] for e in events if '"exercise_session"' in e]
    assert ended == ["stopped", "time_limit"]


def test_in_real_time_the_motor_rewards_each_repetition_within_50_ms_and_no_twitch(cfg, tmp_path, ram_dir):
    """The real agent in real time (its fast fingers schedule, its motor thread, the rig's
    motor): on the motor's own trace, a buzz starts within 50 ms of each counted reading (less
    any time the kernel kept the process from a CPU), and every buzz is a repetition's reward
    or the session's start or end cue: the twitches get none."""
    from agentproc import traced_real_time_run
    from mock_hw import scenario_file as scenario_mod
    from motor_recorder import motor_rises
    steps = [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, cmd("exercise_start", minutes=5),
             {"hold": 1}, *[s for _ in range(3) for s in flicker(3, 0.15, 0.15)],
             *[s for _ in range(6) for s in flicker(7, 0.15, 0.15)], *[s for _ in range(3) for s in flicker(3, 0.15, 0.15)],
             cmd("exercise_stop"), {"hold": 1}]
    scen = scenario_mod.parse({"start": "2026-05-01T09:00:00", "timezone": "Europe/Berlin", "seed": 6,
                               "noise": {"deg": 0.7, "newton": 0.2}, "steps": steps},
                              {n: s.kind for n, s in cfg.sensors.items()})
    trace = tmp_path / "motor.trace"
    events, origin, real, waits = traced_real_time_run(cfg, scen, ram_dir, trace)
    rises = motor_rises(trace)
    cues = [e for e in events if e.type == "haptic"]
    rewards = [e.t - origin for e in cues if e.data["reason"] == "rep"]
    # Each of the six flickers counted, unless the kernel kept the process from a CPU for
    # as long as a flicker's 0.3 s (a real-time run on a busy machine; virtual time counts all).
    waited = waits.between(origin + real, origin + real + scen.timeline.duration)
    assert len(rewards) == 6 or (len(rewards) < 6 and waited >= 0.15 * (6 - len(rewards))), \
        ([e.data for e in cues], f"{waited:.3f} s waited for a CPU")
    for t in rewards:
        on = min((r for r in rises if r >= t - 1e-4), default=None)
        assert on is not None, f"no buzz after the repetition at {t:.3f}"
        waited = waits.between(t + origin + real, on + origin + real)
        assert on - t <= 0.05 + waited, f"the buzz {1000 * (on - t):.0f} ms after the repetition ({waited:.3f} s waited)"
    assert len(rises) == len(rewards) + 2, "a buzz for each repetition, the start and the end, and nothing else"
