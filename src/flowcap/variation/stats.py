"""How an IDVA team's daily demand varies: its spread, its tail, its week, its year, its holidays.

Every function takes plain arrays: ``dates`` is a :class:`pandas.DatetimeIndex` of the days
observed (usually the service's working days) and ``values`` the demand on each of them, in
minutes or in cases. Nothing here reads files or knows about resources.

- :func:`describe`: mean, standard deviation, coefficient of variation and percentiles.
- :func:`fit_counts`: Poisson or negative binomial for daily case counts, by maximum
  likelihood and AIC, with a chi-square goodness-of-fit test (:class:`CountFit`).
- :func:`weekday_profile`, :func:`month_profile`, :func:`weekday_month_table`: seasonality.
- :func:`day_effect`: the effect of a kind of day (bank holiday, the day after one, school
  holiday) adjusted for weekday and month, by a quasi-Poisson log-linear regression.
- :func:`trend`: the change in mean demand per year, with Newey-West standard errors.
- :func:`variation_summary`: all of the above as JSON-ready dicts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERCENTILES = (50, 80, 90, 95, 99)
#: A day within this many days after a bank holiday can be "the day after" it (longer = a gap).
AFTER_HOLIDAY_MAX_DAYS = 7


def _dates(dates, n: int | None = None) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(dates)
    if index.tz is not None:
        index = index.tz_localize(None)
    if n is not None and len(index) != n:
        raise ValueError(f"{len(index)} dates but {n} values")
    return index.normalize()


def _values(values) -> np.ndarray:
    return np.asarray(values, dtype=float).ravel()


# --- spread -------------------------------------------------------------------------------


def describe(values) -> dict:
    """Mean, sd (ddof=1), cv = sd / mean (nan if the mean is 0), percentiles and n.

    NaNs are ignored; percentiles use linear interpolation (numpy's default). Keys: ``mean,
    sd, cv, p50, p80, p90, p95, p99, n``.
    """
    x = _values(values)
    x = x[np.isfinite(x)]
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    sd = float(x.std(ddof=1)) if n > 1 else math.nan
    out = {"mean": mean, "sd": sd, "cv": sd / mean if n and mean != 0 else math.nan}
    quantiles = np.percentile(x, PERCENTILES) if n else [math.nan] * len(PERCENTILES)
    out.update({f"p{q}": float(v) for q, v in zip(PERCENTILES, quantiles, strict=True)})
    out["n"] = n
    return out


# --- distribution of daily case counts ------------------------------------------------------


@dataclass(frozen=True)
class CountFit:
    """Which distribution fits daily case counts, with its parameters and fit statistics.

    ``variance`` is the sample variance (ddof=1) and ``dispersion`` the index of dispersion
    ``variance / mean`` (about 1 for Poisson counts, ``1 + mean / nb_size`` for negative
    binomial ones). ``nb_size``/``nb_p`` are scipy's ``nbinom(n, p)``; ``None`` when the counts
    are not overdispersed (the negative binomial's likelihood then peaks at size → ∞, which is
    the Poisson). ``statistic``/``p_value`` are the chi-square goodness-of-fit test of the
    ``best`` model (:func:`chi_square_gof`). ``lrt_p_value`` is the likelihood-ratio test of
    Poisson against negative binomial, with the boundary-corrected null ½χ²₀ + ½χ²₁ (Self &
    Liang 1987); a note beside the AIC choice, not the rule.
    """

    best: str
    mean: float
    variance: float
    dispersion: float
    nb_size: float | None
    nb_p: float | None
    statistic: float
    p_value: float
    aic_poisson: float
    aic_negative_binomial: float | None
    lrt_p_value: float | None = None

    def sf(self, x) -> np.ndarray:
        """P(N > x) under the best model; ``x`` may be an array and non-integer (floor(x))."""
        return self.sf_with_mean(x, self.mean)

    def sf_with_mean(self, x, mean) -> np.ndarray:
        """P(N > x) for the same family with another mean (broadcast with ``x``).

        The negative binomial keeps its size r, so p = r / (r + mean) and the variance is
        ``mean + mean² / r``; the Poisson takes the new mean. This turns a forecast mean into
        a day's tail probability.
        """
        k = np.floor(np.asarray(x, dtype=float))
        mean = np.asarray(mean, dtype=float)
        if self.best == "negative_binomial":
            return stats.nbinom.sf(k, self.nb_size, self.nb_size / (self.nb_size + mean))
        return stats.poisson.sf(k, mean)


def _nb_loglik(log_size: float, values: np.ndarray, freq: np.ndarray, mean: float) -> float:
    """Negative binomial log-likelihood at size r = exp(log_size), profiled over p (MLE of
    the mean is the sample mean, so p = r / (r + mean))."""
    r = math.exp(log_size)
    p = r / (r + mean)
    terms = special.gammaln(values + r) - special.gammaln(r) - special.gammaln(values + 1)
    return float(np.sum(freq * (terms + r * math.log(p) + values * math.log1p(-p))))


def chi_square_gof(counts, dist, n_fitted: int) -> tuple[float, float]:
    """Pearson chi-square goodness of fit of integer ``counts`` to a frozen scipy ``dist``.

    Bins are the counts 0, 1, 2, … with the last one open (P(N ≥ max)); adjacent bins are
    pooled from the left until each expects at least 5 days (Cochran's rule), a short last
    pool joining the one before. Degrees of freedom = bins − 1 − ``n_fitted``. Returns
    ``(statistic, p_value)``, the p-value nan with fewer than one degree of freedom.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n, top = len(counts), int(counts.max())
    observed = np.bincount(counts, minlength=top + 1).astype(float)
    expected = n * dist.pmf(np.arange(top + 1))
    expected[-1] = n * dist.sf(top - 1)
    pools_o, pools_e, acc_o, acc_e = [], [], 0.0, 0.0
    for o, e in zip(observed, expected, strict=True):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= 5:
            pools_o.append(acc_o)
            pools_e.append(acc_e)
            acc_o = acc_e = 0.0
    if pools_o and (acc_o > 0 or acc_e > 0):
        pools_o[-1] += acc_o
        pools_e[-1] += acc_e
    elif not pools_o:
        pools_o, pools_e = [acc_o], [acc_e]
    o, e = np.array(pools_o), np.array(pools_e)
    statistic = float(np.sum((o - e) ** 2 / e))
    df = len(o) - 1 - n_fitted
    return statistic, float(stats.chi2.sf(statistic, df)) if df >= 1 else math.nan


def fit_counts(counts) -> CountFit:
    """Fit Poisson and negative binomial distributions to daily case counts; keep the better.

    The Poisson MLE is the sample mean. The negative binomial is fitted by maximum likelihood
    on log r (bounded Brent search of the likelihood profiled over p), but only when the
    counts are overdispersed (biased sample variance > mean; otherwise its MLE is the Poisson
    limit). The model with the lower AIC = 2k − 2 log L is ``best``.

    Parameters
    ----------
    counts : array, shape (n_days,) — non-negative whole numbers (floats allowed); NaN ignored.
    """
    x = _values(counts)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        raise ValueError("no counts to fit")
    if np.any(x < 0) or np.any(x % 1 != 0):
        raise ValueError("counts must be non-negative whole numbers")
    x = x.astype(np.int64)
    n, mean = len(x), float(x.mean())
    variance = float(x.var(ddof=1)) if n > 1 else math.nan
    dispersion = variance / mean if mean > 0 else math.nan
    values, freq = np.unique(x, return_counts=True)
    ll_poisson = float(np.sum(freq * stats.poisson.logpmf(values, mean))) if mean > 0 else 0.0
    aic_poisson = 2 * 1 - 2 * ll_poisson
    nb_size = nb_p = aic_nb = lrt = None
    if mean > 0 and float(x.var(ddof=0)) > mean:
        guess = math.log(mean**2 / (float(x.var(ddof=0)) - mean))
        result = optimize.minimize_scalar(
            lambda s: -_nb_loglik(s, values, freq, mean),
            bounds=(max(guess - 8.0, -12.0), min(guess + 8.0, 25.0)),
            method="bounded",
            options={"xatol": 1e-9},
        )
        nb_size = math.exp(float(result.x))
        nb_p = nb_size / (nb_size + mean)
        ll_nb = -float(result.fun)
        aic_nb = 2 * 2 - 2 * ll_nb
        lrt = float(0.5 * stats.chi2.sf(max(2 * (ll_nb - ll_poisson), 0.0), 1))
    if aic_nb is not None and aic_nb < aic_poisson:
        best, dist, n_fitted = "negative_binomial", stats.nbinom(nb_size, nb_p), 2
    else:
        best, dist, n_fitted = "poisson", stats.poisson(mean), 1
    statistic, p_value = chi_square_gof(x, dist, n_fitted) if mean > 0 else (math.nan, math.nan)
    return CountFit(
        best=best,
        mean=mean,
        variance=variance,
        dispersion=dispersion,
        nb_size=nb_size,
        nb_p=nb_p,
        statistic=statistic,
        p_value=p_value,
        aic_poisson=aic_poisson,
        aic_negative_binomial=aic_nb,
        lrt_p_value=lrt,
    )


# --- seasonality ----------------------------------------------------------------------------


def _group_ratio(keys: np.ndarray, values: np.ndarray, labels, codes) -> dict:
    ok = np.isfinite(values)
    overall = values[ok].mean() if ok.any() else math.nan
    out = {}
    for label, code in zip(labels, codes, strict=True):
        chosen = values[ok & (keys == code)]
        mean = chosen.mean() if len(chosen) else math.nan
        out[label] = float(mean / overall) if len(chosen) and overall != 0 else math.nan
    return out


def weekday_profile(dates, values) -> dict[str, float]:
    """Mean per weekday ÷ the mean over all days given; keys ``mon`` … ``sun``.

    A weekday never observed (a Mon–Fri service's weekend) is nan.
    """
    x = _values(values)
    days = _dates(dates, len(x))
    return _group_ratio(days.dayofweek.to_numpy(), x, WEEKDAYS, range(7))


def month_profile(dates, values) -> dict[int, float]:
    """Mean per calendar month ÷ the mean over all days given; keys 1 … 12 (nan if unseen)."""
    x = _values(values)
    days = _dates(dates, len(x))
    return _group_ratio(days.month.to_numpy(), x, range(1, 13), range(1, 13))


def weekday_month_table(dates, values) -> pd.DataFrame:
    """Mean value by weekday (index ``mon`` … ``sun``) and month (columns 1 … 12), for a
    heatmap; nan where no day was observed."""
    x = _values(values)
    days = _dates(dates, len(x))
    frame = pd.DataFrame({"wd": days.dayofweek, "month": days.month, "v": x})
    table = frame.pivot_table(index="wd", columns="month", values="v", aggfunc="mean")
    table = table.reindex(index=range(7), columns=range(1, 13))
    table.index = pd.Index(WEEKDAYS, name="weekday")
    table.columns = pd.Index(range(1, 13), name="month")
    return table.astype(float)


# --- kinds of day: quasi-Poisson regression --------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """A kind of day's effect on demand, adjusted for weekday and month.

    ``ratio``: mean on flagged days ÷ the mean expected on unflagged days of the same weekday
    and month; ``ci_low``/``ci_high``: its 95% confidence interval; ``n_days``: flagged days
    used; ``dispersion``: the estimated quasi-Poisson dispersion φ (variance = φ × mean; 1
    when the Poisson variance was imposed). Set by :func:`variation_summary`: ``n_events``,
    the separate occasions behind the estimate (holiday periods, bank holidays, days), and
    ``caution``, why the estimate is weak (too few events, or confounded with month), or
    ``None``.
    """

    ratio: float
    ci_low: float
    ci_high: float
    n_days: int
    dispersion: float = math.nan
    n_events: int = 0
    caution: str | None = None


def _poisson_irls(x: np.ndarray, y: np.ndarray, max_iter: int = 100, tol: float = 1e-10):
    """Fit the log-linear model E[y] = exp(x @ beta) by iteratively reweighted least squares.

    Fisher scoring for a Poisson GLM with log link (McCullagh & Nelder 1989, §2.5): from
    mu = (y + ȳ) / 2, repeat the weighted least-squares fit of the working response
    z = eta + (y − mu) / mu on ``x`` with weights mu, until the deviance
    2 Σ [y log(y / mu) − (y − mu)] changes by less than ``tol`` (relative). The estimating
    equations only use the mean and the variance ∝ mean, so ``y`` may be minutes, not only
    counts (quasi-likelihood, Wedderburn 1974). Returns ``(beta, mu)``.
    """
    mu = (y + y.mean()) / 2
    eta = np.log(mu)
    deviance = math.inf
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        z = eta + (y - mu) / mu
        w = np.sqrt(mu)
        beta = np.linalg.lstsq(x * w[:, None], z * w, rcond=None)[0]
        eta = np.clip(x @ beta, -50, 50)
        mu = np.exp(eta)
        new = 2 * float(np.sum(special.xlogy(y, y) - special.xlogy(y, mu) - (y - mu)))
        if abs(deviance - new) <= tol * (abs(new) + 0.1):
            break
        deviance = new
    return beta, mu


def _dummies(codes: np.ndarray) -> np.ndarray:
    """0/1 columns for each observed level but the first (the reference level)."""
    levels = np.unique(codes)
    return (codes[:, None] == levels[None, 1:]).astype(float)


def day_effect(dates, values, flagged, *, quasi: bool = True) -> Effect:
    """The effect of a kind of day on daily demand, adjusted for weekday and month.

    Fits log E[y] = intercept + weekday + month + β·flag by Poisson IRLS
    (:func:`_poisson_irls`); ``ratio = exp(β)``; the 95% CI is exp(β ± t₀.₉₇₅,ₙ₋ₚ · se).
    With ``quasi`` (the default) the standard error is the larger of

    - the quasi-Poisson one, √φ times the Poisson one, φ = Pearson χ² / (n − p) (McCullagh &
      Nelder 1989, §9.2): honest for overdispersed demand and for minutes, if the variance is
      proportional to the mean;
    - the robust sandwich (Huber–White HC1, (X'WX)⁻¹ X' diag((y − μ)²) X (X'WX)⁻¹ · n/(n − p);
      Cameron & Trivedi 2013, §3.2): right whatever the variance function, e.g. the negative
      binomial's μ + μ²/k, where quasi-Poisson is ~12% too narrow (checked by simulation), but
      itself too narrow when few days are flagged — hence the larger of the two.

    ``quasi=False`` gives the plain Poisson standard error (φ = 1), for comparison.

    Weekday or month groups whose demand is all zero (a closed day) are dropped first: their
    fitted mean is zero and they carry no information about β. The ratio is nan when no day
    is flagged or the flag cannot be told apart from weekday and month; when flagged days
    had no demand at all it is 0 with an unknown (nan) upper limit.

    Parameters
    ----------
    dates : DatetimeIndex, shape (n_days,); values : array, shape (n_days,) — cases or minutes,
        non-negative; flagged : bool array, shape (n_days,) — the days of the kind studied.
    """
    y = _values(values)
    days = _dates(dates, len(y))
    flag = np.asarray(flagged, dtype=bool).ravel()
    if len(flag) != len(y):
        raise ValueError(f"{len(flag)} flags but {len(y)} values")
    if np.any(y[np.isfinite(y)] < 0):
        raise ValueError("values must not be negative")
    keep = np.isfinite(y)
    weekday, month = days.dayofweek.to_numpy(), days.month.to_numpy()
    while True:
        dropped = keep.copy()
        for codes in (weekday, month):
            for code in np.unique(codes[keep]):
                group = keep & (codes == code)
                if y[group].sum() == 0:
                    dropped &= ~group
        if np.array_equal(dropped, keep):
            break
        keep = dropped
    n_days = int(np.sum(flag & keep))
    nan = Effect(math.nan, math.nan, math.nan, n_days)
    if n_days == 0 or n_days == keep.sum():
        return nan
    if y[flag & keep].sum() == 0:
        return Effect(0.0, 0.0, math.nan, n_days)
    y, flag = y[keep], flag[keep].astype(float)
    base = np.column_stack([np.ones(len(y)), _dummies(weekday[keep]), _dummies(month[keep])])
    x = np.column_stack([base, flag])
    rank = np.linalg.matrix_rank(x)
    if rank == np.linalg.matrix_rank(base):
        return nan
    beta, mu = _poisson_irls(x, y)
    df = len(y) - rank
    phi = float(np.sum((y - mu) ** 2 / mu) / df) if quasi and df > 0 else 1.0
    bread = np.linalg.pinv((x * mu[:, None]).T @ x)
    se = math.sqrt(bread[-1, -1] * phi)
    if quasi and df > 0:
        meat = (x * ((y - mu) ** 2)[:, None]).T @ x
        se = max(se, math.sqrt((bread @ meat @ bread)[-1, -1] * len(y) / df))
    t = float(stats.t.ppf(0.975, max(df, 1)))
    b = float(beta[-1])
    return Effect(math.exp(b), math.exp(b - t * se), math.exp(b + t * se), n_days, phi)


def after_bank_holiday_days(dates, bank_holiday=None, *, bank_holiday_dates=None) -> np.ndarray:
    """Flag the first day in ``dates`` after each bank holiday (the catch-up day).

    Bank holidays are the ``dates`` flagged in ``bank_holiday`` plus any ``bank_holiday_dates``
    (needed when ``dates`` are working days only, so holidays are absent). For each one, the
    first later date in ``dates`` that is not itself a bank holiday is flagged, if it comes
    within :data:`AFTER_HOLIDAY_MAX_DAYS` days (a longer gap is missing data). With working days
    as ``dates``, Easter Monday flags Tuesday and Christmas/Boxing Day flag the next working day.
    """
    days = _dates(dates)
    holidays = set()
    if bank_holiday is not None:
        mask = np.asarray(bank_holiday, dtype=bool).ravel()
        if len(mask) != len(days):
            raise ValueError(f"{len(mask)} bank-holiday flags but {len(days)} dates")
        holidays = set(days[mask])
    if bank_holiday_dates is not None:
        holidays |= set(_dates(bank_holiday_dates))
    hol = np.array(sorted(holidays), dtype="datetime64[ns]")
    others = np.flatnonzero(~np.isin(days.values, hol))
    order = others[np.argsort(days.values[others], kind="stable")]
    after = np.searchsorted(days.values[order], hol, side="right")
    found = after < len(order)
    gap = days.values[order[after[found]]] - hol[found]
    out = np.zeros(len(days), dtype=bool)
    out[order[after[found]][gap <= np.timedelta64(AFTER_HOLIDAY_MAX_DAYS, "D")]] = True
    return out


# --- trend ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    """Change in mean daily demand per year (value units), its 95% CI and p-value."""

    per_year: float
    relative_per_year: float
    ci_low: float
    ci_high: float
    p_value: float


def trend(dates, values) -> Trend:
    """Linear trend of daily demand, with Newey-West (HAC) standard errors.

    OLS of values on intercept + time in years (days since the first date ÷ 365.25) +
    weekday dummies, so the weekly cycle does not bias the slope. Daily demand is
    autocorrelated (a busy week, a season), so the slope's variance is the Newey-West (1987)
    estimate, Bartlett kernel with lag L = ⌊4 (n/100)^{2/9}⌋ (Newey & West 1994) over
    consecutive observations, times n / (n − p); CI and p-value from Student's t, n − p df.
    The annual cycle is not modelled: over a few whole years it averages out; over a part of
    a year it shows as trend.
    """
    y = _values(values)
    days = _dates(dates, len(y))
    ok = np.isfinite(y)
    y, days = y[ok], days[ok]
    order = np.argsort(days.values, kind="stable")
    y, days = y[order], days[order]
    years = ((days - days[0]).days.to_numpy() / 365.25) if len(days) else np.array([])
    x = np.column_stack([np.ones(len(y)), years, _dummies(days.dayofweek.to_numpy())])
    n, p = x.shape
    if n < p + 2 or np.ptp(years) == 0:
        return Trend(math.nan, math.nan, math.nan, math.nan, math.nan)
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    scores = x * (y - x @ beta)[:, None]
    meat = scores.T @ scores
    lags = int(4 * (n / 100) ** (2 / 9))
    for lag in range(1, min(lags, n - 1) + 1):
        gamma = scores[lag:].T @ scores[:-lag]
        meat += (1 - lag / (lags + 1)) * (gamma + gamma.T)
    bread = np.linalg.pinv(x.T @ x)
    covariance = bread @ meat @ bread * n / (n - p)
    se = math.sqrt(max(covariance[1, 1], 0.0))
    slope = float(beta[1])
    t = float(stats.t.ppf(0.975, n - p))
    p_value = float(2 * stats.t.sf(abs(slope / se), n - p)) if se > 0 else math.nan
    mean = float(y.mean())
    return Trend(slope, slope / mean if mean else math.nan, slope - t * se, slope + t * se, p_value)


# --- how many occasions an effect rests on -------------------------------------------------

#: Fewer occasions than this (bank holidays, days after one, holiday periods) and an effect
#: is flagged: one or two days are anecdotes, not an estimate of a typical one.
MIN_EVENTS = 3
#: Days of data under which a school-holiday effect is confounded with month: the holidays
#: fall in the same months each year, so only a second year separates them.
MIN_DAYS_FOR_SCHOOL_EFFECT = 365


def _runs(flagged: np.ndarray) -> int:
    """Runs of consecutive flagged entries: a holiday period is one run of its days."""
    flag = np.asarray(flagged, dtype=bool).ravel()
    return int(np.sum(flag & ~np.concatenate([[False], flag[:-1]])))


def _with_events(
    effect: Effect, n_events: int, names: tuple[str, str], caution: str | None = None
) -> Effect:
    """``effect`` with its ``n_events`` (``names``: what one event and several are called)
    and a ``caution``: the one given, or too few events; none without an event."""
    if caution is None and 0 < n_events < MIN_EVENTS:
        if n_events == 1:
            caution = f"from one {names[0]} only: one observation, not a typical effect"
        else:
            caution = f"from {n_events} {names[1]} only: too few to trust"
    return replace(effect, n_events=n_events, caution=caution if n_events else None)


# --- everything, JSON-ready -------------------------------------------------------------------


def _json(value):
    """Nested dicts of plain Python types: floats to 6 significant digits, nan/inf → None."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    return value


def variation_summary(
    dates,
    minutes,
    cases,
    bank_holiday=None,
    school_holiday=None,
    *,
    bank_holiday_dates=None,
) -> dict:
    """Describe one resource's daily demand; returns JSON-ready nested dicts.

    Keys: ``demand_minutes`` and ``demand_cases`` (:func:`describe`), ``case_count_fit``
    (:class:`CountFit` fields), ``weekday_profile``, ``month_profile`` (keys as strings "1" …
    "12"), ``bank_holiday_effect``, ``after_bank_holiday_effect``, ``school_holiday_effect``
    (:class:`Effect` fields, on demand minutes) and ``trend`` (:class:`Trend` fields, minutes
    per year). Floats have 6 significant digits; nan becomes ``None``.

    - *bank_holiday*: the days in ``dates`` that are bank holidays (``bank_holiday`` mask, or
      ``dates`` found in ``bank_holiday_dates``) against ordinary days. When ``dates`` are
      working days of a service closed on bank holidays there are none, and the ratio is null.
    - *after_bank_holiday*: the first day in ``dates`` after each bank holiday
      (:func:`after_bank_holiday_days`), where an office-hours service catches up.
    - *school_holiday*: days in ``school_holiday`` (a mask over ``dates``).

    Each effect also has ``n_events``: the bank holidays, the days after one, or the school
    holiday periods (runs of flagged ``dates``) it rests on; and ``caution``: why it is weak
    (fewer than :data:`MIN_EVENTS` events; for school holidays, under a year of data, which
    cannot tell a holiday from its month), else ``None``.
    """
    days = _dates(dates)
    minutes, cases = _values(minutes), _values(cases)
    if bank_holiday is None:
        bank_holiday = np.zeros(len(days), dtype=bool)
        if bank_holiday_dates is not None:
            bank_holiday = days.isin(_dates(bank_holiday_dates))
    bank_holiday = np.asarray(bank_holiday, dtype=bool)
    after = after_bank_holiday_days(days, bank_holiday, bank_holiday_dates=bank_holiday_dates)
    if school_holiday is None:
        school_holiday = np.zeros(len(days), dtype=bool)
    finite_cases = cases[np.isfinite(cases)]
    count_fit = asdict(fit_counts(finite_cases)) if finite_cases.sum() > 0 else None
    school = np.asarray(school_holiday, dtype=bool)
    span = int((days.max() - days.min()).days) + 1 if len(days) else 0
    confounded = None
    if span < MIN_DAYS_FOR_SCHOOL_EFFECT:
        confounded = (
            f"from under a year of data ({span} days): school holidays fall in the same "
            "months every year, so this is confounded with month"
        )
    effects = {
        "bank_holiday_effect": _with_events(
            day_effect(days, minutes, bank_holiday),
            len(set(days[bank_holiday])),
            ("bank holiday", "bank holidays"),
        ),
        "after_bank_holiday_effect": _with_events(
            day_effect(days, minutes, after),
            int(np.sum(after)),
            ("day after a bank holiday", "days after a bank holiday"),
        ),
        "school_holiday_effect": _with_events(
            day_effect(days, minutes, school),
            _runs(school),
            ("school holiday period", "school holiday periods"),
            confounded,
        ),
    }
    return _json(
        {
            "demand_minutes": describe(minutes),
            "demand_cases": describe(cases),
            "case_count_fit": count_fit,
            "weekday_profile": weekday_profile(days, minutes),
            "month_profile": month_profile(days, minutes),
            **{name: asdict(effect) for name, effect in effects.items()},
            "trend": asdict(trend(days, minutes)),
        }
    )
