"""``pi-agent status``: one day's totals and the 7 days before it, read from the store.

The day is the one asked for (``--date``), else today, else, when today has nothing,
the store's own last day: a store filled by a simulated day shows that day, not an
empty today. Days are the store's local days, in the zone the agent counted them in.

It opens the store read-only, so it is safe while the daemon runs; the figures are as
of the daemon's last checkpoint (at most one checkpoint interval old). The hand's
position is "now" only while the store is that fresh; an older one is dated. The words
are ``pi_agent.render``'s (``status_view``). A day whose stored values are damaged is marked
DAMAGED beside its figures, and one line on standard error names the values.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import zoneinfo
from pathlib import Path

from pi_agent import config
from pi_agent.cli.common import folder_arg, state_dir_of, with_config, zone_of
from pi_agent.config.checks import got
from pi_agent.core.days import FIRST_YEAR, LAST_YEAR, YYYY_MM_DD



def parse_date(text: str) -> dt.date:
    """``--date``'s value: a local day, YYYY-MM-DD."""
    try:
        if not YYYY_MM_DD.fullmatch(text):
            raise ValueError             # (fromisoformat also takes week dates: 2026-W18-1)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, {got(text)}") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise argparse.ArgumentTypeError(f"expected a day from {FIRST_YEAR} to {LAST_YEAR}, {got(text)}")
    return day


def add_parser(sub) -> None:
    st = with_config(sub.add_parser("status", help="a day's totals and the 7 days before it, from the store",
                                    description="A day's totals and the 7 days before it, from the store: "
                                                "the --date given, else today, else the store's last day."))
    st.add_argument("--state-dir", type=folder_arg, metavar="DIR", help="folder of the store (default: device.state_dir)")
    st.add_argument("--date", type=parse_date, metavar="YYYY-MM-DD", help="the local day to show")
    st.add_argument("--json", action="store_true", help="print JSON instead of a table")
    st.set_defaults(handler=status_command)


def status_command(args) -> int:
    from pi_agent.core.days import Day, unsound_values
    from pi_agent.render import Goals, status_view
    from pi_agent.store import Store
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
            last, ahead = store.last_day(), (today + dt.timedelta(days=1)).isoformat()
            if last is not None and last > ahead:        # a clock that was ahead dated it: as the report, not it
                last = store.last_day(until=ahead) or last
            day = dt.date.fromisoformat(last) if last else today
            if day != today:
                why = f"nothing is stored for today, {today.isoformat()}: this is the store's last day"
        days = store.days((day - dt.timedelta(days=7)).isoformat(), day.isoformat())
    finally:
        store.close()
    damaged = {name: list(dict.fromkeys(bad.values())) for name, record in days.items()
               if (bad := unsound_values(record))}
    if damaged:
        said = "; ".join(f"{name} ({'; '.join(why)})" for name, why in sorted(damaged.items()))
        print(f"pi-agent status: damaged values in the store, their days marked DAMAGED: {said}", file=sys.stderr)
    if args.json:
        print(json.dumps({"today": today.isoformat(), "day": day.isoformat(), "live": live, "days": days,
                          **({"damaged": damaged} if damaged else {})}, indent=1, sort_keys=True))
        return 0
    fresh_s = 2 * cfg.store.checkpoint_s + 60.0
    typed = {name: Day.from_json(record) for name, record in days.items() if record}
    print("\n".join(status_view(day, today, typed, live, now, zone, fresh_s, cfg.positioning.long_bout_min, why,
                                 Goals.of(cfg), damaged)))
    return 0
