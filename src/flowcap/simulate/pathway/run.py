"""Running the pathway engine: the spec flattened into the kernel's arrays, replications on
threads, and their tallies gathered into a :class:`~flowcap.simulate.pathway.result.PathwayResult`.

The compiled event loop itself is in :mod:`.engine`; this module is plain Python and NumPy.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .engine import (
    _E2E_SCALE,
    _R_BUSY_AREA,
    _R_DUTY_AREA,
    _R_OVER_AREA,
    _SERVED,
    _T_ARRIVED,
    _T_DONE,
    _T_DONE_MINUTES,
    _T_RENEGE_WAIT,
    _T_RENEGED,
    _WAITED,
    CARRY_LEAVES,
    CARRY_SEEN,
    MINUTES_PER_HOUR,
    _replication,
)
from .result import PathwayResult
from .spec import (
    DISTRIBUTIONS,
    HOURS_PER_WEEK,
    CarriedCases,
    PathwaySpec,
    first_contact_steps,
)


def _durations(rows) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Duration table for the kernel: kind (-1: none), parameters, empirical values as CSR.

    Parameters (minutes): exponential (mean,); lognormal (mu, sigma) of the log, from
    sigma^2 = ln(1 + sd^2 / mean^2) and mu = ln(mean) - sigma^2 / 2; gamma (shape, scale) =
    ((mean / sd)^2, sd^2 / mean); fixed (value,)."""
    kind = np.full(len(rows), -1, np.int64)
    par = np.zeros((len(rows), 2))
    ptr = np.zeros(len(rows) + 1, np.int64)
    values = []
    for k, d in enumerate(rows):
        n_values = 0
        if d is not None:
            kind[k] = DISTRIBUTIONS.index(d.dist)
            if d.dist == "lognormal":
                sigma2 = math.log1p((d.sd / d.mean) ** 2)
                par[k] = (math.log(d.mean) - sigma2 / 2, math.sqrt(sigma2))
            elif d.dist == "gamma":
                par[k] = ((d.mean / d.sd) ** 2, d.sd**2 / d.mean)
            elif d.dist == "empirical":
                values.append(d.values)
                n_values = d.values.size
            else:
                par[k, 0] = d.mean
        ptr[k + 1] = ptr[k] + n_values
    flat = np.concatenate(values) if values else np.zeros(1)
    return kind, par, ptr, flat


def _route_cumulative(routing: np.ndarray) -> np.ndarray:
    """Cumulative routing rows; a row that adds up to 1 (within rounding) ends at exactly 1,
    so no case leaves through the rounding gap."""
    cum = np.cumsum(routing, axis=1)
    for i, row in enumerate(routing):
        positive = np.flatnonzero(row > 0)
        if positive.size and abs(cum[i, -1] - 1.0) <= 1e-9:
            cum[i, positive[-1] :] = 1.0
    return cum


def _flatten(spec: PathwaySpec) -> tuple[tuple, int]:
    """The spec as the kernel's arrays, and the number of priority ranks.

    The model tuple: step resources (S,); case types' priority ranks (T,), 0 most urgent;
    arrival rates per minute (T, 168), column 0 the hour of minute 0; arrivals per week (T,);
    durations (service row ``s * T + t``, patience row ``S * T + t``, see :func:`_durations`);
    cumulative routing (T * S, S), row ``t * S + s``; schedules as CSR (pointers (R + 1,),
    minutes, people); each case type's entry step (T,). A delay step's resource is -1."""
    _, rank = np.unique(spec.case_priority, return_inverse=True)
    hours = (spec.start_hour_of_week + np.arange(HOURS_PER_WEEK)) % HOURS_PER_WEEK
    rate = np.ascontiguousarray(spec.arrival_rate_per_hour[:, hours] / MINUTES_PER_HOUR)
    week_total = spec.arrival_rate_per_hour.sum(axis=1)
    rows = [d for row in spec.service for d in row] + list(spec.patience)
    kind, par, ptr, values = _durations(rows)
    sched_ptr = np.concatenate([[0], np.cumsum([t.size for t, _ in spec.schedule])])
    sched_minutes = np.concatenate([t for t, _ in spec.schedule])
    sched_servers = np.concatenate([s for _, s in spec.schedule]).astype(np.int64)
    model = (
        spec.step_resource.astype(np.int64),
        rank.astype(np.int64).ravel(),
        rate,
        week_total,
        kind,
        par,
        ptr,
        values,
        _route_cumulative(spec.routing_by_case_type.reshape(-1, len(spec.steps))),
        sched_ptr.astype(np.int64),
        sched_minutes.astype(np.float64),
        sched_servers,
        spec.entry_step.astype(np.int64),
    )
    return model, int(rank.max()) + 1


def _flatten_carried(spec: PathwaySpec, carried: CarriedCases | None) -> tuple:
    """The carried cases as the kernel's arrays, oldest first (in the order given on a tie),
    the order they join their queues at minute 0: case type, step, minute they began waiting
    and flags (:data:`CARRY_LEAVES`; :data:`CARRY_SEEN` where the step is not one of the case
    type's first contacts, so it cannot give up there)."""
    if carried is None:
        carried = CarriedCases.none()
    carried.check(spec)
    order = np.argsort(carried.waiting_since_minutes, kind="stable")
    case_type, step = carried.case_type[order], carried.step[order]
    first = first_contact_steps(spec)[case_type, step]
    flags = np.where(carried.leaves[order], CARRY_LEAVES, 0) | np.where(first, 0, CARRY_SEEN)
    return (
        np.ascontiguousarray(case_type),
        np.ascontiguousarray(step),
        np.ascontiguousarray(carried.waiting_since_minutes[order]),
        flags.astype(np.int64),
    )


def replication_seeds(seed: int, replications: int) -> np.ndarray:
    """One 32-bit seed per replication, from independent ``SeedSequence(seed)`` children (so
    the first k replications are the same whatever the total)."""
    children = np.random.SeedSequence(seed).spawn(replications)
    return np.array([c.generate_state(1, np.uint32)[0] for c in children], dtype=np.int64)


def simulate_pathway(
    spec: PathwaySpec,
    hours: float,
    warmup_hours: float = 0.0,
    replications: int = 10,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    *,
    threads: int | None = None,
    detail: bool = True,
    carried: CarriedCases | None = None,
) -> PathwayResult:
    """Simulate the pathway ``replications`` times for ``warmup_hours + hours`` hours each.

    Minute 0 is hour ``spec.start_hour_of_week`` of the week; statistics cover the observed
    window [warm-up, warm-up + hours]. A case counts at a step if it joined the step's queue
    in the window and its service started by the end (those still waiting at the end are not
    counted, as in Ciw's records).

    Parameters
    ----------
    spec : PathwaySpec
    hours, warmup_hours : float — observed hours, and hours simulated first and left out
    replications : int — independent runs; seeds from :func:`replication_seeds`
    seed : int — the same seed gives the same result, whatever ``threads``
    progress : callable or None — called with the number of replications finished so far
    threads : int or None — replications run at once (None: one per CPU, at most
        ``replications``); 1 runs them one after another in this thread
    detail : bool — keep every wait (for percentiles by step) and the hourly queue lengths;
        False keeps only counts and sums, for very long runs (percentiles are then None)
    carried : CarriedCases or None — cases already waiting at minute 0 (None: it starts
        empty); their waits count from when they began waiting, whatever the warm-up

    Returns
    -------
    PathwayResult
    """
    if not (math.isfinite(hours) and hours > 0):
        raise ValueError(f"hours must be > 0, not {hours}")
    if not (math.isfinite(warmup_hours) and warmup_hours >= 0):
        raise ValueError(f"warmup_hours must be >= 0, not {warmup_hours}")
    if int(replications) != replications or replications < 1:
        raise ValueError(f"replications must be a whole number >= 1, not {replications}")
    replications = int(replications)
    if threads is None:
        threads = min(replications, os.cpu_count() or 1)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, not {threads}")
    model, n_ranks = _flatten(spec)
    initial = _flatten_carried(spec, carried)
    w0 = warmup_hours * MINUTES_PER_HOUR
    w1 = (warmup_hours + hours) * MINUTES_PER_HOUR
    n_samples = math.ceil(hours) if detail else 0
    seeds = replication_seeds(seed, replications)

    def one(k: int):
        return _replication(int(seeds[k]), w0, w1, n_samples, model, n_ranks, int(detail), initial)

    outputs: list = [None] * replications
    if threads == 1:
        for k in range(replications):
            outputs[k] = one(k)
            if progress is not None:
                progress(k + 1)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(one, k) for k in range(replications)]
            for k, future in enumerate(futures):  # in order: progress counts a finished prefix
                outputs[k] = future.result()
                if progress is not None:
                    progress(k + 1)
    return _gather(spec, outputs, hours, warmup_hours, seeds)


def _gather(spec, outputs, hours, warmup_hours, seeds) -> PathwayResult:
    """Stack the per-replication tuples of :func:`_replication` into a result."""
    (st_i, st_f, w_step, w_type, w_wait, res_f, area, joined, left_waiting, samples, ty_i, ty_f,
     e2e, at_step, service, reneged_s, renege_wait_s,
     before) = zip(*outputs, strict=True)  # fmt: skip
    st_i, res_f, ty_i, ty_f = (np.stack(a) for a in (st_i, res_f, ty_i, ty_f))
    n_waits = [w.size for w in w_wait]
    return PathwayResult(
        steps=spec.steps,
        resources=spec.resources,
        case_types=spec.case_types,
        step_resource=spec.step_resource.copy(),
        hours=float(hours),
        warmup_hours=float(warmup_hours),
        seeds=seeds,
        served=st_i[..., _SERVED],
        waited=st_i[..., _WAITED],
        wait_sum_minutes=np.stack(st_f),
        wait_replication=np.repeat(np.arange(len(outputs), dtype=np.int32), n_waits),
        wait_step=np.concatenate(w_step),
        wait_case_type=np.concatenate(w_type),
        wait_minutes=np.concatenate(w_wait),
        busy_minutes=res_f[..., _R_BUSY_AREA],
        on_duty_minutes=res_f[..., _R_DUTY_AREA],
        overtime_minutes=res_f[..., _R_OVER_AREA],
        queue_case_minutes=np.stack(area),
        joined=np.stack(joined),
        waiting_at_end=np.stack(left_waiting),
        queue_length_hourly=np.stack(samples),
        reneged=ty_i[..., _T_RENEGED],
        reneged_wait_minutes=ty_f[..., _T_RENEGE_WAIT],
        completed=ty_i[..., _T_DONE],
        time_in_pathway_minutes=ty_f[..., _T_DONE_MINUTES],
        time_in_pathway_histogram=np.stack(e2e),
        arrived=ty_i[..., _T_ARRIVED],
        service_sum_minutes=np.stack(service),
        time_at_step_histogram=np.stack(at_step),
        histogram_scale=_E2E_SCALE,
        reneged_at_step=np.stack(reneged_s),
        reneged_wait_at_step_minutes=np.stack(renege_wait_s),
        wait_before_window_minutes=np.stack(before),
    )
