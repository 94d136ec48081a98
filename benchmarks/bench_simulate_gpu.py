"""Benchmark: the daily backlog engine on a CUDA GPU, against the CPU and the anchor's torch loop.

Run: ``python benchmarks/bench_simulate_gpu.py`` on a machine with an NVIDIA GPU and a CUDA
build of PyTorch (``pip install -e '.[gpu]'``); one command, well under 5 minutes on an
H100/H200 including CUDA start-up. ``--device cpu`` runs the same script on PyTorch's CPU
device (a smoke test; its numbers say nothing about a GPU). Not part of CI.

The model is ../shared/bench/gpu_lindley_anchor.py's: demand 60 x Poisson(10) minutes a day,
capacity 240 x Binomial(3, 0.9), 365 days, as a :class:`DailySpec`. It prints:

1. **Agreement.** The GPU engine's mean final backlog and P(final > 2400 minutes) against the
   NumPy engine's (independent samples: within 4 standard errors of the difference), against
   the anchor torch loop's in the same run (likewise), and against the anchor's published
   many-replication values 429 minutes and 0.0107 (within 4 standard errors of the GPU
   estimate plus the published values' rounding and own error, taken as equal to ours).
2. **Speed.** Replication-days per second of ``flowcap.simulate.run(..., device="cuda")`` and of
   the anchor's ``torch_run`` (imported from the anchor script; on ``--device cpu`` a
   transcription of its loop), same replications, best of ``--repeats``; the ratio (goal
   >= 2x, issue 4 item 7). Ours is timed end to end (tables, transfers, the result on the
   host); the anchor's loop only. Also the engine with reneging and with waits measured
   (buckets), at fewer replications.
3. **Plan.** One 100,000-replication, 365-day ``minimum_staff`` search (the engine part of
   ``flowcap plan --device cuda``), and the same on the CPU NumPy engine.

Exit status: 0 when every agreement check passes, 1 when one fails, 2 without CUDA (or torch).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = ROOT.parent / "shared" / "bench" / "gpu_lindley_anchor.py"
ANCHOR_MEAN, ANCHOR_P = 429.0, 0.0107
DAYS, THRESHOLD = 365, 2400.0


def load_anchor(path: Path):
    spec = importlib.util.spec_from_file_location("gpu_lindley_anchor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def anchor_spec(**changes):
    from flowcap.simulate import DailySpec

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


def torch_loop_on(device: str, anchor):
    """The anchor's ``torch_run`` loop; on a GPU its own function, else transcribed for
    ``device`` (the anchor hard-codes "cuda")."""
    if device.startswith("cuda"):
        return anchor.torch_run
    import torch

    def torch_run(n: int):
        gen = torch.Generator(device=device)
        gen.manual_seed(4)
        lam = torch.full((n,), anchor.LAM, device=device)

        def go():
            b = torch.zeros(n, device=device)
            for _ in range(anchor.T):
                d = anchor.SESSION * torch.poisson(lam, generator=gen)
                u = torch.rand((anchor.STAFF, n), device=device, generator=gen)
                c = anchor.SHIFT * (u < anchor.P_PRESENT).sum(0).float()
                b = torch.clamp_min(b + d - c, 0.0)
            return b

        go()
        start = time.perf_counter()
        b = go()
        return time.perf_counter() - start, b.cpu().numpy()

    return torch_run


@contextlib.contextmanager
def torch_for_cpu(device: str | None):
    """Smoke test only (``--device cpu``): let ``device="cuda"`` in flowcap's dispatcher mean
    the PyTorch engine on the CPU, so the plan search runs it (flowcap's "cpu" is NumPy)."""
    if device != "cpu":
        yield
        return
    from flowcap.simulate.daily import backends
    from flowcap.simulate.daily import torch as torch_engine

    class OnCpu:
        @staticmethod
        def run(*args, device, **kwargs):
            return torch_engine.run(*args, device="cpu", **kwargs)

    real = backends._torch_engine
    backends._torch_engine = lambda device: OnCpu
    try:
        yield
    finally:
        backends._torch_engine = real


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def best_of(repeats: int, go):
    best, out = math.inf, None
    for _ in range(repeats):
        seconds, out = go()
        best = min(best, seconds)
    return best, out


def engine_timer(spec, n: int, seed: int, device: str, numpy: bool = False, **options):
    """Time one run: the PyTorch engine on ``device``, or with ``numpy`` the NumPy engine."""
    from flowcap.simulate.daily import numpy as numpy_engine
    from flowcap.simulate.daily import torch as torch_engine

    def run(*args, device, **kwargs):
        if numpy:
            return numpy_engine.run(*args, **kwargs)
        return torch_engine.run(*args, device=device, **kwargs)

    def go():
        synchronize(device)
        start = time.perf_counter()
        result = run(spec, n, seed, threshold_minutes=THRESHOLD, device=device, **options)
        synchronize(device)
        return time.perf_counter() - start, result.final_backlog[0]

    return go


def mean_and_share(final: np.ndarray):
    n = final.size
    p = float(np.mean(final > THRESHOLD))
    return final.mean(), final.std() / math.sqrt(n), p, math.sqrt(p * (1 - p) / n)


class Checks:
    def __init__(self):
        self.failed = []

    def close(self, name: str, a: float, b: float, tolerance: float) -> None:
        ok = abs(a - b) <= tolerance
        if not ok:
            self.failed.append(name)
        print(
            f"  {'ok  ' if ok else 'FAIL'} {name}: {a:.5g} vs {b:.5g}, |diff| {abs(a - b):.3g}"
            f" <= {tolerance:.3g}"
        )

    def samples(self, name: str, a: np.ndarray, b: np.ndarray) -> None:
        """Two independent samples of final backlogs: means and tail shares, 4 SE."""
        mean_a, se_a, p_a, _ = mean_and_share(a)
        mean_b, se_b, p_b, _ = mean_and_share(b)
        self.close(f"{name}: mean final backlog", mean_a, mean_b, 4 * math.hypot(se_a, se_b))
        pooled = (p_a * a.size + p_b * b.size) / (a.size + b.size)
        se = math.sqrt(
            max(pooled * (1 - pooled), 1 / (a.size + b.size)) * (1 / a.size + 1 / b.size)
        )
        self.close(f"{name}: P(final > 2400)", p_a, p_b, 4 * se)


def device_description(device: str) -> str:
    import torch

    text = f"torch {torch.__version__}"
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        props = torch.cuda.get_device_properties(index)
        memory, capability = props.total_memory / 2**30, f"{props.major}.{props.minor}"
        text += f", CUDA {torch.version.cuda}, {torch.cuda.get_device_name(index)}"
        text += f" ({memory:.0f} GiB, compute capability {capability})"
    else:
        text += (
            f", CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
        )
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--replications", type=int, help="timed run (default 8e6 GPU, 2e5 CPU)")
    parser.add_argument(
        "--cpu-replications", type=int, default=int(os.environ.get("R_CPU", 200_000))
    )
    parser.add_argument("--bucket-replications", type=int, help="reneging / waits runs")
    parser.add_argument("--plan-replications", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--anchor", type=Path, default=ANCHOR)
    args = parser.parse_args()
    device, gpu = args.device, args.device.startswith("cuda")
    started = time.perf_counter()

    try:
        import torch
    except ImportError:
        print("error: PyTorch is not installed: pip install 'flowcap[gpu]' (a CUDA build)")
        return 2
    if gpu and not torch.cuda.is_available():
        print(
            f"error: --device {device}: no CUDA GPU here (torch {torch.__version__}, "
            "torch.cuda.is_available() is False). Run on a machine with an NVIDIA GPU, or "
            "use --device cpu for a smoke test."
        )
        return 2
    from flowcap.plan.capacity import minimum_staff
    from flowcap.simulate.daily import torch as torch_engine

    n = args.replications or (8_000_000 if gpu else 50_000)
    n_buckets = args.bucket_replications or (1_000_000 if gpu else 20_000)
    anchor = load_anchor(args.anchor)
    torch_run = torch_loop_on(device, anchor)
    spec = anchor_spec()
    print(f"device: {device} — {device_description(device)}")
    print(f"host: {platform.node()}, Python {sys.version.split()[0]}, NumPy {np.__version__}")
    print(f"model: 60 x Poisson(10) min/day vs 240 x Binomial(3, 0.9), {DAYS} days")

    # warm-up: CUDA context, kernels, allocator (not timed)
    torch_engine.run(spec, 20_000, 0, threshold_minutes=THRESHOLD, device=device)
    patient = anchor_spec(patience_days=("exponential", 30.0, 0.0))
    torch_engine.run(patient, 2_000, 0, device=device, waits=True)
    synchronize(device)
    warm = time.perf_counter() - started
    print(f"start-up and warm-up: {warm:.1f} s")
    chunk = torch_engine.default_chunk(spec, n, device)
    print(f"flowcap chunk for {n:,} replications: {chunk:,} (one chunk = one pass)")

    rows = []
    seconds, final = best_of(args.repeats, lambda: torch_run(n))
    rows.append(("anchor torch loop", n, seconds, final))
    seconds, flowcap_final = best_of(args.repeats, engine_timer(spec, n, 1, device))
    rows.append((f"flowcap PyTorch engine, {device}", n, seconds, flowcap_final))
    seconds, final = best_of(args.repeats, engine_timer(spec, n, 2, device, fan_replications=1))
    rows.append(("  same, plan-style (no fan)", n, seconds, final))
    seconds, final = best_of(1, engine_timer(patient, n_buckets, 3, device))
    rows.append(("  patience exp(30 d), buckets", n_buckets, seconds, final))
    seconds, final = best_of(1, engine_timer(spec, n_buckets, 4, device, waits=True))
    rows.append(("  waits=True, buckets", n_buckets, seconds, final))
    seconds, cpu_final = best_of(1, engine_timer(spec, args.cpu_replications, 5, "cpu", numpy=True))
    rows.append(("flowcap run, NumPy (CPU)", args.cpu_replications, seconds, cpu_final))

    base = rows[0][1] * DAYS / rows[0][2]
    print()
    print(
        f"{'backend':<32} {'reps':>9} {'seconds':>8} {'rep-days/s':>11} {'ratio':>6}"
        f" {'mean final':>11} {'±SE':>5} {'P(>2400)':>9} {'±SE':>7}"
    )
    for name, reps, secs, final in rows:
        rate = reps * DAYS / secs
        mean, se, p, se_p = mean_and_share(final)
        print(
            f"{name:<32} {reps:>9} {secs:>8.3f} {rate:>11.3e} {rate / base:>5.2f}x"
            f" {mean:>11.1f} {se:>5.1f} {p:>9.4f} {se_p:>7.4f}"
        )
    ratio = rows[0][2] / rows[1][2]
    print(
        f"speed: flowcap / anchor torch loop = {ratio:.2f}x; goal >= 2x: "
        f"{'met' if ratio >= 2 else 'NOT met'}"
    )

    print("\nagreement (tolerance: 4 standard errors of the difference):")
    checks = Checks()
    checks.samples(f"PyTorch ({device}) vs NumPy engine", flowcap_final, cpu_final)
    checks.samples(f"PyTorch ({device}) vs anchor torch loop (this run)", flowcap_final, rows[0][3])
    mean, se, p, se_p = mean_and_share(flowcap_final)
    # the published values carry their own Monte Carlo error (taken as ours) and rounding
    checks.close(
        f"PyTorch ({device}) vs anchor's 429", mean, ANCHOR_MEAN, 4 * math.sqrt(2) * se + 0.5
    )
    checks.close(
        f"PyTorch ({device}) vs anchor's 0.0107", p, ANCHOR_P, 4 * math.sqrt(2) * se_p + 5e-5
    )

    print(
        f"\nplan: minimum_staff, {args.plan_replications:,} replications x {DAYS} days, "
        "P(final > 2400) <= 5%:"
    )
    for label, on_torch in ((f"PyTorch, {device}", True), ("NumPy (CPU)", False)):
        # flowcap's device "cpu" is NumPy; for the smoke test "cuda" is rerouted to the CPU
        where = ("cuda" if device == "cpu" else device) if on_torch else "cpu"
        start = time.perf_counter()
        with torch_for_cpu(device if on_torch else None):
            plan = minimum_staff(
                spec,
                "resource",
                target_backlog_minutes=THRESHOLD,
                risk=0.05,
                replications=args.plan_replications,
                seed=0,
                device=where,
            )
        synchronize(device)
        seconds = time.perf_counter() - start
        tried = ", ".join(f"{k}: {q:.4f}" for k, q in plan.candidates)
        print(
            f"  {label:<18} min staff {plan.min_staff}, P at min {plan.p_exceed_at_min:.4f}, "
            f"stable {plan.stable}; candidates {tried}; {seconds:.2f} s"
        )
        checks.close(f"plan {label}: min staff", plan.min_staff or -1, 3, 0)

    print(f"\ntotal wall time: {time.perf_counter() - started:.1f} s")
    if checks.failed:
        print(f"FAILED: {', '.join(checks.failed)}")
        return 1
    print("all agreement checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
