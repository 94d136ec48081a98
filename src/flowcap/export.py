"""A service's numbers as files for a finance team's spreadsheet or an analyst's notebook:
the daily measures, the SPC alerts, the demand forecast, the risk of bad days, the simulated
backlog ahead with the options' summaries, and the monitoring alerts, as CSV or Parquet
(``flowcap export``).

Every file is computed by the library function that owns it, never again here. Nothing in
them names a case unless ``cases`` is asked for, and then only by its pseudonym
(``case_key``, the store's keyed hash): raw case ids never reach the store, so they cannot
reach an export.

Files (``FORMAT`` ``csv`` or ``parquet``):

- ``measures.FORMAT``: one row per resource and day (:attr:`DailyMeasures.table`);
- ``spc_alerts.FORMAT``: one row per flagged point of every chart, minutes and referrals
  (:attr:`VariationReport.alerts` and ``referral_alerts``: ``chart`` names it);
- ``forecast.FORMAT``: daily demand minutes per resource ahead, with 80% and 95% intervals;
- ``risk.FORMAT`` and ``risk_daily.FORMAT``: P(demand > k × capacity) per resource and k,
  and per working day ahead;
- ``backlog_ahead.FORMAT``: the simulated backlog's percentiles per resource and day, with
  the chance over the threshold (the baseline);
- ``scenarios.FORMAT``: per option and resource, the simulation's summary (final backlog,
  waits, days over the first-contact target, cost);
- ``alerts.FORMAT``: the alerts ``flowcap monitor`` recorded (when the store has any);
- with ``cases``, ``cases.FORMAT``: per referral its ``case_key``, case type, referral date,
  first contact and its status against the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from flowcap.checks import ArgumentError
from flowcap.progress import Progress, quiet

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory

FORMATS = ("csv", "parquet")
#: Days ahead of the forecast, risk and simulation in an export, and the futures simulated.
HORIZON_DAYS = 90
REPLICATIONS = 2000


@dataclass(frozen=True)
class ExportedFile:
    """One file written: its path, what it holds and its rows."""

    path: Path
    table: str
    rows: int


def export_tables(
    history: ServiceHistory,
    *,
    cases: bool = False,
    horizon: int = HORIZON_DAYS,
    replications: int = REPLICATIONS,
    seed: int = 0,
    database_url: str | None = None,
    progress: Progress = quiet,
) -> dict[str, pd.DataFrame]:
    """Every table of an export, by name (see the module), computed by the library."""
    from flowcap.forecast import forecast_demand
    from flowcap.plan.outlook import simulate_ahead
    from flowcap.plan.risk import assess_risk
    from flowcap.variation import describe_variation

    measures = history.require_measures("an export")
    tables: dict[str, pd.DataFrame] = {}
    tables["measures"] = measures.table.reset_index(drop=True)
    progress("Variation and SPC")
    variation = describe_variation(history, progress=progress)
    minutes = [{"chart": f"{a['resource']} {a['measure']}", **a} for a in variation.alerts]
    spc = pd.DataFrame(
        minutes + variation.referral_alerts,
        columns=["date", "chart", "resource", "measure", "rule", "direction", "message"],
    )
    spc["date"] = pd.to_datetime(spc["date"])
    tables["spc_alerts"] = spc.sort_values(["date", "chart", "rule"], ignore_index=True)
    progress("Forecasting demand")
    tables["forecast"] = forecast_demand(history, horizon, progress=progress).forecast.reset_index(
        drop=True
    )
    progress("The risk of bad days")
    risk = assess_risk(history, horizon=horizon, progress=progress)
    rows = [{k: v for k, v in r.as_json().items() if k != "riskiest_dates"} for r in risk.risks]
    tables["risk"] = pd.DataFrame(rows)
    tables["risk_daily"] = risk.daily.reset_index(drop=True)
    progress("Simulating the days ahead")
    simulation = simulate_ahead(
        history, horizon=horizon, replications=replications, seed=seed, progress=progress
    )
    tables["backlog_ahead"] = simulation.fan()
    document = simulation.as_json()
    tables["scenarios"] = pd.DataFrame(
        [
            {"scenario": scenario, "resource": resource, **summary}
            for scenario, by_resource in document["scenarios"].items()
            for resource, summary in by_resource.items()
        ]
    )
    alerts = _alerts(history, database_url)
    if alerts is not None:
        tables["alerts"] = alerts
    if cases:
        contacts = measures.first_contacts.reset_index(drop=True)
        tables["cases"] = contacts[
            [
                "case_key",
                "case_type",
                "referral_date",
                "first_contact_date",
                "working_days_to_contact",
                "status",
            ]
        ]
    return tables


def export_service(
    history: ServiceHistory,
    out: str | Path,
    fmt: str = "csv",
    *,
    cases: bool = False,
    horizon: int = HORIZON_DAYS,
    replications: int = REPLICATIONS,
    seed: int = 0,
    database_url: str | None = None,
    progress: Progress = quiet,
) -> list[ExportedFile]:
    """Write the export's tables into the folder ``out`` (made if missing) as ``fmt``
    (``csv``: UTF-8, ISO dates; ``parquet``: typed columns, through pyarrow)."""
    if fmt not in FORMATS:
        raise ArgumentError("format", f"must be {' or '.join(FORMATS)}, not {fmt!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ArgumentError("out", f"must be a folder, and {out} is a file")
    tables = export_tables(
        history,
        cases=cases,
        horizon=horizon,
        replications=replications,
        seed=seed,
        database_url=database_url,
        progress=progress,
    )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, date_format="%Y-%m-%d")
        else:
            frame.to_parquet(path, index=False, engine="pyarrow")
        written.append(ExportedFile(path, name, len(frame)))
    return written


def _alerts(history: ServiceHistory, database_url: str | None) -> pd.DataFrame | None:
    """The monitoring alerts the service's store holds, oldest first; ``None`` when none."""
    from flowcap.monitor import list_alerts, open_alert_store

    store = open_alert_store(history, database_url)
    try:
        alerts = list_alerts(store, history.name, limit=None)
    finally:
        store.close()
    if not alerts:
        return None
    frame = pd.DataFrame([a.as_json() for a in reversed(alerts)])
    frame["delivered"] = frame["delivered"].map(",".join)
    for column in ("day", "last_seen"):
        frame[column] = pd.to_datetime(frame[column])
    for column in ("created_at", "sent_at", "acknowledged_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
