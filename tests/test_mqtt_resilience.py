"""MQTT when things go wrong: a broker that goes away, a broker that is not there, and a
flood of bad requests. Always a real Mosquitto, on a free loopback port."""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter

from hypothesis import HealthCheck, given, settings, strategies as st

from agentproc import AgentProcess, CpuWait, write_config
from broker import Broker, Listener
from test_mqtt import scenario, session_steps

OPEN = {"palm": 3, "wrist": 25, "fingers": 5}


def _persistent_broker(folder, port=None):
    return Broker(folder, port=port, extra=f"persistence true\npersistence_location {folder}/\n"
                                           f"autosave_interval 1\n")


def _sessions(listener):
    return _sessions_in(listener.on("/event"))


def _sessions_in(messages):
    events = [json.loads(m["payload"]) for m in messages if m["topic"].endswith("/event")]
    return [e for e in events if e["type"] == "wb_session"]


def _check_ids(sessions):
    """Each session arrived; a repeat is only ever the same id."""
    by_start: dict[float, set[str]] = {}
    for e in sessions:
        by_start.setdefault(e["start"], set()).add(e["id"])
    assert all(len(ids) == 1 for ids in by_start.values()), by_start
    return by_start


def test_broker_down_for_two_minutes_loses_no_event(tmp_path):
    """The broker stops for 2 minutes of the agent's time while sessions end; when it is
    back every event arrives, none missing, repeats only with the same id."""
    folder = tmp_path / "broker"
    broker = _persistent_broker(folder).start()
    cfg = write_config(tmp_path / "cfg", "[mqtt]\nreconnect_max_s = 5\n")
    listener = Listener(broker.port, topics=("openpalm/dev1/event",), client_id="caregiver", clean_session=False)
    assert listener.connected.wait(10)
    sessions, down_for = 6, 4           # a session every 33 s of the agent's time: 4 of them are over 2 minutes
    agent = AgentProcess(scenario([{"hold": 2}, *session_steps(sessions), {"hold": 3600}]), tmp_path / "a",
                         speed=8, broker=broker.url, config=cfg)
    try:
        assert listener.wait_for(lambda ms: len(ms) >= 1, 30), agent.log()
        broker.stop()
        ended_before = agent.count("weight-bearing session")
        assert agent.wait_count("weight-bearing session", ended_before + down_for, 120), agent.log()
        broker = _persistent_broker(folder, broker.port).start()
        assert listener.wait_for(lambda ms: len({json.loads(m["payload"])["start"] for m in ms}) >= sessions, 150), \
            (len(listener.messages), agent.log())
        by_start = _check_ids(_sessions(listener))
        assert len(by_start) == sessions
    finally:
        agent.terminate()
        listener.close()
        broker.stop()


def test_no_broker_for_ten_minutes_then_events_are_delivered(tmp_path):
    """With no broker at all the agent keeps tracking (and says so once); when one
    appears, the events that waited in the outbox are delivered: every session it logged,
    once each."""
    folder = tmp_path / "broker"
    broker = _persistent_broker(folder).start()
    listener = Listener(broker.port, topics=("openpalm/dev1/#",), client_id="caregiver", clean_session=False)
    assert listener.connected.wait(10)
    listener.close()
    broker.stop()                                   # the caregiver's subscription is kept on disk
    cfg = write_config(tmp_path / "cfg", "[mqtt]\nreconnect_max_s = 3\n")
    # 5 s, then 8 sessions 88 s apart: the 8th ends after ten minutes of the agent's time;
    # then a command, whose line in the log says the sessions are behind it.
    steps = [{"hold": 5, "set": OPEN}, *session_steps(8, gap=75), {"command": {"name": "identify", "args": {}}},
             {"hold": 7200}]
    agent = AgentProcess(scenario(steps), tmp_path / "a", speed=60, broker=broker.url, config=cfg)
    try:
        assert agent.wait_log("command identify", 120), agent.log()
        # At 60 times real time a session is 0.2 s: on a loaded machine the agent may be kept
        # from its readings for all of one. What it saw is what must be delivered.
        logged = agent.count("weight-bearing session")
        assert 1 <= logged <= 8, "it kept tracking: " + agent.log()
        assert agent.proc.poll() is None
        assert agent.count("no MQTT broker") == 1, "it says so once: " + agent.log()
        broker = _persistent_broker(folder, broker.port).start()
        listener = Listener(broker.port, topics=("openpalm/dev1/#",), client_id="caregiver", clean_session=False)
        assert listener.wait_for(lambda ms: len({e["start"] for e in _sessions_in(ms)}) >= logged, 60), agent.log()
        by_start = _check_ids(_sessions(listener))
        assert len(by_start) == logged, (logged, agent.log())
        day = listener.json("/day/2026-05-01")
        assert day and day[-1]["open_s"] > 500
    finally:
        agent.terminate()
        listener.close()
        broker.stop()


# A packet in Mosquitto's log (log_type all).
PUBLISH_LINE = re.compile(r"\d+: (?P<way>Received|Sending) PUBLISH (?:from|to) (?P<client>\S+) "
                          r"\(d\d, q\d, r(?P<retain>\d), m\d+, '(?P<topic>.*)', \.\.\. \(\d+ bytes\)\)$")
EXAMPLES = int(os.environ.get("OPENPALM_FUZZ_EXAMPLES", "100"))   # 100 batches of 100: 10,000 payloads
KNOWN = ["vibration_start", "vibration_stop", "tare", "set_targets", "set_goal", "identify", "refresh"]
json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
                           | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=4), max_leaves=12)
argument_dicts = st.dictionaries(st.sampled_from(["level", "minutes", "hours", "low", "high", "unit", "transaction",
                                                  "extra"]),
                                 st.sampled_from(["low", "high", "N", "medium"]) | st.integers(-100, 2000)
                                 | st.floats(-1e3, 1e4, allow_nan=False) | st.none() | st.booleans(), max_size=4)
payloads = st.one_of(
    argument_dicts.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.just(b"x" * 5000),
    st.text(max_size=40).map(str.encode),
)
# Unknown names: printable text (a topic with control characters is the broker's to refuse).
names = st.sampled_from(KNOWN) | st.text(st.characters(categories=("L", "N", "P", "S"), exclude_characters="/+#"),
                                         min_size=1, max_size=12)
requests = st.tuples(names, payloads, st.booleans())


def test_ten_thousand_generated_requests(tmp_path, ram_dir):
    """10,000 generated payloads on the request topics: each answered once by the rules, or
    never if retained (MQTT 5 keeps the retain flag on live delivery), the agent alive with
    no failure in its loop, and its load stream flowing throughout:
    no gap over 0.5 s between two consecutive load messages, by the agent's own time stamps,
    less the time the kernel kept the agent waiting for a CPU. (That a flood takes only a
    few commands a turn, is checked in CPU time in test_commands.py; 0.5 s is what a
    failing loop's back-off costs.)"""
    # No limit on the broker's queues: a qos-1 message is never dropped because the
    # test's subscriber, sharing the CPU, falls behind.
    # Every packet in the broker's log: a failure can then tell where a lost request went.
    broker = Broker(tmp_path / "broker", extra="max_queued_messages 0\nlog_type all\n").start()
    cfg = write_config(tmp_path / "cfg", "[therapy]\nmax_daily_min = 600\n")
    listener = Listener(broker.port, topics=("openpalm/dev1/response/#", "openpalm/dev1/status"))
    # The load stream on a connection of its own, so the flood of responses never
    # makes the broker drop a qos-0 load message on the way to the test.
    load = Listener(broker.port, topics=("openpalm/dev1/load",), received=True)
    assert listener.connected.wait(10) and load.connected.wait(10)
    steps = [{"hold": 2}, {"ramp": 1, "to": {"pad_palm": 40, "pad_fingers": 25}}, {"hold": 3600}]
    # Its store in memory: a vibration request books its dose durably before the motor
    # runs, so each fsyncs; on the suite's shared disk one took up to 0.7 s of the loop.
    agent = AgentProcess(scenario(steps), tmp_path / "a", speed=1, broker=broker.url, config=cfg, state_dir=ram_dir)
    sent: Counter = Counter()          # requests to answer, by name (not retained)
    retained = [0]
    waited = CpuWait(agent.proc.pid)
    try:
        assert load.wait_for(lambda ms: len(ms) > 20, 30), agent.log()

        @settings(max_examples=EXAMPLES, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(batch=st.lists(requests, min_size=100, max_size=100))
        def publish(batch):
            for name, payload, retain in batch:
                listener.publish(f"openpalm/dev1/request/{name}", payload, qos=1, retain=retain)
                if retain:
                    retained[0] += 1
                else:
                    sent[name] += 1
            time.sleep(0.05)

        publish()
        total = sum(sent.values())
        assert total + retained[0] == EXAMPLES * 100 and retained[0] > 0

        def responses():
            return [m for m in listener.messages if "/response/" in m["topic"]]

        def stalled() -> str:
            """What a failure shows: answers against requests, the commands the agent ran
            (its log), whether its load stream still flows (its loop), where the agent's
            threads wait (SIGUSR1), and what the test's own client still holds."""
            agent.dump_threads()
            log = agent.log()
            last_load = json.loads(load.messages[-1]["payload"]).get("seq") if load.messages else None
            c = listener.client
            states = Counter(str(m.state) for m in list(c._out_messages.values()))
            answered = Counter(m["topic"].split("/response/", 1)[1] for m in responses())
            unanswered = {n: k - answered[n] for n, k in sent.items() if k > answered[n]}
            return (f"{len(responses())} answers of {total}; {log.count(' command ')} commands in the agent's log; "
                    f"{len(load.messages)} load messages, the last numbered {last_load}; alive: "
                    f"{agent.proc.poll() is None}; the test's client: {c._inflight_messages} in flight, "
                    f"{dict(states)}, {len(c._out_packet)} packets to write; unanswered: "
                    f"{dict(list(unanswered.items())[:5])}; {broker_saw(list(unanswered)[:5])}\n{log[-6000:]}")

        def broker_saw(names) -> str:
            """What the broker's log says of these requests: how often it received each from the
            test and sent it to the agent, by the retain flag (r0, r1)."""
            seen: Counter = Counter()
            for line in (tmp_path / "broker" / "mosquitto.log").read_text(errors="replace").splitlines():
                m = PUBLISH_LINE.match(line)
                if m and m["topic"].startswith("openpalm/dev1/request/"):
                    who = "from the test" if m["way"] == "Received" else f"to {m['client']}"
                    seen[(m["topic"].rsplit("/", 1)[1], f"{who} r{m['retain']}")] += 1
            return "; ".join(f"{n!r}: " + (", ".join(f"{k} {w}" for (name, w), k in seen.items() if name == n) or "never")
                             for n in names)
        assert listener.wait_for(lambda ms: len([m for m in ms if "/response/" in m["topic"]]) >= total, 240), \
            stalled()
        # One request more, answered after all the others (the loop runs them in order):
        # once its answer is in, any second answer to an earlier request would be too.
        listener.publish("openpalm/dev1/request/identify", b'{"transaction": "last"}')
        assert listener.wait_for(lambda ms: any(b'"last"' in m["payload"] for m in ms
                                                if m["topic"] == "openpalm/dev1/response/identify"), 60)
        sent["identify"] += 1
        seen = len(load.messages)
        assert load.wait_for(lambda ms: len(ms) > seen + 1, 10), "the load stream goes on after the flood"
        assert agent.proc.poll() is None, "the agent is alive"
        assert "the sampling loop failed" not in agent.log(), agent.log()[-3000:]
        got = Counter(m["topic"].split("/response/", 1)[1] for m in responses())
        assert got == sent, "every request answered once, on its own response topic"
        for m in responses():
            r = json.loads(m["payload"])
            assert r["status"] in ("ok", "error") and "transaction" in r and ("data" in r or "error" in r)
        unknown = [n for n in sent if n not in KNOWN]
        for m in responses():
            if m["topic"].split("/response/", 1)[1] in unknown:
                assert json.loads(m["payload"])["status"] == "error"
        # The agent's own time stamps (at speed 1, real seconds) on the load stream, from
        # before the flood to after it. Only two messages numbered one after the other
        # make a gap: qos 0 may lose one on the way, and that is not a stall.
        messages = load.on("openpalm/dev1/load")
        stream = sorted(({**json.loads(m["payload"]), "received": m["received"]} for m in messages),
                        key=lambda p: p["seq"])
        pairs = [(a, b) for a, b in zip(stream, stream[1:]) if b["seq"] == a["seq"] + 1]
        assert len(pairs) >= 0.9 * (stream[-1]["seq"] - stream[0]["seq"]), "the stream was seen almost whole"
        # The agent's time stamps on this process's monotonic clock (both run at real time):
        # a message arrives after it was stamped, so the smallest lag is the clocks' offset.
        offset = max(p["ts"] - p["received"] for p in stream)
        stalls = [(b["ts"] - a["ts"], waited.between(a["ts"] - offset, b["ts"] - offset), a["ts"]) for a, b in pairs]
        gap, cpu_wait, after = max(stalls, key=lambda s: s[0] - s[1])
        assert gap - cpu_wait <= 0.5, (f"the load stream stalled for {gap * 1000:.0f} ms (after {after}), "
                                       f"{cpu_wait * 1000:.0f} ms of it waiting for a CPU")
        assert [m for m in listener.messages if m["topic"] == "openpalm/dev1/status"][-1]["payload"] == b"online"
    finally:
        waited.stop()
        agent.terminate(20)
        listener.close()
        load.close()
        broker.stop()
