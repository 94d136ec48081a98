"""Benchmark: the pathway engine against Ciw and SimPy on the anchor script's two models, same run.

Run: ``python benchmarks/bench_des.py [--customers N] [--repeats K] [--threads T]``.
The models are ../shared/bench/sim_anchor_bench.py's: an M/M/3 at λ = 2.7/h, μ = 1/h (ρ = 0.9)
and the 3-step pathway triage (c=2, μ=3/h) → advocacy (c=3, μ=1/h) → follow-up (c=1, μ=4/h),
30% skipping follow-up, λ = 2.5/h; both run to warm-up (1,000 h) + N / λ hours, so about N
customers (env N_CUST, default 200,000) arrive after the warm-up. The anchor's own functions
(``run_ciw_mmc``, ``run_simpy_mmc``, ``run_ciw_pathway``) are imported and timed beside
:func:`flowcap.simulate.pathway.simulate_pathway` on the same models written as
:class:`PathwaySpec`. The table gives customers per second, the ratio to Ciw (goal: at least
30×), and each tool's mean wait in queue against Erlang C.

flowcap's compile time is reported apart (a fresh Numba cache directory, so it really
compiles), then each model is timed as the best of ``--repeats`` single-threaded calls (the
anchor is single-threaded), counting only customers served after the warm-up (Ciw's count
includes the warm-up's ~1%, so the ratio is slightly understated). A last row runs ``--threads``
replications at once, splitting the same customers between them. Not part of CI.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = ROOT.parent / "shared" / "bench" / "sim_anchor_bench.py"


def load_anchor(path: Path, customers: int):
    os.environ["N_CUST"] = str(customers)  # the anchor sizes its runs from N_CUST on import
    spec = importlib.util.spec_from_file_location("sim_anchor_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_of(repeats: int, go):
    best, out = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = go()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=int(os.environ.get("N_CUST", 200_000)))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--anchor", type=Path, default=ANCHOR)
    args = parser.parse_args()
    n = args.customers
    anchor = load_anchor(args.anchor, n)

    # Compile in an empty cache directory, so the time is the real compile, not a cache load.
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="flowcap-numba-")
    import numpy as np

    from flowcap.simulate.pathway import PathwaySpec, simulate_pathway

    mmc = PathwaySpec.network(anchor.LAM, [anchor.C], [60.0 / anchor.MU])
    routing = np.array(anchor.P_ROUTING, dtype=float)
    pathway = PathwaySpec.network(
        anchor.P_LAM, [c for _, c, _ in anchor.P_NODES], [60.0 / mu for *_, mu in anchor.P_NODES],
        routing,
    )  # fmt: skip
    start = time.perf_counter()
    simulate_pathway(mmc, hours=10, replications=1, threads=1)
    compile_s = time.perf_counter() - start

    warmup = anchor.WARMUP_H
    wq_mmc, _ = anchor.erlang_c_wq(anchor.LAM, anchor.MU, anchor.C)
    wq_nodes = [
        anchor.erlang_c_wq(anchor.P_LAM * v, mu, c)[0]
        for (_, c, mu), v in zip(anchor.P_NODES, anchor.P_VISITS, strict=True)
    ]
    rows = []  # model, tool, customers, seconds, Wq column

    def diff(waits_hours, exact: float) -> str:
        # ± the anchor's 95% batch-means half-width: one run at ρ = 0.9 is only good to ~5%.
        mean, half = anchor.batch_means_ci(waits_hours)
        return f"{mean:.3f} ± {half:.3f} h vs {exact:.3f} ({100 * (mean / exact - 1):+.1f}%)"

    def node_diffs(waits_hours) -> str:
        return " ".join(
            f"{100 * (w / e - 1):+.1f}%" for w, e in zip(waits_hours, wq_nodes, strict=True)
        )

    # M/M/3 ---------------------------------------------------------------------------
    waits, sim_s, _, served = anchor.run_ciw_mmc()
    rows.append(("M/M/3", "ciw", served, sim_s, diff(waits, wq_mmc)))
    waits, sim_s, _, served = anchor.run_simpy_mmc()
    rows.append(("M/M/3", "simpy", served, sim_s, diff(waits, wq_mmc)))
    hours = n / anchor.LAM
    seconds, result = best_of(
        args.repeats,
        lambda: simulate_pathway(mmc, hours, warmup, replications=1, seed=1, threads=1),
    )
    wq = diff(result.wait_minutes / 60, wq_mmc)
    rows.append(("M/M/3", "flowcap (1 thread)", int(result.served.sum()), seconds, wq))
    k = args.threads
    seconds, result = best_of(
        args.repeats,
        lambda: simulate_pathway(mmc, hours / k, warmup, replications=k, seed=1, threads=k),
    )
    wq = diff(result.wait_minutes / 60, wq_mmc)
    rows.append(("M/M/3", f"flowcap ({k} threads)", int(result.served.sum()), seconds, wq))

    # 3-step pathway ----------------------------------------------------------------------
    records, sim_s, _ = anchor.run_ciw_pathway()
    customers = len({r.id_number for r in records})
    ciw_waits = [
        np.mean([r.waiting_time for r in records if r.node == i + 1 and r.arrival_date >= warmup])
        for i in range(len(anchor.P_NODES))
    ]
    rows.append(("pathway", "ciw", customers, sim_s, "nodes " + node_diffs(ciw_waits)))
    hours = n / anchor.P_LAM
    seconds, result = best_of(
        args.repeats,
        lambda: simulate_pathway(pathway, hours, warmup, replications=1, seed=1, threads=1),
    )
    waits = result.wait_sum_minutes[0, :, 0] / result.served[0, :, 0] / 60
    rows.append(
        ("pathway", "flowcap (1 thread)", int(result.served[:, 0].sum()), seconds,
         "nodes " + node_diffs(waits))
    )  # fmt: skip
    seconds, result = best_of(
        args.repeats,
        lambda: simulate_pathway(pathway, hours / k, warmup, replications=k, seed=1, threads=k),
    )
    waits = result.wait_sum_minutes[:, :, 0].sum(0) / result.served[:, :, 0].sum(0) / 60
    rows.append(
        ("pathway", f"flowcap ({k} threads)", int(result.served[:, 0].sum()), seconds,
         "nodes " + node_diffs(waits))
    )  # fmt: skip

    print(f"cpus={os.cpu_count()}  customers={n:,} after a {warmup:,.0f} h warm-up")
    print(f"flowcap first call (Numba compile, empty cache): {compile_s:.1f} s")
    print(
        f"{'model':<8} {'tool':<20} {'customers':>10} {'seconds':>8} {'customers/s':>12} "
        f"{'vs ciw':>7}  Wq (sim vs Erlang C)"
    )
    base = {}
    for model, tool, customers, seconds, wq_text in rows:
        rate = customers / seconds
        if tool == "ciw":
            base[model] = rate
        print(
            f"{model:<8} {tool:<20} {customers:>10,} {seconds:>8.3f} {rate:>12,.0f} "
            f"{rate / base[model]:>6.1f}x  {wq_text}"
        )
    for model in base:
        ratio = next(
            c / s / base[model] for m, t, c, s, _ in rows if m == model and t.endswith("1 thread)")
        )
        print(f"goal >= 30x Ciw on {model} (single thread): {'met' if ratio >= 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
