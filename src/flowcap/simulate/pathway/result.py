"""What the pathway simulation found: waits at each step per case type, how busy each team
was, queue lengths hour by hour, who gave up, and the time from referral to leaving.

Everything is kept per replication (the leading axis), so confidence intervals come from the
spread between independent replications; :meth:`PathwayResult.summary` gives the headline
numbers as plain JSON-ready data. Minutes throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats


def _number(value) -> float | None:
    """``value`` as a float, or None where it is undefined (NaN or infinite)."""
    value = float(value)
    return value if math.isfinite(value) else None


def mean_ci95(values: np.ndarray) -> tuple[float, list[float] | None]:
    """Mean of per-replication values (NaN ones left out) and the 95% t-interval,
    mean ± t(0.975, n - 1) · sd / √n; the interval is None with fewer than 2 values."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, None
    mean = float(values.mean())
    if values.size < 2:
        return mean, None
    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    return mean, [mean - half, mean + half]


def _ratio(numerator, denominator) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


@dataclass(frozen=True)
class PathwayResult:
    """Per-replication statistics of the observed window (shapes: ``n`` replications, ``S``
    steps, ``R`` resources, ``T`` case types, ``H`` hours observed, ``N`` counted waits).

    A case counts at a step if it joined the step's queue after the warm-up (or was carried
    in there, waiting when the simulation began: its wait then counts from when it began
    waiting) and its service started by the end of the window.

    served, waited : int (n, S, T) — counted cases, and those of them who waited at all
    wait_sum_minutes : (n, S, T) — their waits added up
    wait_replication, wait_step, wait_case_type : int (N,); wait_minutes : (N,) — every
        counted wait, as parallel arrays (for percentiles)
    busy_minutes, on_duty_minutes : (n, R) — person-minutes serving while on duty, and on
        duty, in the window (utilisation = busy / on duty)
    overtime_minutes : (n, R) — person-minutes spent finishing a case beyond the number on
        duty (after a shift ended: service is never cut short)
    queue_case_minutes : (n, S) — time integral of the number waiting at each step
    joined : int (n, S) — cases that joined each step's queue in the window
    waiting_at_end : int (n, S) — cases still waiting at each step at the end of the window
    queue_length_hourly : int (n, S, H) — cases waiting at the start of each observed hour
    reneged : int (n, T) — cases that joined their first contact's queue in the window and
        gave up waiting
    reneged_wait_minutes : (n, T) — how long those waited before giving up
    completed : int (n, T) — cases that arrived in the window and left the pathway served
    time_in_pathway_minutes : (n, T) — their times from arrival to leaving, added up
    time_in_pathway_histogram : int (n, T, B) — the same times counted in log-spaced bins:
        bin ``b`` holds times with ``floor(log1p(minutes) * histogram_scale) == b`` (the last
        bin also everything longer), for percentiles
    arrived : int (n, T) — cases that arrived in the window
    service_sum_minutes : (n, S, T) — the service times of the counted cases, added up
    time_at_step_histogram : int (n, S, B) — each counted case's time at the step (its wait
        and its service), in the same bins as ``time_in_pathway_histogram``
    seeds : int (n,) — the seed of each replication
    reneged_at_step : int (n, S) or None — the reneged cases by the step they gave up at
    reneged_wait_at_step_minutes : (n, S) or None — their waits there, added up
    (None in results made before delays and entry steps: then all gave up at step 0)
    wait_before_window_minutes : (n, S) or None — the part before the window of the counted
        waits (served or given up) that began before it: cases carried in, whose waits count
        from when they began waiting (None in results made before cases could be carried in)

    A delay step (``step_resource`` -1) counts each case as served with a wait of 0 and the
    delay as its service; it has no utilisation.
    """

    steps: tuple[str, ...]
    resources: tuple[str, ...]
    case_types: tuple[str, ...]
    step_resource: np.ndarray
    hours: float
    warmup_hours: float
    seeds: np.ndarray
    served: np.ndarray
    waited: np.ndarray
    wait_sum_minutes: np.ndarray
    wait_replication: np.ndarray = field(repr=False)
    wait_step: np.ndarray = field(repr=False)
    wait_case_type: np.ndarray = field(repr=False)
    wait_minutes: np.ndarray = field(repr=False)
    busy_minutes: np.ndarray = field(repr=False)
    on_duty_minutes: np.ndarray = field(repr=False)
    overtime_minutes: np.ndarray = field(repr=False)
    queue_case_minutes: np.ndarray = field(repr=False)
    joined: np.ndarray = field(repr=False)
    waiting_at_end: np.ndarray = field(repr=False)
    queue_length_hourly: np.ndarray = field(repr=False)
    reneged: np.ndarray = field(repr=False)
    reneged_wait_minutes: np.ndarray = field(repr=False)
    completed: np.ndarray = field(repr=False)
    time_in_pathway_minutes: np.ndarray = field(repr=False)
    time_in_pathway_histogram: np.ndarray = field(repr=False)
    arrived: np.ndarray = field(repr=False)
    service_sum_minutes: np.ndarray = field(repr=False)
    time_at_step_histogram: np.ndarray = field(repr=False)
    histogram_scale: float = 1.0
    reneged_at_step: np.ndarray | None = field(default=None, repr=False)
    reneged_wait_at_step_minutes: np.ndarray | None = field(default=None, repr=False)
    wait_before_window_minutes: np.ndarray | None = field(default=None, repr=False)

    @property
    def replications(self) -> int:
        return int(self.seeds.size)

    @property
    def window_minutes(self) -> float:
        return self.hours * 60.0

    # ------------------------------------------------------------ per replication
    def mean_wait_minutes(self, case_type: str | None = None) -> np.ndarray:
        """(n, S): each replication's mean counted wait per step (NaN where nobody counted),
        over all case types or one."""
        if case_type is None:
            return _ratio(self.wait_sum_minutes.sum(axis=2), self.served.sum(axis=2))
        t = self.case_types.index(case_type)
        return _ratio(self.wait_sum_minutes[:, :, t], self.served[:, :, t])

    def end_to_end_minutes(self) -> np.ndarray:
        """(n,): each replication's mean time from arrival to leaving the pathway, for cases
        that arrived in the window and left served before its end (reneged ones apart)."""
        return _ratio(self.time_in_pathway_minutes.sum(axis=1), self.completed.sum(axis=1))

    def end_to_end_percentile(self, q: float, case_type: str | None = None) -> float | None:
        """The ``q``-th percentile (0-100) of the time from arrival to leaving (minutes), over
        all replications, from the log-spaced histogram (the bin's geometric middle, so
        within 0.4% of the exact value); None when no case completed."""
        counts = self.time_in_pathway_histogram.sum(axis=0)
        counts = (
            counts.sum(axis=0) if case_type is None else counts[self.case_types.index(case_type)]
        )
        return self._histogram_percentile(counts, q)

    def time_at_step_minutes(self) -> np.ndarray:
        """(n, S): each replication's mean time at each step, waiting and being served."""
        total = self.wait_sum_minutes.sum(axis=2) + self.service_sum_minutes.sum(axis=2)
        return _ratio(total, self.served.sum(axis=2))

    def time_at_step_percentile(self, step: str | int, q: float) -> float | None:
        """The ``q``-th percentile (0-100) of the time at a step (wait and service, minutes),
        over all replications, from the histogram; None when nobody was counted there."""
        s = step if isinstance(step, int) else self.steps.index(step)
        return self._histogram_percentile(self.time_at_step_histogram[:, s].sum(axis=0), q)

    def unfinished_share(self) -> float | None:
        """Share of the cases that arrived in the window and had neither left nor given up by
        its end: the times end to end leave them out, so a large share means they are
        understated (run longer)."""
        arrived = self.arrived.sum()
        if arrived == 0:
            return None
        return float(max(arrived - self.completed.sum() - self.reneged.sum(), 0) / arrived)

    def _reneged_at(self, s: int) -> int:
        if self.reneged_at_step is not None:
            return int(self.reneged_at_step[:, s].sum())
        return int(self.reneged.sum()) if s == 0 else 0

    def _reneged_wait_at(self, s: int) -> float:
        if self.reneged_wait_at_step_minutes is not None:
            return float(self.reneged_wait_at_step_minutes[:, s].sum())
        return float(self.reneged_wait_minutes.sum()) if s == 0 else 0.0

    def _histogram_percentile(self, counts: np.ndarray, q: float) -> float | None:
        total = counts.sum()
        if total == 0:
            return None
        b = int(np.searchsorted(np.cumsum(counts), q / 100 * total))
        return float(np.expm1((b + 0.5) / self.histogram_scale))

    # ------------------------------------------------------------ pooled
    def utilisation(self) -> np.ndarray:
        """(R,): person-minutes serving / person-minutes on duty, over all replications
        (NaN for a resource never on duty in the window)."""
        return _ratio(self.busy_minutes.sum(axis=0), self.on_duty_minutes.sum(axis=0))

    def waits(self, step: str | int, case_type: str | None = None) -> np.ndarray:
        """Every counted wait (minutes) at a step, over all replications."""
        s = step if isinstance(step, int) else self.steps.index(step)
        keep = self.wait_step == s
        if case_type is not None:
            keep &= self.wait_case_type == self.case_types.index(case_type)
        return self.wait_minutes[keep]

    def queue_length_mean(self) -> np.ndarray:
        """(S, H): cases waiting at each step at the start of each observed hour, averaged
        over replications (queue lengths over time)."""
        return self.queue_length_hourly.mean(axis=0)

    def mean_queue_length(self) -> np.ndarray:
        """(S,): time-average number waiting at each step over the window, all replications."""
        return self.queue_case_minutes.mean(axis=0) / self.window_minutes

    def little_law(self) -> dict[str, tuple[float, float]]:
        """Per step: (L, λ·W) pooled over replications, which Little's law says agree.

        L is the time-average number waiting; λ the cases joining per minute; W the mean time
        they spent waiting in the window, reneged cases' waits included (they were in the
        queue too), less the time cases carried in had waited before it. Edge effects (cases
        waiting across the window's ends) shrink as the window grows."""
        out = {}
        window = self.window_minutes * self.replications
        for s, name in enumerate(self.steps):
            n = self.served[:, s].sum()
            minutes = self.wait_sum_minutes[:, s].sum()
            n += self._reneged_at(s)
            minutes += self._reneged_wait_at(s)
            if self.wait_before_window_minutes is not None:
                minutes -= self.wait_before_window_minutes[:, s].sum()
            lam = self.joined[:, s].sum() / window
            wait = minutes / n if n else math.nan
            out[name] = (float(self.queue_case_minutes[:, s].sum() / window), float(lam * wait))
        return out

    # ------------------------------------------------------------ summary
    def summary(self) -> dict:
        """Headline numbers as plain data (no NaN: None where undefined).

        Per step: ``mean_wait_minutes`` is the mean over replications of each replication's
        mean wait, ``ci95`` its t-interval (None with one replication); ``customers`` cases
        counted over all replications; ``p_wait`` the share of them who waited at all;
        ``p90_wait_minutes`` the 90th percentile of all their waits; ``utilisation`` that of
        the step's resource (None for a delay); ``mean_queue_length`` the time-average number
        waiting; ``reneged`` cases who gave up waiting there (at a first contact). The same per
        case type.
        ``end_to_end`` is the time from arrival to leaving, as a mean over replications."""
        utilisation = self.utilisation()
        queue = self.mean_queue_length()
        steps = {}
        means = self.mean_wait_minutes()
        type_means = {t: self.mean_wait_minutes(t) for t in self.case_types}
        for s, name in enumerate(self.steps):
            mean, ci = mean_ci95(means[:, s])
            waits = self.waits(s)
            customers = int(self.served[:, s].sum())
            by_type = {}
            for t, case_type in enumerate(self.case_types):
                type_waits = self.waits(s, case_type)
                type_mean, _ = mean_ci95(type_means[case_type][:, s])
                by_type[case_type] = {
                    "mean_wait_minutes": _number(type_mean),
                    "p90_wait_minutes": _percentile(type_waits, 90),
                    "customers": int(self.served[:, s, t].sum()),
                }
            steps[name] = {
                "mean_wait_minutes": _number(mean),
                # Waits are never negative: a t-interval reaching below 0 is cut there.
                "ci95": None if ci is None else [max(0.0, float(ci[0])), float(ci[1])],
                "p_wait": _number(self.waited[:, s].sum() / customers) if customers else None,
                "utilisation": (
                    None
                    if self.step_resource[s] < 0
                    else _number(utilisation[self.step_resource[s]])
                ),
                "customers": customers,
                "p90_wait_minutes": _percentile(waits, 90),
                "mean_queue_length": _number(queue[s]),
                "reneged": self._reneged_at(s),
                "by_case_type": by_type,
            }
        e2e_mean, e2e_ci = mean_ci95(self.end_to_end_minutes())
        return {
            "steps": steps,
            "end_to_end": {
                "mean_time_minutes": _number(e2e_mean),
                "ci95": None if e2e_ci is None else [max(0.0, float(e2e_ci[0])), float(e2e_ci[1])],
                "p90_time_minutes": self.end_to_end_percentile(90),
                "unfinished_share": self.unfinished_share(),
            },
            "reneged": {t: int(self.reneged[:, k].sum()) for k, t in enumerate(self.case_types)},
            "replications": self.replications,
            "hours": self.hours,
            "warmup_hours": self.warmup_hours,
        }


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None
