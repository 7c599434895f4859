"""``python -m bench [--quick] [--json [FILE]]``: every measurement, a table, a JSON object
(``--json`` alone: the object on standard output, the table on standard error)."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import platform
import sys

from bench.measures import ALL

# key: (budget, how it compares, the limit it is measured against)
BUDGETS = {
    "sample_us": (10, "<=", "a weight-bearing session (200 pad and 12 splint readings a second); an ADS1115 converts at most 860 times a second (1,163 µs each)"),
    "sample_us_daily": (10, "<=", "the everyday state: splint worn, pad empty (12 splint and 4 pad readings a second)"),
    "floor_us": (None, "", "the same reads of the register model, directly, with no driver"),
    "sample_floor_ratio": (None, "", "the whole path against the floor"),
    "schedule_kept": (0.95, ">=", "the readings the schedule asks for in a session (212 a second)"),
    "data_rate_share": (None, "", "the conversions the chips make at their configured data rates (1,078 a second)"),
    "feedback_ms_p50": (None, "", "tactile feedback feels immediate under about 50 ms"),
    "feedback_ms_p99": (15, "<=", "the pad is read every 10 ms in a session; its chips convert every 2.1 ms"),
    "feedback_ms_max": (15, "<=", "the worst of the steps, each at a random phase of the pad's readings"),
    "sim_day_s": (30, "<=", "86,400 s of scenario at default rates"),
    "cpu_idle_pct": (0.25, "<=", "% of one core, splint off, pad empty; a Pi Zero 2 W is 10 to 20 times slower than this machine"),
    "cpu_worn_pct": (0.25, "<=", "% of one core, splint worn, pad empty: the everyday state"),
    "cpu_pressed_pct": (1.5, "<=", "% of one core, splint worn, pad pressed: a weight-bearing session"),
    "cpu_mqtt_pct": (2.0, "<=", "% of one core, pressed and publishing to a broker (20 load messages a second)"),
    "wakes_worn_per_s": (None, "", "the splint's 12 readings a second"),
    "wakes_pressed_per_s": (None, "", "the pad's 100 turns a second (its two zones read together)"),
    "cpu_floor_worn_pct": (None, "", "% of one core for the wake-ups alone, 12 a second: what cpu_worn_pct cannot go under with this wait on this machine"),
    "cpu_floor_pressed_pct": (None, "", "the same at 100 wake-ups a second: under cpu_pressed_pct"),
    "turn_us_warm": (None, "", "one turn of the loop, the everyday state, caches warm"),
    "turn_us_cold": (None, "", "the same turn with the caches evicted, as after a sleep on a shared machine: what each real-time wake-up pays on top of the floor"),
    "rss_mb": (40, "<=", "a Pi Zero 2 W has 512 MB"),
    "mqtt_ms_p50": (None, "", "the typical message; a live load feels immediate under about 50 ms"),
    "mqtt_ms_p99": (50, "<=", "from the pad reading's own time; feedback feels immediate under about 50 ms"),
    "store_writes_per_hour": (60, "<=", "one checkpoint a minute spares the SD card"),
    "clinic": (20, ">=", "devices each in a session, every state on the dashboard within 1 s"),
    "clinic_dashboard_mb": (None, "", "the dashboard's peak memory at that size"),
}


def _table(results: dict, quick: bool) -> list[str]:
    """Each figure on a line: its value, its budget, ok or OVER, what it is measured against."""
    rows = [("figure", "value", "budget", "", "measured against")]
    for key, (budget, op, limit) in BUDGETS.items():
        value = results.get(key)
        if budget is None or value is None:
            verdict = ""
        else:
            ok = value <= budget if op == "<=" else value >= budget
            verdict = "ok" if ok else "OVER"
        rows.append((key, "-" if value is None else f"{value:g}", f"{op} {budget:g}" if budget is not None else "",
                     verdict, limit))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" + (f"  ({r[4]})" if r[4] else "")
             for r in rows]
    return lines + [f"machine: {results['machine']}{' (quick)' if quick else ''}"]


def _write(stream, text: str, what: str) -> int:
    """Write ``text`` whole: 0, or 74 with one line on standard error (a reader that went
    away, as ``| head``: quietly, 141)."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())     # (nothing flushed again at exit)
        return 141
    except OSError as exc:
        print(f"python -m bench: {what}: cannot write: {exc.strerror}", file=sys.stderr)
        if stream in (sys.stdout, sys.stderr):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        return 74
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="each measurement for less time, but all of them (the clinic up to 25 devices)")
    parser.add_argument("--json", metavar="FILE", nargs="?", const="-",
                        help="write one JSON object with every figure and its budget to FILE (alone: to standard "
                             "output, and the table to standard error)")
    parser.add_argument("--only", metavar="NAME", action="append", choices=[m.__name__ for m in ALL],
                        help="run this measurement only (may be repeated)")
    args = parser.parse_args(argv)
    if args.json == "":
        parser.error("argument --json: expected a file name (or none: standard output)")
    logging.basicConfig(level=logging.ERROR)
    table = sys.stderr if args.json == "-" else sys.stdout
    try:                                  # where the figures go, checked before minutes of measuring
        if table is None or (args.json == "-" and sys.stdout is None):
            raise OSError(errno.EBADF, "standard output is closed")
        out = sys.stdout if args.json == "-" else open(args.json, "w", encoding="utf-8") if args.json else None
    except OSError as exc:
        print(f"python -m bench: {'--json ' + args.json if args.json else 'the table'}: cannot write: {exc.strerror}",
              file=sys.stderr)
        return 74
    results: dict = {}
    for measure in ALL:
        if args.only and measure.__name__ not in args.only:
            continue
        print(f"measuring {measure.__name__}...", file=sys.stderr, flush=True)
        results.update(measure(args.quick))
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    results["quick"] = args.quick
    results["budgets"] = {key: {"budget": budget, "compare": op, "against": limit}
                          for key, (budget, op, limit) in BUDGETS.items() if key in results}
    code = 0
    if out is not None:                   # the figures first: a table that cannot be shown loses nothing
        code = _write(out, json.dumps(results, indent=1) + "\n", f"--json {args.json}")
        if out is not sys.stdout:
            try:
                out.close()
            except OSError:               # (what failed is said already)
                pass
    return code or _write(table, "\n".join(_table(results, args.quick)) + "\n", "the table")


if __name__ == "__main__":
    raise SystemExit(main())
