"""How many minutes of work will reach each team each day: daily demand forecasts per resource.

An IDVA team's day has a shape: little arrives at the weekend, Monday brings the weekend's
police referrals, repeat sessions come back a week later, bank holidays are quiet and the
day after is busy, and the year has its own rhythm (the festive spike, the summer holiday).
:class:`DemandForecaster` forecasts that daily demand, in minutes, with 80% and 95%
prediction intervals, from each resource's history in long format (``unique_id, ds, y``).

The models are statsforecast's, fitted to the square root of demand (counts × minutes are
roughly Poisson-like and the square root steadies their variance; it also keeps forecasts
non-negative, and the squared-back point forecast is a median, which is what MASE
rewards). Both models take the holiday flags of :func:`holiday_features` (bank holiday,
first working weekday after one, school holiday, festive fortnight) and ``fourier_order``
sine/cosine pairs for the annual season (by default 4 from two years of history, else 1:
one year cannot tell an annual wave from a trend, and higher orders overfit it).

``model="auto"`` (the default) chooses per resource by rolling-origin cross-validation on
the history over 28-day windows (:data:`SELECTION_DAYS`; shorter where the history allows
only a shorter horizon), whatever the horizon asked for, cheapest model first:

1. **harmonic**: a harmonic regression, statsforecast's ``SklearnModel`` around a
   least-squares fit of weekday dummies, a linear trend, the annual Fourier terms and the
   holiday flags (Prophet's model less its change points). A fit takes ~0.4 ms.
2. Where its cross-validated MAE is no better than the weekly seasonal naive's on the same
   windows (the weekly shape drifts, as when a caseload fills up or weekly repeat sessions
   come and go), the resource is escalated to **arima**: regression with seasonal
   ARIMA(1,0,1)(0,1,1)[7] errors on the same holiday and Fourier regressors
   (statsforecast ``ARIMA``; Hyndman & Athanasopoulos, *Forecasting: Principles and
   Practice*, 3rd ed., §10 and §12.1), which re-learns the weekly shape week by week. The
   one of the two with the lower cross-validated MAE is used.

Measured (``benchmarks/backtest_real.py``, 28-day horizon, 8 windows; MASE of the model /
of the weekly seasonal naive): the example's caseworker 0.979 / 0.992, IDVA 1.158 / 1.228,
triage 0.508 / 0.805, road-fines new cases 0.520 / 0.545; 95% coverage 0.964–0.973. On
the benchmark's 500 synthetic series (90 days ahead) the harmonic regression is chosen
for every series, MASE 0.667 against Prophet's 0.717, about 20× faster
(``benchmarks/bench_forecast.py``). What the alternatives gave on the same 28-day test:

- harmonic regression alone: IDVA 1.93 (a fixed weekly shape cannot follow it);
- the ARIMA alone: caseworker 0.94, IDVA 1.19, triage 0.50, but fines 0.56 (worse than
  the naive), and each fit with regressors costs 0.1–0.3 s because the likelihood is
  optimised with numerical gradients over every regression coefficient (~100× the
  harmonic regression), which rules it out as the default for the benchmark's goal;
- ``AutoARIMA`` with regressors: ~9 s a series;
- ``MFLES`` with the same regressors (2.5 ms): 1.36 / 1.57 / 0.62 / 0.64, losing to the
  naive on three of four, and 1.12 against Prophet's 0.69 on synthetic series;
- ``AutoETS`` (A,N,A) with a weekly season: 0.79 / 1.17 / 0.70 / 0.50, but it takes no
  regressors, so Easter Monday would be forecast as a busy Monday;
- ``MSTL(season_length=[7, 365])`` needs two full years before every forecast origin, so
  two years of data cannot be backtested at all, and costs 0.25–0.5 s a series.

At 90 days (4 windows, ``benchmarks/backtest_real.py``) the IDVA series is no better than
the seasonal naive (1.64 / 1.62): its demand is mostly weekly sessions of cases already
open, which the last week repeats well; the other three beat it.

**A day's forecast does not depend on the horizon asked for**: the model is chosen on fixed
windows, the point forecast is the model fitted to all the history, and a day's interval
comes from its distance ahead only. (Choosing and calibrating on windows as long as the
horizon made the forecast for one December day 602 minutes with ``h = 14`` and 358 with
``h = 35``, issue #10.)

**Prediction intervals** are split-conformal (Vovk, Gammerman & Shafer 2005; Angelopoulos
& Bates 2023), Mondrian by weekday and by calibration band. The bands are horizons of 7,
14, 28, 56, ... days (doubling, the last cut to the longest horizon the history allows:
:func:`calibration_bands`); a day ``k`` days ahead belongs to the first band of at least
``k`` days, ``H``, and is calibrated on the chosen model's absolute errors on the
square-root scale from non-overlapping rolling-origin windows of ``H`` days, grouped by
weekday: the errors of 1- to ``H``-day-ahead forecasts, ``ceil(224 / H)`` windows of them
(at least 2; fewer only where the history is short), so about 224 errors, 32 per weekday,
in every band. A week is the shortest band, so a one-day forecast is calibrated on 1- to
7-day-ahead errors (for the harmonic regression, refitted at every origin, these hardly
grow with the lead). (Capping the windows at 12 left a one-day forecast 12 errors, one or
two per weekday, and 95% intervals that covered about half the days.)
The half-width for level ``L`` is the ``ceil((n + 1) L)``-th smallest of a
group's ``n`` errors, so coverage is at least ``L`` when errors are exchangeable. The bounds
are squared back: never negative, wider on busy days, nearly zero on days that are always
empty.
statsforecast's native ARIMA intervals assume Gaussian errors of constant variance, which
spiky daily minutes are not: in the same 28-day backtest their 80% intervals covered
0.87–0.99 of days and their 95% intervals 0.97–0.996 (too wide; 0.996 for the fines).
Its ``ConformalIntervals`` take per-step quantiles over only ``n_windows`` errors each.
"""

from __future__ import annotations

import math
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import holidays
import numpy as np
import pandas as pd

from flowcap.errors import FlowcapError
from flowcap.model.calendar import bank_holidays

UK_REGIONS = ("GB-ENG", "GB-WLS", "GB-SCT", "GB-NIR")
MODELS = ("auto", "harmonic", "arima")
#: 17 December to 4 January inclusive, as month * 100 + day.
FESTIVE_FROM, FESTIVE_TO = 1217, 104
#: From this many ARIMA escalations they run in a process pool (2 cores, 28-day horizon:
#: 8 series 4.3 s serial, 2.3 s pooled; 24 series 13.1 s, 3.4 s). The harmonic regression
#: always runs in this process: a fit takes ~0.4 ms, so a pool's start-up and pickling cost
#: more than it saves (500 series on 2 cores: 1.4 s serial, 1.7-2.2 s pooled).
PARALLEL_FROM_SERIES = 8
#: Ridge penalty of the harmonic regression: negligible, for a solvable Cholesky system.
RIDGE_ALPHA = 1e-6
#: Rolling-origin errors wanted per series for the intervals (32 per weekday).
CALIBRATION_ERRORS = 224
#: The shortest calibration band (days); the bands double from it (:func:`calibration_bands`).
FIRST_BAND_DAYS = 7
#: ``model="auto"`` chooses each series' model on windows of this many days (or the longest
#: horizon, if shorter), whatever the horizon asked for.
SELECTION_DAYS = 28


# --- calendar features ---------------------------------------------------------------------


def _bank_holiday_dates(region: str | None, start: date, end: date) -> set[date]:
    if region is None:
        return set()
    if region in UK_REGIONS:
        return set(bank_holidays(region, start, end))
    country, _, subdiv = region.partition("-")
    try:
        table = holidays.country_holidays(
            country, subdiv=subdiv or None, years=range(start.year, end.year + 1)
        )
    except NotImplementedError:
        raise FlowcapError(f"no bank holiday calendar for region {region!r}") from None
    return {day for day in table if start <= day <= end}


def holiday_features(
    dates: pd.DatetimeIndex,
    region: str | None,
    school_holidays: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Holiday flags for each date, ready to pass as ``exog`` to :class:`DemandForecaster`.

    Parameters
    ----------
    dates : DatetimeIndex
        Calendar days (any time of day is floored to the date; time zones are dropped).
    region : str or None
        ``"GB-ENG"``, ``"GB-WLS"``, ``"GB-SCT"`` or ``"GB-NIR"`` for the UK nations' bank
        holidays (:func:`flowcap.model.calendar.bank_holidays`); an ISO country code such as
        ``"IT"`` (optionally ``"ES-MD"`` with a subdivision) for ``holidays.country_holidays``;
        ``None`` for no bank holidays.
    school_holidays : DataFrame, optional
        Columns ``start`` and ``end`` (both days inclusive) and optionally ``name``.

    Returns
    -------
    DataFrame
        ``ds`` (the dates) and 0/1 columns (int8): ``bank_holiday``; ``after_bank_holiday``,
        the first weekday (Mon–Fri) after a bank holiday that is not itself one (Boxing Day
        on a Friday is followed by Monday); ``school_holiday`` only when ``school_holidays``
        is given; ``festive``, 17 December to 4 January.
    """
    dates = pd.DatetimeIndex(dates)
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    dates = dates.normalize()
    out = pd.DataFrame({"ds": dates})
    if len(dates):
        # Start a fortnight early so a holiday just before the first date is seen.
        span = pd.date_range(dates.min() - pd.Timedelta(days=14), dates.max(), freq="D")
        bank = _bank_holiday_dates(region, span[0].date(), span[-1].date())
        is_bank = np.fromiter((day.date() in bank for day in span), bool, len(span))
        after = np.zeros(len(span), dtype=bool)
        pending = False
        for i, weekday in enumerate(span.dayofweek):
            if is_bank[i]:
                pending = True
            elif pending and weekday < 5:
                after[i] = True
                pending = False
        position = span.get_indexer(dates)
        bank_flags, after_flags = is_bank[position], after[position]
    else:
        bank_flags = after_flags = np.zeros(0, dtype=bool)
    out["bank_holiday"] = bank_flags.astype(np.int8)
    out["after_bank_holiday"] = after_flags.astype(np.int8)
    if school_holidays is not None:
        school = np.zeros(len(dates), dtype=bool)
        starts = pd.to_datetime(school_holidays["start"]).dt.normalize()
        ends = pd.to_datetime(school_holidays["end"]).dt.normalize()
        for start, end in zip(starts, ends, strict=True):
            school |= (dates >= start) & (dates <= end)
        out["school_holiday"] = school.astype(np.int8)
    month_day = dates.month * 100 + dates.day
    out["festive"] = ((month_day >= FESTIVE_FROM) | (month_day <= FESTIVE_TO)).astype(np.int8)
    return out


def fourier_terms(dates: pd.DatetimeIndex, period: float, order: int) -> pd.DataFrame:
    """``order`` sine/cosine pairs of a ``period``-day season, from day 0 = 1 January 2000.

    Returns columns ``year_sin1, year_cos1, ..., year_sin{order}, year_cos{order}``.
    """
    days = (pd.DatetimeIndex(dates) - pd.Timestamp("2000-01-01")).days.to_numpy(dtype=float)
    columns: dict[str, np.ndarray] = {}
    for k in range(1, order + 1):
        angle = 2.0 * np.pi * k * days / period
        columns[f"year_sin{k}"] = np.sin(angle)
        columns[f"year_cos{k}"] = np.cos(angle)
    return pd.DataFrame(columns)


def _weekday_trend_terms(dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Tuesday..Sunday dummies (Monday is the baseline) and a linear trend in years."""
    weekday = pd.DatetimeIndex(dates).dayofweek.to_numpy()
    columns = {f"weekday{k}": (weekday == k).astype(float) for k in range(1, 7)}
    trend = (pd.DatetimeIndex(dates) - pd.Timestamp("2000-01-01")).days.to_numpy() / 365.25
    columns["trend_years"] = trend
    return pd.DataFrame(columns)


# --- the forecaster ------------------------------------------------------------------------


def _conformal_quantiles(
    scores: pd.DataFrame, by: list[str], levels: tuple[int, ...]
) -> pd.DataFrame:
    """Per group of ``by``: the ``ceil((n + 1) L)``-th smallest of its ``n`` scores, per level.

    The largest score when that rank exceeds ``n`` (Vovk et al. 2005; Angelopoulos & Bates
    2023, eq. 1: split-conformal coverage is then at least ``L`` for exchangeable errors).
    """
    ordered = scores.sort_values([*by, "score"], kind="stable")
    groups = ordered.groupby(by, sort=True)["score"]
    n = groups.size()
    start = np.concatenate([[0], np.cumsum(n.to_numpy())[:-1]])
    values = ordered["score"].to_numpy()
    out = {}
    for level in levels:
        rank = np.minimum(np.ceil((n.to_numpy() + 1) * level / 100 - 1e-9), n.to_numpy())
        out[level] = pd.Series(values[start + rank.astype(int) - 1], index=n.index)
    return pd.DataFrame(out)


def _harmonic_model():
    from sklearn.linear_model import Ridge
    from statsforecast.models import SklearnModel

    # Least squares; the negligible ridge penalty only keeps the normal equations solvable
    # when a short window leaves two flags identical, and the Cholesky solve is 30% faster
    # than LinearRegression's SVD-based one.
    return SklearnModel(Ridge(alpha=RIDGE_ALPHA, solver="cholesky"), alias="harmonic")


def _arima_model():
    from statsforecast.models import ARIMA

    return ARIMA(order=(1, 0, 1), seasonal_order=(0, 1, 1), season_length=7, alias="arima")


_MAKERS = {"harmonic": _harmonic_model, "arima": _arima_model}


def _fast_sklearn():
    """Skip scikit-learn's per-call input checks: the design matrices are ours, finite floats.

    Each fit is a few hundred microseconds of linear algebra, and the checks around it cost
    more than that; skipping them makes the 500-series benchmark about 25% faster.
    """
    import sklearn

    return sklearn.config_context(assume_finite=True, skip_parameter_validation=True)


@contextmanager
def _quiet():
    """Silence statsforecast's, scikit-learn's and NumPy's warnings during the fits.

    Short or sparse histories make them warn (a rank-deficient ARIMA regression, a division
    by zero in a scale): the forecaster handles those cases itself, through the fallback
    model and the checks in :meth:`DemandForecaster.predict`, so the warnings only add noise
    to the command line's output.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


def longest_horizon(history_days: int, season_length_year: int = 365) -> int:
    """The longest horizon a history of ``history_days`` days can be calibrated for.

    :meth:`DemandForecaster.predict` keeps a year of history (or half the history, if that is
    less) before its first calibration window, which is as long as the horizon.
    """
    return history_days - min(season_length_year, history_days // 2)


def calibration_bands(longest: int) -> list[int]:
    """The calibration horizons (days) of a history whose longest horizon is ``longest``.

    A week, then doubling (7, 14, 28, 56, ...), and ``longest`` itself as the last. A day
    ``k`` days ahead is calibrated on the errors of 1- to ``H``-day-ahead forecasts, ``H`` the
    first band of at least ``k`` days: the band depends on ``k`` and on the history, never on
    the horizon asked for. A week is the shortest, so every weekday has errors in each window.
    """
    bands = [FIRST_BAND_DAYS]
    while bands[-1] * 2 < longest:
        bands.append(bands[-1] * 2)
    return [b for b in bands if b < longest] + [longest]


def _history_needed(h: int, season_length_year: int = 365) -> int:
    """The fewest days of history for which :func:`longest_horizon` is at least ``h``."""
    if 2 * h - 1 < 2 * season_length_year:
        return max(2 * h - 1, 28)
    return h + season_length_year


def _mae_minutes(cv: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Mean absolute error in minutes (squared back) per series, for each model column."""
    actual = np.square(cv["y"].to_numpy())
    errors = {
        name: np.abs(np.square(np.maximum(cv[name].to_numpy(), 0.0)) - actual) for name in models
    }
    return pd.DataFrame(errors).groupby(cv["unique_id"].to_numpy()).mean()


@dataclass(frozen=True)
class _Runs:
    """statsforecast calls on one design: square-root history, future regressors, windows."""

    train: pd.DataFrame
    ahead: pd.DataFrame
    regressors: list[str]
    h: int
    n_jobs: int | None

    def _columns(self, name: str) -> list[str]:
        if name == "harmonic":
            return self.regressors
        # Seasonal differencing already removes a fixed weekly pattern, and ARIMA errors
        # follow the level, so the ARIMA takes only the holiday and annual regressors.
        return [c for c in self.regressors if not c.startswith(("weekday", "trend"))]

    def _engine(self, name: str, models: list, n_series: int):
        from statsforecast import StatsForecast
        from statsforecast.models import SeasonalNaive

        n_jobs = self.n_jobs
        if n_jobs is None:
            # Only the ARIMA (0.1-0.3 s a fit) gains from a pool, and only with enough fits.
            many = name == "arima" and n_series >= PARALLEL_FROM_SERIES
            n_jobs = (os.cpu_count() or 1) if many else 1
        return StatsForecast(
            models=models, freq="D", n_jobs=n_jobs, fallback_model=SeasonalNaive(7)
        )

    def cross_validation(self, name: str, ids: pd.Index, length: int, windows: int):
        """Rolling-origin forecasts of model ``name`` (and, with the harmonic, the naive):
        ``windows`` non-overlapping windows of ``length`` days, the last ending on the last
        day of the history."""
        from statsforecast.models import SeasonalNaive

        columns = self._columns(name)
        part = self.train.loc[self.train["unique_id"].isin(ids), ["unique_id", "ds", "y", *columns]]
        models = [_MAKERS[name]()]
        if name == "harmonic":
            models.append(SeasonalNaive(7, alias="naive"))
        # The harmonic regression is refitted at every origin, so each error is that of a
        # 1..h-day-ahead forecast, as the intervals need. The ARIMA is fitted once, at the
        # first origin, and run forward over the later windows (statsforecast's refit=False):
        # its forecasts still start from each origin's data, one fit instead of one per window.
        with _fast_sklearn(), _quiet():
            return self._engine(name, models, len(ids)).cross_validation(
                h=length,
                df=part,
                n_windows=windows,
                step_size=length,
                refit=name != "arima",
            )

    def forecast(self, name: str, ids: pd.Index) -> pd.DataFrame:
        """``unique_id, ds, zhat``: model ``name`` fitted to all the history of ``ids``."""
        columns = self._columns(name)
        part = self.train.loc[self.train["unique_id"].isin(ids), ["unique_id", "ds", "y", *columns]]
        future = self.ahead.loc[self.ahead["unique_id"].isin(ids), ["unique_id", "ds", *columns]]
        with _fast_sklearn(), _quiet():
            fc = self._engine(name, [_MAKERS[name]()], len(ids)).forecast(
                h=self.h, df=part, X_df=future if columns else None
            )
        return fc.rename(columns={name: "zhat"})[["unique_id", "ds", "zhat"]]


class DemandForecaster:
    """Daily demand per resource with weekly and annual seasons, holidays and intervals.

    Parameters
    ----------
    levels : tuple of int
        Prediction-interval levels in percent; the output has ``lo{L}``/``hi{L}`` for each.
    season_length_year : int
        Days in the annual season, the period of the Fourier terms.
    model : {"auto", "harmonic", "arima"}
        ``"auto"`` chooses per series (see the module docstring); the others force a model.
    fourier_order : int, optional
        Sine/cosine pairs for the annual season. Default: 4 when the shortest series holds
        two years or more, else 1 (an annual shape is poorly identified from one year).
    calibration_windows : int, optional
        Non-overlapping rolling-origin windows per calibration band of ``H`` days (see the
        module docstring), used to choose the model and calibrate the intervals. Default
        ``ceil(224 / H)``, at least 2: about 224 errors (32 per weekday) in every band.
        Fewer are used when the history is short: a year (or half the history, if less) is
        kept before the first one.
    n_jobs : int, optional
        Processes for statsforecast. Default: the harmonic regression in this process, the
        ARIMA escalations on every core from 8 of them (a pool's start-up costs more than a
        harmonic fit saves).

    Attributes
    ----------
    history_ : DataFrame
        ``unique_id, ds, y`` as fitted, sorted.
    exog_ : DataFrame or None
        The holiday features for the history's dates.
    chosen_ : Series
        After :meth:`predict`: the model used for each ``unique_id``.
    bands_ : list of int
        After :meth:`predict`: the calibration bands (days) its intervals came from.
    """

    def __init__(
        self,
        levels: tuple[int, ...] = (80, 95),
        season_length_year: int = 365,
        model: str = "auto",
        *,
        fourier_order: int | None = None,
        calibration_windows: int | None = None,
        n_jobs: int | None = None,
    ):
        if model not in MODELS:
            raise FlowcapError(f"model must be one of {', '.join(MODELS)}, not {model!r}")
        if not levels or any(not 0 < level < 100 for level in levels):
            raise FlowcapError("levels must be percentages between 0 and 100")
        if calibration_windows is not None and calibration_windows < 1:
            raise FlowcapError("calibration_windows must be at least 1")
        self.levels = tuple(sorted(levels))
        self.season_length_year = season_length_year
        self.model = model
        self.fourier_order = fourier_order
        self.calibration_windows = calibration_windows
        self.n_jobs = n_jobs

    # -- fit ------------------------------------------------------------------------------

    def fit(self, y: pd.DataFrame, exog: pd.DataFrame | None = None) -> DemandForecaster:
        """Check and keep the history; the models are fitted by :meth:`predict`.

        The rolling-origin calibration needs the bands up to the horizon, so the fitting
        happens when the horizon is known, as in statsforecast's ``StatsForecast.forecast``.

        Parameters
        ----------
        y : DataFrame
            Long format: ``unique_id``, ``ds`` (calendar days, no gaps within a series),
            ``y`` (minutes per day, non-negative).
        exog : DataFrame, optional
            ``ds`` and 0/1 feature columns (:func:`holiday_features`), covering every ``ds``
            in ``y``; optionally also ``unique_id`` for features that differ per series.
        """
        missing = {"unique_id", "ds", "y"} - set(y.columns)
        if missing:
            raise FlowcapError(f"y needs the columns unique_id, ds, y; missing {sorted(missing)}")
        history = y[["unique_id", "ds", "y"]].copy()
        history["ds"] = pd.to_datetime(history["ds"])
        history["y"] = pd.to_numeric(history["y"], errors="raise").astype(float)
        if history["y"].isna().any() or (history["y"] < 0).any():
            raise FlowcapError("y must be a non-negative number on every day")
        history = history.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        gaps = history.groupby("unique_id", sort=False)["ds"].diff().dropna()
        if (gaps != pd.Timedelta(days=1)).any():
            raise FlowcapError("each series needs one row per calendar day, without gaps")
        lengths = history.groupby("unique_id", sort=False).size()
        if lengths.min() < 28:
            raise FlowcapError("each series needs at least 28 days of history")
        self.history_ = history
        self.exog_ = None if exog is None else self._check_exog(exog, history)
        return self

    @staticmethod
    def _check_exog(exog: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
        exog = exog.copy()
        exog["ds"] = pd.to_datetime(exog["ds"])
        keys = ["unique_id", "ds"] if "unique_id" in exog.columns else ["ds"]
        if exog.duplicated(keys).any():
            raise FlowcapError(f"exog has more than one row for some {' and '.join(keys)}")
        found = frame[keys].merge(exog[keys].assign(_found=True), on=keys, how="left")
        if found["_found"].isna().any():
            first = found.loc[found["_found"].isna(), "ds"].min().date()
            raise FlowcapError(f"exog does not cover every date (first missing: {first})")
        return exog

    # -- predict --------------------------------------------------------------------------

    def predict(self, h: int, exog_future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast ``h`` days past each series' last day.

        Parameters
        ----------
        h : int
            Days ahead.
        exog_future : DataFrame, optional
            The same feature columns as ``exog`` for the ``h`` days after the history;
            required when ``fit`` was given ``exog``.

        Returns
        -------
        DataFrame
            ``unique_id, ds, yhat`` and ``lo{L}, hi{L}`` for each level: minutes per day,
            never negative, with ``lo95 <= lo80 <= yhat <= hi80 <= hi95``.
        """
        if not hasattr(self, "history_"):
            raise FlowcapError("call fit before predict")
        if h < 1:
            raise FlowcapError("the horizon must be at least 1 day")
        if self.exog_ is not None and exog_future is None:
            raise FlowcapError("exog_future is needed: the forecaster was fitted with exog")
        history = self.history_
        n_min = int(history.groupby("unique_id", sort=False).size().min())
        order = self.fourier_order
        if order is None:
            order = 4 if n_min >= 2 * self.season_length_year else 1
        last = history.groupby("unique_id", sort=False)["ds"].max()
        steps = pd.to_timedelta(np.tile(np.arange(1, h + 1), len(last)), unit="D")
        future = pd.DataFrame(
            {
                "unique_id": np.repeat(last.index.to_numpy(), h),
                "ds": np.repeat(last.to_numpy(), h) + steps,
            }
        )
        train = self._design(history.assign(y=np.sqrt(history["y"])), self.exog_, order)
        ahead = self._design(future, self._future_exog(exog_future, future), order)
        # Regressors with no variation in the history cannot be estimated.
        harmonic_cols = [
            c for c in train.columns if c not in ("unique_id", "ds", "y") and train[c].nunique() > 1
        ]

        longest = longest_horizon(n_min, self.season_length_year)
        if h > longest:
            raise FlowcapError(
                f"a history of {n_min} days is too short for a {h}-day horizon with "
                f"calibrated intervals: use --horizon {longest} or less (or give at least "
                f"{_history_needed(h, self.season_length_year)} days of history)"
            )
        # Everything below depends on the history and on each day's distance ahead, never on
        # h itself, so the first days of a long forecast are the short forecast (issue #10).
        bands = calibration_bands(longest)
        used = bands[: int(np.searchsorted(bands, h)) + 1]
        run = _Runs(train, ahead, harmonic_cols, h, self.n_jobs)
        runs: dict[tuple[str, int], pd.DataFrame] = {}

        def errors_of(name: str, ids: pd.Index, length: int) -> pd.DataFrame:
            """The model's rolling-origin forecasts over ``length``-day windows, once each."""
            key = (name, length)
            done = runs[key]["unique_id"].unique() if key in runs else []
            todo = ids.difference(pd.Index(done))
            if len(todo):
                more = run.cross_validation(name, todo, length, self._windows(n_min, length)[0])
                runs[key] = pd.concat([runs.get(key), more], ignore_index=True)
            return runs[key][runs[key]["unique_id"].isin(ids)]

        ids = last.index
        chosen = pd.Series("harmonic" if self.model == "auto" else self.model, index=ids)
        if self.model == "auto":
            select = min(SELECTION_DAYS, longest)
            cv = errors_of("harmonic", ids, select)
            mae = _mae_minutes(cv, ["harmonic", "naive"])
            escalated = mae.index[mae["harmonic"] >= mae["naive"]]
            if len(escalated):
                more = errors_of("arima", escalated, select)
                both = cv[cv["unique_id"].isin(escalated)].merge(
                    more[["unique_id", "ds", "cutoff", "arima"]],
                    on=["unique_id", "ds", "cutoff"],
                    how="left",
                )
                mae = _mae_minutes(both, ["harmonic", "arima"])
                chosen[escalated] = mae.idxmin(axis=1)[escalated]  # ties keep harmonic

        scores = []
        for length in used:
            for name in _MAKERS:
                mine = chosen.index[chosen == name]
                if len(mine):
                    cv = errors_of(name, mine, length)
                    scores.append(
                        pd.DataFrame(
                            {
                                "unique_id": cv["unique_id"].to_numpy(),
                                "band": length,
                                "weekday": cv["ds"].dt.dayofweek.to_numpy(),
                                "score": np.abs(cv["y"].to_numpy() - cv[name].to_numpy()),
                            }
                        ).dropna()
                    )
        point = [
            run.forecast(name, chosen.index[chosen == name])
            for name in _MAKERS
            if (chosen == name).any()
        ]
        self.chosen_ = chosen
        self.bands_ = used
        forecast = pd.concat(point, ignore_index=True)
        return self._intervals(forecast, pd.concat(scores, ignore_index=True), last, bands)

    def _windows(self, n_min: int, length: int) -> tuple[int, int]:
        """Calibration windows of ``length`` days and their step (``length``), keeping a year
        (or half) of history before the first.

        The windows do not overlap, so each day's error is counted once: overlapping windows
        score the same day's noise twice, which shrinks the effective number of errors and
        leaves the intervals short (95% intervals covered 93% of Gaussian test days).
        """
        wanted = self.calibration_windows
        if wanted is None:
            wanted = max(2, math.ceil(CALIBRATION_ERRORS / length))
        room = longest_horizon(n_min, self.season_length_year) - length
        if room < 0:
            raise FlowcapError(f"a history of {n_min} days is too short for {length}-day windows")
        return max(1, min(wanted, room // length + 1)), length

    def _intervals(
        self, forecast: pd.DataFrame, scores: pd.DataFrame, last: pd.Series, bands: list[int]
    ) -> pd.DataFrame:
        """Square the point forecast back and add Mondrian split-conformal bounds: a day
        ``k`` days ahead takes the errors of its calibration band (the first of ``bands``
        at least ``k`` days long), of its weekday."""
        forecast = forecast.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        zhat = np.maximum(forecast["zhat"].to_numpy(), 0.0)
        weekday = forecast["ds"].dt.dayofweek.to_numpy()
        ahead = (forecast["ds"] - forecast["unique_id"].map(last)).dt.days.to_numpy()
        band = np.asarray(bands)[np.searchsorted(bands, ahead)]
        out = forecast[["unique_id", "ds"]].copy()
        out["yhat"] = np.square(zhat)
        by_weekday = _conformal_quantiles(scores, ["unique_id", "band", "weekday"], self.levels)
        pooled = _conformal_quantiles(scores, ["unique_id", "band"], self.levels)
        keys = pd.MultiIndex.from_arrays([forecast["unique_id"], band, weekday])
        series_band = pd.MultiIndex.from_arrays([forecast["unique_id"], band])
        for level in self.levels:
            width = by_weekday[level].reindex(keys).to_numpy()
            # A weekday without errors (too short a history) borrows the series' pooled ones.
            fallback = pooled[level].reindex(series_band).to_numpy()
            width = np.nan_to_num(np.where(np.isnan(width), fallback, width), nan=0.0)
            out[f"lo{level}"] = np.square(np.maximum(zhat - width, 0.0))
            out[f"hi{level}"] = np.square(zhat + width)
        return out

    # -- design matrices ------------------------------------------------------------------

    def _future_exog(self, exog_future: pd.DataFrame | None, future: pd.DataFrame):
        if self.exog_ is None:
            return None
        exog_future = self._check_exog(exog_future, future)
        columns = [c for c in self.exog_.columns if c not in ("ds", "unique_id")]
        absent = [c for c in columns if c not in exog_future.columns]
        if absent:
            raise FlowcapError(f"exog_future lacks the columns {absent}")
        return exog_future

    def _design(self, frame: pd.DataFrame, exog: pd.DataFrame | None, order: int):
        frame = frame.reset_index(drop=True)
        dates = pd.DatetimeIndex(frame["ds"])
        parts = [frame]
        if exog is not None:
            keys = ["unique_id", "ds"] if "unique_id" in exog.columns else ["ds"]
            columns = [c for c in exog.columns if c not in ("ds", "unique_id")]
            merged = frame[["unique_id", "ds"]].merge(
                exog[keys + columns], on=keys, how="left", validate="many_to_one"
            )
            parts.append(merged[columns].astype(float).reset_index(drop=True))
        if order:
            parts.append(fourier_terms(dates, self.season_length_year, order))
        parts.append(_weekday_trend_terms(dates))
        return pd.concat(parts, axis=1)
