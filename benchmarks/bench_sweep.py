"""Benchmark: a synthetic national sweep on Dask, cells per second on 1 and 2 workers, and the
time the full sweep would take on a 64-worker cluster.

Run: ``python benchmarks/bench_sweep.py [--scale 0.1]``. The full sweep is 43 services (one
per police force area) × 50 options × 10,000 replications × 365 days; ``--scale S`` runs
ceil(43 S) services × ceil(50 S) options (the first the baseline) at 10,000 S replications,
365 days, so it fits a small machine (S = 0.1: 5 × 5 cells of 1,000 replications, a few
minutes on 2 cores). The services are the bundled example (examples/victim-support), imported
once, with its demand scaled from 0.8× to 1.2× across them; the options are agency cover,
overtime, a vacancy and a demand surge of varying dates and sizes, cycled.

It times :func:`flowcap.sweep.run_cells` in this process (``workers=0``, no Dask) and on a
``LocalCluster`` of 1 and 2 single-threaded worker processes (started and warmed first: the
workers' imports are not timed), checks the three give the same table, and prints cells per
second and the scaling efficiency ``E = rate(2) / (2 × rate(1))`` (goal ≥ 80%). The projection
takes the cost of one cell in this process at two sizes (``a + b × replications``: the
engine's cost is linear in replications up to its 65,536-replication chunk), extrapolates it
to 10,000 replications, scales it by the measured cost of a cell on one Dask worker over one
in this process (the transfer and scheduling overhead), and divides the
2,150 cells over 64 workers at the measured efficiency (and at 100%: the bound). Not part of
CI.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd

from flowcap.model.scenario import Agency, Demand, Overtime, Vacancy
from flowcap.sweep import PreparedService, Sweep, prepare_service, run_cells

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "victim-support"
NATIONAL = {"services": 43, "options": 50, "replications": 10_000, "days": 365}
TARGET_WORKERS = 64


def synthetic(n_services: int, n_options: int, replications: int):
    """The sweep and its prepared services (the example, demand scaled per service)."""
    names = [f"force {i + 1:02d}" for i in range(n_services)]
    options = ["baseline", *(f"option {j:02d}" for j in range(1, n_options))]
    sweep = Sweep(
        services=names,
        options=options,
        seed=1,
        replications=replications,
        horizon_days=NATIONAL["days"],
    )
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FLOWCAP_KEY_FILE"] = str(Path(tmp) / "key")
        folder = Path(tmp) / "vs"
        shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
        from flowcap.history import open_folder

        base = prepare_service(open_folder(folder), "example", sweep)
    changes = {name: _changes(j, base.start) for j, name in enumerate(options[1:], start=1)}
    prepared = {}
    for i, name in enumerate(names):
        factor = 0.8 + 0.4 * i / max(n_services - 1, 1)
        spec = dataclasses.replace(
            base.spec, mean_cases_per_day=base.spec.mean_cases_per_day * factor
        )
        prepared[name] = PreparedService(
            name, base.service, spec, base.start, changes, f"bench-{i}-{factor}"
        )
    return sweep, prepared


def _changes(j: int, start):
    """Option j: one of four kinds, at a date and size that vary with j."""
    begin = start + timedelta(days=(7 * j) % 300)
    end = begin + timedelta(days=41)
    kind = j % 4
    if kind == 0:
        return (
            Agency(
                resource="idva", staff=1 + j % 2, day_rate=185, lead_days=10, min_days=20,
                start=begin, end=end,
            ),
        )  # fmt: skip
    if kind == 1:
        return (Overtime(resource="triage", minutes_per_day=30 + j % 60, start=begin, end=end),)
    if kind == 2:
        return (Vacancy(resource="idva", staff=1, start=begin, end=end),)
    return (Demand(case_type="da_standard", factor=1.1 + (j % 5) / 10, start=begin, end=end),)


def timed(sweep, prepared, workers: int):
    """Seconds to run every cell on ``workers`` (0: in this process) and the table."""
    if workers == 0:
        began = time.perf_counter()
        result = run_cells(sweep, prepared, workers=0)
        return time.perf_counter() - began, result
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: __import__("flowcap.sweep.cell"))  # imports outside the timing
        began = time.perf_counter()
        result = run_cells(sweep, prepared, client=client)
        return time.perf_counter() - began, result


def cell_cost(sweep, prepared, replications: int) -> float:
    """Seconds for the first cell alone, in this process, at ``replications`` (best of 2)."""
    from flowcap.sweep import Settings, cells, run_cell

    cell = cells(sweep)[0]
    settings = dataclasses.replace(Settings.of(sweep), replications=replications)
    best = math.inf
    for _ in range(2):
        began = time.perf_counter()
        run_cell(prepared[cell.service], cell, settings)
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    args = parser.parse_args()
    n_services = math.ceil(NATIONAL["services"] * args.scale)
    n_options = max(2, math.ceil(NATIONAL["options"] * args.scale))
    replications = max(10, round(NATIONAL["replications"] * args.scale))
    print(f"load average before: {os.getloadavg()}")
    started = time.perf_counter()
    sweep, prepared = synthetic(n_services, n_options, replications)
    print(f"prepared {n_services} services in {time.perf_counter() - started:.1f} s")
    cells = sweep.n_cells
    rows, tables = [], []
    for workers in (0, 1, 2):
        seconds, result = timed(sweep, prepared, workers)
        assert not result.failed, [o.error for o in result.failed]
        tables.append(result.table())
        rows.append((workers, seconds, cells / seconds))
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table, tables[0], check_exact=True)
    rate = {w: r for w, _, r in rows}
    efficiency = rate[2] / (2 * rate[1])
    print(
        f"\nSynthetic sweep: {n_services} services x {n_options} options = {cells} cells, "
        f"{replications:,} replications x {NATIONAL['days']} days each (scale {args.scale:g})"
    )
    print(f"{'workers':>18} | {'seconds':>8} | {'cells/s':>8} | {'s/cell':>7} | efficiency")
    for workers, seconds, r in rows:
        label = "0 (in process)" if workers == 0 else str(workers)
        eff = "" if workers == 0 else f"{r / (workers * rate[1]):.0%}"
        print(f"{label:>18} | {seconds:8.1f} | {r:8.3f} | {1 / r:7.2f} | {eff}")
    print("(the three tables are identical)")
    # a cell's cost is a + b x replications: measured at two sizes, extrapolated to 10,000
    low, high = replications, 4 * replications
    cost_low, cost_high = cell_cost(sweep, prepared, low), cell_cost(sweep, prepared, high)
    per_rep = (cost_high - cost_low) / (high - low)
    fixed = max(cost_low - per_rep * low, 0.0)
    in_process_full = fixed + per_rep * NATIONAL["replications"]
    # the cost on one worker: the in-process cost scaled by the measured Dask overhead
    full_cell = in_process_full * rate[0] / rate[1]
    print(
        f"\nOne cell in process: {cost_low:.2f} s at {low:,} replications, {cost_high:.2f} s at "
        f"{high:,}: {fixed:.2f} s + {per_rep * 1000:.2f} s per 1,000 replications."
    )
    national = NATIONAL["services"] * NATIONAL["options"]
    serial_hours = national * full_cell / 3600
    bound = serial_hours / TARGET_WORKERS
    projected = bound / min(efficiency, 1.0)
    print(f"One national cell (10,000 x 365) on one worker: {full_cell:,.1f} s.")
    print(
        f"National sweep, {NATIONAL['services']} x {NATIONAL['options']} = {national:,} cells: "
        f"{serial_hours:,.1f} worker-hours; on {TARGET_WORKERS} workers {projected * 60:,.0f} "
        f"min at the measured {efficiency:.0%} efficiency ({bound * 60:,.0f} min at 100%)."
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
