"""Commands: validated before anything changes, answered either way."""

from __future__ import annotations

import pytest

from mock_hw import scenario_file
from pi_agent.core import commands
from pi_agent.core.commands import CommandError
from pi_agent.errors import ScenarioError
from pi_agent.simulated_run import run_scenario


@pytest.mark.parametrize("name, payload, message", [
    ("set_goal", b"{", "payload is not valid JSON"),
    ("set_goal", b"[1, 2]", "expected a JSON object of arguments, got list"),
    ("set_goal", b"x" * 5000, "over the 4096-byte limit"),
    ("set_goal", b"\xff\xfe", "payload is not UTF-8 text"),
    ("set_goal", b'{"hours": "six"}', "set_goal.hours: expected a number from 0.5 to 24, got 'six'"),
    ("set_goal", b'{"hours": 30}', "set_goal.hours: expected a number from 0.5 to 24, got 30"),
    ("set_goal", b"{}", "set_goal.hours: missing"),
    ("set_goal", b'{"hours": 5, "minutes": 3}', "set_goal: unknown argument 'minutes'"),
    ("launch", b"{}", "unknown command 'launch'"),
    ("vibration_start", b'{"level": "low", "minutes": 1, "level": "high"}', "the key 'level' is given twice"),
    ("set_goal", b'{"hours": 5, "x": {"a": 1, "a": 2}}', "the key 'a' is given twice"),
    ("set_goal", b"null", "expected a JSON object of arguments, got null"),
])
def test_bad_commands_are_refused_with_a_clear_message(name, payload, message):
    """Each bad command is refused with a message saying what was expected."""
    with pytest.raises(CommandError) as info:
        commands.parse(name, payload)
    assert message in str(info.value)


def test_transaction_is_echoed_even_in_errors():
    """The transaction comes back in the response, also when the command is refused."""
    with pytest.raises(CommandError) as info:
        commands.parse("set_goal", b'{"transaction": "t-1", "hours": -1}')
    assert info.value.transaction == "t-1"
    args, transaction = commands.parse("set_goal", b'{"transaction": 7, "hours": 4.5}')
    assert args == {"hours": 4.5} and transaction == 7


def test_the_daily_goal_has_one_bound_wherever_it_is_set(cfg):
    """The configuration's goal_h, set_goal (MQTT and scenarios) and Home Assistant's goal box
    share one bound, half an hour to 24 hours; the configuration refuses 0.1 h in one line."""
    from pi_agent import config
    from pi_agent.config.schema import GOAL_H_MAX, GOAL_H_MIN, SCHEMA
    from pi_agent.mqtt.discovery import discovery_payload
    assert SCHEMA["positioning"]["goal_h"].check is commands.COMMANDS["set_goal"].args["hours"].check
    box = discovery_payload("dev1", "N")["cmps"]["goal"]      # Home Assistant's abbreviation
    assert (box["min"], box["max"]) == (GOAL_H_MIN, GOAL_H_MAX) == (0.5, 24.0)
    with pytest.raises(config.ConfigError) as info:
        config.changed(cfg, positioning={"goal_h": 0.1})
    assert "positioning.goal_h: expected a number from 0.5 to 24, got 0.1" in str(info.value)
    with pytest.raises(ScenarioError, match="set_goal.hours: expected a number from 0.5 to 24, got 0.1"):
        scenario_file.parse({"start": "2026-06-01T10:00:00", "steps": [
            {"command": {"name": "set_goal", "args": {"hours": 0.1}}}]}, {n: s.kind for n, s in cfg.sensors.items()})


def test_scenario_command_step_changes_the_goal(cfg, tmp_path):
    """A scenario's command step reaches the agent as MQTT would deliver it."""
    scen = scenario_file.parse({"start": "2026-06-01T10:00:00", "steps": [
        {"hold": 120, "set": {"palm": 3, "wrist": 25, "fingers": 5}},
        {"command": {"name": "set_goal", "args": {"hours": 4}}},
        {"hold": 120}]}, {n: s.kind for n, s in cfg.sensors.items()})
    _, report = run_scenario(cfg, scen, state_dir=tmp_path, zone=scen.zone())
    assert report["days"]["2026-06-01"]["goal_s"] == 4 * 3600


def test_no_request_passes_for_the_button(cfg, monkeypatch):
    """Requests named as the button's reports once were ('_button', '_button_held') or as its
    report's values are ('press', 'hold') are unknown commands, answered so, and press nothing;
    the button's own report still does."""
    from pi_agent import button
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun
    scen = scenario_file.parse({"start": "2026-06-01T10:00:00", "steps": [{"hold": 60}]},
                               {n: s.kind for n, s in cfg.sensors.items()})
    with SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone()) as sim:
        agent, pressed, answers = sim.agent, [], []
        real = agent.core.button
        monkeypatch.setattr(agent.core, "button", lambda t, wall, held: (pressed.append(held), real(t, wall, held=held))[1])
        agent.run_until(sim.origin + 5)
        for name in ("_button", "_button_held", "press", "hold", "PRESS"):
            agent.submit(name, b"{}", answers.append)
        while not agent.inbox.empty():
            agent.step()
        assert [a["status"] for a in answers] == ["error"] * 5 and pressed == []
        assert all("unknown command" in a["error"] for a in answers)
        agent.submit(button.HOLD, None)
        while not agent.inbox.empty():
            agent.step()
        assert pressed == [True]


def test_a_flood_of_commands_runs_a_few_a_turn(cfg):
    """10,000 queued commands never hold the sampling loop: no turn spends more than 30 ms
    of the loop's own CPU time (all of them in one turn take a second), the readings go on,
    and every command is answered."""
    import gc
    import itertools
    import time
    from pi_agent.clock import VirtualClock
    from pi_agent.simulated_run import SimulatedRun
    scen = scenario_file.parse({"start": "2026-06-01T10:00:00", "steps": [
        {"ramp": 1, "to": {"pad_palm": 40, "pad_fingers": 25}}, {"hold": 3600}]},
        {n: s.kind for n, s in cfg.sensors.items()})
    with SimulatedRun(cfg, scen, VirtualClock(scen.start_wall()), zone=scen.zone()) as sim:
        agent = sim.agent
        agent.run_until(sim.origin + 5)
        mix = [("set_goal", b'{"hours": 5}'), ("set_goal", b"{"), ("identify", b"{}"), ("refresh", b""),
               ("vibration_start", b'{"level": "low", "minutes": 30}'), ("vibration_stop", b"{}"),
               ("set_targets", b'{"low": 40, "high": 90}'), ("tare", b"{}"), ("launch", b"x" * 5000)]
        for name, payload in mix:     # each once first: a first run may import or build what it needs
            agent.submit(name, payload)
        while not agent.inbox.empty():
            agent.step()
        answers = []
        for name, payload in itertools.islice(itertools.cycle(mix), 10_000):
            agent.submit(name, payload, answers.append)
        readings, turns, worst = agent.readings, 0, 0.0
        gc.collect()
        gc.disable()                  # the collector's pauses are not the commands' work
        try:
            while not agent.inbox.empty():
                cpu = time.thread_time()
                agent.step()
                worst = max(worst, time.thread_time() - cpu)
                turns += 1
        finally:
            gc.enable()
        assert worst <= 0.030, f"a turn took {worst * 1000:.1f} ms of CPU"
        assert turns >= 10_000 / agent.inbox_budget and agent.readings - readings >= turns // 2
        assert len(answers) == 10_000
