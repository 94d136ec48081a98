"""The daily model compiled: one loop per replication over the days, fused (numba).

The same model as :mod:`.numpy` (read that, and :mod:`.reference`, first) for its common case —
no reneging, no measured waits, ``record="summary"``, no pre-drawn inputs, every count drawn by
table inversion — written as one compiled loop over days and replications, the replications
split between the CPU's cores. :func:`supports` says whether a run can take this path;
:func:`flowcap.simulate.daily.run` takes it with ``engine="fused"`` (experimental: measured on
a loaded 2-core machine it is not yet faster than the NumPy engine, so that stays the default).

Random numbers, ``streams``:

- ``"pcg64"`` (default): the very uniforms the NumPy engine draws (the same ``SeedSequence``
  streams per source, index and chunk, drawn a block of days at a time; a stream gives the same
  numbers however its draws are batched) inverted against the same tables, so the result is the
  NumPy engine's, number for number (sums over replications may differ in the last bit where
  minutes are fractional).
- ``"counter"``: a counter-based generator, splitmix64 of ``key(seed, source, index) + counter ×
  golden gamma`` with counter = replication × H + day + 1: every (replication, day) uniform is
  computed on its own, so streams are independent of ``chunk_size`` and of the number of
  threads, replications are independent, and the same seed gives the same numbers; no PCG64
  draws to make. A different sample of the same model (statistically equal to the NumPy engine, not
  number for number; ``tests/test_simulate_daily_fused.py`` tests the distributions).

Either way the streams do not depend on staffing, so candidates in a search see the same
referrals and absence uniforms (common random numbers), as with the NumPy engine.

numba compiles the kernel on first use (a few seconds) and caches it on disk (``cache=True``),
so later processes load it in a fraction of a second.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .numpy import CPU_CHUNK, RunSettings, _Accumulator, _binomial_table, _count_table
from .reference import ABSENCE, ARRIVALS, stream
from .spec import DailyResult, DailySpec

_GUIDE_BITS = 12  # _invert's ``u >> 20`` is 32 - _GUIDE_BITS
#: Days of PCG64 uniforms drawn at once (bounds memory: 4 bytes × replications × days × streams).
BLOCK_DAYS = 32
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def supports(spec: DailySpec, settings: RunSettings) -> bool:
    """Whether this engine runs ``spec`` with ``settings`` (else the NumPy engine does)."""
    if settings.waits or settings.record != "summary" or settings.draws is not None:
        return False
    if any(p is not None for p in spec.patience_days):
        return False
    return _Tables.build(spec) is not None


class _Tables:
    """Every inversion table the run needs, flattened for the kernel."""

    def __init__(self):
        self.index: dict[tuple, int] = {}
        self.thr: list[np.ndarray] = []
        self.guide: list[np.ndarray] = []

    def add(self, key: tuple, table) -> int | None:
        if key not in self.index:
            if table.fallback is not None:
                return None
            self.index[key] = len(self.thr)
            thr = table.thr.astype(np.int64)
            cells = np.arange(1 << _GUIDE_BITS, dtype=np.int64) << (32 - _GUIDE_BITS)
            self.thr.append(thr)
            # thresholds at or below each cell's first uniform (NumPy's guide says -1 where a
            # cell holds a threshold; counting up from here is as quick and never searches)
            self.guide.append(np.searchsorted(thr, cells, side="right").astype(np.int64))
        return self.index[key]

    @classmethod
    def build(cls, spec: DailySpec):
        """(tables, arrival table id (T_n, H), absence table id (R_n, H), -1: no absence), or
        ``None`` when some count needs NumPy's own sampler (tables too large)."""
        tables = cls()
        n_days = spec.horizon_days
        arrival = np.zeros((len(spec.case_types), n_days), dtype=np.int64)
        for k in range(len(spec.case_types)):
            dispersion = float(spec.dispersion[k])
            for t in range(n_days):
                mean = float(spec.mean_cases_per_day[k, t])
                key = ("cases", mean, dispersion)
                made = tables.index.get(key)
                if made is None:
                    made = tables.add(key, _count_table(mean, dispersion))
                if made is None:
                    return None
                arrival[k, t] = made
        absence = np.full((len(spec.resources), n_days), -1, dtype=np.int64)
        for r in range(len(spec.resources)):
            rate = float(spec.absence_rate[r])
            if rate == 0:
                continue
            for t in range(n_days):
                staff = int(spec.staff[r, t])
                key = ("staff", staff, 1.0 - rate)
                made = tables.index.get(key)
                if made is None:
                    made = tables.add(key, _binomial_table(staff, 1.0 - rate))
                if made is None:
                    return None
                absence[r, t] = made
        return tables, arrival, absence

    def arrays(self):
        starts = np.cumsum([0] + [len(t) for t in self.thr])
        return np.concatenate(self.thr), starts.astype(np.int64), np.stack(self.guide)


def stream_keys(seed: int, source: int, count: int) -> np.ndarray:
    """The counter generator's 64-bit key per index of one source (from ``SeedSequence``)."""
    return np.array(
        [
            np.random.SeedSequence(seed, spawn_key=(source, i)).generate_state(1, np.uint64)[0]
            for i in range(count)
        ],
        dtype=np.uint64,
    )


@njit(cache=True, inline="always")
def _splitmix32(key, counter):
    z = key + np.uint64(counter) * _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    z = z ^ (z >> np.uint64(31))
    return np.int64(z >> np.uint64(32))


@njit(cache=True, inline="always")
def _invert(u, tab, thr, starts, guide):
    """``#{n : thr[n] <= u}`` in table ``tab`` (a 32-bit uniform ``u``): start from the count
    at the start of ``u``'s guide cell and step up (thresholds end at 2**32, so this stops)."""
    base = starts[tab]
    value = guide[tab, u >> 20]
    while thr[base + value] <= u:
        value += 1
    return value


@njit(parallel=True, cache=True)
def _kernel(
    t0,
    t1,
    u_arr,
    u_abs,
    keys_arr,
    keys_abs,
    first_rep,
    arr_tab,
    abs_tab,
    thr,
    starts,
    guide,
    staff,
    minutes_per_staff,
    feed_ptr,
    feed_step,
    step_type,
    step_offset,
    step_minutes,
    due_ahead,
    n_pri,
    threshold,
    total,
    cases,
    acc_backlog,
    acc_by_priority,
    acc_activity,
    acc_capacity,
    acc_demand,
    acc_over,
    final,
    days_over,
    fan,
):
    """Days ``t0 .. t1 - 1`` of every replication of a chunk; ``total`` (n, Q) and ``cases``
    (n, ring, T_n) carry the state between calls. ``u_arr`` (T_n, t1 - t0, n) and ``u_abs``
    (R_n, t1 - t0, n): PCG64 uniforms, or empty with ``keys_arr``/``keys_abs`` for the counter
    generator. Sums over replications go to ``acc_*[w]``, one row per worker ``w``."""
    n = total.shape[0]
    n_queues = total.shape[1]
    n_res = staff.shape[0]
    n_types = arr_tab.shape[0]
    n_days = arr_tab.shape[1]
    ring = cases.shape[1]
    n_workers = acc_backlog.shape[0]
    n_fan = fan.shape[1]
    counter = u_arr.shape[1] == 0
    for w in prange(n_workers):
        lo_i = w * n // n_workers
        hi_i = (w + 1) * n // n_workers
        for t in range(t0, t1):  # days outer, replications inner: the arrays stream in order
            slot = t % ring
            day = np.uint64(t + 1)
            for i in range(lo_i, hi_i):
                rep = np.uint64(first_rep + i) * np.uint64(n_days) + day
                for k in range(n_types):
                    if counter:
                        u = _splitmix32(keys_arr[k], rep)
                    else:
                        u = np.int64(u_arr[k, t - t0, i])
                    cases[i, slot, k] = _invert(u, arr_tab[k, t], thr, starts, guide)
                for q in range(n_queues):
                    r = q // n_pri
                    extra = due_ahead[q, t]
                    if extra > 0:
                        total[i, q] += extra
                        acc_demand[w, r, t] += extra
                    for j in range(feed_ptr[q], feed_ptr[q + 1]):
                        s = feed_step[j]
                        if step_offset[s] > t:
                            continue
                        count = cases[i, (t - step_offset[s]) % ring, step_type[s]]
                        work = count * step_minutes[s]
                        total[i, q] += work
                        acc_demand[w, r, t] += work
                for r in range(n_res):
                    present = staff[r, t]
                    tab = abs_tab[r, t]
                    if tab >= 0:
                        if counter:
                            u = _splitmix32(keys_abs[r], rep)
                        else:
                            u = np.int64(u_abs[r, t - t0, i])
                        present = np.float64(_invert(u, tab, thr, starts, guide))
                    cap = present * minutes_per_staff[r, t]
                    left = cap
                    backlog = 0.0
                    for p in range(n_pri):
                        q = r * n_pri + p
                        done = min(left, total[i, q])
                        total[i, q] -= done
                        left -= done
                        backlog += total[i, q]
                        acc_by_priority[w, r, p, t] += total[i, q]
                    acc_capacity[w, r, t] += cap
                    acc_activity[w, r, t] += cap - left
                    acc_backlog[w, r, t] += backlog
                    if backlog > threshold:
                        acc_over[w, r, t] += 1
                        days_over[r, i] += 1
                    if i < n_fan:
                        fan[r, i, t] = backlog
                    if t == n_days - 1:
                        final[r, i] = backlog


def run(spec: DailySpec, replications: int, seed: int, settings: RunSettings) -> DailyResult:
    """Simulate as :func:`.numpy.run` does (same result type); the caller checks
    :func:`supports` first."""
    settings.check(spec, replications)
    built = _Tables.build(spec)
    if built is None:
        raise ValueError("this spec needs the NumPy engine (a count beyond the tables)")
    tables, arr_tab, abs_tab = built
    thr, starts, guide = tables.arrays()
    counter = settings.streams == "counter"
    chunk_size = CPU_CHUNK if settings.chunk_size is None else settings.chunk_size
    if counter:  # the numbers do not depend on the chunking: fewer, larger calls
        chunk_size = max(chunk_size, 1 << 20)
    n_days, n_res, n_pri = spec.horizon_days, len(spec.resources), len(spec.priorities)
    n_types, n_queues = len(spec.case_types), n_res * n_pri
    queue_of = spec.step_resource * n_pri + np.array(
        [spec.priority_index(k) for k in spec.step_type], dtype=np.int64
    )
    order = np.argsort(queue_of, kind="stable")  # steps by queue, ascending within one
    feed_ptr = np.searchsorted(queue_of[order], np.arange(n_queues + 1)).astype(np.int64)
    ring = int(spec.step_offset_days.max(initial=0)) + 1
    due_ahead = np.ascontiguousarray(spec.due_ahead_minutes.reshape(n_queues, n_days))
    threshold = settings.threshold_minutes
    threshold = math.inf if threshold is None else float(threshold)
    staff = np.ascontiguousarray(spec.staff, dtype=np.float64)
    minutes = np.ascontiguousarray(spec.minutes_per_staff, dtype=np.float64)
    step_type = spec.step_type.astype(np.int64)
    offsets = spec.step_offset_days.astype(np.int64)
    step_minutes = spec.step_minutes.astype(np.float64)
    keys_arr = stream_keys(seed, ARRIVALS, n_types) if counter else np.zeros(0, np.uint64)
    keys_abs = stream_keys(seed, ABSENCE, n_res) if counter else np.zeros(0, np.uint64)
    absent = [r for r in range(n_res) if spec.absence_rate[r] > 0]

    acc = _Accumulator(spec, replications, settings)
    n_workers = 8  # enough slices to balance the cores; sums kept per slice
    sums = {
        name: np.zeros((n_workers, n_res, n_days))
        for name in ("backlog", "activity", "capacity", "demand", "over")
    }
    by_priority = np.zeros((n_workers, n_res, n_pri, n_days))
    empty = np.zeros((0, 0, 0), dtype=np.uint32)
    for chunk, lo in enumerate(range(0, replications, chunk_size)):
        n = min(chunk_size, replications - lo)
        total = np.repeat(spec.opening_backlog_minutes.reshape(1, -1), n, axis=0)
        cases = np.zeros((n, ring, n_types), dtype=np.int64)
        final = np.zeros((n_res, n))
        days_over = np.zeros((n_res, n), dtype=np.int64)
        fan = np.zeros((n_res, max(0, min(acc.n_fan, lo + n) - lo), n_days), dtype=np.float32)
        if counter:
            blocks = [(0, n_days, empty, empty)]
        else:
            arrival_rng = [stream(seed, ARRIVALS, k, chunk) for k in range(n_types)]
            absence_rng = {r: stream(seed, ABSENCE, r, chunk) for r in absent}
            blocks = _pcg64_blocks(arrival_rng, absence_rng, n_res, n_days, n)
        for t0, t1, u_arr, u_abs in blocks:
            _kernel(
                t0,
                t1,
                u_arr,
                u_abs,
                keys_arr,
                keys_abs,
                lo,
                arr_tab,
                abs_tab,
                thr,
                starts,
                guide,
                staff,
                minutes,
                feed_ptr,
                order.astype(np.int64),
                step_type,
                offsets,
                step_minutes,
                due_ahead,
                n_pri,
                threshold,
                total,
                cases,
                sums["backlog"],
                by_priority,
                sums["activity"],
                sums["capacity"],
                sums["demand"],
                sums["over"],
                final,
                days_over,
                fan,
            )
        acc.final[:, lo : lo + n] = final
        acc.days_over[:, lo : lo + n] = days_over
        acc.fan[:, lo : lo + fan.shape[1]] = fan
    for name in ("backlog", "activity", "capacity", "demand", "over"):
        setattr(acc, name, sums[name].sum(axis=0))
    acc.backlog_by_priority = by_priority.sum(axis=0)
    return acc.result(n_res, n_pri)


def _pcg64_blocks(arrival_rng, absence_rng, n_res: int, n_days: int, n: int):
    """The NumPy engine's uniforms, ``BLOCK_DAYS`` days at a time: (t0, t1, arrivals
    (T_n, D, n), absence (R_n, D, n); rows of resources without absence left empty)."""
    for t0 in range(0, n_days, BLOCK_DAYS):
        t1 = min(n_days, t0 + BLOCK_DAYS)
        u_arr = np.empty((len(arrival_rng), t1 - t0, n), dtype=np.uint32)
        for k, rng in enumerate(arrival_rng):
            u_arr[k] = rng.integers(0, 1 << 32, size=(t1 - t0, n), dtype=np.uint32)
        u_abs = np.zeros((n_res if absence_rng else 0, t1 - t0, n), dtype=np.uint32)
        for r, rng in absence_rng.items():
            u_abs[r] = rng.integers(0, 1 << 32, size=(t1 - t0, n), dtype=np.uint32)
        yield t0, t1, u_arr, u_abs
