"""``flowcap`` commands. Thin: each parses its arguments, calls one library function and prints.

Human output goes through Rich; ``--json`` prints only JSON on stdout and everything else
(progress, warnings) on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from flowcap import workflow
from flowcap.errors import FlowcapError, InputError
from flowcap.io.pseudonym import key_file_path
from flowcap.measures import MEASURE_COLUMNS, DailyMeasures
from flowcap.plan.risk import DEFAULT_KS
from flowcap.variation.spc import SPCSettings

app = typer.Typer(
    name="flowcap",
    help="Demand, capacity, activity and backlog planning for public services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (make demo, CI logs) gets room for the summary table instead of 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ServiceDir = Annotated[
    Path,
    typer.Argument(help="The service folder (service.yaml and data files).", show_default=False),
]
Chart = Annotated[
    Path | None, typer.Option("--chart", help="Write the chart to FILE.html or FILE.png.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout, nothing else.")]


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise FlowcapError(f"{option} {value!r} is not a date (use YYYY-MM-DD)") from None


@contextmanager
def _errors_to_exit() -> Iterator[None]:
    """Turn flowcap's own errors into a message on stderr and exit code 1 (no traceback)."""
    try:
        yield
    except InputError as exc:
        err.print(f"[bold red]{len(exc.problems)} problem(s) found:[/]")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(1) from None
    except FlowcapError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        err.print(f"[bold red]store error:[/] {type(exc).__name__}: {exc.__cause__ or exc}")
        raise typer.Exit(1) from None
    except OSError as exc:
        err.print(f"[bold red]error:[/] {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        raise typer.Exit(1) from None
    except ImportError as exc:
        err.print(
            f"[bold red]error:[/] {exc}. For PostgreSQL use a postgresql+psycopg:// URL "
            "(pip install 'flowcap[postgres]')"
        )
        raise typer.Exit(1) from None


@contextmanager
def _key_notice() -> Iterator[None]:
    """Tell the user, once, that a pseudonymisation key was created and must be backed up."""
    path = key_file_path()
    existed = bool(os.environ.get("FLOWCAP_KEY")) or path.exists()
    yield
    if not existed and path.exists():
        err.print(
            f"[yellow]note:[/] created the pseudonymisation key {path} (mode 600). Back it up: "
            "the store refuses imports under another key."
        )


@contextmanager
def _progress(enabled: bool = True) -> Iterator[workflow.Progress]:
    """A progress bar on stderr that names the step a long command is on."""
    if not enabled or not err.is_terminal:
        yield lambda step: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("Starting", total=None)
        yield lambda step: bar.update(task, description=step, advance=1)


@app.command()
def init(folder: Annotated[Path, typer.Argument(help="Folder to create.")]) -> None:
    """Write a commented template service folder to start from."""
    with _errors_to_exit():
        written = workflow.init_folder(folder)
    for path in written:
        out.print(f"wrote {path}")
    out.print(f"Edit the files, then run: flowcap validate {folder}")


@app.command()
def validate(service_dir: ServiceDir) -> None:
    """Check a service folder and report every problem, without importing anything."""
    with _errors_to_exit():
        checked = workflow.validate_folder(service_dir)
    for note in checked.notes:
        err.print(f"[yellow]note:[/] {note}", markup=True)
    table = Table(title=f"{checked.service.name}: folder is valid")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("dates")
    for name, frame, column in (
        ("referrals", checked.referrals, "referral_date"),
        ("waiting", checked.waiting, "waiting_since"),
        ("roster", checked.roster, "date"),
        ("sessions", checked.sessions, "date"),
    ):
        if name not in checked.files:
            continue
        span = (
            f"{frame[column].min():%Y-%m-%d} to {frame[column].max():%Y-%m-%d}"
            if len(frame)
            else ""
        )
        table.add_row(checked.files[name][0], f"{len(frame):,}", span)
    out.print(table)


@app.command(name="import")
def import_(service_dir: ServiceDir) -> None:
    """Import the folder's data into the store (only files that changed; atomic)."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        report = workflow.import_folder(service_dir, progress=progress)
    table = Table(title=f"{report.service}: import")
    table.add_column("table")
    table.add_column("rows written", justify="right")
    for name, rows in report.written.items():
        table.add_row(name, "unchanged" if rows is None else f"{rows:,}")
    out.print(table)


@app.command()
def measures(
    service_dir: ServiceDir,
    as_json: AsJson = False,
    chart: Chart = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day shown (YYYY-MM-DD).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day shown (YYYY-MM-DD).")] = None,
) -> None:
    """Daily demand, capacity, activity and backlog in minutes, per resource."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        result = workflow.measure_folder(
            service_dir, _parse_date(from_, "--from"), _parse_date(to, "--to"), progress=progress
        )
        if chart is not None:
            _write_chart(result, chart, service_dir)
    _warn_flags(result)
    if as_json:
        sys.stdout.write(measures_json(result) + "\n")
        return
    out.print(_summary_table(result))
    out.print(_story(result))


@app.command()
def erase(
    service_dir: ServiceDir,
    case_id: Annotated[str, typer.Argument(help="The case id as it appears in your files.")],
) -> None:
    """Erase one person's records from the store (right to erasure)."""
    with _errors_to_exit():
        removed = workflow.erase_case(service_dir, case_id)
    total = sum(removed.values())
    detail = ", ".join(f"{rows} {name}" for name, rows in removed.items())
    if total:
        out.print(f"Erased {total} record(s): {detail}.")
        out.print("Later imports will skip this case. Remove it from the source files as well.")
    else:
        out.print("No records of that case are stored (check the id); nothing was changed.")


@app.command()
def demo(
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Service folder to use; the bundled example is written there "
            "if it has no service.yaml. Default: examples/victim-support if present, "
            "else ./flowcap-demo.",
        ),
    ] = None,
    output: Annotated[Path, typer.Option("--out", help="Folder for the charts.")] = Path("out"),
    chart: Annotated[
        list[Path] | None,
        typer.Option("--chart", help="Chart file(s), .html or .png (default: OUT/measures.*)."),
    ] = None,
) -> None:
    """Run the main job on the bundled victim-support example: import, measure, chart."""
    from flowcap.examples import generate_victim_support

    if folder is None:
        bundled = Path("examples/victim-support")
        folder = bundled if (bundled / "service.yaml").is_file() else Path("flowcap-demo")
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        if not (folder / "service.yaml").is_file():
            progress("Writing the example service")
            generate_victim_support(folder)
        result = workflow.measure_folder(folder, progress=progress)
        targets = chart or [output / f"measures{suffix}" for suffix in (".html", ".png")]
        charts = [_write_chart(result, path, folder) for path in targets]
        # The days ahead: to the end of next summer, with the folder's contingency options.
        ahead = workflow.simulate_folder(
            folder, horizon=DEMO_HORIZON_DAYS, replications=2000, progress=progress
        )
        charts += _simulation_charts(ahead, output / "backlog-ahead.png")
    out.print(_summary_table(result))
    out.print(_story(result))
    out.print(
        f"Simulated {DEMO_HORIZON_DAYS} days ahead from {ahead.start:%d %b %Y}, 2,000 futures: "
        "final backlog by resource (minutes) "
        + ", ".join(
            f"{r} {ahead.result.summary(r)['final_backlog_mean']:,.0f}"
            for r in ahead.spec.resources
        )
        + ".",
        soft_wrap=True,
    )
    if ahead.comparison is not None:
        _print_ranking(ahead)
    for path in charts:
        out.print(f"chart: {path}")


@app.command()
def variation(
    service_dir: ServiceDir,
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
) -> None:
    """Variation of daily demand per resource, and SPC (XmR) alerts on demand, activity, backlog."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        settings = _spc_settings(
            shift_run=shift_run,
            trend_run=trend_run,
            min_points=min_points,
            screen_outliers=screen_outliers,
            recalculate_from=tuple(
                _parse_date(d, "--recalculate-from") for d in (recalculate_from or [])
            ),
        )
        report = workflow.variation_folder(service_dir, settings, progress=progress)
        charts = []
        if chart is not None:
            from flowcap.report import write_spc_chart, write_variation_chart

            spc_frames = {key: result.points for key, result in report.spc.items()}
            charts.append(write_spc_chart(spc_frames, chart, f"{report.service_name}: SPC"))
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
        err.print(f"chart: {path}")


@app.command()
def forecast(
    service_dir: ServiceDir,
    horizon: Annotated[int, typer.Option(help="Days to forecast past the data.")] = 90,
    backtest: Annotated[
        bool, typer.Option("--backtest", help="Also score a rolling-origin backtest.")
    ] = False,
    as_json: AsJson = False,
    chart: Chart = None,
) -> None:
    """Forecast daily demand minutes per resource, with 80% and 95% intervals."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        report = workflow.forecast_folder(service_dir, horizon, backtest, progress=progress)
        if chart is not None:
            from flowcap.report import write_forecast_chart

            path = write_forecast_chart(
                report.history, report.forecast, chart, f"{report.service_name}: demand forecast"
            )
            err.print(f"chart: {path}")
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), allow_nan=False) + "\n")
        return
    _print_forecast(report)


@app.command()
def risk(
    service_dir: ServiceDir,
    k: Annotated[
        list[float] | None,
        typer.Option("--k", help="Ratio of demand to capacity that makes a bad day (repeatable)."),
    ] = None,
    horizon: Annotated[int, typer.Option(help="Days ahead to assess day by day.")] = 90,
    as_json: AsJson = False,
    chart: Chart = None,
) -> None:
    """How often demand exceeds k × capacity: from history, and day by day ahead."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        report = workflow.risk_folder(
            service_dir, tuple(k) if k else DEFAULT_KS, horizon, progress=progress
        )
        if chart is not None:
            from flowcap.report import write_risk_calendar

            path = write_risk_calendar(
                report.daily, chart, f"{report.service_name}: risk of a bad day"
            )
            err.print(f"chart: {path}")
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), allow_nan=False) + "\n")
        return
    _print_risk(report)


@app.command()
def simulate(
    service_dir: ServiceDir,
    replications: Annotated[int, typer.Option(help="Simulated futures.")] = 10_000,
    horizon: Annotated[int, typer.Option(help="Calendar days ahead.")] = 90,
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD) when there is no history.")
    ] = None,
    threshold_minutes: Annotated[
        float, typer.Option(help="Backlog (minutes) whose exceedance is reported.")
    ] = 2400.0,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same results.")] = 0,
    scenarios: Annotated[
        Path | None,
        typer.Option(help="Contingency options (default: scenarios.yaml in the folder)."),
    ] = None,
    risk: Annotated[
        float, typer.Option(help="Accepted chance of any backlog over the threshold at the end.")
    ] = 0.1,
    as_json: AsJson = False,
    chart: Chart = None,
) -> None:
    """Monte Carlo of each resource's backlog ahead, and costed contingency options."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        report = workflow.simulate_folder(
            service_dir,
            horizon=horizon,
            replications=replications,
            seed=seed,
            threshold_minutes=threshold_minutes,
            start=_parse_date(start, "--start"),
            scenarios=scenarios,
            risk_target=risk,
            progress=progress,
        )
        if chart is not None:
            for path in _simulation_charts(report, chart):
                err.print(f"chart: {path}")
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), allow_nan=False) + "\n")
        return
    table = Table(
        title=f"{report.service_name}: {horizon} days from {report.start:%d %b %Y}, "
        f"{replications:,} simulated futures"
    )
    for column in (
        "resource",
        "final backlog mean",
        "p50",
        "p90",
        f"P(> {threshold_minutes:,.0f})",
        "mean wait (days)",
        "cost (£)",
    ):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for resource in report.spec.resources:
        summary = report.result.summary(resource)
        cost = report.baseline_cost(resource)
        table.add_row(
            resource,
            f"{summary['final_backlog_mean']:,.0f}",
            f"{summary['final_backlog_p50']:,.0f}",
            f"{summary['final_backlog_p90']:,.0f}",
            f"{summary['p_final_backlog_over_threshold']:.1%}",
            f"{summary['mean_wait_days']:.1f}",
            "-" if cost is None else f"{cost:,.0f}",
        )
    out.print(table)
    if report.comparison is not None:
        _print_ranking(report)


def _simulation_charts(report: workflow.SimulationReport, chart: Path) -> list[Path]:
    """The backlog fan at ``chart``, and the options' cost against risk beside it."""
    from flowcap.report.fan_chart import write_backlog_fan
    from flowcap.report.scenario_chart import write_pareto_chart

    paths = [
        write_backlog_fan(
            report.fan(), chart, f"{report.service_name}: backlog ahead", report.threshold_minutes
        )
    ]
    if report.comparison is not None:
        options = chart.with_name(f"{chart.stem}-options{chart.suffix}")
        paths.append(
            write_pareto_chart(
                report.comparison, options, f"{report.service_name}: options, cost against risk"
            )
        )
    return paths


def _print_ranking(report: workflow.SimulationReport) -> None:
    document = report.comparison.as_json()
    table = Table(title="Contingency options, best value first")
    for column in (
        "option",
        "extra cost (£)",
        "waiting case-days avoided",
        "£ per day avoided",
        "P(all backlogs ≤ threshold)",
    ):
        table.add_column(column, justify="left" if column == "option" else "right")
    baseline_p = report.comparison.outcomes["baseline"].p_meet_target
    table.add_row("(baseline)", "0", "-", "-", f"{baseline_p:.0%}")
    for row in document["ranking"]:
        per_day = row["cost_per_wait_day_avoided"]
        table.add_row(
            row["scenario"],
            f"{row['extra_cost']:,.0f}",
            f"{row['wait_days_avoided']:,.0f}",
            "-" if per_day is None else f"{per_day:,.0f}",
            f"{row['p_meet_target']:.0%}",
        )
    out.print(table)
    out.print(document["recommendation"], soft_wrap=True)


@app.command()
def plan(
    service_dir: ServiceDir,
    target_backlog_minutes: Annotated[
        float, typer.Option(help="Backlog (minutes) not to exceed at the horizon.")
    ] = 2400.0,
    risk: Annotated[float, typer.Option(help="Accepted chance of exceeding it.")] = 0.05,
    horizon: Annotated[int, typer.Option(help="Calendar days ahead.")] = 90,
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD) when there is no history.")
    ] = None,
    replications: Annotated[int, typer.Option(help="Simulated futures per candidate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same results.")] = 0,
    as_json: AsJson = False,
) -> None:
    """The fewest staff per resource that keep the backlog stable and below the target."""
    with _errors_to_exit(), _key_notice(), _progress() as progress:
        plans = workflow.plan_folder(
            service_dir,
            target_backlog_minutes=target_backlog_minutes,
            risk=risk,
            horizon=horizon,
            replications=replications,
            seed=seed,
            start=_parse_date(start, "--start"),
            progress=progress,
        )
    if as_json:
        sys.stdout.write(json.dumps([p.as_json() for p in plans], allow_nan=False) + "\n")
        return
    table = Table(
        title=f"Minimum staff: P(backlog after {horizon} days > {target_backlog_minutes:,.0f} "
        f"minutes) ≤ {risk:.0%}, backlog not growing"
    )
    for column in ("resource", "min staff", "minutes/working day", "P(exceed) at min", "stable"):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for item in plans:
        table.add_row(
            item.resource,
            "not found" if item.min_staff is None else str(item.min_staff),
            "-" if item.min_capacity_minutes is None else f"{item.min_capacity_minutes:,.0f}",
            f"{item.p_exceed_at_min:.1%}",
            "yes" if item.stable else "no",
        )
    out.print(table)


def _spc_settings(**options) -> SPCSettings:
    try:
        return SPCSettings(**options)
    except ValueError as exc:
        raise FlowcapError(str(exc)) from None


def _print_variation(report: workflow.VariationReport) -> None:
    spread = Table(title=f"{report.service_name}: daily demand on working days (minutes)")
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
            resource,
            *(_number(minutes[name], ",.0f") for name in ("mean", "sd")),
            _number(minutes["cv"], ".2f"),
            *(_number(minutes[name], ",.0f") for name in ("p50", "p90", "p95", "p99")),
            _number(cases["mean"], ".1f"),
        )
        shape.add_row(
            resource,
            fit["best"].replace("_", " ") if fit else "-",
            _number(fit["dispersion"], ".2f") if fit else "-",
            _number(fit["p_value"], ".2g") if fit else "-",
            _effect(stats.get("bank_holiday_effect")),
            _effect(stats.get("after_bank_holiday_effect")),
            _effect(stats.get("school_holiday_effect")),
            _trend(stats.get("trend"), report.days_observed(resource)),
        )
    out.print(spread)
    out.print(shape)
    out.print(
        "Effects are ratios to comparable days (same weekday and month) with 95% intervals; "
        "a dispersion above 1 means more variable than Poisson."
    )
    alerts = report.alerts
    if not alerts:
        out.print("No special-cause variation in demand, activity or backlog.")
        return
    counts = Table(title=f"{len(alerts):,} SPC alerts (special-cause points) by rule")
    rules = ("outside_limits", "shift", "trend", "two_of_three")
    for column in ("resource", "measure", *rules, "latest"):
        counts.add_column(column, justify="left" if column in ("resource", "measure") else "right")
    for (resource, measure), result in report.spc.items():
        mine = [a for a in result.alerts]
        if not mine:
            continue
        counts.add_row(
            resource,
            measure,
            *(str(sum(a.rule == rule for a in mine)) for rule in rules),
            f"{max(a.date for a in mine):%d %b %Y}",
        )
    out.print(counts)
    recent = Table(title="Most recent alerts")
    for column in ("date", "resource", "measure", "rule", "message"):
        recent.add_column(column)
    for alert in alerts[-8:]:
        recent.add_row(
            alert["date"], alert["resource"], alert["measure"], alert["rule"], alert["message"]
        )
    out.print(recent)


def _effect(effect: dict | None) -> str:
    if not effect or any(effect.get(k) is None for k in ("ratio", "ci_low", "ci_high")):
        return "-"
    return f"×{effect['ratio']:.2f} ({effect['ci_low']:.2f}–{effect['ci_high']:.2f})"


def _number(value, spec: str) -> str:
    """A statistic for a table, or "-" where there is none (no demand, too few days)."""
    return "-" if value is None or value != value else format(value, spec)


def _trend(trend: dict | None, days: int) -> str:
    """The trend per year; not shown from under a year of data, where it is mostly season."""
    if not trend or trend.get("relative_per_year") is None or days < 365:
        return "-"
    return f"{trend['relative_per_year']:+.0%}"


def _print_forecast(report: workflow.ForecastReport) -> None:
    forecast = report.forecast
    table = Table(title=f"{report.service_name}: forecast demand, minutes per day")
    for column in ("resource", "from", "to", "mean", "80% interval (mean)", "peak day"):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for resource, rows in forecast.groupby("resource", sort=False):
        peak = rows.loc[rows["demand_minutes"].idxmax()]
        table.add_row(
            str(resource),
            f"{rows['date'].min():%d %b %Y}",
            f"{rows['date'].max():%d %b %Y}",
            f"{rows['demand_minutes'].mean():,.0f}",
            f"{rows['lo80'].mean():,.0f}–{rows['hi80'].mean():,.0f}",
            f"{peak['demand_minutes']:,.0f} on {peak['date']:%a %d %b}",
        )
    out.print(table)
    if report.backtest is not None:
        scores = Table(title="Rolling-origin backtest (lower MASE is better)")
        for column in ("resource", "MASE", "seasonal naive MASE", "80% coverage", "95% coverage"):
            scores.add_column(column, justify="left" if column == "resource" else "right")
        for _, row in report.backtest.iterrows():
            scores.add_row(
                str(row["unique_id"]),
                f"{row['mase']:.3f}",
                f"{row['mase_seasonal_naive']:.3f}",
                f"{row['coverage80']:.2f}",
                f"{row['coverage95']:.2f}",
            )
        out.print(scores)


def _print_risk(report: workflow.RiskReport) -> None:
    table = Table(
        title=f"{report.service_name}: how often a working day's demand exceeds k × capacity"
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
        ci = f"{_every(item.ci_high)}–{_every(item.ci_low)}"
        ahead = ", ".join(f"{d:%d %b} ({p:.0%})" for d, p in item.riskiest_dates[:3])
        table.add_row(
            item.resource,
            f"{item.k:g}",
            f"{_every_value(every)} working days",
            ci,
            f"{item.p_empirical:.1%}",
            ahead or "-",
        )
    out.print(table)
    for item in report.risks:
        out.print(item.sentence(), markup=False, soft_wrap=True)


def _every(p: float) -> str:
    return _every_value(1 / p if p > 0 else None)


def _every_value(every: float | None) -> str:
    if every is None:
        return "never"
    return f"{every:,.0f}" if every >= 10 else f"{every:.1f}"


#: The demo simulates to the end of the summer after the example's data.
DEMO_HORIZON_DAYS = 243


def measures_json(result: DailyMeasures) -> str:
    """The ``--json`` document: an array of objects with :data:`MEASURE_COLUMNS` as keys."""
    table = result.table[MEASURE_COLUMNS].copy()
    table["date"] = table["date"].dt.strftime("%Y-%m-%d")
    records = table.to_dict(orient="records")
    for record in records:
        for name in ("demand_cases", "activity_cases", "backlog_cases"):
            record[name] = int(record[name])
        for name in MEASURE_COLUMNS[2:7]:
            record[name] = round(float(record[name]), 3)
    return json.dumps(records)


def _write_chart(result: DailyMeasures, path: Path, service_dir: Path) -> Path:
    from flowcap.report import write_chart

    title = f"{result.service_name}: demand, capacity, activity and backlog"
    return write_chart(result.table, Path(path), title)


def _warn_flags(result: DailyMeasures) -> None:
    flagged = result.table[result.table["activity_exceeds_capacity"]]
    if len(flagged):
        first = flagged.iloc[0]
        err.print(
            f"[yellow]warning:[/] recorded activity exceeds capacity on {len(flagged)} "
            f"resource-day(s), first {first['date']:%Y-%m-%d} ({first['resource']}): "
            "the roster or the sessions file is wrong"
        )


def _summary_table(result: DailyMeasures) -> Table:
    table = result.table
    first, last = table["date"].min(), table["date"].max()
    source = "recorded sessions" if result.recorded else "modelled from capacity"
    summary = Table(
        title=f"{result.service_name}: {first:%d %b %Y} to {last:%d %b %Y} (activity: {source})",
        caption="demand, capacity and activity: mean minutes per working day; backlog: minutes",
    )
    for column, justify in (
        ("resource", "left"),
        ("demand", "right"),
        ("capacity", "right"),
        ("activity", "right"),
        ("utilisation", "right"),
        ("backlog now", "right"),
        ("peak backlog", "right"),
    ):
        summary.add_column(column, justify=justify)
    for resource, rows in table.groupby("resource", sort=False):
        working = rows[rows["is_working_day"]]
        if working.empty:
            working = rows
        demand = rows["demand_minutes"].sum() / max(len(working), 1)
        capacity = working["capacity_minutes"].mean()
        activity = rows["activity_minutes"].sum() / max(len(working), 1)
        peak = rows.loc[rows["backlog_minutes"].idxmax()]
        now = rows.iloc[-1]
        summary.add_row(
            str(resource),
            f"{demand:,.0f}",
            f"{capacity:,.0f}",
            f"{activity:,.0f}",
            f"{activity / capacity:.0%}" if capacity else "-",
            f"{now['backlog_minutes']:,.0f} ({now['backlog_cases']:,} cases)",
            f"{peak['backlog_minutes']:,.0f} on {peak['date']:%d %b %Y}",
        )
    return summary


def _story(result: DailyMeasures) -> str:
    share = result.first_contact_share()
    statuses = result.first_contacts["status"].value_counts()
    if share != share:  # nan: no referral has an outcome yet
        return (
            f"First contact within {result.target_working_days} working days: no outcome yet "
            f"({statuses.get('pending', 0):,} referrals still inside the target)."
        )
    return (
        f"First contact within {result.target_working_days} working days: {share:.0%} of "
        f"{statuses.get('met', 0) + statuses.get('missed', 0):,} referrals "
        f"({statuses.get('pending', 0):,} still inside the target)."
    )


if __name__ == "__main__":  # pragma: no cover
    app()
