"""How often a bad day comes: "about once every 40 working days, IDVA demand is 1.5 × capacity".

For a resource and a ratio k, the probability that a working day's demand exceeds k times
that day's capacity, three ways:

- **empirical**: the share of past working days on which it happened;
- **fitted**: from a distribution fitted to the daily number of cases with work due
  (negative binomial around a rate per weekday, summed over the calendar days each working
  day gathers, or Poisson when the counts vary no more than that), times the mean minutes
  per case: ``P(D > kC) = P(N > kC / m)``, averaged over the past working days with their own
  capacities, with a bootstrap confidence interval (working days resampled, the fit redone);
- **ahead**: day by day over a forecast horizon, with each day's forecast mean and capacity
  (a planned roster gap shows up), the dispersion of the fit kept — so the riskiest dates come
  first.

The tail shape matters more than the mean (methods.md §4.3): that is why the counts'
distribution is fitted rather than a normal curve put through the minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flowcap._json import json_number
from flowcap.checks import check_horizon, check_ratios
from flowcap.model import working_calendar
from flowcap.progress import Progress, quiet
from flowcap.variation.series import fold_to_working_days, working_day_series

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory

DEFAULT_KS = (1.0, 1.5, 2.0)


@dataclass(frozen=True)
class BadDayRisk:
    """The risk that demand exceeds ``k`` × capacity on a working day, for one resource."""

    resource: str
    k: float
    p_per_working_day: float
    p_empirical: float
    ci_low: float
    ci_high: float
    n_working_days: int
    riskiest_dates: list[tuple[date, float]] = field(default_factory=list)
    #: P(demand > k × capacity) on each forecast working day (``None`` without a forecast).
    ahead: pd.Series | None = field(default=None, compare=False, repr=False)

    @property
    def once_every_working_days(self) -> float | None:
        """1 / p, the return period in working days (``None`` when p is 0)."""
        return 1.0 / self.p_per_working_day if self.p_per_working_day > 0 else None

    @property
    def once_every_interval(self) -> tuple[float | None, float | None]:
        """The 95% interval of the return period in working days, shortest first (``None``
        for never: a bound of probability 0)."""
        return (
            1.0 / self.ci_high if self.ci_high > 0 else None,
            1.0 / self.ci_low if self.ci_low > 0 else None,
        )

    def sentence(self) -> str:
        """The finding in words a manager can repeat."""
        head = f"{self.resource}: demand above {self.k:g} × capacity"
        every = self.once_every_working_days
        if every is None:
            return f"{head}: not expected (probability below 1 in a million per working day)."
        low, high = self.once_every_interval
        return (
            f"{head} about once every {format_every(every)} working days "
            f"(95% CI once every {format_every(low)} to {format_every(high)}; "
            f"seen on {self.p_empirical:.1%} of {self.n_working_days:,} working days)."
        )

    def as_json(self) -> dict:
        every = self.once_every_working_days
        return {
            "resource": self.resource,
            "k": self.k,
            "p_per_working_day": json_number(self.p_per_working_day),
            "once_every_working_days": None if every is None else round(every, 1),
            "p_empirical": json_number(self.p_empirical),
            "ci_low": json_number(self.ci_low),
            "ci_high": json_number(self.ci_high),
            "riskiest_dates": [
                {"date": d.isoformat(), "p": json_number(p)} for d, p in self.riskiest_dates
            ],
        }


def bad_day_risk(
    history: pd.DataFrame,
    ks: tuple[float, ...] = DEFAULT_KS,
    *,
    resource: str = "",
    ahead: pd.DataFrame | None = None,
    n_boot: int = 200,
    seed: int = 0,
    n_riskiest: int = 10,
) -> list[BadDayRisk]:
    """Risk of bad days for one resource, for each ratio in ``ks``.

    Parameters
    ----------
    history : working days only (see :func:`flowcap.variation.series.working_day_series`),
        with ``demand_minutes``, ``demand_cases`` and ``capacity_minutes``.
    ahead : forecast working days, indexed by date, with ``demand_minutes`` (forecast mean,
        minutes) and ``capacity_minutes``; ``None`` for history only.
    n_boot : bootstrap resamples for the confidence interval of the fitted probability.
    seed : seed of the bootstrap (results are reproducible).

    Returns
    -------
    One :class:`BadDayRisk` per k, in the order given.
    """
    minutes = history["demand_minutes"].to_numpy(float)
    cases = history["demand_cases"].to_numpy(float)
    capacity = history["capacity_minutes"].to_numpy(float)
    if len(minutes) == 0:
        raise ValueError("no working days to assess")
    ks = tuple(float(k) for k in ks)
    composition = weekday_composition(pd.DatetimeIndex(history.index))
    model = _CaseModel.fit(cases, minutes, composition)
    fitted = [model.p_exceed(k * capacity, composition) for k in ks]
    rng = np.random.default_rng(seed)
    boots = np.empty((n_boot, len(ks)))
    for b in range(n_boot):
        pick = rng.integers(0, len(cases), len(cases))
        resampled = _CaseModel.fit(cases[pick], minutes[pick], composition[pick])
        boots[b] = [resampled.p_exceed(k * capacity[pick], composition[pick]) for k in ks]
    results = []
    for i, k in enumerate(ks):
        daily, riskiest = None, []
        if ahead is not None and len(ahead):
            p = model.p_exceed_each(
                k * ahead["capacity_minutes"].to_numpy(float),
                ahead["demand_minutes"].to_numpy(float),
            )
            daily = pd.Series(p, index=ahead.index)
            top = np.argsort(-p, kind="stable")[:n_riskiest]
            riskiest = [(ahead.index[j].date(), float(p[j])) for j in top]
        results.append(
            BadDayRisk(
                resource=resource,
                k=k,
                p_per_working_day=float(fitted[i]),
                p_empirical=float(np.mean(minutes > k * capacity)),
                ci_low=float(np.quantile(boots[:, i], 0.025)),
                ci_high=float(np.quantile(boots[:, i], 0.975)),
                n_working_days=len(minutes),
                riskiest_dates=riskiest,
                ahead=daily,
            )
        )
    return results


@dataclass(frozen=True)
class _CaseModel:
    """Daily demand minutes as (cases with work due) × (mean minutes per case).

    A working day's cases gather every calendar day since the previous working day (an
    office-hours team meets the weekend's work on Monday, and Easter's on Tuesday), so its
    expected count is the sum of the daily rates of the weekdays it gathers. The seven rates
    come from least squares of the counts on that composition; the counts are negative binomial
    around those means with one size r, by the method of moments,
    ``r = Σμ² / Σ((n − μ)² − μ)`` (no excess variance means Poisson). One mean for all days
    would read the weekly pattern and the catch-up days as extra dispersion.
    """

    rates: np.ndarray  # (7,) expected cases per calendar day of each weekday, Monday first
    size: float  # negative binomial size r; inf = Poisson
    per_case: float  # minutes per case with work due

    @classmethod
    def fit(cls, cases: np.ndarray, minutes: np.ndarray, composition: np.ndarray) -> _CaseModel:
        total = cases.sum()
        if total == 0:
            return cls(np.zeros(7), np.inf, 1.0)
        rates = np.linalg.lstsq(composition, cases, rcond=None)[0]
        rates = np.maximum(rates, 0.0)
        mu = np.maximum(composition @ rates, 1e-9)
        excess = float(np.sum((cases - mu) ** 2 - mu))
        size = float(np.sum(mu**2) / excess) if excess > 0 else np.inf
        return cls(rates, size, float(minutes.sum() / total))

    def sf(self, threshold_cases: np.ndarray, mean_cases: np.ndarray) -> np.ndarray:
        """P(N > threshold) for cases with the given means (``floor`` of the threshold)."""
        from scipy import stats  # here, not at the top: it takes ~1 s that `plan` need not pay

        k = np.floor(np.asarray(threshold_cases, dtype=float))
        mean = np.maximum(np.asarray(mean_cases, dtype=float), 1e-12)
        if np.isinf(self.size):
            return stats.poisson.sf(k, mean)
        return stats.nbinom.sf(k, self.size, self.size / (self.size + mean))

    def p_exceed(self, threshold_minutes: np.ndarray, composition: np.ndarray) -> float:
        """Mean over the given days of P(demand > threshold) at each day's expected count."""
        if not self.rates.any():
            return 0.0
        return float(np.mean(self.sf(threshold_minutes / self.per_case, composition @ self.rates)))

    def p_exceed_each(self, threshold_minutes: np.ndarray, mean_minutes: np.ndarray) -> np.ndarray:
        """P(demand > threshold) on each day, at that day's forecast mean (same size r)."""
        if not self.rates.any():
            return np.zeros(len(threshold_minutes))
        return np.asarray(self.sf(threshold_minutes / self.per_case, mean_minutes / self.per_case))


def weekday_composition(working_dates: pd.DatetimeIndex) -> np.ndarray:
    """How many calendar days of each weekday each working day gathers, shape (n, 7).

    Working day i gathers the days after the previous working day up to and including itself
    (the first working day only itself).
    """
    days = pd.DatetimeIndex(working_dates).to_numpy("datetime64[D]").astype(np.int64)
    composition = np.zeros((len(days), 7))
    if len(days) == 0:
        return composition
    gap = np.diff(days, prepend=days[0] - 1)  # calendar days each working day gathers
    for back in range(int(gap.max())):
        gathered = back < gap
        weekday = (days[gathered] - back + 3) % 7  # 1970-01-01 was a Thursday (3)
        np.add.at(composition, (np.flatnonzero(gathered), weekday), 1)
    return composition


def format_every(value: float | None) -> str:
    """A return period in working days as people read it, the one rule for the sentence and
    the ``flowcap risk`` table: "never" for ``None`` or infinity, tens from 100 (an estimate
    this uncertain has no meaningful units digit), whole days from 10, else one decimal."""
    if value is None or not np.isfinite(value):
        return "never"
    if value >= 100:
        return f"{round(value, -1):,.0f}"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


# --- the risk step of a service ------------------------------------------------------------


@dataclass
class RiskReport:
    """Bad-day risks per resource and ratio, and each forecast day's probability."""

    service_name: str
    risks: list[BadDayRisk]
    daily: pd.DataFrame  # date, resource, k, p over the horizon

    def as_json(self) -> list[dict]:
        return [risk.as_json() for risk in self.risks]


def assess_risk(
    history: ServiceHistory,
    ks: tuple[float, ...] = DEFAULT_KS,
    horizon: int = 90,
    progress: Progress = quiet,
) -> RiskReport:
    """How often each resource's demand exceeds k × capacity, from history and ahead: the
    forecast demand against the capacity the roster gives
    (:meth:`~flowcap.model.roster.Roster.capacity_ahead`)."""
    check_ratios(ks)
    check_horizon(horizon)
    from flowcap.forecast.report import forecast_measures

    service, data = history.service, history.tables
    progress("Measuring")
    measures_table = history.require_measures("the risk of bad days").table
    report = forecast_measures(
        service, measures_table, history.school_holidays, horizon, progress=progress
    )
    future_days = pd.date_range(report.forecast["date"].min(), report.forecast["date"].max())
    calendar = working_calendar(service, future_days[0].date(), future_days[-1].date())
    capacity = data.roster.capacity_ahead(service, calendar, measures_table)
    progress("Assessing the risk of bad days")
    risks, daily = [], []
    working = calendar["is_working_day"].to_numpy()
    for resource in service.resources:
        past = working_day_series(measures_table, resource)
        predicted = report.forecast[report.forecast["resource"] == resource].sort_values("date")
        ahead = pd.DataFrame(
            {
                "demand_minutes": fold_to_working_days(
                    future_days, predicted["demand_minutes"].to_numpy(), working
                ),
            }
        )
        ahead["capacity_minutes"] = pd.Series(capacity[resource], index=future_days)[ahead.index]
        found = bad_day_risk(past, ks, resource=resource, ahead=ahead)
        risks += found
        for risk in found:
            if risk.ahead is not None:
                daily.append(
                    pd.DataFrame(
                        {
                            "date": risk.ahead.index,
                            "resource": resource,
                            "k": risk.k,
                            "p": risk.ahead.to_numpy(),
                        }
                    )
                )
    daily_table = (
        pd.concat(daily, ignore_index=True)
        if daily
        else pd.DataFrame(columns=["date", "resource", "k", "p"])
    )
    return RiskReport(service.name, risks, daily_table)
