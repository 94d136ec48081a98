"""Benchmark: ``flowcap plan`` on the anchor model, 100,000 replications x 365 days (issue 13).

Run: ``python benchmarks/bench_plan.py [--replications N] [--runs K]``.
The model is ../shared/bench/gpu_lindley_anchor.py's as a service folder
(examples/anchor-lindley: demand 60 x Poisson(10) minutes a day, capacity 240 x
Binomial(3, 0.9)). Each row is timed twice in the same run, alternately: *before*, every
candidate of a search run by the engine (flowcap.simulate.run), as the searches did until
flowcap.plan.shared_draws (here by making ``SharedDraws.of`` decline); *after*, the searches
on draws shared by every candidate. In-process rows time the searches alone
(``minimum_staff``, ``minimum_minutes_per_day`` on the resource's model, and
``plan_capacity`` on the folder, both searches); whole-process rows time ``flowcap plan ...
--json`` from start to exit, beside ``python -c pass`` and the plan command's imports alone.
Every before/after pair must give the same answer, number for number (checked). The table
gives the best of K runs in wall-clock seconds and in CPU seconds (user + system: the work is
single-threaded, so that is about what wall-clock would be on an idle machine, where the
development machine's two cores are shared), the ratios before/after, and the goal: the
whole ``flowcap plan`` under 5 s. Not part of CI.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "anchor-lindley"
GOAL_SECONDS = 5.0
DAYS = 365
START = "2026-01-01"
#: The search as it was: ``SharedDraws.of`` declines, so every candidate is an engine run.
BEFORE = (
    "from flowcap.plan.shared_draws import SharedDraws; "
    "SharedDraws.of = classmethod(lambda cls, *args: None); "
)
IMPORTS = "import flowcap.cli.main; from flowcap.plan import plan_capacity"


def plan_args(folder: Path, replications: int) -> list[str]:
    return [
        "plan",
        str(folder),
        "--start",
        START,
        "--horizon",
        str(DAYS),
        "--replications",
        str(replications),
        "--json",
    ]


def process(code: str, args: list[str]) -> list[str]:
    """A whole ``python -c`` process running ``code``, then the CLI with ``args``."""
    cli = f"import sys; sys.argv = ['flowcap', *{args!r}]; from flowcap.cli.main import app; app()"
    return [sys.executable, "-c", code + cli]


def time_process(command: list[str]) -> tuple[Seconds, str]:
    """Wall-clock and CPU seconds (user + system) of a whole process, and its output."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{command[-1][:80]}... exited {done.returncode}: {done.stderr[-800:]}")
    cpu = after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime
    return Seconds(elapsed, cpu), done.stdout


def engine_only(enabled: bool):
    """Make the searches run the engine for every candidate (``enabled``), or share draws."""
    from flowcap.plan import capacity
    from flowcap.plan.shared_draws import SharedDraws

    if not hasattr(engine_only, "of"):
        engine_only.of = SharedDraws.__dict__["of"]
    SharedDraws.of = classmethod(lambda cls, *args: None) if enabled else engine_only.of
    capacity._latest_draws().clear()


class Seconds(NamedTuple):
    """Wall-clock seconds, and CPU seconds (what wall-clock would be on an idle machine: the
    work is single-threaded; the development machine's 2 cores are shared)."""

    wall: float
    cpu: float


def best(times: list[Seconds]) -> Seconds:
    return Seconds(min(t.wall for t in times), min(t.cpu for t in times))


def timed(call) -> tuple[Seconds, object]:
    start, cpu = time.perf_counter(), time.process_time()
    answer = call()
    return Seconds(time.perf_counter() - start, time.process_time() - cpu), answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="Timed runs per row (best of).")
    options = parser.parse_args(argv)
    n = options.replications
    os.environ.setdefault("FLOWCAP_KEY_FILE", str(Path(tempfile.mkdtemp()) / "key"))
    folder = Path(tempfile.mkdtemp()) / "anchor-lindley"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    wall = time.perf_counter()

    import numpy

    from flowcap import open as open_service
    from flowcap.plan import plan_capacity
    from flowcap.plan.capacity import minimum_minutes_per_day, minimum_staff
    from flowcap.plan.outlook import _spec

    print(f"host: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"NumPy {numpy.__version__}; load average at start {os.getloadavg()[0]:.2f}")
    print(f"model: {EXAMPLE.relative_to(ROOT)}, {n:,} replications x {DAYS} days\n")
    history = open_service(folder)
    spec, _ = _spec(history, DAYS, date.fromisoformat(START), lambda *a: None, lambda *a: None)
    search = dict(target_backlog_minutes=2400.0, risk=0.05, replications=n, seed=0)
    in_process = [
        (
            "fewest minutes (minimum_minutes_per_day)",
            lambda: minimum_minutes_per_day(spec, "advocate", **search),
        ),
        ("fewest staff (minimum_staff)", lambda: minimum_staff(spec, "advocate", **search)),
        (
            "plan_capacity: both searches",
            lambda: plan_capacity(
                history, risk=0.05, horizon=DAYS, replications=n, start=date.fromisoformat(START)
            ),
        ),
    ]
    args = plan_args(folder, n)
    whole = [
        ("whole process: flowcap plan ... --json", BEFORE, ""),
    ]
    rows, failures = [], []
    for name, call in in_process:
        times, answers = {True: [], False: []}, {}
        for _ in range(options.runs):
            for before in (True, False):
                engine_only(before)
                seconds, answers[before] = timed(call)
                times[before].append(seconds)
        engine_only(False)
        if answers[True] != answers[False]:
            failures.append(f"{name}: {answers[True]} != {answers[False]}")
        rows.append((name, best(times[True]), best(times[False]), answers[False]))
    for name, before_code, after_code in whole:
        times, out = {True: [], False: []}, {}
        for _ in range(options.runs):
            for before in (True, False):
                code = before_code if before else after_code
                seconds, out[before] = time_process(process(code, args))
                times[before].append(seconds)
        if out[True] != out[False]:
            failures.append(f"{name}: {out[True]} != {out[False]}")
        rows.append((name, best(times[True]), best(times[False]), out[False].strip()))
    alone = {}
    for label, command in (
        ("python -c pass (anchor)", [sys.executable, "-c", "pass"]),
        ("imports of flowcap plan alone", [sys.executable, "-c", IMPORTS]),
    ):
        alone[label] = best([time_process(command)[0] for _ in range(options.runs)])

    print(f"best of {options.runs}; wall-clock, then CPU seconds (user + system)")
    print(f"{'':42s} {'before':>7s} {'after':>6s} {'ratio':>6s} {'cpu before':>11s} {'after':>6s}")
    for name, before, after, _ in rows:
        print(
            f"{name:42s} {before.wall:7.2f} {after.wall:6.2f} {before.wall / after.wall:5.1f}x"
            f" {before.cpu:11.2f} {after.cpu:6.2f} ({before.cpu / after.cpu:.1f}x)"
        )
    for label, seconds in alone.items():
        print(f"{label:42s} {'':7s} {seconds.wall:6.2f} {'':6s} {'':11s} {seconds.cpu:6.2f}")
    staff, minutes = rows[1][3], rows[0][3]
    print(
        f"\nanswers (the same before and after): fewest staff {staff.min_staff} "
        f"(P {staff.p_exceed_at_min}, {len(staff.candidates)} candidate(s)); fewest minutes "
        f"{minutes.min_minutes_per_staff:g} (P {minutes.p_exceed_at_min}, "
        f"{len(minutes.candidates)} candidates)"
    )
    after = rows[-1][2]
    for what, seconds in (("wall-clock", after.wall), ("CPU", after.cpu)):
        verdict = "met" if seconds < GOAL_SECONDS else "NOT met"
        print(f"whole flowcap plan, {what}: {seconds:.2f} s; goal < {GOAL_SECONDS:g} s: {verdict}")
    total = time.perf_counter() - wall
    print(f"load average at end {os.getloadavg()[0]:.2f}; total wall time {total:.0f} s")
    if failures:
        print("\n".join(["DIFFERENT ANSWERS:", *failures]))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
