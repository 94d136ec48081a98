"""The steps a user runs on a service folder, end to end: check, import, measure, erase.

Each is a plain function so the CLI, a notebook and (later) the web app call the same code.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from flowcap.errors import FlowcapError
from flowcap.forecast import DemandForecaster, holiday_features
from flowcap.forecast import backtest as run_backtest
from flowcap.io import ServiceFolder, read_service_folder, read_service_yaml
from flowcap.io.folder import file_hashes
from flowcap.io.pseudonym import load_key
from flowcap.io.scenarios_yaml import read_scenarios
from flowcap.io.school_holidays import read_school_holidays, school_holiday_days
from flowcap.measures import DailyMeasures, daily_measures
from flowcap.measures.daily import capacity_minutes
from flowcap.model import bank_holidays, working_calendar
from flowcap.model.service import Service
from flowcap.plan.capacity import StaffPlan, minimum_staff
from flowcap.plan.risk import DEFAULT_KS, BadDayRisk, bad_day_risk
from flowcap.plan.scenarios import ScenarioComparison, compare_scenarios
from flowcap.report.fan_chart import backlog_fan_table
from flowcap.simulate.build import build_spec
from flowcap.simulate.daily import DailyResult, DailySpec
from flowcap.simulate.daily import run as run_daily
from flowcap.store import ImportReport, Store, StoredData
from flowcap.variation.series import fold_to_working_days, working_day_series
from flowcap.variation.spc import RULES, SPCResult, SPCSettings, xmr
from flowcap.variation.stats import variation_summary, weekday_month_table

TEMPLATE = Path(__file__).with_name("io") / "template"
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def init_folder(folder: str | Path) -> list[Path]:
    """Write a commented template service folder; refuse to overwrite existing files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    targets = [
        (source, folder / source.name)
        for source in sorted(TEMPLATE.iterdir())
        if source.suffix in (".yaml", ".csv")
    ]
    existing = [target.name for _, target in targets if target.exists()]
    if existing:
        raise FlowcapError(f"{folder} already has {', '.join(existing)}; not overwriting")
    for source, target in targets:
        shutil.copyfile(source, target)
    return [target for _, target in targets]


def validate_folder(folder: str | Path) -> ServiceFolder:
    """Check a service folder without importing it; raises ``InputError`` listing every problem.

    ``scenarios.yaml``, when present, is checked against the service too.
    """
    checked = read_service_folder(folder)
    options = Path(folder) / "scenarios.yaml"
    if options.is_file():
        read_scenarios(options, checked.service)
    return checked


def import_folder(folder: str | Path, progress: Progress = _quiet) -> ImportReport:
    """Check a folder and import what changed since the last import, in one transaction."""
    progress("Checking files")
    checked = read_service_folder(folder)
    key = load_key()
    progress("Importing")
    store = Store.for_folder(folder)
    try:
        return store.import_folder(checked, key)
    finally:
        store.close()


def measure_folder(
    folder: str | Path,
    start: date | None = None,
    end: date | None = None,
    progress: Progress = _quiet,
) -> DailyMeasures:
    """Import what is new, then compute the daily measures; the table covers ``start``..``end``.

    Measuring always runs from the first day of data, so the backlog on ``start`` is right.
    """
    if start is not None and end is not None and start > end:
        raise FlowcapError(f"--from {start} is after --to {end}")
    _, data, measures = _measure(folder, end, progress)
    if measures.recorded and end is not None:
        last = max(data.sessions["date"].max(), data.referrals["referral_date"].max())
        if pd.Timestamp(end) > last:
            raise FlowcapError(
                f"--to {end} is after the last recorded data ({last:%Y-%m-%d}): no activity is "
                "recorded after it, so the backlog would only grow"
            )
    measures.table = measures.between(start, end)
    if measures.table.empty:
        span = f"from {start}" if end is None else f"between {start or 'the start'} and {end}"
        raise FlowcapError(
            f"no days {span}: the measures run from the first referral date to the last day of data"
        )
    return measures


def _measure(
    folder: str | Path, until: date | None, progress: Progress
) -> tuple[Service, StoredData, DailyMeasures]:
    """Import what changed, load the store and measure: the service, its data and measures."""
    service = read_service_yaml(Path(folder) / "service.yaml")
    key = load_key()
    store = Store.for_folder(folder)
    try:
        # Reading and checking a large export takes seconds; skip it when nothing changed.
        if not store.is_current(service.name, file_hashes(folder)):
            progress("Importing what is new")
            checked = read_service_folder(folder)
            service = checked.service
            store.import_folder(checked, key)
        progress("Reading the store")
        data = store.load(service.name)
    finally:
        store.close()
    progress("Measuring")
    return service, data, daily_measures(service, data, until=until)


def erase_case(folder: str | Path, case_id: str) -> dict[str, int]:
    """Remove one person's records from the store (right to erasure); rows removed per table."""
    service = read_service_yaml(Path(folder) / "service.yaml")
    key = load_key(create=False)
    store = Store.for_folder(folder)
    try:
        return store.erase(service.name, case_id, key)
    finally:
        store.close()


# --- variation, forecast and risk (issue 3) ------------------------------------------------


@dataclass
class VariationReport:
    """Statistics, SPC charts and alerts for every resource of a service.

    ``spc`` maps (resource, measure) to an :class:`~flowcap.variation.spc.SPCResult`, measure
    being ``demand``, ``activity`` or ``backlog`` (minutes, working days); ``profiles`` maps a
    resource to its weekday × month table of mean daily demand minutes.
    """

    service_name: str
    stats: dict[str, dict]
    spc: dict[tuple[str, str], SPCResult]
    profiles: dict[str, pd.DataFrame]

    def days_observed(self, resource: str) -> int:
        """Calendar days from the first to the last day of the resource's SPC series."""
        points = self.spc[(resource, "demand")].points
        return 0 if points.empty else int((points["date"].max() - points["date"].min()).days) + 1

    @property
    def alerts(self) -> list[dict]:
        """One alert per flagged point: the rule first in Making Data Count precedence
        (outside the limits, trend, two of three, shift) when several flag the same point."""
        out = []
        for (resource, measure), result in self.spc.items():
            first: dict = {}
            for alert in sorted(result.alerts, key=lambda a: RULES.index(a.rule)):
                first.setdefault(alert.date, alert)
            for alert in first.values():
                out.append(
                    {
                        "date": alert.date.isoformat(),
                        "resource": resource,
                        "measure": measure,
                        "rule": alert.rule,
                        "direction": alert.direction,
                        "message": alert.message,
                    }
                )
        return sorted(out, key=lambda a: (a["date"], a["resource"], a["measure"], a["rule"]))

    def as_json(self) -> dict:
        resources = {}
        for resource, stats in self.stats.items():
            resources[resource] = {
                "stats": stats,
                "spc": {
                    measure: [
                        {
                            "from": s.start.isoformat(),
                            "to": s.end.isoformat(),
                            "mean": _json_float(s.mean),
                            "lower_limit": _json_float(s.lower_limit) if s.has_limits else None,
                            "upper_limit": _json_float(s.upper_limit) if s.has_limits else None,
                        }
                        for s in self.spc[(resource, measure)].segments
                    ]
                    for measure in SPC_MEASURES
                },
            }
        return {"resources": resources, "alerts": self.alerts}


SPC_MEASURES = {
    "demand": "demand_minutes",
    "activity": "activity_minutes",
    "backlog": "backlog_minutes",
}


def variation_folder(
    folder: str | Path, settings: SPCSettings | None = None, progress: Progress = _quiet
) -> VariationReport:
    """Describe each resource's daily demand and run XmR charts of demand, activity, backlog.

    The statistics use demand as it fell due on the service's weekdays (bank holidays
    included, so their effect can be measured); the weekday × month profile uses every day.
    SPC runs over working days, with demand that fell due on other days counted on the next
    working day (:func:`flowcap.variation.series.working_day_series`).
    """
    settings = settings or SPCSettings()
    service, _, measures = _measure(folder, None, progress)
    school = read_school_holidays(Path(folder), service.timezone)
    progress("Describing variation")
    table = measures.table
    first, last = table["date"].min(), table["date"].max()
    holiday_dates = pd.DatetimeIndex(
        sorted(bank_holidays(service.region, first.date(), last.date()))
    )
    stats, spc, profiles = {}, {}, {}
    weekdays = sorted(service.weekday_numbers)
    for resource in service.resources:
        # Statistics on demand as it fell due, on the service's weekdays (bank holidays
        # included, so their effect shows): folding would read the catch-up as variation.
        days = table[(table["resource"] == resource) & table["date"].dt.dayofweek.isin(weekdays)]
        dates = pd.DatetimeIndex(days["date"])
        stats[resource] = variation_summary(
            dates,
            days["demand_minutes"].to_numpy(),
            days["demand_cases"].to_numpy(),
            bank_holiday=np.isin(dates, holiday_dates),
            bank_holiday_dates=holiday_dates,
            school_holiday=school_holiday_days(school, dates),
        )
        every_day = table[table["resource"] == resource]
        profiles[resource] = weekday_month_table(
            pd.DatetimeIndex(every_day["date"]), every_day["demand_minutes"].to_numpy()
        )
        # SPC on working days, with demand due on other days counted on the next one.
        series = working_day_series(table, resource)
        dates = pd.DatetimeIndex(series.index)
        for measure, column in SPC_MEASURES.items():
            spc[(resource, measure)] = xmr(
                dates,
                series[column].to_numpy(),
                settings,
                label=f"{resource} {measure}",
                unit="minutes",
            )
    return VariationReport(service.name, stats, spc, profiles)


@dataclass
class ForecastReport:
    """Daily demand forecasts per resource, with the history they came from.

    ``history``: date, resource, demand_minutes (calendar days). ``forecast``: date, resource,
    demand_minutes (the forecast mean), lo80, hi80, lo95, hi95. ``backtest``: one row per
    resource (mase, mase_seasonal_naive, coverage80, coverage95) or ``None``.
    """

    service_name: str
    history: pd.DataFrame
    forecast: pd.DataFrame
    backtest: pd.DataFrame | None = None

    def as_json(self) -> dict:
        forecast = self.forecast.copy()
        forecast["date"] = forecast["date"].dt.strftime("%Y-%m-%d")
        for column in ("demand_minutes", "lo80", "hi80", "lo95", "hi95"):
            forecast[column] = forecast[column].astype(float).round(1)
        out: dict = {"forecast": forecast.to_dict(orient="records"), "backtest": {}}
        if self.backtest is not None:
            out["backtest"] = {
                str(row["unique_id"]): {
                    name: _json_float(row[name])
                    for name in ("mase", "mase_seasonal_naive", "coverage80", "coverage95")
                }
                for _, row in self.backtest.iterrows()
            }
        return out


def forecast_folder(
    folder: str | Path,
    horizon: int,
    backtest: bool = False,
    progress: Progress = _quiet,
) -> ForecastReport:
    """Forecast each resource's daily demand minutes ``horizon`` days past the data."""
    if horizon < 1:
        raise FlowcapError("--horizon must be at least 1 day")
    service, _, measures = _measure(folder, None, progress)
    school = read_school_holidays(Path(folder), service.timezone)
    return _forecast(service, measures.table, school, horizon, backtest, progress)


def _forecast(service, table, school, horizon, backtest, progress) -> ForecastReport:
    history = table[["date", "resource", "demand_minutes"]]
    y = history.rename(columns={"resource": "unique_id", "date": "ds", "demand_minutes": "y"})
    last = y["ds"].max()
    future = pd.date_range(last + pd.Timedelta(days=1), periods=horizon, freq="D")
    exog = holiday_features(
        pd.date_range(y["ds"].min(), future[-1], freq="D"), service.region, school
    )
    progress("Fitting the forecast")
    model = DemandForecaster().fit(y, exog[exog["ds"] <= last])
    predicted = model.predict(horizon, exog[exog["ds"] > last])
    forecast = predicted.rename(
        columns={"unique_id": "resource", "ds": "date", "yhat": "demand_minutes"}
    )
    scores = None
    if backtest:
        progress("Backtesting")
        scored = min(horizon, 28)
        # Short horizons need more windows to score enough days (56 one-day windows at h = 1).
        windows = max(BACKTEST_WINDOWS, math.ceil(56 / scored))
        scores = run_backtest(y, exog[exog["ds"] <= last], horizon=scored, n_windows=windows)
    return ForecastReport(service.name, history.copy(), forecast, scores)


BACKTEST_WINDOWS = 8


@dataclass
class RiskReport:
    """Bad-day risks per resource and ratio, and each forecast day's probability."""

    service_name: str
    risks: list[BadDayRisk]
    daily: pd.DataFrame  # date, resource, k, p over the horizon

    def as_json(self) -> list[dict]:
        return [risk.as_json() for risk in self.risks]


def risk_folder(
    folder: str | Path,
    ks: tuple[float, ...] = DEFAULT_KS,
    horizon: int = 90,
    progress: Progress = _quiet,
) -> RiskReport:
    """How often each resource's demand exceeds k × capacity, from history and ahead."""
    if not all(np.isfinite(k) and k > 0 for k in ks):
        raise FlowcapError("--k must be a number more than 0")
    if horizon < 1:
        raise FlowcapError("--horizon must be at least 1 day")
    service, data, measures = _measure(folder, None, progress)
    school = read_school_holidays(Path(folder), service.timezone)
    report = _forecast(service, measures.table, school, horizon, False, progress)
    measures_table = measures.table
    future_days = pd.date_range(report.forecast["date"].min(), report.forecast["date"].max())
    calendar = working_calendar(service, future_days[0].date(), future_days[-1].date())
    capacity = capacity_ahead(service, data.roster, calendar, measures_table)
    progress("Assessing the risk of bad days")
    risks, daily = [], []
    working = calendar["is_working_day"].to_numpy()
    for resource in service.resources:
        history = working_day_series(measures_table, resource)
        predicted = report.forecast[report.forecast["resource"] == resource].sort_values("date")
        ahead = pd.DataFrame(
            {
                "demand_minutes": fold_to_working_days(
                    future_days, predicted["demand_minutes"].to_numpy(), working
                ),
            }
        )
        ahead["capacity_minutes"] = pd.Series(capacity[resource], index=future_days)[ahead.index]
        found = bad_day_risk(history, ks, resource=resource, ahead=ahead)
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


def capacity_ahead(
    service: Service, roster: pd.DataFrame, calendar: pd.DataFrame, history: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Minutes of capacity on each day ahead, per resource (shape (n_days,)).

    A roster row for the day wins (a planned gap shows). Otherwise the day gets what the same
    weekday had on average over the last 52 weeks of history (leave and sickness included),
    which is nearer the truth than everyone in; with no such history, the default head count
    less the resource's ``absence_rate``. Non-working days without a roster row get none.
    """
    planned = capacity_minutes(service, roster, calendar)
    days = pd.DatetimeIndex(calendar["date"])
    working = calendar["is_working_day"].to_numpy()
    out = {}
    for name, resource in service.resources.items():
        rostered = roster[roster["resource"] == name]["date"]
        has_row = np.isin(days, pd.DatetimeIndex(rostered))
        past = history[(history["resource"] == name) & history["is_working_day"]]
        past = past[past["date"] > past["date"].max() - pd.Timedelta(days=364)]
        by_weekday = past.groupby(past["date"].dt.dayofweek)["capacity_minutes"].mean()
        usual = days.dayofweek.map(by_weekday).to_numpy(dtype=float)
        fallback = resource.capacity_minutes_per_day * (1 - resource.absence_rate)
        usual = np.where(np.isnan(usual), fallback, usual)
        out[name] = np.where(has_row, planned[name], np.where(working, usual, 0.0))
    return out


def _json_float(value) -> float | None:
    value = float(value)
    return None if not np.isfinite(value) else float(f"{value:.6g}")


# --- simulation and minimum capacity (issue 4, first part) ---------------------------------


@dataclass
class SimulationReport:
    """A Monte Carlo run of the days ahead from where the data end (or from ``start``)."""

    service_name: str
    start: date
    spec: DailySpec
    result: DailyResult
    threshold_minutes: float
    cost_per_hour: dict[str, float | None]
    comparison: ScenarioComparison | None = None

    def baseline_cost(self, resource: str) -> float | None:
        """Rostered cost over the horizon: staff × minutes/60 × cost per hour, summed (pounds)."""
        rate = self.cost_per_hour.get(resource)
        if rate is None:
            return None
        r = self.spec.resources.index(resource)
        hours = (self.spec.staff[r] * self.spec.minutes_per_staff[r]).sum() / 60
        return float(hours * rate)

    def fan(self) -> pd.DataFrame:
        days = pd.date_range(self.start, periods=self.spec.horizon_days, freq="D")
        return backlog_fan_table(days, self.spec.resources, self.result.backlog_percentiles)

    def as_json(self) -> dict:
        if self.comparison is not None:
            return self.comparison.as_json()
        baseline = {}
        for resource in self.spec.resources:
            summary = self.result.summary(resource)
            baseline[resource] = {
                name: _json_float(summary[name])
                for name in (
                    "final_backlog_mean",
                    "final_backlog_p50",
                    "final_backlog_p90",
                    "p_final_backlog_over_threshold",
                    "mean_wait_days",
                    "cases_reneged",
                )
            }
            cost = self.baseline_cost(resource)
            baseline[resource]["cost"] = None if cost is None else round(cost, 2)
        return {
            "scenarios": {"baseline": baseline},
            "ranking": [],
            "recommendation": "Only the baseline was simulated: give contingency options in "
            "scenarios.yaml (or --scenarios FILE) to compare them.",
        }


def _history(folder: str | Path, progress: Progress):
    """The service, its stored data and measures; data without measures when there is no
    history (every case type then carries a ``demand`` model)."""
    checked = read_service_folder(folder)
    if checked.referrals.empty:
        empty = checked.referrals.rename(columns={"case_id": "case_key"})
        waiting = checked.waiting.rename(columns={"case_id": "case_key"})
        return checked.service, StoredData(empty, waiting, checked.roster, None), None
    return _measure(folder, None, progress)


def simulate_folder(
    folder: str | Path,
    *,
    horizon: int = 90,
    replications: int = 10_000,
    seed: int = 0,
    threshold_minutes: float = 2400.0,
    start: date | None = None,
    scenarios: str | Path | None = None,
    risk_target: float = 0.1,
    progress: Progress = _quiet,
) -> SimulationReport:
    """Simulate every resource's backlog ``horizon`` days ahead, ``replications`` times.

    Contingency options come from ``scenarios`` or, when it is ``None``, from the folder's
    ``scenarios.yaml`` if there is one; each runs with the baseline's random numbers.
    """
    if replications < 1:
        raise FlowcapError("--replications must be at least 1")
    if not 0 < risk_target < 1:
        raise FlowcapError("--risk must be between 0 and 1")
    service, data, measures = _history(folder, progress)
    spec, first = build_spec(service, data, measures, horizon_days=horizon, start=start)
    options_file = Path(scenarios) if scenarios else Path(folder) / "scenarios.yaml"
    if scenarios and not options_file.is_file():
        raise FlowcapError(f"no scenarios file at {options_file}")
    progress(f"Simulating {replications:,} futures")
    result = run_daily(spec, replications, seed, threshold_minutes=threshold_minutes)
    comparison = None
    if options_file.is_file():
        options = read_scenarios(options_file, service)
        if options:
            progress(f"Comparing {len(options)} option(s)")
            comparison = compare_scenarios(
                spec,
                first,
                service,
                options,
                replications=replications,
                seed=seed,
                threshold_minutes=threshold_minutes,
                risk_target=risk_target,
            )
    costs = {name: r.cost_per_hour for name, r in service.resources.items()}
    return SimulationReport(service.name, first, spec, result, threshold_minutes, costs, comparison)


def plan_folder(
    folder: str | Path,
    *,
    target_backlog_minutes: float,
    risk: float,
    horizon: int = 90,
    replications: int = 2000,
    seed: int = 0,
    start: date | None = None,
    progress: Progress = _quiet,
) -> list[StaffPlan]:
    """The fewest staff per resource that keep P(backlog at the horizon > B) ≤ risk, stably."""
    if not 0 < risk < 1:
        raise FlowcapError("--risk must be between 0 and 1")
    if target_backlog_minutes < 0:
        raise FlowcapError("--target-backlog-minutes must not be negative")
    service, data, measures = _history(folder, progress)
    spec, _ = build_spec(service, data, measures, horizon_days=horizon, start=start)
    plans = []
    for resource in spec.resources:
        progress(f"Planning {resource}")
        plans.append(
            minimum_staff(
                spec,
                resource,
                target_backlog_minutes=target_backlog_minutes,
                risk=risk,
                replications=replications,
                seed=seed,
            )
        )
    return plans
