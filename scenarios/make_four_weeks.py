"""Writes four-weeks.json: four weeks of a stroke survivor's home programme, for the
therapist's report (``make report-demo``).

Each day from 07:30: the resting splint worn open in the morning and the afternoon,
longer week by week, with a few spasms (fewer once vibration therapy starts in the second
week) and, in the first week above all, a strap too tight; weight-bearing sessions on the table pad,
rocking onto the hand and off it, more of them and nearer the target band as the weeks
go by; on weekdays from the second week, the vibration protocol. The Pi is switched off
each afternoon until the next morning (a power cut), which keeps the simulation to a few
minutes; one Saturday it stays off all day. The clocks go forward on 29 March.

Run from the repository: ``python scenarios/make_four_weeks.py``. The same file comes out
every time (the randomness is seeded).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import zoneinfo
from pathlib import Path

ZONE = zoneinfo.ZoneInfo("Europe/London")
FIRST = dt.date(2026, 3, 9)
DAYS = 28
SWITCHED_OFF = {dt.date(2026, 3, 28)}          # a Saturday away: no record
MORNING = dt.time(7, 30)
TIGHT_STRAP = {1, 3, 4, 9, 23}                 # days with the strap too tight (it is refitted after the first week)

OPEN = {"palm": 3.0, "wrist": 25.0, "fingers": 5.0}
CLOSED = {"palm": 3.0, "wrist": 2.0, "fingers": 55.0}
OFF = {"palm": 0.0, "wrist": 0.0, "fingers": 10.0}


def splint_open(minutes: float, spasms: int, rnd: random.Random) -> list[dict]:
    """Worn open for ``minutes``, with ``spasms`` sudden finger flexions spread through it."""
    steps = [{"hold": 20, "set": OPEN}]
    left = minutes * 60 - 20
    for _ in range(spasms):
        before = rnd.uniform(0.15, 0.5) * left
        steps += [{"hold": round(before)},
                  {"ramp": 1.5, "to": {"fingers": rnd.uniform(40, 60)}},
                  {"hold": round(rnd.uniform(8, 25))},
                  {"ramp": 4, "to": {"fingers": 5.0}}]
        left -= before + 30
    steps.append({"hold": round(max(left, 60))})
    return steps


def weight_bearing(sessions: int, load: float, rocks: int, rnd: random.Random) -> list[dict]:
    """Sessions on the pad: lean onto the hand, rock off it and back ``rocks`` times, lift it."""
    steps = []
    for _ in range(sessions):
        palm, fingers = load * 0.65, load * 0.35
        steps += [{"ramp": 3, "to": {"pad_palm": palm, "pad_fingers": fingers}}, {"hold": round(rnd.uniform(20, 40))}]
        for _ in range(rocks):
            steps += [{"ramp": 2, "to": {"pad_palm": 20.0, "pad_fingers": 8.0}}, {"hold": 2},
                      {"ramp": 2, "to": {"pad_palm": palm * rnd.uniform(0.95, 1.25), "pad_fingers": fingers}},
                      {"hold": round(rnd.uniform(4, 9))}]
        steps += [{"ramp": 2, "to": {"pad_palm": 0.0, "pad_fingers": 0.0}}, {"hold": round(rnd.uniform(60, 150))}]
    return steps


def day_steps(i: int, day: dt.date, rnd: random.Random) -> list[dict]:
    week = i // 7
    progress = i / (DAYS - 1)
    vibration = week >= 1 and day.weekday() < 5
    spasm_rate = 3.2 if week == 0 else 2.4 - 0.5 * week
    steps = [{"hold": 1800, "set": OFF}]
    # the morning in the splint, a slip into a closed hand half-way
    morning = 95 + 120 * progress + rnd.uniform(-25, 25)
    steps += splint_open(morning * 0.6, max(0, round(rnd.gauss(spasm_rate * 0.6, 0.7))), rnd)
    steps += [{"ramp": 90, "to": CLOSED}, {"hold": round(rnd.uniform(6, 20) * 60)}]    # slowly: no spasm
    steps += splint_open(morning * 0.4, max(0, round(rnd.gauss(spasm_rate * 0.4, 0.5))), rnd)
    if i in TIGHT_STRAP:                                   # the strap too tight: palm force high for minutes
        steps += [{"ramp": 30, "to": {"palm": 9.5}}, {"hold": round(rnd.uniform(330, 540))},
                  {"ramp": 30, "to": {"palm": 3.0}}, {"hold": 300}]
    steps += [{"hold": 1200, "set": OFF}]
    # weight bearing at the table
    sessions = 2 + (1 if week >= 1 else 0) + (1 if week >= 3 and rnd.random() < 0.6 else 0)
    steps += weight_bearing(sessions, 42 + 32 * progress + rnd.uniform(-6, 6), 3 + week + rnd.randint(0, 2), rnd)
    if vibration:                                          # the protocol: 3 x 10 min with 1-min breaks
        steps += [{"command": {"name": "vibration_start", "args": {}}}, {"hold": 33 * 60}]
    # the afternoon in the splint
    steps += [{"hold": 900}]
    steps += splint_open(60 + 75 * progress + rnd.uniform(-15, 20), max(0, round(rnd.gauss(spasm_rate * 0.5, 0.6))),
                         rnd)
    steps += [{"hold": 600, "set": OFF}]
    return steps


def scenario() -> dict:
    rnd = random.Random(2026)
    steps: list[dict] = []
    day = FIRST
    for i in range(DAYS):
        if day in SWITCHED_OFF:
            day += dt.timedelta(days=1)
            continue
        today = day_steps(i, day, rnd)
        spent = sum(s.get("hold", 0) + s.get("ramp", 0) for s in today)
        steps += today
        following = day + dt.timedelta(days=1)
        while following in SWITCHED_OFF:
            following += dt.timedelta(days=1)
        if i < DAYS - 1 and following < FIRST + dt.timedelta(days=DAYS):
            start = dt.datetime.combine(day, MORNING, ZONE).timestamp()
            nxt = dt.datetime.combine(following, MORNING, ZONE).timestamp()
            steps.append({"power_cut": {"off": round(nxt - start - spent, 3)}})
        day += dt.timedelta(days=1)
    return {"name": "four weeks of a home programme: splint, weight bearing, vibration (for the report)",
            "start": f"{FIRST.isoformat()}T{MORNING.isoformat()}", "timezone": ZONE.key, "seed": 19,
            "noise": {"deg": 1.0, "newton": 0.3}, "steps": steps}


def _rounded(value):
    """Values to a tenth (degrees, newtons, seconds): plenty, and a file people can read."""
    if isinstance(value, float):
        return round(value, 1)
    if isinstance(value, dict):
        return {k: _rounded(v) if k != "off" else round(v, 3) for k, v in value.items()}
    return value


def text() -> str:
    """The scenario as written to four-weeks.json: one step a line."""
    data = scenario()
    head = {k: v for k, v in data.items() if k != "steps"}
    out = json.dumps(head, indent=1)[:-2] + ',\n "steps": [\n'
    return out + ",\n".join("  " + json.dumps(_rounded(step)) for step in data["steps"]) + "\n ]\n}\n"


def main() -> None:
    out = Path(__file__).with_name("four-weeks.json")
    out.write_text(text(), encoding="utf-8")
    print(f"{out}: written")


if __name__ == "__main__":
    main()
