"""The daily backlog model on PyTorch tensors: the NumPy engine's model on a CUDA GPU.

Same model, options and result as :func:`.numpy.run` (read :mod:`.reference` for the model);
each day is a few tensor operations over every replication of a chunk, all on the device, and
nothing comes back to the host until the chunk ends (with reneging or waits, one small read
every eight days, see *Buckets*). It runs on ``device="cpu"`` too (slower than the NumPy
engine there; that is how it is tested without a GPU). This module is loaded only when a
device other than the NumPy CPU path is asked for (:func:`.backends.run`); it needs
``torch`` (``pip install 'flowcap[gpu]'``).

**Random numbers.** One ``torch.Generator`` on the device per source, seeded from
``SeedSequence(seed, spawn_key=(source,))`` with the sources of :mod:`.reference` (arrivals,
absence, patience). Each day draws one float32 uniform per case type and replication for
referrals, and one per resource and replication for absence whenever any resource has absence,
whatever the staffing or the state, so runs with the same seed, replications and chunk size on
the same device see the same referrals and the same absence uniforms: common random numbers
for a plan search or scenarios. Counts come from those uniforms by inversion of the NumPy
engine's tables (``N = #{n : cdf[n] <= u}``, exact to about 2**-24 in probability, and
monotone in staffing as there); a count distribution too wide for a table falls back to
``torch.poisson`` (the negative binomial as a Poisson whose mean is gamma distributed).
Reneging draws ``torch.binomial`` from the patience generator. Results therefore agree with
the NumPy engine in distribution, not number for number; given the same :class:`.spec.Draws`
and no reneging they agree to float rounding.

**Lindley** (no reneging, no waits measured): one float32 total per queue and replication;
a day is: draw and invert the referrals, add each step's minutes, draw and invert absence,
subtract capacity, clamp at zero (by priority: one cumulative sum over the priorities), and
reduce the day's sums over replications into device tensors. About 90 bytes of memory traffic
per replication-day for one resource, so large chunks run at the GPU's memory bandwidth.

**Buckets** (some case type has a patience, or ``waits=True``): every queue's work in float64
by the day it fell due and its segment that day (existing work due first, then each step row
feeding the queue, in row order: the reference's FIFO order). A day is served oldest first
with one cumulative sum over the days still waiting in some replication, and the minutes each
bucket gives up are counted at their wait; the oldest day still waiting is re-read every eight
days (one host sync). Reneging draws for every first-contact bucket in that window at once.
Each segment is one step row, so with waits the occurrences of steps with a target done today
are split met / late against a day computed on the host (``w[t] - w[a] > target``), the steps
with one waiting past it are noted on each working day, and at the end what still waits is
counted by case type and working age, as the NumPy engine counts them.

Memory per replication in a chunk: about ``4 * (ring * T_n + 4 * R_n * P_n + 3 * R_n)`` bytes
(Lindley) or ``24 * R_n * P_n * H * G`` (buckets; ``G``: most step rows feeding one queue,
plus one if the spec has existing work due ahead), plus ``4 * R_n * (P_n + 5) * H`` with
``record="paths"`` (more with waits). The default chunk fills about a quarter of the free GPU
memory (at most 2**23 replications).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .numpy import RunSettings, _Accumulator, _binomial_table, _count_table, _Table
from .reference import ABSENCE, ARRIVALS, PATIENCE, WAITING_EPS
from .spec import DailyResult, DailySpec, Draws

#: Largest default chunk (replications simulated together).
MAX_CHUNK = 1 << 23
#: Days between re-reads of the oldest day still waiting (bucket mode; one host sync each).
FLOOR_EVERY_DAYS = 8
_NEVER = 1 << 40


def run(
    spec: DailySpec,
    replications: int,
    seed: int,
    settings: RunSettings | None = None,
    *,
    device: str = "cuda",
    **keywords: Any,
) -> DailyResult:
    """Simulate ``replications`` runs of ``spec`` on ``device``; see :func:`.numpy.run`.

    The parameters are those of :func:`.numpy.run` (``settings``, or its fields as
    keywords), plus ``device`` (``"cuda"``, ``"cuda:1"``, or ``"cpu"`` for PyTorch on the
    CPU). ``chunk_size`` ``None`` picks it from the device's free memory (it is part of the
    random streams: fix it to repeat a run exactly on another card). The result's arrays are
    NumPy arrays on the host.
    """
    settings = RunSettings.of(settings, **keywords)
    settings.check(spec, replications)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("PyTorch sees no CUDA GPU (torch.cuda.is_available() is False)")
    n_res, n_pri = len(spec.resources), len(spec.priorities)
    acc = _Accumulator(spec, replications, settings)
    with torch.inference_mode():
        engine = _Engine(spec, dev, acc, settings.draws, seed)
        chunk = settings.chunk_size or engine.default_chunk(replications)
        for start in range(0, replications, chunk):
            engine.run_chunk(start, min(chunk, replications - start))
    return acc.result(n_res, n_pri)


def default_chunk(
    spec: DailySpec,
    replications: int,
    device: str,
    *,
    waits: bool = False,
    record: str = "summary",
) -> int:
    """The chunk :func:`run` picks for these options when ``chunk_size`` is ``None``."""
    acc = _Accumulator(spec, 1, RunSettings(record=record, fan_replications=1, waits=waits))
    with torch.inference_mode():
        return _Engine(spec, torch.device(device), acc, None, 0).default_chunk(replications)


def generator(seed: int, source: int, device: torch.device) -> torch.Generator:
    """The generator for one source of randomness on ``device``."""
    state = np.random.SeedSequence(seed, spawn_key=(source,)).generate_state(1, np.uint64)[0]
    gen = torch.Generator(device=device)
    gen.manual_seed(int(state) >> 1)  # manual_seed takes a signed 64-bit number
    return gen


def _thresholds(table) -> np.ndarray | None:
    """A NumPy inversion table's thresholds as float32 probabilities (None: no table)."""
    if table.fallback is not None:
        return None
    thr = (table.thr.astype(np.float64) / 2.0**32).astype(np.float32)
    thr[-1] = 2.0  # the last value takes whatever is left: never compared true
    return thr


class _Tables:
    """Inversion tables for each (row, day), deduplicated and padded, on the device.

    ``bounds(t)``: shape (rows, L), searched with ``right=True`` against uniforms;
    ``fallback[t]``: ``(row, key)`` pairs drawn otherwise (tables too wide)."""

    def __init__(self, keys: np.ndarray, make, device: torch.device):
        n_rows, n_days = keys.shape[:2]
        unique: dict = {}
        index = np.zeros((n_days, n_rows), dtype=np.int64)
        self.fallback: dict[int, list] = {}
        for t in range(n_days):
            for i in range(n_rows):
                key = tuple(keys[i, t])
                if key not in unique:
                    unique[key] = (len(unique), _thresholds(make(*key)))
                index[t, i] = unique[key][0]
                if unique[key][1] is None:
                    self.fallback.setdefault(t, []).append((i, key))
        width = max([len(thr) for _, thr in unique.values() if thr is not None], default=1)
        padded = np.full((len(unique), width), 2.0, dtype=np.float32)
        for row, thr in unique.values():
            if thr is not None:
                padded[row, : len(thr)] = thr
        if n_days * n_rows * width <= 1 << 24:  # small: one (H, rows, L) tensor, no gathers
            self._by_day = torch.as_tensor(padded[index], device=device)
            self._padded = self._index = None
        else:
            self._by_day = None
            self._padded = torch.as_tensor(padded, device=device)
            self._index = torch.as_tensor(index, device=device)

    def bounds(self, t: int) -> torch.Tensor:
        if self._by_day is not None:
            return self._by_day[t]
        return self._padded[self._index[t]]


def _gamma(shape: float, n: int, gen: torch.Generator, device) -> torch.Tensor:
    """Gamma(shape, 1) draws (Marsaglia and Tsang, ACM TOMS 26(3), 2000), float64."""
    boost = shape < 1
    a = shape + 1.0 if boost else shape
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(n, dtype=torch.float64, device=device)
    todo = torch.arange(n, device=device)
    while todo.numel():
        x = torch.randn(todo.numel(), generator=gen, device=device, dtype=torch.float64)
        u = torch.rand(todo.numel(), generator=gen, device=device, dtype=torch.float64)
        v = (1.0 + c * x) ** 3
        ok = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        out[todo[ok]] = d * v[ok]
        todo = todo[~ok]
    if boost:
        u = torch.rand(n, generator=gen, device=device, dtype=torch.float64)
        out *= u ** (1.0 / shape)
    return out


class _Engine:
    """The spec's constants on the device, and one chunk of replications at a time."""

    def __init__(self, spec: DailySpec, dev: torch.device, acc, draws: Draws | None, seed):
        self.spec, self.dev, self.acc, self.draws = spec, dev, acc, draws
        self.n_days, self.n_res, self.n_pri, self.n_types = (
            spec.horizon_days,
            len(spec.resources),
            len(spec.priorities),
            len(spec.case_types),
        )
        h, n_res, n_pri, n_types = self.n_days, self.n_res, self.n_pri, self.n_types
        types, offsets, minutes = spec.step_type, spec.step_offset_days, spec.step_minutes
        self.ring = int(offsets.max(initial=0)) + 1
        queue_of = [
            int(spec.step_resource[s]) * n_pri + spec.priority_index(types[s])
            for s in range(len(types))
        ]
        # each step row: (row, type, resource, priority, segment, offset, minutes); a queue's
        # work falling due on a day is in segments: existing work due (segment 0, only when
        # the spec has any), then each step row feeding the queue, in row order
        has_due = int(spec.due_ahead_minutes.any())
        self.steps = []
        feeds_seen = [has_due] * (n_res * n_pri)
        for s, q in enumerate(queue_of):
            self.steps.append(
                (s, int(types[s]), q // n_pri, q % n_pri, feeds_seen[q], int(offsets[s]))
                + (float(minutes[s]),)
            )
            feeds_seen[q] += 1
        self.n_segments = max(1, *feeds_seen)
        hazard = [spec.renege_hazard(k) for k in range(n_types)]
        self.last_offset = [int(offsets[types == k].max(initial=0)) for k in range(n_types)]
        renege = {
            spec.first_step(k)
            for k in range(n_types)
            if spec.patience_days[k] is not None and spec.first_step(k) is not None
        }
        self.renege_steps = [
            (self.steps[s], torch.as_tensor(hazard[types[s]][::-1].copy(), device=dev))
            for s in sorted(renege)
            if minutes[s] > 0 and hazard[types[s]].any()
        ]
        self.buckets = bool(self.renege_steps) or acc.waits
        self.gens = [generator(seed, source, dev) for source in (ARRIVALS, ABSENCE, PATIENCE)]

        means, dispersion = spec.mean_cases_per_day, spec.dispersion
        keys = np.stack([means, np.broadcast_to(dispersion[:, None], means.shape)], axis=-1)
        self.arrival_tables = _Tables(keys, _count_table, dev)
        self.absence = bool(np.any(spec.absence_rate > 0))
        present = np.broadcast_to((1.0 - spec.absence_rate)[:, None], spec.staff.shape)
        staff_keys = np.stack([spec.staff.astype(np.float64), present], axis=-1)
        self.staff_tables = _Tables(staff_keys, _staff_table, dev) if self.absence else None
        self.minutes_per_staff = spec.minutes_per_staff  # host, for scalar arguments
        self.mps = torch.as_tensor(spec.minutes_per_staff.T.copy(), device=dev)  # (H, R)
        self.cap_const = self.mps * torch.as_tensor(spec.staff.T.copy(), device=dev)
        due = spec.due_ahead_minutes.reshape(n_res * n_pri, h).T  # (H, Q)
        self.due_days = np.flatnonzero(due.any(axis=1)).tolist()
        self.due = torch.as_tensor(due.copy(), device=dev)
        self.opening = spec.opening_backlog_minutes.reshape(-1)

    # --- sizes --------------------------------------------------------------------------
    def bytes_per_replication(self) -> int:
        r, p, h, t = self.n_res, self.n_pri, self.n_days, self.n_types
        paths = self.acc.paths is not None
        if self.buckets:
            per = 24 * r * p * h * self.n_segments + 8 * (self.ring + 1) * t + 64 * r * p
            if paths:
                per += 4 * r * (p + 6) * h + (16 * r * h if self.acc.waits else 0)
        else:
            per = 4 * (self.ring * t + 4 * r * p + 3 * r + t) + 16
            if paths:
                per += 4 * r * (p + 5) * h
        if self.draws is not None:
            per += 4 * (t + r) * h
        return per

    def default_chunk(self, replications: int) -> int:
        if self.dev.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.dev)
            budget = min(free // 4, 24 << 30)
        else:
            budget = 1 << 30
        return int(max(1024, min(MAX_CHUNK, replications, budget // self.bytes_per_replication())))

    # --- random inputs --------------------------------------------------------------------
    def _arrivals(self, t: int, n: int, out: torch.Tensor, drawn) -> None:
        """New cases of each type on day ``t``, into ``out`` (int32, shape (T_n, n))."""
        if drawn is not None:
            out.copy_(drawn[0][t])
            return
        gen = self.gens[ARRIVALS]
        u = torch.rand((self.n_types, n), generator=gen, device=self.dev)
        torch.searchsorted(self.arrival_tables.bounds(t), u, right=True, out_int32=True, out=out)
        for k, (mean, dispersion) in self.arrival_tables.fallback.get(t, ()):
            rate = torch.full((n,), mean, dtype=torch.float64, device=self.dev)
            if not math.isinf(dispersion):
                rate = _gamma(dispersion, n, gen, self.dev) * (mean / dispersion)
            out[k] = torch.poisson(rate, generator=gen).to(torch.int32)

    def _present(self, t: int, n: int, out: torch.Tensor, drawn) -> bool:
        """People present on day ``t`` into ``out`` (int32, (R_n, n)); False: as rostered."""
        if drawn is not None:
            out.copy_(drawn[1][t])
            return True
        if not self.absence:
            return False
        gen = self.gens[ABSENCE]
        u = torch.rand((self.n_res, n), generator=gen, device=self.dev)
        torch.searchsorted(self.staff_tables.bounds(t), u, right=True, out_int32=True, out=out)
        for r, (staff, p) in self.staff_tables.fallback.get(t, ()):
            count = torch.full((n,), staff, dtype=torch.float64, device=self.dev)
            prob = torch.full_like(count, p)
            out[r] = torch.binomial(count, prob, generator=gen).to(torch.int32)
        return True

    def _drawn(self, lo: int, n: int):
        if self.draws is None:
            return None

        def upload(a: np.ndarray) -> torch.Tensor:  # (n, ·, H) -> (H, ·, n), int32
            return torch.as_tensor(
                np.ascontiguousarray(a[lo : lo + n].transpose(2, 1, 0)).astype(np.int32),
                device=self.dev,
            )

        return upload(self.draws.arrivals), upload(self.draws.present_staff)

    def run_chunk(self, lo: int, n: int) -> None:
        if self.buckets:
            _BucketChunk(self, lo, n).run()
        else:
            _LindleyChunk(self, lo, n).run()


def _staff_table(staff: float, present: float) -> _Table:
    """People present out of ``staff`` rostered, each with probability ``present``."""
    staff = int(staff)
    if 0 < present < 1:
        return _binomial_table(staff, present)
    pmf = np.zeros(staff + 1)
    pmf[staff if present >= 1 else 0] = 1.0
    return _Table(pmf)


class _Chunk:
    """What every chunk keeps on the device and hands to the accumulator at the end."""

    def __init__(self, engine: _Engine, lo: int, n: int):
        e, dev = engine, engine.dev
        self.e, self.lo, self.n, self.dev = e, lo, n, dev
        h, r, p = e.n_days, e.n_res, e.n_pri
        acc = e.acc
        self.threshold = acc.threshold
        self.fan_n = max(0, min(acc.n_fan, lo + n) - lo)
        self.fan = torch.zeros((h, r, self.fan_n), dtype=torch.float32, device=dev)
        self.backlog_sums = torch.zeros((h, r * p), dtype=torch.float64, device=dev)
        self.present_sums = torch.zeros((h, r), dtype=torch.int64, device=dev)
        self.over_counts = torch.zeros((h, r), dtype=torch.int64, device=dev)
        self.days_over = torch.zeros((r, n), dtype=torch.int32, device=dev)
        self.present = torch.empty((r, n), dtype=torch.int32, device=dev)
        self.drawn = e._drawn(lo, n)
        self.paths = None
        if acc.paths is not None:
            self.paths = {
                name: torch.zeros((h, r, n), dtype=torch.float32, device=dev)
                for name in ("backlog", "demand", "capacity", "activity", "reneged")
            }
            self.paths["by_priority"] = torch.zeros((h, r, p, n), dtype=torch.float32, device=dev)

    def after_day(self, t: int, backlog: torch.Tensor) -> None:
        """Threshold counts, fan and final backlog for day ``t`` (backlog: (R_n, n))."""
        if self.threshold is not None:
            over = backlog > self.threshold
            torch.sum(over, dim=1, out=self.over_counts[t])
            self.days_over += over
        if self.fan_n:
            self.fan[t].copy_(backlog[:, : self.fan_n])
        if t == self.e.n_days - 1:
            self.final = backlog.to(torch.float64)

    def capacity_sums(self, randomised: list[bool]) -> np.ndarray:
        """Capacity minutes summed over the chunk's replications, (R_n, H)."""
        e = self.e
        present = self.present_sums.cpu().numpy().T.astype(np.float64)
        constant = e.spec.staff * self.n
        present = np.where(np.array(randomised)[None, :], present, constant)
        return present * e.minutes_per_staff

    def hand_over(self, demand: np.ndarray, capacity: np.ndarray, activity: np.ndarray) -> None:
        """Add the chunk's sums to the accumulator, and its per-replication numbers."""
        e, acc, lo, hi = self.e, self.e.acc, self.lo, self.lo + self.n
        r, p, h = e.n_res, e.n_pri, e.n_days
        by_priority = self.backlog_sums.cpu().numpy().reshape(h, r, p).transpose(1, 2, 0)
        acc.backlog_by_priority += by_priority
        acc.backlog += by_priority.sum(axis=1)
        acc.demand += demand
        acc.capacity += capacity
        acc.activity += activity
        if self.threshold is not None:
            acc.over += self.over_counts.cpu().numpy().T
            acc.days_over[:, lo:hi] += self.days_over.cpu().numpy()
        acc.final[:, lo:hi] = self.final.cpu().numpy()
        if self.fan_n:
            acc.fan[:, lo : lo + self.fan_n, :] = self.fan.permute(1, 2, 0).cpu().numpy()
        if self.paths is not None:
            paths = acc.paths

            def host(x: torch.Tensor) -> np.ndarray:  # (H, R, ..., n) -> (R, ..., n, H)
                return np.moveaxis(x.cpu().numpy().astype(np.float64), 0, -1)

            paths.backlog_minutes[:, lo:hi] = host(self.paths["backlog"])
            paths.backlog_minutes_by_priority[:, :, lo:hi] = host(self.paths["by_priority"])
            paths.demand_minutes[:, lo:hi] = host(self.paths["demand"])
            paths.capacity_minutes[:, lo:hi] = host(self.paths["capacity"])
            paths.activity_minutes[:, lo:hi] = host(self.paths["activity"])
            paths.reneged_cases[:, lo:hi] = host(self.paths["reneged"])


class _LindleyChunk(_Chunk):
    """No reneging, no waits: one float32 total per queue and replication."""

    def run(self) -> None:
        e, n, dev = self.e, self.n, self.dev
        h, n_res, n_pri, ring = e.n_days, e.n_res, e.n_pri, e.ring
        cases = torch.zeros((ring, e.n_types, n), dtype=torch.int32, device=dev)
        case_sums = torch.zeros((h, e.n_types), dtype=torch.int64, device=dev)
        total = torch.as_tensor(e.opening, dtype=torch.float32, device=dev)[:, None]
        total = total.repeat(1, n)  # (Q, n)
        by_priority = total.view(n_res, n_pri, n)
        paths, randomised = self.paths, []
        due_days = set(e.due_days)
        for t in range(h):
            today = cases[t % ring]
            e._arrivals(t, n, today, self.drawn)
            torch.sum(today, dim=1, out=case_sums[t])
            if paths is not None:
                before = by_priority.sum(1)
            if t in due_days:
                total += e.due[t][:, None]
            for _, k, r, p, _, offset, minutes in e.steps:
                if offset <= t and minutes > 0:
                    total[r * n_pri + p].add_(cases[(t - offset) % ring, k], alpha=minutes)
            randomised.append(e._present(t, n, self.present, self.drawn))
            if randomised[-1]:
                torch.sum(self.present, dim=1, out=self.present_sums[t])
            if paths is not None:
                arrived = by_priority.sum(1)
                paths["demand"][t] = arrived - before
            if n_pri == 1:
                for r in range(n_res):
                    if randomised[-1]:
                        mps = float(e.minutes_per_staff[r, t])
                        total[r].sub_(self.present[r], alpha=mps)
                    else:
                        total[r].sub_(float(e.spec.staff[r, t] * e.minutes_per_staff[r, t]))
                total.clamp_min_(0.0)
                backlog = total
            else:
                cap = self._capacity(t, randomised[-1])
                cumulative = torch.cumsum(by_priority, dim=1)
                cumulative.sub_(cap[:, None]).clamp_min_(0.0)
                torch.minimum(by_priority, cumulative, out=by_priority)
                backlog = by_priority.sum(1)
            torch.sum(total, dim=1, dtype=torch.float64, out=self.backlog_sums[t])
            self.after_day(t, backlog)
            if paths is not None:
                cap = self._capacity(t, randomised[-1]).expand(n_res, n)
                paths["capacity"][t] = cap
                paths["activity"][t] = arrived - backlog
                paths["backlog"][t] = backlog
                paths["by_priority"][t] = by_priority
        self._finish(case_sums, randomised)

    def _capacity(self, t: int, randomised: bool) -> torch.Tensor:
        e = self.e
        if randomised:
            return (self.present * e.mps[t][:, None]).float()
        return e.cap_const[t][:, None].float()

    def _finish(self, case_sums: torch.Tensor, randomised: list[bool]) -> None:
        e, n = self.e, self.n
        h, n_res, n_pri = e.n_days, e.n_res, e.n_pri
        cases = case_sums.cpu().numpy().astype(np.float64)  # (H, T)
        demand = np.zeros((n_res, h))
        for _, k, r, _, _, offset, minutes in e.steps:
            if offset < h:
                demand[r, offset:] += cases[: h - offset, k] * minutes
        demand += e.spec.due_ahead_minutes.sum(axis=1) * n
        capacity = self.capacity_sums(randomised)
        # activity by conservation: what waited, plus what fell due, less what still waits
        waiting = self.backlog_sums.cpu().numpy().reshape(h, n_res, n_pri).sum(axis=2).T
        opening = e.spec.opening_backlog_minutes.sum(axis=1)[:, None] * n
        before = np.concatenate([opening, waiting[:, :-1]], axis=1)
        activity = np.maximum(before + demand - waiting, 0.0)
        self.hand_over(demand, capacity, activity)


class _BucketChunk(_Chunk):
    """Reneging or waits: every queue's work by due day and segment, float64, FIFO."""

    def run(self) -> None:
        e, n, dev = self.e, self.n, self.dev
        h, n_res, n_pri, ring, n_seg = e.n_days, e.n_res, e.n_pri, e.ring, e.n_segments
        f64, acc = torch.float64, e.acc
        waits = acc.waits
        # work[r, p, a, g, i]: minutes that fell due on day a in segment g, still waiting
        work = torch.zeros((n_res, n_pri, h, n_seg, n), dtype=f64, device=dev)
        opening = torch.as_tensor(e.opening, dtype=f64, device=dev).reshape(n_res, n_pri, 1)
        opening = opening.repeat(1, 1, n)
        cases = torch.zeros((ring, e.n_types, n), dtype=f64, device=dev)
        drawn_cases = torch.empty((e.n_types, n), dtype=torch.int32, device=dev)
        steps = e.steps
        step_r = torch.tensor([s[2] for s in steps], device=dev, dtype=torch.int64)
        step_p = torch.tensor([s[3] for s in steps], device=dev, dtype=torch.int64)
        step_g = torch.tensor([s[4] for s in steps], device=dev, dtype=torch.int64)
        step_k = torch.tensor([s[1] for s in steps], device=dev, dtype=torch.int64)
        step_minutes = torch.tensor([s[6] for s in steps], device=dev, dtype=f64)[:, None]
        slot_of = np.array([[(t - s[5]) % ring for s in steps] for t in range(h)], np.int64)
        slot_of = torch.as_tensor(slot_of.reshape(h, len(steps)), device=dev)
        demand_sums = torch.zeros((h, n_res), dtype=f64, device=dev)
        activity_sums = torch.zeros((h, n_res), dtype=f64, device=dev)
        reneged = torch.zeros((n_res, n), dtype=f64, device=dev)
        due_days = set(e.due_days)
        due = e.due.reshape(h, n_res, n_pri).to(f64)
        self._setup_waits()
        paths, randomised, floor = self.paths, [], 0
        for t in range(h):
            e._arrivals(t, n, drawn_cases, self.drawn)
            cases[t % ring].copy_(drawn_cases)
            if steps:
                arriving = cases[slot_of[t], step_k] * step_minutes  # (S, n)
                work[:, :, t][step_r, step_p, step_g] = arriving
                demand_sums[t].index_add_(0, step_r, arriving.sum(1))
            if t in due_days:
                work[:, :, t, 0] = due[t][:, :, None]
                demand_sums[t] += due[t].sum(1) * n
            if paths is not None:
                today = work[:, :, t].sum(dim=(1, 2))
                paths["demand"][t] = today
            window = work[:, :, floor : t + 1]  # (R, P, A, G, n): days still waiting somewhere
            gone_today = self._renege(t, floor, window, cases, reneged)
            if paths is not None:
                paths["reneged"][t] = gone_today
            randomised.append(e._present(t, n, self.present, self.drawn))
            if randomised[-1]:
                torch.sum(self.present, dim=1, out=self.present_sums[t])
                cap = self.present * e.mps[t].to(f64)[:, None]
            else:
                cap = e.cap_const[t].to(f64)[:, None]
            flat = window.flatten(2, 3)  # (R, P, A*G, n), oldest first
            cumulative = torch.cumsum(flat, dim=2)
            cumulative += opening[:, :, None]
            opening_cum = opening
            if n_pri > 1:
                per_priority = cumulative[:, :, -1]
                ahead = torch.cumsum(per_priority, dim=1) - per_priority
                cumulative += ahead[:, :, None]
                opening_cum = opening + ahead
            waiting_before = cumulative[:, -1, -1]  # (R, n)
            done = torch.minimum(cap, waiting_before)
            torch.sum(done, dim=1, out=activity_sums[t])
            cumulative.sub_(cap[:, None, None]).clamp_min_(0.0)
            left = torch.minimum(flat, cumulative)
            if waits:
                self._served(t, floor, (flat - left).view(window.shape))
            flat.copy_(left)
            opening = torch.minimum(opening, (opening_cum - cap[:, None]).clamp_min_(0.0))
            by_priority = window.sum(dim=(2, 3)) + opening  # (R, P, n)
            backlog = by_priority.sum(1)
            torch.sum(by_priority, dim=2, out=self.backlog_sums[t].view(n_res, n_pri))
            if waits:
                self._first_contacts_waiting(t, floor, window)
            self.after_day(t, backlog)
            if paths is not None:
                paths["capacity"][t] = cap.expand(n_res, n)
                paths["activity"][t] = done
                paths["backlog"][t] = backlog
                paths["by_priority"][t] = by_priority
            if t % FLOOR_EVERY_DAYS == FLOOR_EVERY_DAYS - 1:
                floor = _oldest_waiting(work, floor, t)
        if waits:
            self._still_waiting(work)
        self.reneged = reneged
        self._finish(demand_sums, activity_sums, randomised)

    def _renege(self, t, floor, window, cases, reneged) -> torch.Tensor | None:
        """Step 3: first contacts still waiting give up (reference.py), over the window."""
        e = self.e
        gone_today = None
        for (_, k, r, p, g, offset, minutes), hazard in e.renege_steps:
            waiting = window[r, p, :, g]  # (A, n), a = floor .. t
            chance = hazard[e.n_days - t + floor :][:, None].expand_as(waiting)
            unstarted = torch.floor(waiting / minutes + 1e-9)
            gone = torch.binomial(unstarted, chance.contiguous(), generator=e.gens[PATIENCE])
            gone = torch.where(chance >= 1, unstarted, gone)
            waiting.sub_(gone * minutes).clamp_min_(0.0)
            by_replication = gone.sum(0)
            reneged[r] += by_replication
            if self.paths is not None:
                if gone_today is None:
                    gone_today = torch.zeros((e.n_res, self.n), dtype=gone.dtype, device=self.dev)
                gone_today[r] += by_replication
            # later steps of cases that gave up, not yet due, are cancelled
            first = max(floor, offset, t - e.last_offset[k] + offset + 1)
            for a0, a1, slot in _ring_runs(first - offset, t - offset, e.ring):
                cases[slot : slot + a1 - a0, k] -= gone[a0 + offset - floor : a1 + offset - floor]
        if gone_today is None and self.paths is not None:
            return 0.0
        return gone_today

    def _setup_waits(self) -> None:
        e, acc, dev = self.e, self.e.acc, self.dev
        if not acc.waits:
            return
        h, n_res, n_pri, n_seg = e.n_days, e.n_res, e.n_pri, e.n_segments
        contact = np.zeros((n_res, n_pri, n_seg))
        referred = np.full((n_res, n_pri, h, n_seg), _NEVER, dtype=np.int64)
        late_from = np.full((n_res, n_pri, h, n_seg), _NEVER, dtype=np.int64)
        days = np.arange(h)
        for s, _, r, p, g, offset, minutes in e.steps:
            if not acc.contact_row[s]:
                continue
            contact[r, p, g] = 1.0 / minutes
            ref = days - offset
            valid = ref >= 0
            referred[r, p, valid, g] = ref[valid]
            if acc.target is not None:
                counted = acc.working_days_to[r]
                # The first day the count reaches the target: past_contact_target's rule
                # (elapsed >= target), as a day to compare with on the device.
                need = counted[ref[valid]] + acc.target
                late_from[r, p, valid, g] = np.searchsorted(counted, need, side="left")
        self._setup_step_targets()
        self.contact_weight = torch.as_tensor(contact, device=dev)[:, :, None, :, None]
        self.is_contact = self.contact_weight > 0
        self.referred = torch.as_tensor(referred, device=dev)[..., None]
        self.late_from = torch.as_tensor(late_from, device=dev)[..., None]
        self.working = torch.as_tensor(acc.working.T.copy(), device=dev)[:, :, None]  # (H,R,1)
        self.served_by_wait = torch.zeros((n_res, h), dtype=torch.float64, device=dev)
        self.contacts_by_wait = torch.zeros((n_res, h), dtype=torch.float64, device=dev)
        self.days_over_target = torch.zeros((n_res, self.n), dtype=torch.int32, device=dev)
        self.waiting_by_age = torch.zeros((n_res, h + 1), dtype=torch.float64, device=dev)
        self.contacts_waiting_by_age = torch.zeros((n_res, h + 1), dtype=torch.float64, device=dev)
        if self.paths is not None:
            for name in ("served_by_wait", "contacts_by_wait"):
                self.paths[name] = torch.zeros((n_res, h, self.n), dtype=torch.float32, device=dev)
            for name in ("waiting_by_age", "contacts_waiting_by_age"):
                self.paths[name] = torch.zeros(
                    (n_res, h + 1, self.n), dtype=torch.float32, device=dev
                )
            self.paths["oldest"] = torch.full((h, n_res, self.n), -1, dtype=torch.int64, device=dev)

    def _setup_step_targets(self) -> None:
        """Each segment's step (pieces per minute, case type, step target) and, for steps
        with a target, the first day an occurrence due on day ``a`` is past it while
        waiting (``w[t] - w[a] >= target``) and once done (``> target``): the rule of
        :func:`flowcap.targets.past_contact_target` as days to compare with on the device."""
        e, acc, dev = self.e, self.e.acc, self.dev
        h, n_res, n_pri, n_seg = e.n_days, e.n_res, e.n_pri, e.n_segments
        pieces = np.zeros((n_res, n_pri, n_seg))
        self.segment_rows = []  # (row, type, r, p, g) of every segment holding a step row
        past_waiting = np.full((n_res, n_pri, h, n_seg), _NEVER, dtype=np.int64)
        late_done = np.full((n_res, n_pri, h, n_seg), _NEVER, dtype=np.int64)
        targets = e.spec.step_target_working_days
        for s, k, r, p, g, _, minutes in e.steps:
            if minutes <= 0:
                continue
            pieces[r, p, g] = 1.0 / minutes
            self.segment_rows.append((s, k, r, p, g))
            if acc.target_of[s] >= 0:
                counted = acc.working_days_to[r]
                for a in range(h):
                    past_waiting[r, p, a, g] = np.searchsorted(counted, counted[a] + targets[s])
                    late_done[r, p, a, g] = np.searchsorted(counted, counted[a] + targets[s] + 1)
        self.piece_weight = torch.as_tensor(pieces, device=dev)[:, :, None, :, None]
        self.has_targets = bool(self.segment_rows) and acc.step_outcomes.shape[0] > 0
        if not self.has_targets:
            return
        self.past_waiting = torch.as_tensor(past_waiting, device=dev)[..., None]
        self.late_done = torch.as_tensor(late_done, device=dev)[..., None]
        target_seg = np.zeros((n_res, n_pri, n_seg), dtype=bool)
        self.target_masks = []  # per target step: its segments, (R, P, G) bool, and resource
        for g_step, (_, _, r_step, _) in enumerate(e.spec.target_steps):
            mask = np.zeros((n_res, n_pri, n_seg), dtype=bool)
            for s, _, r, p, g in self.segment_rows:
                if acc.target_of[s] == g_step:
                    mask[r, p, g] = True
            target_seg |= mask
            self.target_masks.append((torch.as_tensor(mask, device=dev), r_step))
        self.target_weight = torch.as_tensor(np.where(target_seg, pieces, 0.0), device=dev)
        self.target_weight = self.target_weight[:, :, None, :, None]
        # pieces met / done late / still waiting past the target, per segment (and per rep)
        self.step_done = torch.zeros((3, n_res, n_pri, n_seg), dtype=torch.float64, device=dev)
        self.days_over_step = torch.zeros(
            (len(self.target_masks), self.n), dtype=torch.int32, device=dev
        )
        if self.paths is not None:
            self.paths["step_done"] = torch.zeros(
                (3, n_res, n_pri, n_seg, self.n), dtype=torch.float64, device=dev
            )

    def _step_targets_served(self, t: int, floor: int, taken: torch.Tensor) -> None:
        """Occurrences of steps with a target done today, within it or late."""
        pieces = taken * self.target_weight  # (R, P, A, G, n)
        late = self.late_done[:, :, floor : t + 1] <= t
        late_pieces = torch.where(late, pieces, 0.0)
        met_pieces = pieces - late_pieces
        self.step_done[0] += met_pieces.sum(dim=(2, 4))
        self.step_done[1] += late_pieces.sum(dim=(2, 4))
        if self.paths is not None:
            self.paths["step_done"][0] += met_pieces.sum(dim=2)
            self.paths["step_done"][1] += late_pieces.sum(dim=2)

    def _steps_past_target(self, t: int, floor: int, window: torch.Tensor) -> None:
        """On each resource's working days: the steps with an occurrence waiting past it."""
        waiting = (window > WAITING_EPS) & (self.past_waiting[:, :, floor : t + 1] <= t)
        late = waiting.any(dim=2)  # (R, P, G, n)
        for g, (mask, r) in enumerate(self.target_masks):
            if self.e.acc.working[r, t]:  # on the host: no sync
                self.days_over_step[g] += (late & mask[..., None]).flatten(0, 2).any(dim=0)

    def _served(self, t: int, floor: int, taken: torch.Tensor) -> None:
        """Step 6: minutes done today by wait ``t - a`` (taken: (R, P, A, G, n))."""
        if self.has_targets:
            self._step_targets_served(t, floor, taken)
        flipped = taken.sum(dim=(1, 3)).flip(1)  # (R, A, n), wait 0 first
        width = flipped.shape[1]
        self.served_by_wait[:, :width] += flipped.sum(2)
        contacts = (taken * self.contact_weight).sum(dim=(1, 3)).flip(1)
        self.contacts_by_wait[:, :width] += contacts.sum(2)
        if self.paths is not None:
            self.paths["served_by_wait"][:, :width] += flipped
            self.paths["contacts_by_wait"][:, :width] += contacts

    def _still_waiting(self, work: torch.Tensor) -> None:
        """After the last day: work still waiting at the age it has reached, ``H - a`` for
        work due on day ``a`` (work: (R, P, H, G, n); the opening backlog is kept apart)."""
        by_age = work.sum(dim=(1, 3)).flip(1)  # (R, H, n): due on the last day (age 1) first
        contacts = (work * self.contact_weight).sum(dim=(1, 3)).flip(1)
        self.waiting_by_age[:, 1:] += by_age.sum(2)
        self.contacts_waiting_by_age[:, 1:] += contacts.sum(2)
        if self.paths is not None:
            self.paths["waiting_by_age"][:, 1:] += by_age
            self.paths["contacts_waiting_by_age"][:, 1:] += contacts
        self._waiting_list(work)

    def _waiting_list(self, work: torch.Tensor) -> None:
        """After the last day: pieces of work still waiting by case type and working age,
        and occurrences still waiting past their step's target (work: (R, P, H, G, n))."""
        acc, h = self.e.acc, self.e.n_days
        pieces = work * self.piece_weight
        if self.has_targets:
            past = self.past_waiting <= h - 1
            late = torch.where(past, pieces * (self.target_weight > 0), 0.0)
            self.step_done[2] += late.sum(dim=(2, 4))
            if self.paths is not None:
                self.paths["step_done"][2] += late.sum(dim=2)
        by_segment = pieces.sum(dim=4).cpu().numpy()  # (R, P, H, G)
        per_rep = pieces.cpu().numpy() if self.paths is not None else None
        lo, hi = self.lo, self.lo + self.n
        for _, k, r, p, g in self.segment_rows:
            counted = acc.working_days_to[r]
            age = counted[-1] - counted  # working age of work due on each day, (H,)
            np.add.at(acc.by_working_age[r, k], age, by_segment[r, p, :, g])
            if per_rep is not None:
                target = acc.paths.contacts_waiting_by_working_age[r, k, lo:hi]  # (n, H + 1)
                for a in np.flatnonzero(per_rep[r, p, :, g].any(axis=1)):
                    target[:, age[a]] += per_rep[r, p, a, g]

    def _first_contacts_waiting(self, t: int, floor: int, window: torch.Tensor) -> None:
        """Days past the target, and (with paths) the oldest referral still waiting."""
        if self.has_targets:
            self._steps_past_target(t, floor, window)
        waiting = (window > WAITING_EPS) & self.is_contact  # (R, P, A, G, n)
        if self.e.acc.target is not None:
            late = waiting & (self.late_from[:, :, floor : t + 1] <= t)
            over = late.flatten(1, 3).any(1) & self.working[t]
            self.days_over_target += over
        if self.paths is not None:
            ref = torch.where(waiting, self.referred[:, :, floor : t + 1], _NEVER)
            oldest = ref.flatten(1, 3).amin(1)
            self.paths["oldest"][t] = torch.where(oldest == _NEVER, -1, oldest)

    def _finish(self, demand_sums, activity_sums, randomised) -> None:
        acc, lo, hi = self.e.acc, self.lo, self.lo + self.n
        acc.reneged[:, lo:hi] += self.reneged.cpu().numpy()
        if acc.waits:
            acc.served_by_wait += self.served_by_wait.cpu().numpy()
            acc.contacts_by_wait += self.contacts_by_wait.cpu().numpy()
            acc.waiting_by_age += self.waiting_by_age.cpu().numpy()
            acc.contacts_waiting_by_age += self.contacts_waiting_by_age.cpu().numpy()
            if acc.days_over_target is not None:
                acc.days_over_target[:, lo:hi] += self.days_over_target.cpu().numpy()
            if self.has_targets:
                done = self.step_done.cpu().numpy()  # (3, R, P, G)
                per_rep = self.paths["step_done"].cpu().numpy() if self.paths else None
                for s, _, r, p, g in self.segment_rows:
                    step = acc.target_of[s]
                    if step < 0:
                        continue
                    acc.step_outcomes[step] += done[:, r, p, g]
                    if per_rep is not None:
                        acc.paths.step_target_outcomes[step, :, lo:hi] += per_rep[:, r, p, g]
                acc.days_over_step[:, lo:hi] += self.days_over_step.cpu().numpy()
            if self.paths is not None:
                paths = acc.paths
                for name, field in (
                    ("served_by_wait", "served_minutes_by_wait"),
                    ("contacts_by_wait", "first_contacts_by_wait"),
                    ("waiting_by_age", "waiting_minutes_by_age"),
                    ("contacts_waiting_by_age", "first_contacts_waiting_by_age"),
                ):
                    values = self.paths[name].permute(0, 2, 1).cpu().numpy()
                    getattr(paths, field)[:, lo:hi] = values.astype(np.float64)
                oldest = self.paths["oldest"].permute(1, 2, 0).cpu().numpy()
                paths.oldest_first_contact_referral[:, lo:hi] = oldest
        demand = demand_sums.cpu().numpy().T
        activity = activity_sums.cpu().numpy().T
        self.hand_over(demand, self.capacity_sums(randomised), activity)


def _ring_runs(first: int, last: int, ring: int):
    """Referral days ``first .. last`` as runs ``(a0, a1, slot)`` contiguous in the ring."""
    a = first
    while a <= last:
        slot = a % ring
        a1 = min(last + 1, a + ring - slot)
        yield a, a1, slot
        a = a1


def _oldest_waiting(work: torch.Tensor, floor: int, t: int) -> int:
    """The first day from ``floor`` with work still waiting in some replication (or t + 1)."""
    live = (work[:, :, floor : t + 1] != 0).any(dim=4).any(dim=3).any(dim=1).any(dim=0)
    live = live.to(torch.int32)
    first = int(torch.argmax(live))
    return floor + first if int(live[first]) else t + 1
