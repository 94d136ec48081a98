"""Benchmark: the daily backlog engine against the anchor script's NumPy loop, same run, same model.

Run: ``python benchmarks/bench_simulate_daily.py [--replications N] [--repeats K]``.
The model is ../shared/bench/gpu_lindley_anchor.py's: demand 60 x Poisson(10) minutes a day,
capacity 240 x Binomial(3, 0.9), 365 days. Its ``numpy_run`` (``python gpu_lindley_anchor.py
numpy``) is imported and timed here beside ``flowcap.simulate.run`` on the same model written as
a :class:`DailySpec`; the table gives replication-days per second, the ratio (goal: at least 3x
on the CPU, issue 4 item 7; issue 13: at least 10x, and 3x with patience; the compiled
kernel of flowcap.simulate.daily.fused with the NumPy engine's streams and with its
counter-based ones), the mean final backlog and P(final backlog > 2400 minutes) with
their standard errors against the anchor's many-replication values (429 minutes, 0.0107).
Then the time of one 100,000-replication, 365-day run for one resource (the engine part of the
"plan in under 10 s" goal). Timings are the best of ``--repeats``. Not part of CI.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import time
from pathlib import Path

import numpy as np

from flowcap.simulate import DailySpec, run

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = ROOT.parent / "shared" / "bench" / "gpu_lindley_anchor.py"
ANCHOR_MEAN, ANCHOR_P = 429.0, 0.0107
DAYS = 365


def load_anchor(path: Path):
    spec = importlib.util.spec_from_file_location("gpu_lindley_anchor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def anchor_spec(**changes) -> DailySpec:
    kwargs = dict(
        days=DAYS,
        mean_cases_per_day=10,
        minutes_per_case=60,
        staff=3,
        minutes_per_staff=240,
        absence_rate=0.1,
    )
    kwargs.update(changes)
    return DailySpec.one_resource(**kwargs)


def best_of(repeats: int, go):
    best, out = math.inf, None
    for _ in range(repeats):
        seconds, out = go()
        best = min(best, seconds)
    return best, out


def timed_engine(spec: DailySpec, n: int, seed: int, **settings):
    def go():
        start = time.perf_counter()
        result = run(spec, n, seed, threshold_minutes=2400, **settings)
        return time.perf_counter() - start, result.final_backlog[0]

    return go


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=int(os.environ.get("R_CPU", 200_000)))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--anchor", type=Path, default=ANCHOR)
    args = parser.parse_args()
    n = args.replications
    anchor = load_anchor(args.anchor)
    anchor.numpy_run(1_000)  # warm up both
    run(anchor_spec(), 1_000, 0)
    start = time.perf_counter()
    run(anchor_spec(), 1_000, 0, engine="fused")  # numba: compiles, or loads its disk cache
    print(f"fused kernel, first call (compile or cache load): {time.perf_counter() - start:.2f} s")

    rows = []
    seconds, final = best_of(args.repeats, lambda: anchor.numpy_run(n, seed=1))
    rows.append(("anchor numpy loop (1 thread)", n, seconds, final))
    seconds, final = best_of(args.repeats, timed_engine(anchor_spec(), n, seed=1))
    rows.append(("flowcap.simulate.run", n, seconds, final))
    patient = anchor_spec(patience_days=("exponential", 30.0, 0.0))
    seconds, final = best_of(args.repeats, timed_engine(patient, n, seed=1))
    rows.append(("  same, patience exp(30 d)", n, seconds, final))
    for label, streams in (("fused kernel, pcg64", "pcg64"), ("fused kernel, counter", "counter")):
        go = timed_engine(anchor_spec(), n, seed=1, engine="fused", streams=streams)
        seconds, final = best_of(args.repeats, go)
        rows.append((label, n, seconds, final))

    base = n * DAYS / rows[0][2]
    print(f"model: 60 x Poisson(10) min/day vs 240 x Binomial(3, 0.9), {DAYS} days")
    print(
        f"{'backend':<30} {'reps':>8} {'seconds':>8} {'rep-days/s':>11} {'ratio':>6}"
        f" {'mean final':>11} {'±SE':>5} {'P(>2400)':>9} {'±SE':>7}"
    )
    for name, reps, secs, final in rows:
        rate = reps * DAYS / secs
        p = float(np.mean(final > 2400))
        print(
            f"{name:<30} {reps:>8} {secs:>8.3f} {rate:>11.3e} {rate / base:>5.2f}x"
            f" {final.mean():>11.1f} {final.std() / math.sqrt(reps):>5.1f}"
            f" {p:>9.4f} {math.sqrt(p * (1 - p) / reps):>7.4f}"
        )
    ratio = rows[0][2] / min(row[2] for row in rows[1:] if "patience" not in row[0])
    patience = rows[0][2] / rows[2][2]
    print(f"anchor's many-replication values: mean final {ANCHOR_MEAN}, P(>2400) {ANCHOR_P}")
    print(f"goal >= 10x the anchor NumPy loop (issue 13), best engine: {ratio:.2f}x", end=" ")
    print("met" if ratio >= 10 else "NOT met")
    print(f"goal >= 3x with patience: {patience:.2f}x {'met' if patience >= 3 else 'NOT met'}")
    print(f"load average while measured: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    seconds, _ = best_of(args.repeats, timed_engine(anchor_spec(), 100_000, seed=2))
    print(f"one resource, 100,000 replications x {DAYS} days (summary record): {seconds:.3f} s")


if __name__ == "__main__":
    main()
