"""The status line (``render``) in a family member's words, and the words explained where
people look."""

from __future__ import annotations

import re
import zoneinfo

import pytest

from conftest import ROOT
from pi_agent import cli
from pi_agent.core import Core
from pi_agent.core.position import NO_READING, WORDS
from pi_agent.render import status_line, summary_line, systemd_status
from sensors.channel import FAULT_TEXT, LABELS, Reading

ZONE = zoneinfo.ZoneInfo("Europe/London")
WALL = 1_776_000_000.0


def _splint(t, wrist, fingers, palm, fault=None):
    value = {"wrist": wrist, "fingers": fingers, "palm": palm}
    return [Reading(ch, t, 1000, None if (fault == ch) else v, "disconnected" if fault == ch else None)
            for ch, v in value.items()]


@pytest.mark.parametrize("feed, words", [
    ([], "no reading yet"),
    ([(0.0, 0, 35, 0.0, None), (4.0, 0, 35, 0.0, None)], "splint off for 0:00"),
    ([(0.0, 25, 5, 3.0, None), (120.0, 25, 5, 3.0, None)], "hand open for 0:02"),
    ([(0.0, 0, 60, 3.0, None), (4.0, 0, 60, 3.0, None)], "hand closed for 0:00"),
    ([(0.0, 25, 5, 3.0, None), (1.0, 25, 5, 3.0, "palm")], "position unknown (sensor fault)"),
    ([(0.0, 25, 5, 3.0, None), (1.0, 25, 5, 3.0, "fingers")], "splint on, position unknown (sensor fault)"),
])
def test_summary_says_the_position_in_plain_words(cfg, feed, words):
    """The line's position is "splint off", "no reading yet", etc., never "hand off" or
    "hand unknown"."""
    core = Core(cfg, ZONE)
    for t, wrist, fingers, palm, fault in feed:
        core.feed(_splint(t, wrist, fingers, palm, fault), WALL + t)
    line = summary_line(core.snapshot())
    assert line.startswith(words + "  today:"), line
    assert not re.search(r"hand (off|unknown)", line)
    assert systemd_status(core.snapshot(), None).startswith(words.split(" for ")[0] + "; open today")


def test_status_line_names_channels_as_people_do(cfg):
    """The line shows "pad (heel of the hand)", not pad_palm."""
    core = Core(cfg, ZONE)
    core.feed(_splint(0.0, 25, 5, 3.0) + [Reading("pad_palm", 0.0, 20000, 30.0), Reading("pad_fingers", 0.0, 15000, 5.0)],
              WALL)
    line = status_line(core.snapshot(), ZONE, WALL)
    assert "pad (heel of the hand) 30.0 N, pad (fingers) 5.0 N" in line and "palm (in the splint) 3.0 N" in line
    assert "pad_palm" not in line and "pad_fingers" not in line


def test_every_word_of_the_line_is_explained_in_the_readme_and_help(capsys):
    """Each position word and channel label the line can show, and a load cell's overload, is
    explained in the README and in `pi-agent run --help`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["run", "--help"])
    help_text = capsys.readouterr().out
    for words in [*WORDS.values(), NO_READING, *(LABELS[ch] for ch in ("pad_palm", "pad_fingers")),
                  FAULT_TEXT["overload"].split(" (")[0]]:
        for where, text in (("README.md", readme), ("run --help", help_text)):
            assert words in " ".join(text.split()), (words, where)


@pytest.mark.parametrize("open_s, bouts, longest_s, says", [
    (36000, 5, 43200, "longest 720 min (it went on past midnight)"),     # a bout belongs to the day it began
    (21600, 0, 0, "longest 0 min (the open time goes on from a bout begun the day before)"),
    (21600, 3, 7200, "longest 120 min"),
])
def test_a_days_bouts_and_open_time_that_seem_to_disagree_are_explained(open_s, bouts, longest_s, says):
    """A bout belongs to the day it began: the day it began can have a longest bout longer
    than its open hours, and the next day open hours with no bout. Status says why."""
    from pi_agent.core.days import Day
    from pi_agent.render import day_lines
    line = day_lines("today", Day(open_s=open_s, worn_s=open_s, open_bouts=bouts, longest_bout_s=longest_s,
                                  goal_s=21600), 20)[0]
    assert line.endswith(says), line
