"""`pi-agent calibrate pad` on the shipped scenario, its words, the load cells' straight
line and an FSR pad's table, and a calibration file rewritten with its comments kept."""

from __future__ import annotations

import json
import re
import shutil

from hypothesis import given
from hypothesis import strategies as st

import pytest

from conftest import CONFIG, SCENARIOS, run_cli
from pi_agent.cli.pad_wizard import above_empty
from sensors.calibration import (FlexCalibration, ForceCalibration, PadCalibration, load_calibration,
                                 save_calibration)
from sensors.units import G

SHIPPED = SCENARIOS / "calibration-pad.json"


def _private_config(tmp_path):
    shutil.copy(CONFIG, tmp_path / "agent.toml")
    shutil.copy(CONFIG.parent / "calibration.toml", tmp_path / "calibration.toml")
    return tmp_path / "agent.toml", tmp_path / "calibration.toml"


def _answers(scenario_name: str) -> str:
    """The answers the shipped scenario's name gives ("answer Enter, 1, 2, ..."), as typed."""
    said = scenario_name.rsplit("answer ", 1)[1]
    return "".join("\n" if a.strip() == "Enter" else a.strip() + "\n" for a in said.split(","))


def test_the_wizard_completes_on_the_shipped_scenario(tmp_path):
    """`calibrate pad --simulate scenarios/calibration-pad.json`, answered as its name says,
    finishes, records every weight, finds the push of the scenario within 8 %, and keeps
    the calibration file's comments."""
    agent_toml, cal_toml = _private_config(tmp_path)
    before = cal_toml.read_text()
    scenario = json.loads(SHIPPED.read_text())
    result = run_cli("calibrate", "pad", "--config", str(agent_toml), "--simulate", str(SHIPPED),
                     input=_answers(scenario["name"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Saved the pad calibration" in result.stdout and "Only one weight" not in result.stdout
    new = load_calibration(cal_toml)
    steps = scenario["steps"]
    for zone in ("pad_palm", "pad_fingers"):
        placed = [s["to"][zone] for s in steps if "ramp" in s and s["to"].get(zone) and len(s["to"]) == 1]
        assert [round(n, 1) for _, n in new[zone].points[1:]] == [round(n, 1) for n in placed]
    said = re.findall(r"zone: 0\.23\d N a count; the cell gives (?:1\.99|2\.00|2\.01) mV/V at its 20 kg; "
                      r"its 4 weights on one straight line\.", result.stdout)
    assert len(said) == 2, result.stdout
    push = max(sum(s["to"].values()) for s in steps if "ramp" in s and len(s["to"]) == 2)
    assert abs(new["weight_bearing"].max_push_n - push) <= 0.08 * push, new["weight_bearing"]
    assert "above this maximum push" not in result.stdout        # the default band, 50 to 100 N, is reachable...
    assert re.search(r"this maximum push \(\d+\.\d N\) is under the top of the target band in the configuration "
                     r"\(100\.0 N\): the over-the-maximum alarm", result.stdout), result.stdout   # ...but not its top
    comments = [line for line in before.splitlines() if line.startswith("#")]
    after = cal_toml.read_text().splitlines()
    assert comments and all(c in after for c in comments)
    assert load_calibration(cal_toml)["wrist"] == load_calibration(CONFIG.parent / "calibration.toml")["wrist"]


def _fsr_pad_config(tmp_path):
    """The shipped configuration with a pad of FSR 402s (the palm's curve) and a band they
    can measure, 5 to 15 N."""
    agent_toml, cal_toml = _private_config(tmp_path)
    text = agent_toml.read_text().replace('kind = "load_cell"\ngain = 16', 'kind = "force"\ngain = 1')
    for key, value in (("start_n", 3.0), ("end_n", 2.0), ("wake_n", 1.0), ("target_low", 5.0), ("target_high", 15.0)):
        text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, count=1, flags=re.M)
    agent_toml.write_text(text)
    cal = cal_toml.read_text()
    fsr = re.search(r"\[palm\]\n((?:[^\[\n].*\n)+)", cal).group(1)
    for zone in ("pad_palm", "pad_fingers"):
        cal = re.sub(rf"\[{zone}\]\n(?:[^\[\n].*\n)+", f"[{zone}]\n{fsr}", cal)
    cal_toml.write_text(cal)
    return agent_toml, cal_toml


def _one_weight_scenario(tmp_path):
    steps = [{"hold": 8}]
    for zone in ("pad_palm", "pad_fingers"):
        steps += [{"ramp": 1, "to": {zone: 19.61}}, {"hold": 8}, {"ramp": 1, "to": {zone: 0}}, {"hold": 6}]
    steps += [{"ramp": 1, "to": {"pad_palm": 15, "pad_fingers": 5}}, {"hold": 6},
              {"ramp": 1, "to": {"pad_palm": 0, "pad_fingers": 0}}, {"hold": 5}]
    scenario = tmp_path / "one-weight.json"
    scenario.write_text(json.dumps({"start": "2026-05-01T10:00:00", "seed": 3, "noise": {"newton": 0.2},
                                    "steps": steps}))
    return scenario


def test_one_weight_on_an_fsr_pad_is_warned_about_and_asked_again(tmp_path):
    """On a pad of force-sensing resistors, with one weight on a zone the wizard warns and
    asks for a second; a second Enter goes on with one, and the end says again that the
    zone has one weight only."""
    agent_toml, cal_toml = _fsr_pad_config(tmp_path)
    result = run_cli("calibrate", "pad", "--config", str(agent_toml), "--simulate", str(_one_weight_scenario(tmp_path)),
                     input="\n2\n\n\n2\n\n\n\n")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.count("Only one weight on the") == 2 and "a load well above 2 kg will read too low" in out
    assert out.count("has one known weight only") == 2
    assert out.index("Only one weight on the PALM") < out.index("Step 2 of 3: known weights on the FINGERS")
    assert len(load_calibration(cal_toml)["pad_palm"].table) == 2


def test_one_weight_is_enough_for_a_load_cell(tmp_path):
    """A load cell is a straight line: one weight per zone is taken without asking for
    another, the end notes that its slope rests on that weight alone (a second would check
    the line), and the line through it reads loads far above it (40 and 150 N) within 1 %."""
    agent_toml, cal_toml = _private_config(tmp_path)
    physics = load_calibration(cal_toml)
    result = run_cli("calibrate", "pad", "--config", str(agent_toml), "--simulate", str(_one_weight_scenario(tmp_path)),
                     input="\n2\n\n2\n\n\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Only one weight" not in result.stdout
    assert result.stdout.count("has one known weight only: its load cell's slope rests on it alone") == 2
    new = load_calibration(cal_toml)
    for zone in ("pad_palm", "pad_fingers"):
        assert len(new[zone].points) == 2
        for load in (40.0, 150.0):
            assert new[zone].to_physical(physics[zone].to_counts(load)) == pytest.approx(load, rel=0.01)


def test_weights_off_a_straight_line_are_refused_and_asked_again(tmp_path):
    """A weight that reads off the line through the others (12 kg put on, 10 kg typed) is
    named, with how far off it is; nothing of that zone is kept, its weights are asked for
    again, and the second, right round is saved."""
    agent_toml, cal_toml = _private_config(tmp_path)
    steps = [{"hold": 8}]
    for zone, kgs in (("pad_palm", [2, 5, 12, 2, 5, 10]), ("pad_fingers", [5])):
        for kg in kgs:
            steps += [{"ramp": 1, "to": {zone: kg * G}}, {"hold": 8}, {"ramp": 1, "to": {zone: 0}}, {"hold": 6}]
    steps += [{"ramp": 1, "to": {"pad_palm": 40, "pad_fingers": 20}}, {"hold": 6},
              {"ramp": 1, "to": {"pad_palm": 0, "pad_fingers": 0}}, {"hold": 5}]
    scenario = tmp_path / "off-the-line.json"
    scenario.write_text(json.dumps({"start": "2026-05-01T10:00:00", "seed": 3, "noise": {"newton": 0.2},
                                    "steps": steps}))
    result = run_cli("calibrate", "pad", "--config", str(agent_toml), "--simulate", str(scenario),
                     input="\n2\n5\n10\n\n2\n5\n10\n\n5\n\n\n")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.count("do not lie on a straight line") == 1, out
    assert re.search(r"10 kg \(98\.1 N\) reads 11\d\.\d N on the line through the others \(\+(?:19|20)\.\d %; "
                     r"more than 1 % is not a straight line\)", out), out
    assert out.count("Step 2 of 3: known weights on the PALM") == 2
    new = load_calibration(cal_toml)["pad_palm"]
    assert [round(n / G, 3) for _, n in new.points[1:]] == [2, 5, 10]
    assert new.linearity_problem() is None


def test_swapped_signal_leads_are_said_and_the_weight_not_recorded(cfg, clock):
    """A load cell whose S+ and S- are swapped reads lower under a weight: the wizard says
    to swap them and records nothing."""
    import io
    from mock_hw import scenario_file
    from mock_hw.rig import Rig
    from pi_agent.agent import load_channels
    from pi_agent.cli.pad_wizard import Abort, PadWizard
    from sensors.array import SensorArray
    channels = load_channels(cfg)
    scen = scenario_file.parse({"start": "2026-05-01T10:00:00", "steps": [
        {"hold": 3}, {"ramp": 1, "to": {"pad_palm": 5 * G}}, {"hold": 8}, {"ramp": 1, "to": {"pad_palm": 0}},
        {"hold": 30}]}, {n: s.kind for n, s in cfg.sensors.items()})
    with Rig(cfg, channels, clock, scen) as rig:
        rig.origin = clock.monotonic()
        bridge = rig.bridges["pad_palm"]
        bridge.offset_v, bridge.volts_per_n = -bridge.offset_v, -bridge.volts_per_n   # S+ on A1, S- on A0
        out = io.StringIO()
        wizard = PadWizard(cfg, SensorArray.configured(cfg, rig.bus, channels, clock), channels, clock,
                           io.StringIO("5\n\n"), out)
        tare = -channels["pad_palm"].calibration.tare
        with pytest.raises(Abort, match="no more input"):
            wizard.known_weights("pad_palm", tare)
    said = out.getvalue()
    assert "went down with the weight on: the load cell's signal leads are swapped" in said, said
    assert "Recorded" not in said


@given(st.floats(-32768, 32767), st.floats(-32768, 32767))
def test_above_the_empty_pad_is_never_negative(counts, tare):
    """A reading is "N counts above the empty pad" with N > 0, or "at or below the empty pad"."""
    text = above_empty(counts, tare)
    if counts <= tare:
        assert text.startswith("at or below the empty pad")
    else:
        n = int(re.match(r"(\d+) counts above the empty pad$", text).group(1))
        assert n >= 0


COMMENTED = """\
# Our calibration; measured by Anna, 2026-02-01.
# Keep this file with the splint.

[wrist]   # the back of the wrist
kind = "flex"
gain = 1
date = "2026-02-01"
points = [[17233, 0.0], [12792, 45.0]]   # straight, then 45 degrees

# the pad, heel of the hand
[pad_palm]
kind = "force"
gain = 2/3
date = ""
tare = 0   # before the first tare
table = [   # counts, newtons
  [0, 0.0],
  [9211, 0.5],     # the steep start
  [26280, 400.0],
]
"""


def test_rewriting_keeps_comments_and_changes_only_the_values(tmp_path):
    """Saving a calibration keeps every comment and every unchanged line as written, and
    the file reads back as exactly what was saved."""
    path = tmp_path / "calibration.toml"
    path.write_text(COMMENTED.replace("gain = 2/3", 'gain = "2/3"'))
    entries = load_calibration(path)
    entries["pad_palm"] = ForceCalibration(-315.4, ((-315.4, 0.0), (24680.0, 19.6133), (25973.9, 98.0665)),
                                           2 / 3, "2026-05-01")
    entries["pad_fingers"] = ForceCalibration(12.0, ((12.0, 0.0), (25000.0, 50.0)), 1, "2026-05-01")
    entries["weight_bearing"] = PadCalibration(124.0, "2026-05-01")
    save_calibration(path, entries)
    text = path.read_text()
    for line in COMMENTED.splitlines():
        if "#" in line:
            assert line[line.index("#"):] in text, line
    assert text.startswith(COMMENTED.split("[pad_palm]")[0].replace("gain = 2/3", 'gain = "2/3"'))
    assert "tare = -315.4   # before the first tare" not in text and "tare = -315.4  # before the first tare" in text
    assert load_calibration(path) == entries
    assert isinstance(load_calibration(path)["wrist"], FlexCalibration)


def test_a_calibration_saved_twice_is_the_same_file(tmp_path):
    """Saving what was read changes nothing in the file, byte for byte."""
    path = tmp_path / "calibration.toml"
    shutil.copy(CONFIG.parent / "calibration.toml", path)
    before = path.read_text()
    save_calibration(path, load_calibration(path))
    assert path.read_text() == before


def test_a_mass_that_no_weight_can_have_is_asked_again(tmp_path):
    """1e-9 kg (lost in the noise), NaN, a negative or a 300-kg mass, and Python's own number
    syntax that nobody types for a mass (1_0 is ten to Python, 1e1 too, and 1 followed by an
    Arabic-Indic 2 is twelve; a full-width 2 is two): each asked again in one sentence, and
    the wizard goes on with the next real mass."""
    agent_toml, cal_toml = _private_config(tmp_path)
    result = run_cli("calibrate", "pad", "--config", str(agent_toml), "--simulate", str(_one_weight_scenario(tmp_path)),
                     input="\n1e-9\nnan\n-2\n300\n1_0\n1e1\n1\u0662\n\uff12\n2\n\n2,0\n\n\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("Please type a mass in kilograms from 0.1 to 200") == 8
    assert all(len(load_calibration(cal_toml)[z].points) == 2 for z in ("pad_palm", "pad_fingers"))


def test_a_maximum_push_below_the_target_band_is_said(tmp_path):
    """A push of about 9 kg against a configured band of 100 to 150 N: the wizard says the
    band starts above what the hand can push, and still saves the calibration."""
    agent_toml, cal_toml = _private_config(tmp_path)
    text = agent_toml.read_text()
    assert "target_low = 50.0" in text and "target_high = 100.0" in text
    agent_toml.write_text(text.replace("target_low = 50.0", "target_low = 100.0")
                          .replace("target_high = 100.0", "target_high = 150.0"))
    scenario = json.loads(SHIPPED.read_text())
    result = run_cli("calibrate", "pad", "--config", str(agent_toml), "--simulate", str(SHIPPED),
                     input=_answers(scenario["name"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"target band in the configuration starts at 100\.0 N, above this maximum push \(\d+\.\d N\)",
                     result.stdout), result.stdout
    assert "Saved the pad calibration" in result.stdout
