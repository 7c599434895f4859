"""``pi-agent status``: one day's totals and the 7 days before it, read from the store.

The day is the one asked for (``--date``), else today, else, when today has nothing,
the store's own last day: a store filled by a simulated day shows that day, not an
empty today. Days are the store's local days, in the zone the agent counted them in.

It opens the store read-only, so it is safe while the daemon runs; the figures are as
of the daemon's last checkpoint (at most one checkpoint interval old). The hand's
position is "now" only while the store is that fresh; an older one is dated.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zoneinfo

from pi_agent import config
from pi_agent.core.position import UNKNOWN, words
from pi_agent.store import Store


def _h(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def day_lines(label: str, t: dict | None) -> list[str]:
    """A day's totals as a person reads them (``label``: "today" or the date)."""
    if not t:
        return [f"  {label}: nothing tracked"]
    goal = t.get("goal_s") or 1
    wb = t["weight_bearing"]
    return [f"  {label}: open {_h(t['open_s'])} of {_h(goal)} goal ({100 * t['open_s'] / goal:.0f}%), "
            f"worn {_h(t['worn_s'])}, {t.get('open_bouts', 0)} open bouts "
            f"({t.get('long_bouts', 0)} of 20 min or more), longest {t.get('longest_bout_s', 0) / 60:.0f} min",
            f"    weight bearing: {wb['sessions']} sessions, {wb['total_s'] / 60:.1f} min, "
            f"{wb['in_target_s'] / 60:.1f} min in the target band; vibration {t['vibration_s'] / 60:.1f} min"]


def live_line(live: dict, now: float, zone, fresh_s: float) -> str | None:
    """The hand's last known position: "now" only when the reading is at most ``fresh_s``
    old; otherwise dated (with the day when it is not today's)."""
    if not live:
        return None
    state = live.get("state") or live.get("position") or UNKNOWN
    said = words(state, read=live.get("since") is not None)
    updated = live.get("updated")
    if not updated:
        return f"  last known: {said} (when is not known)"
    when = dt.datetime.fromtimestamp(updated, zone)
    if -60.0 <= now - updated <= fresh_s:
        return f"  now: {said} (as of {when:%H:%M})"
    today = dt.datetime.fromtimestamp(now, zone).date()
    stamp = f"{when:%H:%M} today" if when.date() == today else f"{when:%Y-%m-%d %H:%M}"
    return f"  last known: {said} (as of {stamp})"


def render(day: dt.date, today: dt.date, days: dict[str, dict], live: dict, now: float, zone,
           fresh_s: float, why: str = "") -> list[str]:
    """The whole view: the day, the hand's last known position, the 7 days before."""
    lines = [f"OpenPalm status for {day.isoformat()} ({zone.key})"]
    if why:
        lines.append(f"  ({why})")
    said = live_line(live, now, zone, fresh_s)
    if said:
        lines.append(said)
    lines += day_lines("today" if day == today else day.isoformat(), days.get(day.isoformat()))
    lines.append("  the 7 days before:")
    lines.append("    day          open h  worn h  goal %  WB sessions  vibration min")
    for i in range(7, 0, -1):
        name = (day - dt.timedelta(days=i)).isoformat()
        d = days.get(name)
        if d is None:
            lines.append(f"    {name}       -       -       -            -              -")
            continue
        goal = d.get("goal_s") or 1
        lines.append(f"    {name}  {d['open_s'] / 3600:6.1f}  {d['worn_s'] / 3600:6.1f}  "
                     f"{100 * d['open_s'] / goal:6.0f}  {d['weight_bearing']['sessions']:11d}  "
                     f"{d['vibration_s'] / 60:13.1f}")
    return lines


def status_command(args) -> int:
    from pi_agent.cli import state_dir_of, zone_of
    cfg = config.load(args.config)
    store = Store(state_dir_of(cfg, args.state_dir), readonly=True)
    try:
        live = store.meta("live") or {}
        try:
            zone = zoneinfo.ZoneInfo(live["zone"])        # the zone the store's days are in
        except (KeyError, TypeError, ValueError, zoneinfo.ZoneInfoNotFoundError):
            zone = zone_of(cfg)
        now = time.time()
        today = dt.datetime.fromtimestamp(now, zone).date()
        why = ""
        if args.date is not None:
            day = args.date
        elif store.load_day(today.isoformat()) is not None:
            day = today
        else:
            last = store.last_day()
            day = dt.date.fromisoformat(last) if last else today
            if day != today:
                why = f"nothing is stored for today, {today.isoformat()}: this is the store's last day"
        days = store.days((day - dt.timedelta(days=7)).isoformat(), day.isoformat())
    finally:
        store.close()
    if args.json:
        print(json.dumps({"today": today.isoformat(), "day": day.isoformat(), "live": live, "days": days},
                         indent=1, sort_keys=True))
        return 0
    fresh_s = 2 * cfg.store.checkpoint_s + 60.0
    print("\n".join(render(day, today, days, live, now, zone, fresh_s, why)))
    return 0


def parse_date(text: str) -> dt.date:
    """``--date``'s value: a local day, YYYY-MM-DD."""
    import argparse
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got '{text}'") from None
