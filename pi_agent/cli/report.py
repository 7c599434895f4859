"""``pi-agent report``: the therapist's report of a period (``pi_agent.report``)."""

from __future__ import annotations

from pathlib import Path

from pi_agent.cli.common import with_config


def add_parser(sub) -> None:
    rep = with_config(sub.add_parser("report", help="the therapist's report of a period: CSV, HTML or JSON"))
    rep.add_argument("--state-dir", type=Path, metavar="DIR", help="folder of the store (default: device.state_dir)")
    rep.add_argument("--from", dest="from_date", metavar="DATE", help="first local day, YYYY-MM-DD "
                                                                       "(default: 27 days before --to)")
    rep.add_argument("--to", dest="to_date", metavar="DATE", help="last local day, YYYY-MM-DD "
                                                                   "(default: the last day recorded, or today)")
    rep.add_argument("--format", choices=["csv", "html", "json"], default="html",
                     help="html: a page of charts to print (default); csv: a row per day; json: simulate's days")
    rep.add_argument("--output", type=Path, metavar="FILE", help="write it here (default: standard output)")
    rep.set_defaults(handler=report_command)


def report_command(args) -> int:
    from pi_agent.report.command import report_command as run
    return run(args)
