"""``pi-agent report``: the therapist's report of a period, from the device's store
(the report itself is ``pi_agent.report``).

It opens the store read-only (safe while the daemon runs; the figures are as of its last
checkpoint). The days are the store's local days, in the zone the agent counted them in.
The default period is the last 28 days ending with the last day recorded up to today (a day
more for the zones; the later days, dated by a clock that was ahead, are left out and said
in one line on standard error), or the last recorded day when all are later (a simulated
store dated ahead), or today, before any record. Days with damaged values are shown blank,
marked, and said in one line on standard error. A period with no record is still a report, marked empty, with one line on
standard error saying where the records are; exit status 0. A date that is no date, a
period ending before it starts or longer than a year is one line and exit 65.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from pi_agent.cli.common import folder_arg, with_config
from pi_agent.errors import InputError, OutputError


def add_parser(sub) -> None:
    rep = with_config(sub.add_parser("report", help="the therapist's report of a period: CSV, HTML or JSON"))
    rep.add_argument("--state-dir", type=folder_arg, metavar="DIR", help="folder of the store (default: device.state_dir)")
    rep.add_argument("--from", dest="from_date", metavar="DATE", help="first local day, YYYY-MM-DD "
                                                                       "(default: 27 days before --to)")
    rep.add_argument("--to", dest="to_date", metavar="DATE", help="last local day, YYYY-MM-DD "
                                                                   "(default: the last day recorded up to today, or today)")
    rep.add_argument("--format", choices=["csv", "html", "json"], default="html",
                     help="html: a page of charts to print (default); csv: a row per day; json: simulate's days")
    rep.add_argument("--output", type=Path, metavar="FILE", help="write it here (default: standard output)")
    rep.set_defaults(handler=report_command)


def _max_push(cfg) -> float | None:
    """The survivor's maximum push from the pad's calibration (for a band in % of it)."""
    from pi_agent.errors import CalibrationError
    from sensors.calibration import PAD, load_calibration
    try:
        pad = load_calibration(cfg.calibration_path).get(PAD)
    except CalibrationError:
        return None
    return pad.max_push_n if pad is not None else None


def write(text: str, output: Path | None) -> None:
    """To standard output, or to a file: a regular file (or a new one) is replaced in one
    step (never left half-written); anything else that exists (a FIFO, a terminal,
    ``/dev/stdout``, ``/dev/null``) is written into, never replaced by a file."""
    if output is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"pi-agent report: cannot write the standard output: "
                              f"{exc.strerror or exc}") from None
        return
    if str(output) in ("", "."):
        raise InputError("--output: expected a file name, got an empty one")
    try:
        special = not stat.S_ISREG(os.stat(output).st_mode)
    except FileNotFoundError:
        special = False
    except OSError as exc:
        raise InputError(f"--output: cannot write {output}: {exc.strerror}") from None
    if special:
        if os.path.isdir(output):
            raise InputError(f"--output: cannot write {output}: it is a folder")
        try:
            with open(output, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        except OSError as exc:
            raise OutputError(f"--output: cannot write {output}: {exc.strerror or exc}") from None
        return
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, output)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise InputError(f"--output: cannot write {output}: {exc.strerror}") from None


def report_command(args) -> int:
    import datetime as dt
    import time
    import zoneinfo

    from pi_agent import config
    from pi_agent.cli.common import log, state_dir_of, zone_of
    from pi_agent.core import commands
    from pi_agent.mqtt import device_id
    from pi_agent.report import Report, ahead_limit, checked_store_days, latest_day, render, settings as settings_mod
    from pi_agent.report.period import choose, parse_date
    from pi_agent.store import Store, refuse_own_file
    for value, what in ((args.from_date, "--from"), (args.to_date, "--to")):
        if value is not None:
            parse_date(value, what)          # a bad date is said before anything is opened
    cfg = config.load(args.config)
    state_dir = state_dir_of(cfg, args.state_dir)
    if args.output is not None:
        refuse_own_file(args.output, (state_dir, state_dir_of(cfg, None)), "--output")
    now = time.time()
    store = Store(state_dir, readonly=True)
    try:
        live = store.meta("live") or {}
        try:
            zone = zoneinfo.ZoneInfo(live["zone"])        # the zone the store's days were counted in
        except (KeyError, TypeError, ValueError, zoneinfo.ZoneInfoNotFoundError):
            zone = zone_of(cfg)
        recorded = store.day_span()
        today = dt.datetime.fromtimestamp(now, zone).date()
        latest = latest_day(recorded, today, store.last_day(until=ahead_limit(today).isoformat()))
        period = choose(args.from_date, args.to_date, latest=latest, zone=zone)
        days, damaged_days = checked_store_days(store, period)
        left_out = tuple(store.days((period.last + dt.timedelta(days=1)).isoformat())) \
            if args.to_date is None and recorded and latest.isoformat() != recorded[1] else ()
        stored, damaged = commands.stored_settings(store.meta("settings"))
        if damaged:
            log.warning("damaged settings in the store left out, the configuration's shown: %s", "; ".join(damaged))
    finally:
        store.close()
    settings, band = settings_mod.from_config(cfg, stored, _max_push(cfg))
    report = Report(device=device_id(cfg), period=period, days=days, settings=tuple(settings), band=band,
                    recorded=recorded, source=f"the store in {state_dir}", damaged=damaged_days, left_out=left_out,
                    made=dt.datetime.fromtimestamp(now, zone).strftime("%Y-%m-%d %H:%M %Z"),
                    limits={"vibration_daily_s": cfg.therapy.max_daily_min * 60.0,
                            "exercise_goal_reps": float(cfg.exercise.goal_reps)})
    write(render(report, args.format), args.output)
    for note in report.notes():
        print(f"pi-agent report: {note}", file=sys.stderr)
    return 0
