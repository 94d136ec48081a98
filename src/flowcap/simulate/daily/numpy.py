"""The daily backlog model vectorised over replications: thousands of possible years at once.

Same model as :mod:`.reference` (read that first); here every quantity for a day is an array of
shape ``(n_reps,)`` and a Python loop runs over the ``H`` days. Queues without reneging are
one number per replication (the Lindley recursion per priority, ``B = max(0, B + D - C)`` taken
in priority order); queues that hold first contacts of case types with a patience are kept as
buckets by due day (FIFO, as in the reference), pruned once served in every replication.

Random numbers: arrivals and staff present are drawn by inversion of the cumulative
distribution against 32-bit uniforms (a 4096-cell guide table, exact to 2**-32 in probability),
which is several times cheaper than ``Generator.poisson`` and couples scenarios monotonically
(more staff → at least as many present, in every replication). Streams are
``SeedSequence(seed, spawn_key=(source, index, chunk))``: source 0 = arrivals per case type,
1 = absence per resource, 2 = patience per case type. So two specs run with the same seed,
replications and ``chunk_size`` see the same referrals whatever their staffing (common random
numbers); a resource without absence uses no random numbers at all.

Waits (``waits=True``): every queue is kept as buckets by due day, each step row in buckets of
its own (so what still waits at the end is known by case type, and each step's target can be
judged), and the minutes each bucket gives up to work on a day are counted at that day's wait
(:class:`~.spec.DailyPaths` defines what is counted).

Memory: about ``8 * R_n * (P_n + 6) + 4 * T_n * (max_offset + 1)`` bytes per replication in a
chunk (default 65,536 replications), ``24 * R_n`` bytes per replication kept for the result
(``32 * R_n`` with a first-contact target), ``4 * R_n * H`` bytes per fan-chart replication (at
most ``fan_replications``), and with ``record="paths"`` ``8 * R_n * (P_n + 5) * H`` bytes per
replication (``8 * R_n * (P_n + 8) * H`` with waits, plus ``8 * R_n * T_n * (H + 1)`` for the
waiting list by case type). Buckets add ``8`` bytes per replication per (day, step) still
waiting somewhere.

Speed (2-core CPU, the one-resource model of benchmarks/bench_simulate_daily.py): about 1e8
replication-days/s without reneging; a queue with reneging costs a few array passes per bucket
still waiting in some replication, about 6-8 times slower (exponential patience, mean 30 days).
Measuring waits keeps every queue in buckets: about 1.5 times slower on that model. Keeping
each step apart (one bucket per step and due day; a step's occurrences due on one day share
one) so that the waiting list is known by case type and step targets can be judged cost the
bundled example's 90 days about 1.1-1.2 times the time of waits with plain work merged.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from flowcap.targets import past_contact_target

from .reference import ABSENCE, ARRIVALS, PATIENCE, WAITING_EPS, first_contact_rows, stream
from .spec import PERCENTILES, DailyPaths, DailyResult, DailySpec, Draws, histogram_mean

#: Replications simulated together by default (``chunk_size`` None).
CPU_CHUNK = 65_536
_GUIDE_BITS = 12
_MAX_TABLE = 32_767  # beyond this many values, fall back to NumPy's own samplers


class _Table:
    """Inversion sampler for a distribution on 0, 1, 2, …: ``N = #{n : thr[n] <= u}``."""

    def __init__(self, pmf: np.ndarray | None, fallback=None):
        self.fallback = fallback
        if pmf is None:
            return
        cdf = np.cumsum(pmf)
        cdf /= cdf[-1]
        self.thr = np.minimum(np.floor(cdf * 2.0**32), 2.0**32).astype(np.uint64)
        self.thr[-1] = 2**32
        width = 1 << (32 - _GUIDE_BITS)
        starts = np.arange(1 << _GUIDE_BITS, dtype=np.uint64) * np.uint64(width)
        lo = np.searchsorted(self.thr, starts, side="right")
        hi = np.searchsorted(self.thr, starts + np.uint64(width - 1), side="right")
        self.guide = np.where(lo == hi, lo, -1).astype(np.int16)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.fallback is not None:
            return self.fallback(rng, n)
        u = rng.integers(0, 1 << 32, size=n, dtype=np.uint32)
        value = self.guide.take(u >> np.uint32(32 - _GUIDE_BITS))
        unsure = np.flatnonzero(value < 0)
        if unsure.size:
            value[unsure] = np.searchsorted(self.thr, u[unsure], side="right")
        return value


def _count_table(mean: float, dispersion: float) -> _Table:
    """Poisson(mean) or negative binomial (size ``dispersion``) by inversion."""
    if mean <= 0:
        return _Table(np.array([1.0]))
    poisson = math.isinf(dispersion)
    var = mean if poisson else mean + mean**2 / dispersion
    top = int(mean + 15 * math.sqrt(var) + 40)
    while top <= _MAX_TABLE:
        n = np.arange(1, top + 1)
        if poisson:
            log_pmf = -mean + np.concatenate([[0.0], np.cumsum(np.log(mean / n))])
        else:
            p = dispersion / (dispersion + mean)
            steps = np.log((n - 1 + dispersion) / n) + math.log1p(-p)
            log_pmf = dispersion * math.log(p) + np.concatenate([[0.0], np.cumsum(steps)])
        pmf = np.exp(log_pmf)
        if 1.0 - pmf.sum() < 2.0**-40:
            return _Table(pmf)
        top *= 2
    if poisson:
        return _Table(None, lambda rng, n: rng.poisson(mean, n))
    p = dispersion / (dispersion + mean)
    return _Table(None, lambda rng, n: rng.negative_binomial(dispersion, p, n))


def _binomial_table(n_trials: int, p: float) -> _Table:
    if n_trials > _MAX_TABLE:
        return _Table(None, lambda rng, n: rng.binomial(n_trials, p, n))
    k = np.arange(n_trials + 1)
    log_choose = np.concatenate([[0.0], np.cumsum(np.log((n_trials - k[1:] + 1) / k[1:]))])
    with np.errstate(divide="ignore"):
        log_pmf = log_choose + k * np.log(p) + (n_trials - k) * np.log1p(-p)
    return _Table(np.exp(log_pmf))


class _Randomness:
    """All random inputs of one chunk of replications, stream by stream."""

    def __init__(self, spec: DailySpec, seed: int, chunk: int, start: int, n: int, draws):
        self.spec, self.start, self.n, self.draws = spec, start, n, draws
        n_types, n_res = len(spec.case_types), len(spec.resources)
        self.arrival_rng = [stream(seed, ARRIVALS, k, chunk) for k in range(n_types)]
        self.absence_rng = [stream(seed, ABSENCE, r, chunk) for r in range(n_res)]
        self.patience_rng = [stream(seed, PATIENCE, k, chunk) for k in range(n_types)]
        self._tables: dict[tuple, _Table] = {}

    def _table(self, key, make) -> _Table:
        if key not in self._tables:
            self._tables[key] = make(*key[1:])
        return self._tables[key]

    def arrivals(self, k: int, t: int) -> np.ndarray:
        if self.draws is not None:
            return self.draws.arrivals[self.start : self.start + self.n, k, t]
        key = ("cases", float(self.spec.mean_cases_per_day[k, t]), float(self.spec.dispersion[k]))
        return self._table(key, _count_table).sample(self.arrival_rng[k], self.n)

    def present(self, r: int, t: int) -> np.ndarray | int:
        if self.draws is not None:
            return self.draws.present_staff[self.start : self.start + self.n, r, t]
        staff, absence = int(self.spec.staff[r, t]), float(self.spec.absence_rate[r])
        if absence == 0:
            return staff
        table = self._table(("staff", staff, 1.0 - absence), _binomial_table)
        return table.sample(self.absence_rng[r], self.n)

    def gave_up(self, k: int, unstarted: np.ndarray, h: float) -> np.ndarray:
        if h >= 1:
            return unstarted
        gone = np.zeros_like(unstarted)
        waiting = np.flatnonzero(unstarted)  # draw only where someone waits: much cheaper
        gone[waiting] = self.patience_rng[k].binomial(unstarted[waiting].astype(np.int64), h)
        return gone


def draw_inputs(
    spec: DailySpec, replications: int, seed: int, *, chunk_size: int = CPU_CHUNK
) -> Draws:
    """The arrivals and staff present that :func:`run` draws for this seed (same chunking)."""
    n_days = spec.horizon_days
    arrivals = np.zeros((replications, len(spec.case_types), n_days), dtype=np.int64)
    present = np.zeros((replications, len(spec.resources), n_days), dtype=np.int64)
    for chunk, start in enumerate(range(0, replications, chunk_size)):
        n = min(chunk_size, replications - start)
        rand = _Randomness(spec, seed, chunk, start, n, None)
        for t in range(n_days):
            for k in range(len(spec.case_types)):
                arrivals[start : start + n, k, t] = rand.arrivals(k, t)
            for r in range(len(spec.resources)):
                present[start : start + n, r, t] = rand.present(r, t)
    return Draws(arrivals, present)


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """How a daily run is simulated and what it keeps, the same for every engine: the
    keywords of :func:`flowcap.simulate.daily.run` (besides ``device``) and their defaults.

    Attributes
    ----------
    threshold_minutes : backlog level for ``p_backlog_over_threshold`` and days over threshold
    record : ``"summary"`` (means, percentiles, final backlogs) or ``"paths"`` (also every
        replication's daily record in ``result.paths``)
    draws : pre-drawn arrivals and staff present, shape (replications, ·, H), instead of random
    chunk_size : replications simulated together (bounds memory; part of the random streams);
        ``None``: the engine picks it (:data:`CPU_CHUNK` here; on a GPU, as much as fits)
    fan_replications : the backlog percentiles by day come from the first this-many replications
        (exact when ``replications`` is not larger; with 10,000 the p95 is within about ±0.4
        percentage points of probability); everything else uses all replications
    waits : also measure how long work waits (``mean_wait_days``, ``served_minutes_by_wait``,
        ``first_contacts_by_wait`` and, with paths, their per-replication records), the
        waiting list at the end by case type and the spec's step targets; slower, and the
        same numbers otherwise (the random numbers do not change)
    target_working_days : first-contact target in working days, for ``days_over_target``
        (needs ``waits``)
    engine : on the CPU, ``"numpy"`` (this module, the readable reference) or ``"fused"``
        (the compiled kernel of :mod:`.fused`, experimental: not yet faster on a loaded 2-core
        machine; a ValueError where it cannot run the spec and settings)
    streams : ``"pcg64"`` (the random numbers this module draws: every CPU engine gives the
        same result) or ``"counter"`` (the kernel's counter-based splitmix64 generator:
        faster, statistically the same model, different numbers; the kernel only)
    """

    threshold_minutes: float | None = None
    record: str = "summary"
    draws: Draws | None = None
    chunk_size: int | None = None
    fan_replications: int = 10_000
    waits: bool = False
    target_working_days: float | None = None
    engine: str = "numpy"
    streams: str = "pcg64"

    @classmethod
    def of(cls, settings: RunSettings | None = None, **keywords: Any) -> RunSettings:
        """``settings`` (``None``: the defaults) with the fields named in ``keywords``
        replaced; an unknown keyword is a TypeError."""
        if settings is None:
            return cls(**keywords)
        return dataclasses.replace(settings, **keywords)

    def check(self, spec: DailySpec, replications: int) -> None:
        """ValueError for settings neither engine can run ``replications`` of ``spec`` with."""
        if self.record not in ("summary", "paths"):
            raise ValueError(f"record must be 'summary' or 'paths', got {self.record!r}")
        if self.engine not in ("numpy", "fused"):
            raise ValueError(f"engine must be 'numpy' or 'fused', got {self.engine!r}")
        if self.streams not in ("pcg64", "counter"):
            raise ValueError(f"streams must be 'pcg64' or 'counter', got {self.streams!r}")
        if self.streams == "counter" and self.engine == "numpy":
            raise ValueError("streams='counter' is the compiled kernel's: not with engine='numpy'")
        if self.target_working_days is not None and not self.waits:
            raise ValueError("days over a first-contact target need waits=True")
        # The callers check the user's replications (flowcap.checks); this guards the engine.
        if replications < 1 or (self.chunk_size is not None and self.chunk_size < 1):
            raise ValueError("replications and chunk_size must be >= 1")
        if self.draws is not None:
            n_types, n_res, n_days = len(spec.case_types), len(spec.resources), spec.horizon_days
            if self.draws.arrivals.shape != (replications, n_types, n_days) or (
                self.draws.present_staff.shape != (replications, n_res, n_days)
            ):
                raise ValueError(
                    "draws must have shapes (replications, T_n, H), (replications, R_n, H)"
                )


def run(
    spec: DailySpec,
    replications: int,
    seed: int,
    settings: RunSettings | None = None,
    **keywords: Any,
) -> DailyResult:
    """Simulate ``replications`` independent runs of ``spec``; see :class:`DailyResult`.

    ``settings`` (:class:`RunSettings`), or its fields as keywords (``record="paths"``,
    ``waits=True``, …), which replace those of ``settings``.
    """
    settings = RunSettings.of(settings, **keywords)
    settings.check(spec, replications)
    chunk_size = CPU_CHUNK if settings.chunk_size is None else settings.chunk_size
    n_res, n_pri = len(spec.resources), len(spec.priorities)
    acc = _Accumulator(spec, replications, settings)
    for chunk, start in enumerate(range(0, replications, chunk_size)):
        n = min(chunk_size, replications - start)
        _run_chunk(spec, _Randomness(spec, seed, chunk, start, n, settings.draws), acc)
    return acc.result(n_res, n_pri)


class _Accumulator:
    """Sums over replications by day, and the per-replication numbers a result keeps."""

    def __init__(self, spec: DailySpec, replications: int, settings: RunSettings):
        threshold, record = settings.threshold_minutes, settings.record
        fan_replications = settings.fan_replications
        n_days, n_res, n_pri = spec.horizon_days, len(spec.resources), len(spec.priorities)
        self.spec, self.n, self.threshold, self.record = spec, replications, threshold, record
        self.backlog, self.activity, self.capacity, self.demand, self.over = (
            np.zeros((n_res, n_days)) for _ in range(5)
        )
        self.backlog_by_priority = np.zeros((n_res, n_pri, n_days))
        self.final = np.zeros((n_res, replications))
        self.days_over = np.zeros((n_res, replications), dtype=np.int64)
        self.reneged = np.zeros((n_res, replications))
        self.n_fan = min(replications, fan_replications)
        self.fan = np.zeros((n_res, self.n_fan, n_days), dtype=np.float32)
        self.paths = None
        if record == "paths":
            shape = (n_res, replications, n_days)
            self.paths = DailyPaths(
                backlog_minutes=np.zeros(shape),
                backlog_minutes_by_priority=np.zeros((n_res, n_pri, replications, n_days)),
                demand_minutes=np.zeros(shape),
                capacity_minutes=np.zeros(shape),
                activity_minutes=np.zeros(shape),
                reneged_cases=np.zeros(shape),
            )

        self.waits = False
        self.target = None
        if settings.waits:
            self.measure_waits(settings.target_working_days)

    def measure_waits(self, target: float | None) -> None:
        """Count minutes done by wait, and days past the first-contact ``target``."""
        spec, n_days, n_res = self.spec, self.spec.horizon_days, len(self.spec.resources)
        self.waits, self.target = True, target
        self.served_by_wait = np.zeros((n_res, n_days))
        self.contacts_by_wait = np.zeros((n_res, n_days))
        self.waiting_by_age = np.zeros((n_res, n_days + 1))
        self.contacts_waiting_by_age = np.zeros((n_res, n_days + 1))
        self.contact_row = first_contact_rows(spec)
        working = spec.minutes_per_staff > 0
        self.working = working
        self.working_days_to = np.cumsum(working, axis=1)  # working days in days 0..t
        self.days_over_target = None
        if target is not None:
            self.days_over_target = np.zeros((n_res, self.n), dtype=np.int64)
        n_types, n_targets = len(spec.case_types), len(spec.target_steps)
        self.target_of = spec.step_target_index
        self.by_working_age = np.zeros((n_res, n_types, n_days + 1))
        self.step_outcomes = np.zeros((n_targets, 3))
        self.days_over_step = np.zeros((n_targets, self.n), dtype=np.int64)
        if self.paths is not None:
            shape = (n_res, self.n, n_days)
            self.paths = dataclasses.replace(
                self.paths,
                served_minutes_by_wait=np.zeros(shape),
                first_contacts_by_wait=np.zeros(shape),
                oldest_first_contact_referral=np.full((n_res, self.n, n_days), -1, np.int64),
                waiting_minutes_by_age=np.zeros((n_res, self.n, n_days + 1)),
                first_contacts_waiting_by_age=np.zeros((n_res, self.n, n_days + 1)),
                contacts_waiting_by_working_age=np.zeros((n_res, n_types, self.n, n_days + 1)),
                step_target_outcomes=np.zeros((n_targets, 3, self.n)),
                days_over_step_target=self.days_over_step,
            )

    def result(self, n_res: int, n_pri: int) -> DailyResult:
        n = self.n
        mean = {
            name: getattr(self, name) / n
            for name in ("backlog", "activity", "capacity", "demand", "backlog_by_priority")
        }
        with np.errstate(invalid="ignore", divide="ignore"):
            little = mean["backlog"].mean(axis=1) / mean["demand"].mean(axis=1)
        wait = np.full(n_res, np.nan)
        if self.waits:
            wait = np.asarray(histogram_mean(self.served_by_wait), dtype=np.float64)
        p_over = self.over / n if self.threshold is not None else np.full_like(self.over, np.nan)
        pct = np.percentile(self.fan, PERCENTILES, axis=1).transpose(1, 0, 2).astype(np.float64)
        return DailyResult(
            resources=self.spec.resources,
            replications=n,
            threshold_minutes=self.threshold,
            backlog_percentiles=pct,
            backlog_mean=mean["backlog"],
            backlog_mean_by_priority=mean["backlog_by_priority"],
            p_backlog_over_threshold=p_over,
            final_backlog=self.final,
            activity_mean=mean["activity"],
            capacity_mean=mean["capacity"],
            demand_mean=mean["demand"],
            days_over_threshold=self.days_over,
            reneged_cases=self.reneged,
            mean_wait_days=wait,
            paths=self.paths,
            little_wait_days=little,
            served_minutes_by_wait=self.served_by_wait if self.waits else None,
            first_contacts_by_wait=self.contacts_by_wait if self.waits else None,
            days_over_target=self.days_over_target if self.waits else None,
            target_working_days=None if self.target is None else float(self.target),
            waiting_minutes_by_age=self.waiting_by_age if self.waits else None,
            first_contacts_waiting_by_age=self.contacts_waiting_by_age if self.waits else None,
            **self._step_fields(),
        )

    def _step_fields(self) -> dict[str, Any]:
        """The result's waiting list by case type and step-target fields (empty without
        waits), with the spec's names."""
        spec = self.spec
        if not self.waits:
            return {"case_types": spec.case_types}
        return {
            "case_types": spec.case_types,
            "contacts_waiting_by_working_age": self.by_working_age,
            "target_steps": tuple(
                (spec.case_types[k], number, spec.resources[r], target)
                for k, number, r, target in spec.target_steps
            ),
            "step_target_outcomes": self.step_outcomes,
            "days_over_step_target": self.days_over_step,
        }


def _run_chunk(spec: DailySpec, rand: _Randomness, acc: _Accumulator) -> None:
    n, lo, hi = rand.n, rand.start, rand.start + rand.n
    n_days, n_res, n_pri, n_types = (
        spec.horizon_days,
        len(spec.resources),
        len(spec.priorities),
        len(spec.case_types),
    )
    types, res, offsets, minutes = (
        spec.step_type,
        spec.step_resource,
        spec.step_offset_days,
        spec.step_minutes,
    )
    ring = int(offsets.max(initial=0)) + 1
    last_offset = [int(offsets[types == k].max(initial=0)) for k in range(n_types)]
    hazard = [spec.renege_hazard(k) for k in range(n_types)]
    renege_rows = {
        spec.first_step(k)
        for k in range(n_types)
        if spec.patience_days[k] is not None and spec.first_step(k) is not None
    }
    renege_rows = {s for s in renege_rows if minutes[s] > 0 and hazard[types[s]].any()}
    queue_of = [res[s] * n_pri + spec.priority_index(types[s]) for s in range(len(types))]
    feeds = [[s for s in range(len(types)) if queue_of[s] == q] for q in range(n_res * n_pri)]
    bucketed = {queue_of[s] for s in renege_rows}
    # rows kept in buckets of their own: first contacts that may give up, or all when measured
    own_rows = set(renege_rows)
    # rows whose buckets may merge with the one just ahead (same due day): -1 = plain work
    merge_as = np.full(len(types), -1, dtype=np.int64)
    if acc.waits:  # every step apart: what waits is known by case type and step
        bucketed = set(range(n_res * n_pri))
        special = own_rows | set(np.flatnonzero(acc.contact_row).tolist())
        own_rows = set(range(len(types)))
        # a step's occurrences falling due on one day (cases referred on different days)
        # share a bucket, unless first contacts (counted by referral day) or giving up
        for s in range(len(types)):
            same = np.flatnonzero((types == types[s]) & (spec.step_number == spec.step_number[s]))
            merge_as[s] = -2 - s if s in special else -2 - min(set(same.tolist()) - special)
    # Lindley queues: one total per replication; bucketed queues: [due_day, row, minutes] FIFO
    total = np.repeat(spec.opening_backlog_minutes.reshape(-1, 1), n, axis=1)
    buckets: dict[int, list] = {q: [] for q in bucketed}
    for q in bucketed:
        if total[q, 0] > 0:
            buckets[q].append([-1, -1, total[q].copy()])
    cases = np.zeros((ring, n_types, n), dtype=np.int64)
    work, left, cap, over = np.empty(n), np.empty(n), np.empty(n), np.empty(n, dtype=bool)
    due_ahead = spec.due_ahead_minutes.reshape(n_res * n_pri, n_days)
    thr = acc.threshold
    paths, fan_n = acc.paths, max(0, min(acc.n_fan, hi) - lo)
    reneged_today = np.zeros((n_res, n)) if paths is not None else None

    for t in range(n_days):
        for k in range(n_types):
            cases[t % ring, k] = rand.arrivals(k, t)
        demand_today = [np.zeros(n) for _ in range(n_res)] if paths is not None else None
        for q in range(n_res * n_pri):
            r = q // n_pri
            extra = due_ahead[q, t]
            if extra > 0:
                acc.demand[r, t] += extra * n
                if q in buckets:
                    _push(buckets[q], t, -1, np.full(n, extra), acc.waits, merge_as)
                else:
                    total[q] += extra
                if demand_today is not None:
                    demand_today[r] += extra
            for s in feeds[q]:
                if offsets[s] > t:
                    continue
                count = cases[(t - offsets[s]) % ring, types[s]]
                acc.demand[r, t] += count.sum() * minutes[s]
                np.multiply(count, minutes[s], out=work)
                if q in buckets:
                    row = s if s in own_rows else -1
                    _push(buckets[q], t, row, work.copy(), acc.waits, merge_as)
                else:
                    total[q] += work
                if demand_today is not None:
                    demand_today[r] += work
        if reneged_today is not None:
            reneged_today[:] = 0
        for q, items in buckets.items():
            for due_day, s, waiting in items:
                if s not in renege_rows:
                    continue
                k = types[s]
                h = hazard[k][t - due_day]
                if h <= 0:
                    continue
                unstarted = np.floor(waiting / minutes[s] + 1e-9)
                gone = rand.gave_up(k, unstarted, h)
                waiting -= gone * minutes[s]
                np.maximum(waiting, 0.0, out=waiting)
                acc.reneged[q // n_pri, lo:hi] += gone
                if reneged_today is not None:
                    reneged_today[q // n_pri] += gone
                referred = due_day - offsets[s]
                if referred + last_offset[k] > t:
                    cases[referred % ring, k] -= gone.astype(np.int64)
        for r in range(n_res):
            present = rand.present(r, t)
            np.multiply(present, spec.minutes_per_staff[r, t], out=cap)
            left[:] = cap
            log = _WaitLog(acc, r, t, lo, hi, minutes) if acc.waits else None
            for q in range(r * n_pri, (r + 1) * n_pri):
                if q in buckets:
                    total[q] = _serve_fifo(buckets[q], left, work, log)
                else:
                    np.minimum(left, total[q], out=work)
                    total[q] -= work
                    left -= work
            backlog = total[r * n_pri] if n_pri == 1 else total[r * n_pri : (r + 1) * n_pri].sum(0)
            acc.capacity[r, t] += cap.sum()
            acc.activity[r, t] += cap.sum() - left.sum()
            acc.backlog[r, t] += backlog.sum()
            acc.backlog_by_priority[r, :, t] += total[r * n_pri : (r + 1) * n_pri].sum(axis=1)
            if thr is not None:
                np.greater(backlog, thr, out=over)
                acc.over[r, t] += np.count_nonzero(over)
                acc.days_over[r, lo:hi] += over
            if log is not None:
                queues = [buckets[q] for q in range(r * n_pri, (r + 1) * n_pri)]
                log.first_contacts_waiting(queues)
                if acc.step_outcomes.shape[0]:
                    log.steps_past_target(queues)
            if fan_n:
                acc.fan[r, lo : lo + fan_n, t] = backlog[:fan_n]
            if t == n_days - 1:
                acc.final[r, lo:hi] = backlog
            if paths is not None:
                paths.backlog_minutes[r, lo:hi, t] = backlog
                paths.backlog_minutes_by_priority[r, :, lo:hi, t] = total[
                    r * n_pri : (r + 1) * n_pri
                ]
                paths.demand_minutes[r, lo:hi, t] = demand_today[r]
                paths.capacity_minutes[r, lo:hi, t] = cap
                paths.activity_minutes[r, lo:hi, t] = cap - left
                paths.reneged_cases[r, lo:hi, t] = reneged_today[r]
    if acc.waits:
        _count_still_waiting(acc, buckets, n_pri, lo, hi, minutes)


def _count_still_waiting(acc, buckets: dict[int, list], n_pri: int, lo: int, hi: int, minutes):
    """Work still waiting after the last day, at the age it has reached (``H - a``), and by
    case type at its age in working days (step targets: past the target or not)."""
    n_days, paths = acc.spec.horizon_days, acc.paths
    types, targets = acc.spec.step_type, acc.spec.step_target_working_days
    for q, items in buckets.items():
        r = q // n_pri
        for due_day, row, waiting in items:
            if due_day < 0:
                continue  # the opening backlog: its wait began before the horizon
            age = n_days - due_day
            acc.waiting_by_age[r, age] += waiting.sum()
            contact = row >= 0 and acc.contact_row[row]
            if contact:
                acc.contacts_waiting_by_age[r, age] += waiting.sum() / minutes[row]
            if paths is not None:
                paths.waiting_minutes_by_age[r, lo:hi, age] += waiting
                if contact:
                    paths.first_contacts_waiting_by_age[r, lo:hi, age] += waiting / minutes[row]
            if row < 0 or minutes[row] <= 0:
                continue  # existing cases' work: no case type
            worked = acc.working_days_to[r]
            working_age, k, g = worked[-1] - worked[due_day], types[row], acc.target_of[row]
            pieces = waiting / minutes[row]
            acc.by_working_age[r, k, working_age] += pieces.sum()
            late = g >= 0 and past_contact_target(working_age, targets[row])
            if late:
                acc.step_outcomes[g, 2] += pieces.sum()
            if paths is not None:
                paths.contacts_waiting_by_working_age[r, k, lo:hi, working_age] += pieces
                if late:
                    paths.step_target_outcomes[g, 2, lo:hi] += pieces


def _push(
    items: list, t: int, row: int, waiting: np.ndarray, same_day: bool, merge_as: np.ndarray
) -> None:
    """Add work that fell due today; plain work joins plain work just ahead of it (only if
    that fell due today too, with ``same_day``: waits are counted by due day), and so does
    an occurrence of a step the one just ahead of it is (``merge_as`` equal, not -1): one
    step's minutes, target and case type, so what is counted stays the same."""
    if items and (not same_day or items[-1][0] == t):
        ahead = items[-1][1]
        if (row < 0 and ahead < 0) or (
            row >= 0 and ahead >= 0 and merge_as[row] < -1 and merge_as[row] == merge_as[ahead]
        ):
            items[-1][2] += waiting
            return
    items.append([t, row, waiting])


class _WaitLog:
    """Counts, for one resource on day ``t``, the minutes each bucket gives up to work by wait,
    and which first contacts still wait at the end of the day (see :class:`.spec.DailyPaths`)."""

    def __init__(self, acc: _Accumulator, r: int, t: int, lo: int, hi: int, minutes):
        self.acc, self.r, self.t, self.lo, self.hi, self.minutes = acc, r, t, lo, hi, minutes
        self.paths = acc.paths

    def served(self, due_day: int, row: int, take: np.ndarray) -> None:
        if due_day < 0:  # the opening backlog: its wait began before the horizon
            return
        acc, r, wait = self.acc, self.r, self.t - due_day
        done = take.sum()
        acc.served_by_wait[r, wait] += done
        contact = row >= 0 and acc.contact_row[row]
        if contact:
            acc.contacts_by_wait[r, wait] += done / self.minutes[row]
        if self.paths is not None:
            self.paths.served_minutes_by_wait[r, self.lo : self.hi, wait] += take
            if contact:
                self.paths.first_contacts_by_wait[r, self.lo : self.hi, wait] += (
                    take / self.minutes[row]
                )
        if row >= 0 and acc.target_of[row] >= 0 and done > 0:
            g, counted = acc.target_of[row], acc.working_days_to[r]
            elapsed = counted[self.t] - counted[due_day]
            met = elapsed <= acc.spec.step_target_working_days[row]  # not yet past it
            acc.step_outcomes[g, 0 if met else 1] += done / self.minutes[row]
            if self.paths is not None:
                self.paths.step_target_outcomes[g, 0 if met else 1, self.lo : self.hi] += (
                    take / self.minutes[row]
                )

    def steps_past_target(self, queues: list[list]) -> None:
        """On a working day: the steps with an occurrence still waiting past its target."""
        acc, r, t = self.acc, self.r, self.t
        if not acc.working[r, t]:
            return
        counted, targets = acc.working_days_to[r], acc.spec.step_target_working_days
        over: dict[int, np.ndarray] = {}
        for items in queues:
            for due_day, row, waiting in items:
                if row < 0 or due_day < 0 or acc.target_of[row] < 0:
                    continue
                if past_contact_target(counted[t] - counted[due_day], targets[row]):
                    g = acc.target_of[row]
                    now = waiting > WAITING_EPS
                    over[g] = now if g not in over else over[g] | now
        for g, late in over.items():
            acc.days_over_step[g, self.lo : self.hi] += late

    def first_contacts_waiting(self, queues: list[list]) -> None:
        """Days past the target, and (with paths) the oldest referral still waiting."""
        acc, r, t = self.acc, self.r, self.t
        offsets = acc.spec.step_offset_days
        rows = [
            (due_day - offsets[row], waiting)
            for items in queues
            for due_day, row, waiting in items
            if row >= 0 and acc.contact_row[row]
        ]
        if not rows:
            return
        if acc.days_over_target is not None and acc.working[r, t]:
            counted = acc.working_days_to[r]
            late = [
                w
                for referred, w in rows
                if past_contact_target(counted[t] - counted[referred], acc.target)
            ]
            if late:
                over = np.zeros(self.hi - self.lo, dtype=bool)
                for waiting in late:
                    over |= waiting > WAITING_EPS
                acc.days_over_target[r, self.lo : self.hi] += over
        if self.paths is not None:
            oldest = np.full(self.hi - self.lo, np.iinfo(np.int64).max)
            for referred, waiting in rows:
                np.minimum(oldest, np.where(waiting > WAITING_EPS, referred, oldest), out=oldest)
            oldest[oldest == np.iinfo(np.int64).max] = -1
            self.paths.oldest_first_contact_referral[r, self.lo : self.hi, t] = oldest


def _serve_fifo(
    items: list, left: np.ndarray, take: np.ndarray, log: _WaitLog | None = None
) -> np.ndarray:
    """Work through the buckets oldest first with ``left`` minutes; returns what still waits."""
    for due_day, row, waiting in items:
        np.minimum(left, waiting, out=take)
        waiting -= take
        left -= take
        if log is not None:
            log.served(due_day, row, take)
    while items and not items[0][2].any():
        items.pop(0)
    remaining = np.zeros_like(left)
    for _, _, waiting in items:
        remaining += waiting
    return remaining
