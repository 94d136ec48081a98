"""Commands on variation: variation (statistics and SPC), forecast, and the risk of bad days."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowcap.checks import check_at_least_one
from flowcap.cli.app import (
    AsJson,
    Chart,
    MapChart,
    ServiceDir,
    ServiceName,
    _cell,
    _note,
    _parse_date,
    app,
    err,
    open_history,
    out,
    running,
)
from flowcap.errors import FlowcapError

if TYPE_CHECKING:
    from flowcap.forecast import ForecastReport
    from flowcap.plan.risk import RiskReport
    from flowcap.variation import VariationReport


@app.command()
def variation(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
    as_json: AsJson = False,
    chart: Chart = None,
    recalculate_from: Annotated[
        list[str] | None,
        typer.Option("--recalculate-from", help="Recalculate SPC limits from DATE (repeatable)."),
    ] = None,
    shift_run: Annotated[int, typer.Option(help="Points on one side of the mean for a shift.")] = 6,
    trend_run: Annotated[int, typer.Option(help="Points rising or falling for a trend.")] = 6,
    min_points: Annotated[int, typer.Option(help="Points needed before limits are drawn.")] = 13,
    screen_outliers: Annotated[
        bool, typer.Option(help="Leave out moving ranges above 3.267 × their mean.")
    ] = False,
    period: Annotated[
        str,
        typer.Option(
            help="SPC points: day (working days) or week (complete ISO weeks, Monday to "
            "Sunday: a week's total of referrals or minutes; backlog at its end)."
        ),
    ] = "day",
) -> None:
    """Variation of daily demand per resource, and SPC (XmR) charts with Making Data Count
    icons and alerts on demand, activity and backlog minutes and on referrals (cases) by case
    type and by source, per working day or per week."""
    from flowcap.variation import describe_variation
    from flowcap.variation.report import chart_name
    from flowcap.variation.spc import PERIODS, SPCSettings

    if period not in PERIODS:
        raise typer.BadParameter(
            f"use {' or '.join(PERIODS)}, not {period!r}", param_hint="'--period'"
        )
    with running() as progress:
        settings = SPCSettings(
            shift_run=shift_run,
            trend_run=trend_run,
            min_points=min_points,
            screen_outliers=screen_outliers,
            recalculate_from=tuple(
                _parse_date(d, "--recalculate-from") for d in (recalculate_from or [])
            ),
        )
        history = open_history(service_dir, service, progress)
        report = describe_variation(history, settings, progress=progress, period=period)
        charts = []
        if chart is not None:
            from flowcap.report import write_spc_chart, write_variation_chart

            each = "per working day" if period == "day" else "per week (ISO, complete weeks)"
            spc_frames = {key: result.points for key, result in report.spc.items()}
            labels = {key: report.icons[key].label for key in report.spc}
            charts.append(
                write_spc_chart(
                    spc_frames, chart, f"{report.service_name}: SPC, minutes {each}", labels
                )
            )
            if report.referral_spc:
                frames, labels = {}, {}
                for key, result in report.referral_spc.items():
                    # Panels "da_standard · referrals", "source police · referrals".
                    name = chart_name(key, referrals=True).removeprefix("referrals ")
                    name = "all" if name == "referrals" else name
                    frames[(name, "referrals")] = result.points
                    labels[(name, "referrals")] = report.referral_icons[key].label
                referrals = chart.with_name(f"{chart.stem}-referrals{chart.suffix}")
                charts.append(
                    write_spc_chart(
                        frames, referrals, f"{report.service_name}: SPC, referrals {each}", labels
                    )
                )
            profile = chart.with_name(f"{chart.stem}-profile{chart.suffix}")
            charts.append(
                write_variation_chart(
                    report.profiles, profile, f"{report.service_name}: demand by weekday and month"
                )
            )
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), allow_nan=False) + "\n")
    else:
        _print_variation(report)
    for path in charts:
        err.print(f"chart: {path}", markup=False)


@app.command()
def forecast(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
    horizon: Annotated[int, typer.Option(help="Days to forecast past the data.")] = 90,
    backtest: Annotated[
        bool, typer.Option("--backtest", help="Also score a rolling-origin backtest.")
    ] = False,
    windows: Annotated[
        int | None,
        typer.Option(
            help="Backtest origins (implies --backtest). Default: as many as the history "
            "holds, up to 8."
        ),
    ] = None,
    as_json: AsJson = False,
    chart: Chart = None,
) -> None:
    """Forecast daily demand minutes per resource, with 80% and 95% intervals."""
    from flowcap.forecast import forecast_demand

    with running() as progress:
        history = open_history(service_dir, service, progress)
        report = forecast_demand(
            history,
            horizon,
            backtest or windows is not None,
            progress=progress,
            windows=windows,
            warn=_note,
        )
        if chart is not None:
            from flowcap.report import write_forecast_chart

            path = write_forecast_chart(
                report.history, report.forecast, chart, f"{report.service_name}: demand forecast"
            )
            err.print(f"chart: {path}", markup=False)
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), allow_nan=False) + "\n")
        return
    _print_forecast(report)


@app.command()
def risk(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
    k: Annotated[
        list[float] | None,
        typer.Option("--k", help="Ratio of demand to capacity that makes a bad day (repeatable)."),
    ] = None,
    horizon: Annotated[int, typer.Option(help="Days ahead to assess day by day.")] = 90,
    as_json: AsJson = False,
    chart: Chart = None,
) -> None:
    """How often demand exceeds k × capacity: from history, and day by day ahead."""
    from flowcap.plan.risk import DEFAULT_KS, assess_risk

    with running() as progress:
        history = open_history(service_dir, service, progress)
        report = assess_risk(history, tuple(k) if k else DEFAULT_KS, horizon, progress=progress)
        if chart is not None:
            from flowcap.report import write_risk_calendar

            path = write_risk_calendar(
                report.daily, chart, f"{report.service_name}: risk of a bad day"
            )
            err.print(f"chart: {path}", markup=False)
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), allow_nan=False) + "\n")
        return
    _print_risk(report)


def _print_variation(report: VariationReport) -> None:
    spread = Table(title=f"{escape(report.service_name)}: daily demand on working days (minutes)")
    for column in ("resource", "mean", "sd", "CV", "p50", "p90", "p95", "p99", "cases/day"):
        spread.add_column(column, justify="left" if column == "resource" else "right")
    shape = Table(title="Distribution of daily cases, and what moves demand")
    for column in (
        "resource",
        "best fit",
        "dispersion",
        "fit p",
        "bank holiday",
        "after bank holiday",
        "school holiday",
        "trend/yr",
    ):
        shape.add_column(column, justify="left" if column in ("resource", "best fit") else "right")
    for resource, stats in report.stats.items():
        minutes, cases, fit = (
            stats["demand_minutes"],
            stats["demand_cases"],
            stats["case_count_fit"],
        )
        spread.add_row(
            escape(resource),
            *(_cell(minutes[name], ",.0f") for name in ("mean", "sd")),
            _cell(minutes["cv"], ".2f"),
            *(_cell(minutes[name], ",.0f") for name in ("p50", "p90", "p95", "p99")),
            _cell(cases["mean"], ".1f"),
        )
        shape.add_row(
            escape(resource),
            escape(fit["best"].replace("_", " ")) if fit else "-",
            _cell(fit["dispersion"], ".2f") if fit else "-",
            _cell(fit["p_value"], ".2g") if fit else "-",
            _effect(stats.get("bank_holiday_effect")),
            _effect(stats.get("after_bank_holiday_effect")),
            _effect(stats.get("school_holiday_effect")),
            _trend(report.trend(resource)),
        )
    out.print(spread)
    out.print(shape)
    out.print(
        "Effects are ratios to comparable days (same weekday and month) with 95% intervals "
        "and n, the bank holidays, days or school holiday periods behind them; a dispersion "
        "above 1 means more variable than Poisson."
    )
    for resource, stats in report.stats.items():
        for kind in ("bank_holiday", "after_bank_holiday", "school_holiday"):
            effect = stats.get(f"{kind}_effect") or {}
            if effect.get("caution") and effect.get("ratio") is not None:
                name = kind.replace("_", " ")
                out.print(f"! {escape(resource)}, {name}: {escape(effect['caution'])}")
    _print_icons(report)
    _print_referral_alerts(report)
    alerts = report.alerts
    if not alerts:
        out.print("No special-cause variation in demand, activity or backlog.")
        return
    counts = Table(title=f"{len(alerts):,} SPC alerts (special-cause points) by rule")
    rules = ("outside_limits", "shift", "trend", "two_of_three")
    for column in ("resource", "measure", *rules, "latest"):
        counts.add_column(column, justify="left" if column in ("resource", "measure") else "right")
    for row in report.alert_counts().to_dict("records"):
        counts.add_row(
            escape(row["resource"]),
            escape(row["measure"]),
            *(str(row[rule]) for rule in rules),
            f"{row['latest']:%d %b %Y}",
        )
    out.print(counts)
    recent = Table(title="Most recent alerts")
    for column in ("date", "resource", "measure", "rule", "message"):
        recent.add_column(column)
    for alert in alerts[-8:]:
        recent.add_row(
            *(escape(str(alert[key])) for key in ("date", "resource", "measure", "rule", "message"))
        )
    out.print(recent)


def _print_icons(report: VariationReport) -> None:
    """Each chart's latest point, its limits and its Making Data Count icons, in words."""
    each = "working day" if report.period == "day" else "week (complete ISO weeks, Mon-Sun)"
    icons = Table(
        title=f"SPC per {each}: Making Data Count icons (variation: latest point; "
        "assurance: limits against the target)"
    )
    for column in ("chart", "latest", "value", "mean", "limits", "variation", "assurance"):
        icons.add_column(column, justify="right" if column in ("value", "mean") else "left")
    for row in report.chart_summaries():
        limits = "-"
        if row["upper_limit"] is not None and row["upper_limit"] == row["upper_limit"]:
            limits = f"{_cell(row['lower_limit'], ',.1f')} to {_cell(row['upper_limit'], ',.1f')}"
        target = f" (target {row['target']:,g})" if row["target"] is not None else ""
        icons.add_row(
            escape(row["chart"]),
            f"{row['latest']:%d %b %Y}" if row["latest"] else "-",
            _cell(row["value"], ",.0f"),
            _cell(row["mean"], ",.1f"),
            limits,
            escape(row["variation"]),
            escape((row["assurance"] or "-") + target),
        )
    out.print(icons)


def _print_referral_alerts(report: VariationReport) -> None:
    alerts = report.referral_alerts
    if not alerts:
        out.print("No special-cause variation in referrals.")
        return
    recent = Table(title=f"{len(alerts):,} SPC alerts on referrals; the most recent")
    for column in ("date", "chart", "rule", "message"):
        recent.add_column(column)
    for alert in alerts[-8:]:
        recent.add_row(*(escape(str(alert[key])) for key in ("date", "chart", "rule", "message")))
    out.print(recent)


def _effect(effect: dict | None) -> str:
    if not effect or any(effect.get(k) is None for k in ("ratio", "ci_low", "ci_high")):
        return "-"
    # The events behind it (holiday periods, bank holidays, days), "!" where it is weak.
    events = f", n={effect.get('n_events', 0)}{'!' if effect.get('caution') else ''}"
    return f"×{effect['ratio']:.2f} ({effect['ci_low']:.2f}–{effect['ci_high']:.2f}){events}"


def _trend(trend: dict | None) -> str:
    return "-" if trend is None else f"{trend['relative_per_year']:+.0%}"


def _print_forecast(report: ForecastReport) -> None:
    table = Table(title=f"{escape(report.service_name)}: forecast demand, minutes per day")
    for column in ("resource", "from", "to", "mean", "80% interval (mean)", "peak day"):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for row in report.summary().to_dict("records"):
        table.add_row(
            escape(row["resource"]),
            f"{row['from']:%d %b %Y}",
            f"{row['to']:%d %b %Y}",
            f"{row['mean']:,.0f}",
            f"{row['lo80']:,.0f}–{row['hi80']:,.0f}",
            f"{row['peak']:,.0f} on {row['peak_date']:%a %d %b}",
        )
    out.print(table)
    if report.backtest is not None:
        scores = Table(title="Rolling-origin backtest (lower MASE is better)")
        for column in ("resource", "MASE", "seasonal naive MASE", "80% coverage", "95% coverage"):
            scores.add_column(column, justify="left" if column == "resource" else "right")
        for _, row in report.backtest.iterrows():
            scores.add_row(
                escape(str(row["unique_id"])),
                f"{row['mase']:.3f}",
                f"{row['mase_seasonal_naive']:.3f}",
                f"{row['coverage80']:.2f}",
                f"{row['coverage95']:.2f}",
            )
        out.print(scores)


def _print_risk(report: RiskReport) -> None:
    from flowcap.plan.risk import format_every

    table = Table(
        title=f"{escape(report.service_name)}: how often a working day's demand exceeds "
        "k × capacity"
    )
    for column in (
        "resource",
        "k",
        "about once every",
        "95% CI",
        "seen in history",
        "riskiest days ahead",
    ):
        table.add_column(
            column, justify="left" if column in ("resource", "riskiest days ahead") else "right"
        )
    for item in report.risks:
        every = item.once_every_working_days
        shortest, longest = item.once_every_interval
        ci = f"{format_every(shortest)}–{format_every(longest)}"
        ahead = ", ".join(f"{d:%d %b} ({p:.0%})" for d, p in item.riskiest_dates[:3])
        table.add_row(
            escape(item.resource),
            f"{item.k:g}",
            f"{format_every(every)} working days",
            ci,
            f"{item.p_empirical:.1%}",
            ahead or "-",
        )
    out.print(table)
    for item in report.risks:
        out.print(item.sentence(), markup=False, soft_wrap=True)


@app.command()
def processmap(
    log: Annotated[
        Path | None,
        typer.Argument(
            help="Event log (.xes, .xes.gz, .csv or .xlsx), or a service folder whose "
            "service.yaml has event_log:; leave out with --service.",
            show_default=False,
        ),
    ] = None,
    service: ServiceName = None,
    case_id: Annotated[
        str | None,
        typer.Option(help="CSV/XLSX column of the case id (default: the folder's, or case_id)."),
    ] = None,
    activity: Annotated[
        str | None,
        typer.Option(help="CSV/XLSX column of the activity (default: the folder's, or activity)."),
    ] = None,
    timestamp: Annotated[
        str | None,
        typer.Option(help="CSV/XLSX column of the time (default: the folder's, or timestamp)."),
    ] = None,
    resource: Annotated[
        str | None,
        typer.Option(help="CSV/XLSX column of who did it (default: the folder's, or none)."),
    ] = None,
    case_type: Annotated[
        str | None,
        typer.Option(help="CSV/XLSX column of the case type (default: the folder's, or none)."),
    ] = None,
    lifecycle: Annotated[
        str | None,
        typer.Option(
            help="CSV/XLSX column of the lifecycle transition; only complete events are mapped "
            "(default: the folder's, or none; XES logs have lifecycle:transition)."
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="The log's time zone (default: the folder's, else Europe/London)."),
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: sniffed).")] = None,
    top_edges: Annotated[
        int,
        typer.Option(help="Hand-offs drawn: the most frequent, plus the top 3 bottlenecks."),
    ] = 30,
    top_variants: Annotated[
        int | None,
        typer.Option(help="Draw only the hand-offs of the N most common variants (default: all)."),
    ] = None,
    as_json: AsJson = False,
    chart: MapChart = None,
) -> None:
    """The directly-follows process map of an event log, with its bottlenecks.

    Given a service folder, service.yaml's event_log: names the log and its columns; options
    given here override them. --top-edges and --top-variants change only the chart: the
    tables and --json cover the whole log.
    """
    from flowcap.history import open_event_log
    from flowcap.processmap import process_map
    from flowcap.report.process_map import write_process_map

    with running() as progress:
        # The library's rule, checked before the log is read, chart or not.
        check_at_least_one(top_edges, "top_edges")
        check_at_least_one(top_variants, "top_variants")
        events = open_event_log(
            _log_source(log, service),
            by_name=service is not None,
            progress=progress,
            warn=_note,
            case_id=case_id,
            activity=activity,
            timestamp=timestamp,
            resource=resource,
            case_type=case_type,
            lifecycle=lifecycle,
            timezone=timezone,
            delimiter=delimiter,
        )
        progress("Mapping the process")
        pmap = process_map(events.sorted_events())
    # The numbers first: drawing can fail (no Graphviz for .svg/.png) or take a while, and the
    # tables or the JSON must not be lost with it.
    if as_json:
        sys.stdout.write(json.dumps(pmap.as_json(), allow_nan=False) + "\n")
    else:
        _print_process_map(events.source, pmap)
    if chart is None:
        return
    with running() as progress:
        progress("Drawing the process map")
        path = write_process_map(
            pmap,
            chart,
            f"Process map: {events.source}",
            top_edges=top_edges,
            top_variants=top_variants,
        )
        err.print(f"chart: {path}", markup=False)


def _log_source(log: Path | None, service: str | None) -> Path | str:
    """The log file or folder, or the stored service's name; a usage error for both or neither."""
    if (log is None) == (service is None):
        raise FlowcapError(
            "give an event log or a service folder, or --service NAME for a service in the "
            "store (not both)"
        )
    return log if log is not None else service


#: Rows in each table that ``flowcap processmap`` prints.
_MAP_ROWS = 10


def _print_process_map(name: str, pmap) -> None:
    from flowcap.report.process_map import format_hours

    variants = pmap.variants
    common = ""
    if len(variants) > _MAP_ROWS:
        share = pmap.share_of_top_variants(_MAP_ROWS)
        common = f" (the {_MAP_ROWS} most common: {share:.0%} of cases)"
    out.print(
        f"{name}: {pmap.n_cases:,} cases, {pmap.n_events:,} events, "
        f"{len(pmap.activities):,} activities, {len(pmap.edges):,} hand-offs, "
        f"{len(variants):,} variants{common}. {pmap.times_note}",
        soft_wrap=True,
        markup=False,
    )
    table = Table(title="Where the waiting accumulates")
    for column in ("from", "to", "times", "cases", "median wait", "90th pct", "share of waiting"):
        table.add_column(column, justify="left" if column in ("from", "to") else "right")
    edges = pmap.edges.set_index(["from", "to"])
    for _, row in pmap.bottlenecks.head(_MAP_ROWS).iterrows():
        edge = edges.loc[(row["from"], row["to"])]
        table.add_row(
            escape(str(row["from"])),
            escape(str(row["to"])),
            f"{int(edge['count']):,}",
            f"{int(edge['cases']):,}",
            format_hours(edge["median_wait_hours"]),
            format_hours(edge["p90_wait_hours"]),
            f"{row['share']:.0%}",
        )
    out.print(table)
    delays = Table(title="Longest delays (90th percentile)")
    for column in ("from", "to", "times", "cases", "median wait", "90th pct"):
        delays.add_column(column, justify="left" if column in ("from", "to") else "right")
    for row in pmap.longest_delays.head(_MAP_ROWS).itertuples(index=False):
        delays.add_row(
            escape(str(row[0])),
            escape(str(row.to)),
            f"{int(row.count):,}",
            f"{int(row.cases):,}",
            format_hours(row.median_wait_hours),
            format_hours(row.p90_wait_hours),
        )
    out.print(delays)
    if pmap.rework.empty:
        out.print("No rework loops: no case repeats a step.")
        return
    rework = Table(title="Rework loops")
    for column in ("kind", "loop", "times", "cases"):
        rework.add_column(column, justify="left" if column in ("kind", "loop") else "right")
    for row in pmap.rework.head(_MAP_ROWS).itertuples(index=False):
        source, target = str(row[1]), str(row.to)
        loop = f"{source} ↺" if row.kind == "self-loop" else f"{source} → {target} → {source}"
        rework.add_row(escape(row.kind), escape(loop), f"{int(row.count):,}", f"{int(row.cases):,}")
    out.print(rework)
