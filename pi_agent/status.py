"""``pi-agent status``: today's totals and the last 7 days, read from the store.

It opens the store read-only, so it is safe while the daemon runs; the figures are as
of the daemon's last checkpoint (at most one checkpoint interval old).
"""

from __future__ import annotations

import datetime as dt
import json
import time

from pi_agent import config
from pi_agent.store import Store


def _h(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def status_command(args) -> int:
    from pi_agent.cli import state_dir_of, zone_of
    cfg = config.load(args.config)
    zone = zone_of(cfg)
    store = Store(state_dir_of(cfg, args.state_dir), readonly=True)
    try:
        today = dt.datetime.fromtimestamp(time.time(), zone).date()
        first = (today - dt.timedelta(days=7)).isoformat()
        days = store.days(first, today.isoformat())
        live = store.meta("live") or {}
    finally:
        store.close()
    if args.json:
        print(json.dumps({"today": today.isoformat(), "live": live, "days": days}, indent=1, sort_keys=True))
        return 0
    t = days.get(today.isoformat())
    print(f"OpenPalm status, {today.isoformat()} ({zone.key})")
    if live:
        updated = dt.datetime.fromtimestamp(live["updated"], zone).strftime("%H:%M") if live.get("updated") else "?"
        print(f"  hand now: {live.get('position', 'unknown')} (as of {updated})")
    if t:
        goal = t.get("goal_s") or 1
        wb = t["weight_bearing"]
        print(f"  today: open {_h(t['open_s'])} of {_h(goal)} goal ({100 * t['open_s'] / goal:.0f}%), "
              f"worn {_h(t['worn_s'])}, {t.get('open_bouts', 0)} open bouts "
              f"({t.get('long_bouts', 0)} of 20 min or more), longest {t.get('longest_bout_s', 0) / 60:.0f} min")
        print(f"  weight bearing: {wb['sessions']} sessions, {wb['total_s'] / 60:.1f} min, "
              f"{wb['in_target_s'] / 60:.1f} min in the target band; vibration {t['vibration_s'] / 60:.1f} min")
    else:
        print("  today: nothing tracked yet")
    print("  last 7 days:")
    print("    day          open h  worn h  goal %  WB sessions  vibration min")
    for i in range(7, 0, -1):
        day = (today - dt.timedelta(days=i)).isoformat()
        d = days.get(day)
        if d is None:
            print(f"    {day}       -       -       -            -              -")
            continue
        goal = d.get("goal_s") or 1
        print(f"    {day}  {d['open_s'] / 3600:6.1f}  {d['worn_s'] / 3600:6.1f}  {100 * d['open_s'] / goal:6.0f}"
              f"  {d['weight_bearing']['sessions']:11d}  {d['vibration_s'] / 60:13.1f}")
    return 0
