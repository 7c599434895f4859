"""``python -m bench.readme [--note TEXT] RUN.json [RUN.json ...]``: the README's benchmark table from
full runs of ``python -m bench --json``: the first run's value of each figure, its budget,
how it is taken and what it is measured against, and how far it moved over all the runs
given (and, for the CPU figures, over the runs each measurement makes itself). The note
under the table is ``--note``'s TEXT, or none: a note is about the runs it came with."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.__main__ import BUDGETS

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

_CPU = ("`pi-agent run --simulate --speed 1` as a process, as under systemd, {state}: CPU time (user + system, "
        "every thread, from /proc) over 60 s after 4 s of start-up, % of one core; median of {runs}")
HOW = {
    "sample_us": "CPU per channel reading through the whole path (the register model, the lean reads of the "
                 "pad's continuous and the splint's single-shot conversions, conversion, faults, trackers, day accounting), virtual "
                 "time, in a weight-bearing session with the splint worn (200 pad and 12 splint readings a second), "
                 "median of 20 batches",
    "sample_us_daily": "the same in the everyday state: splint worn, pad empty (12 splint and 4 pad readings a second)",
    "floor_us": "the session's reads of the register model made directly, no driver, weighted by each channel's rate",
    "sample_floor_ratio": "`sample_us` ÷ `floor_us`",
    "schedule_kept": "readings delivered ÷ readings the schedule asks for in a session (212 a second), real time, "
                     "conversions taking their real time",
    "data_rate_share": "the same readings ÷ the conversions the chips make at their configured data rates (128 + "
                       "475 + 475 a second): the pad's chips convert far more often than the pad is read",
    "feedback_ms_p50": "`pi-agent run --simulate --speed 1 --motor-trace`: the load steps from 30 N to 70 N (into "
                       "the band) after random holds of 1.2 to 1.8 s, so at random phases of the pad's 10-ms reads; "
                       "from the step to the motor's first level, both on the agent's own clock; 50 steps",
    "feedback_ms_p99": "the same steps",
    "feedback_ms_max": "the worst of them",
    "sim_day_s": "`pi-agent simulate` of the 24-hour demo day as a process, start-up included (with `--quick`: "
                 "its first 3 hours, times 8)",
    "cpu_idle_pct": _CPU.format(state="splint off, pad empty", runs="1 run"),
    "cpu_worn_pct": _CPU.format(state="splint worn, pad empty", runs="3 runs"),
    "cpu_pressed_pct": _CPU.format(state="splint worn, pad pressed (a session)", runs="3 runs"),
    "cpu_mqtt_pct": _CPU.format(state="pressed, with a Mosquitto on loopback", runs="1 run"),
    "wakes_worn_per_s": "voluntary context switches a second of that process, splint worn (one per splint reading; "
                        "the pad's slow reads ride along)",
    "wakes_pressed_per_s": "the same, pad pressed (one per turn of the pad, whose two zones are read together; the "
                           "splint's reads ride along)",
    "cpu_floor_worn_pct": "a process that only waits as the agent waits (`SystemClock.sleep`, a timed lock acquire) "
                          "12 times a second, measured as the agent is but over 20 s after 1 s of start-up",
    "cpu_floor_pressed_pct": "the same, 100 times a second",
    "turn_us_warm": "CPU of one turn of the loop (`Agent.step`) in the everyday state, virtual time, median of 10 "
                    "batches of 200",
    "turn_us_cold": "the same with a byte written to every 64-byte line of a 64-MB buffer between two turns, so "
                    "each turn starts with the caches evicted",
    "rss_mb": "peak resident memory (VmHWM) of the idle process",
    "mqtt_ms_p50": "from the wall time a load message carries (its pad reading's) to a subscriber on a real "
                   "Mosquitto on loopback",
    "mqtt_ms_p99": "the same messages",
    "store_writes_per_hour": "store commits in the second hour of a steady simulated day",
    "clinic": "simulated devices (of 10, 25, 50, 100, 200, 400) that one Mosquitto and one `pi-agent dashboard` "
              "follow with every state on the dashboard's live stream within 1 s; each device in a session "
              "(`bench/clinic.py`)",
    "clinic_dashboard_mb": "the dashboard's peak resident memory (VmHWM) at that size",
}


def _moves(key: str, runs: list[dict]) -> str:
    # each CPU run, of each full run (a figure measured once a full run: each full run's)
    values = [v for r in runs for v in r.get(f"{key.removesuffix('_pct')}_runs", [])] if key.startswith("cpu_") else []
    if not values:
        values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    if len(values) < 2:
        return "one run"
    return f"{min(values):g} to {max(values):g} in {len(values)}"


def table(runs: list[dict]) -> str:
    first = runs[0]
    rows = ["| figure | value | budget | how it is taken | measured against | moved between runs |",
            "| --- | --- | --- | --- | --- | --- |"]
    for key, (budget, op, limit) in BUDGETS.items():
        value = first.get(key)
        if value is None:
            continue
        sign = {"<=": "≤", ">=": "≥"}.get(op, op)
        rows.append(f"| `{key}` | {value:g} | {f'{sign} {budget:g}' if budget is not None else ''} | "
                    f"{HOW.get(key, '')} | {limit} | {_moves(key, runs)} |")
    return "\n".join(rows)


class Refused(Exception):
    """A run that cannot make the table: one line says why."""


def _run(path: str) -> dict:
    """A full run of this bench, from its JSON file (Refused: anything else)."""
    try:
        run = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise Refused(f"{path}: cannot read a run of bench ({getattr(exc, 'strerror', None) or exc})") from None
    if not isinstance(run, dict):
        raise Refused(f"{path}: expected the JSON object of `python -m bench --json`, found {type(run).__name__}")
    if run.get("quick"):
        raise Refused(f"{path}: a --quick run; the README's table comes from full runs")
    missing = [key for key in BUDGETS if not isinstance(run.get(key), (int, float)) or isinstance(run.get(key), bool)]
    if missing or not isinstance(run.get("machine"), str):
        raise Refused(f"{path}: not a full run of this bench (no figure for {', '.join(missing) or 'machine'})")
    for key in BUDGETS:
        runs = run.get(f"{key.removesuffix('_pct')}_runs")
        if key.startswith("cpu_") and runs is not None and not (
                isinstance(runs, list) and all(isinstance(v, (int, float)) for v in runs)):
            raise Refused(f"{path}: {key.removesuffix('_pct')}_runs: expected a list of numbers")
    return run


def main(argv: list[str]) -> int:
    """The table and its note (``--note TEXT``, else none) replace what the README had."""
    note = ""
    if argv[:1] == ["--note"]:
        if len(argv) < 2:
            print("bench.readme: --note needs its TEXT", file=sys.stderr)
            return 2
        note, argv = argv[1] + "\n", argv[2:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        runs = [_run(a) for a in argv]
    except Refused as exc:
        print(f"bench.readme: {exc}", file=sys.stderr)
        return 2
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    body = (f"{table(runs)}\n\nMeasured on {runs[0]['machine']} (`python -m bench`, full run; the last column "
            f"over {len(runs)} full run{'s' if len(runs) > 1 else ''} and the CPU measurement's own repeats).\n{note}")
    README.write_text(f"{head}{START}\n{body}{END}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
