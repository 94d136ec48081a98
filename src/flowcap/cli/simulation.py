"""Commands that look ahead by simulation: simulate (with contingency options) and plan."""

from __future__ import annotations

import json
import math
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowcap.cli.app import (
    AsJson,
    Chart,
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
from flowcap.cli.defaults import INDUCTION_DAYS, PLAN_REPLICATIONS, RECRUITMENT_LEAD_DAYS
from flowcap.errors import FlowcapError

if TYPE_CHECKING:
    from flowcap.plan import SimulationReport
    from flowcap.plan.outlook import RecruitPlan

Device = Annotated[
    str,
    typer.Option(
        help="Where to simulate: cpu (NumPy) or cuda (an NVIDIA GPU through PyTorch: "
        "pip install 'flowcap\\[gpu]'). Same model; results agree in distribution."
    ),
]


@app.command()
def simulate(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
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
        typer.Option(help="Contingency options (default: the service's scenarios.yaml)."),
    ] = None,
    risk: Annotated[
        float,
        typer.Option(
            help="Accepted chance of any backlog over the threshold at the end (the target the "
            "recommendation and --optimise use)."
        ),
    ] = 0.05,
    optimise: Annotated[
        bool,
        typer.Option(
            "--optimise",
            "--optimize",
            help="Also find the cheapest combination of the options that meets the --risk target.",
        ),
    ] = False,
    device: Device = "cpu",
    as_json: AsJson = False,
    chart: Chart = None,
) -> None:
    """Monte Carlo of each resource's backlog ahead, and costed contingency options.

    Per resource: final backlog, the chance it ends over --threshold-minutes, how long work
    waits (mean and 90th percentile, days from falling due to being done, work still waiting
    at the end counted at the age it has reached; the work done alone beside it; first
    contacts apart) and the working days that end with a case past the first-contact target;
    each step contact target (target_working_days in service.yaml): the chance an occurrence
    meets it and the working days that end with one past it; and the waiting list at the end
    of the horizon by case type, in contacts and working days, for every option.
    """
    from flowcap.plan import simulate_ahead

    with running() as progress:
        first = _parse_date(start, "--start")
        history = open_history(service_dir, service, progress)
        report = simulate_ahead(
            history,
            horizon=horizon,
            replications=replications,
            seed=seed,
            threshold_minutes=threshold_minutes,
            start=first,
            scenarios=scenarios,
            risk_target=risk,
            optimise=optimise,
            device=device,
            progress=progress,
            warn=_note,
        )
        if chart is not None:
            for path in _simulation_charts(report, chart):
                err.print(f"chart: {path}", markup=False)
    if as_json:
        document = report.as_json()
        sys.stdout.write(json.dumps(document, allow_nan=False) + "\n")
        return
    table = Table(
        title=f"{escape(report.service_name)}: {horizon} days from {report.start:%d %b %Y}, "
        f"{replications:,} simulated futures"
    )
    for column in (
        "resource",
        "final backlog mean",
        "p50",
        "p90",
        f"P(> {threshold_minutes:,.0f})",
        "wait, days: mean / p90",
        "done only: mean / p90",
        "first contact: mean / p90",
        f"days past {report.target_working_days}-day target",
        "cost (£)",
    ):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for resource in report.spec.resources:
        summary = report.result.summary(resource)
        cost = report.baseline_cost(resource)
        table.add_row(
            escape(resource),
            f"{summary['final_backlog_mean']:,.0f}",
            f"{summary['final_backlog_p50']:,.0f}",
            f"{summary['final_backlog_p90']:,.0f}",
            f"{summary['p_final_backlog_over_threshold']:.1%}",
            _mean_and_p90(summary["mean_wait_days"], summary["p90_wait_days"]),
            _mean_and_p90(summary["mean_wait_days_done"], summary["p90_wait_days_done"]),
            _mean_and_p90(
                summary["mean_first_contact_wait_days"], summary["p90_first_contact_wait_days"]
            ),
            _cell(summary["days_over_target"], ",.1f"),
            "-" if cost is None else f"{cost:,.0f}",
        )
    out.print(table)
    out.print(
        "Waits: days from work falling due to its being done, over the work falling due in "
        "the horizon, work still waiting at the end counted at the age it has reached (done "
        "only: the work done alone, which flatters a growing backlog); first contact: each "
        "case's first step. Days past target: working days that "
        "end with a case already past the first-contact target (mean over the futures).",
        soft_wrap=True,
    )
    _print_step_targets(report)
    _print_waiting_at_horizon(report)
    _print_waiting_list_check(report)
    if report.comparison is not None:
        _print_ranking(report)
        _print_waiting_by_option(report)
    elif report.to_meet is not None:
        out.print(report.recommendation(), soft_wrap=True, markup=False)
    if report.combination is not None:
        _print_combination(report)


#: Rows of the waiting list at the horizon below this mean count are left off the console.
SHOWN_FROM_CONTACTS = 0.05


def _print_step_targets(report: SimulationReport) -> None:
    """Each step contact target: the chance an occurrence meets it, and days past it."""
    from flowcap.simulate.horizon import step_targets

    rows = step_targets(report.result)
    if not rows:
        return
    table = Table(title="Step contact targets, simulated")
    for column in (
        "step",
        "P(met)",
        "working days past target",
        "met",
        "done late",
        "still waiting past target",
    ):
        table.add_column(column, justify="left" if column == "step" else "right")
    for row in rows:
        table.add_row(
            escape(row["label"]),
            _cell(row["p_met"], ".1%"),
            _cell(row["days_over_target"], ",.1f"),
            _cell(row["met"], ",.1f"),
            _cell(row["late"], ",.1f"),
            _cell(row["waiting_past_target"], ",.1f"),
        )
    out.print(table)
    out.print(
        "P(met): of the occurrences falling due in the horizon, the share done within the "
        "target, counting those still waiting past it at the end as missed and leaving out "
        "those still waiting within it (no outcome yet). Working days past target: working "
        "days of the resource that end with an occurrence waiting past it. Met, done late, "
        "still waiting: occurrences, mean over the futures.",
        soft_wrap=True,
    )


def _print_waiting_at_horizon(report: SimulationReport) -> None:
    """The waiting list at the end of the last day, by resource and case type, in bands."""
    from flowcap.simulate.horizon import waiting_at_horizon

    rows = waiting_at_horizon(report.result)
    if report.result.contacts_waiting_by_working_age is None:
        return
    last = report.start + timedelta(days=report.spec.horizon_days - 1)
    table = Table(
        title=f"Waiting at the end of {last:%d %b %Y}: contacts (mean over the futures) by "
        "working days waited"
    )
    labels = list(rows[0]["bands"]) if rows else []
    for column in (
        "resource",
        "case type",
        "contacts",
        *labels,
        "oldest",
        "median",
        "p90",
    ):
        table.add_column(column, justify="left" if column in ("resource", "case type") else "right")
    shown = [row for row in rows if row["contacts_waiting"] >= SHOWN_FROM_CONTACTS]
    for row in shown:
        table.add_row(
            escape(row["resource"]),
            escape(row["case_type"]),
            f"{row['contacts_waiting']:,.1f}",
            *(f"{row['bands'][label]:,.1f}" for label in labels),
            _cell(row["oldest_working_days"], ".0f"),
            _cell(row["median_working_days"], ".0f"),
            _cell(row["p90_working_days"], ".0f"),
        )
    out.print(table)
    left_off = len(rows) - len(shown)
    out.print(
        "Contacts are pieces of work (a contact or session), not cases: a case with two "
        "sessions overdue counts twice. Only the work of cases referred in the horizon (the "
        "engine knows no case type for existing cases' work). Ages in working days of the "
        "resource since the work fell due; oldest, median and p90 over every future's "
        "waiting work pooled."
        + (
            f" {left_off} case type(s) with under {SHOWN_FROM_CONTACTS} contacts waiting on "
            "average are left off (all are in --json)."
            if left_off
            else ""
        ),
        soft_wrap=True,
    )


def _print_waiting_by_option(report: SimulationReport) -> None:
    """Per option and resource: contacts waiting at the horizon, and those over 20 working
    days."""
    from flowcap.simulate.horizon import waiting_totals

    comparison = report.comparison
    table = Table(
        title="Waiting at the horizon by option: contacts (over 20 working days), mean over "
        "the futures"
    )
    table.add_column("option", justify="left")
    for resource in report.spec.resources:
        table.add_column(escape(resource), justify="right")
    for name, outcome in comparison.outcomes.items():
        totals = waiting_totals(outcome.result)
        table.add_row(
            escape("(baseline)" if name == "baseline" else name),
            *(
                f"{_cell(totals[r]['contacts_waiting'], ',.1f')} "
                f"({_cell(totals[r]['over_20_working_days'], ',.1f')})"
                for r in report.spec.resources
            ),
        )
    out.print(table)


def _mean_and_p90(mean: float, p90: float) -> str:
    return "-" if math.isnan(mean) else f"{mean:.1f} / {p90:.0f}"


def _print_combination(report: SimulationReport) -> None:
    best = report.combination
    need = 1 - report.risk_target
    names = " + ".join(f"'{name}'" for name in best.names) or "no option (the baseline)"
    cost = "at no extra cost" if best.extra_cost == 0 else f"for £{best.extra_cost:,.0f} extra"
    exceed = ", ".join(f"{name} {p:.1%}" for name, p in best.p_exceed.items())
    if best.meets_target:
        head = f"Cheapest combination meeting the target ({need:.0%} of runs): {names}"
    else:
        head = f"No combination meets the target ({need:.0%} of runs); closest: {names}"
    out.print(
        f"{head}, {cost}; every backlog at or under {report.threshold_minutes:,.0f} minutes in "
        f"{best.p_meet_target:.1%} of runs (P(over) by resource: {exceed}).",
        soft_wrap=True,
        markup=False,
    )


def _simulation_charts(report: SimulationReport, chart: Path) -> list[Path]:
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


def _print_waiting_list_check(report: SimulationReport) -> None:
    """The waiting-list formulas beside the simulation: the check a manager can follow."""
    check = report.waiting_list_check()
    table = Table(title="Quick check: waiting-list formulas (Fong et al. 2022), minutes of work")
    for column in (
        "resource",
        "load",
        "list now",
        "target list",
        "relief capacity a working day",
        "pressure",
    ):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for resource, row in check.items():
        table.add_row(
            escape(resource),
            _cell(row["queue_load"], ".2f"),
            _cell(row["queue_size_minutes"], ",.0f"),
            _cell(row["target_queue_size_minutes"], ",.0f"),
            _cell(row["relief_capacity_minutes_per_working_day"], ",.0f"),
            _cell(row["pressure"], ".2f"),
        )
    out.print(table)
    out.print(
        "Load: work falling due / capacity (over 1, the list grows). Target list: the work "
        "that keeps most first contacts within the target (demand x target / 4). Relief "
        "capacity: the minutes a working day (as every capacity in flowcap) that clear the list "
        "to its target by the horizon. Pressure: 2 x mean wait "
        "for first contact / target (under 1, on course). The simulation above is the reference.",
        soft_wrap=True,
    )


def _print_ranking(report: SimulationReport) -> None:
    document = report.comparison.as_json()
    table = Table(title="Contingency options, best value first")
    baseline_steps = document["step_targets"]["baseline"]
    for column in (
        "option",
        "extra cost (£)",
        "waiting case-days avoided",
        "£ per day avoided",
        "P(all backlogs ≤ threshold)",
        *(f"P(met) {target['label']}" for target in baseline_steps),
    ):
        table.add_column(escape(column), justify="left" if column == "option" else "right")
    baseline_p = report.comparison.outcomes["baseline"].p_meet_target
    table.add_row(
        "(baseline)",
        "0",
        "-",
        "-",
        f"{baseline_p:.0%}",
        *(_cell(target["p_met"], ".1%") for target in baseline_steps),
    )
    for row in document["ranking"]:
        per_day = row["cost_per_wait_day_avoided"]
        met = {target["label"]: target["p_met"] for target in row["step_targets"]}
        table.add_row(
            escape(row["scenario"]),
            f"{row['extra_cost']:,.0f}",
            f"{row['wait_days_avoided']:,.0f}",
            "-" if per_day is None else f"{per_day:,.0f}",
            f"{row['p_meet_target']:.0%}",
            *(_cell(met.get(target["label"]), ".1%") for target in baseline_steps),
        )
    out.print(table)
    out.print(report.recommendation(), soft_wrap=True, markup=False)


@app.command()
def plan(
    service_dir: ServiceDir = None,
    service: ServiceName = None,
    target_backlog_minutes: Annotated[
        float | None,
        typer.Option(help="Backlog (minutes of work waiting) not to exceed (default 2,400)."),
    ] = None,
    target_backlog_cases: Annotated[
        float | None,
        typer.Option(
            help="Or: cases waiting not to exceed (× each resource's mean minutes per case)."
        ),
    ] = None,
    target_wait_weeks: Annotated[
        float | None,
        typer.Option(
            help="Or: weeks the oldest case may wait (× the work falling due a week, by "
            "Little's law: oldest first, the list holds the work since the oldest arrived)."
        ),
    ] = None,
    risk: Annotated[float, typer.Option(help="Accepted chance of exceeding it.")] = 0.05,
    horizon: Annotated[
        int | None, typer.Option(help="Calendar days ahead (default 90; not with --by).")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD) when there is no history.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Recruitment: how many more people bring the list under the target by this "
            "day (YYYY-MM-DD)?"
        ),
    ] = None,
    recruit_from: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="With --by: the day recruiting starts (default: the first day ahead).",
        ),
    ] = None,
    lead_days: Annotated[
        int,
        typer.Option(
            help="With --by: calendar days from recruiting to a recruit's first day (assumed: "
            "~6 weeks to hire, a month's notice, a week for checks)."
        ),
    ] = RECRUITMENT_LEAD_DAYS,
    induction_days: Annotated[
        int,
        typer.Option(help="With --by: calendar days a recruit works at half output."),
    ] = INDUCTION_DAYS,
    replications: Annotated[
        int, typer.Option(help="Simulated futures per candidate.")
    ] = PLAN_REPLICATIONS,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same results.")] = 0,
    device: Device = "cpu",
    as_json: AsJson = False,
) -> None:
    """The fewest staff per resource that keep the backlog stable and below the target; with
    --by, how many more people to recruit (from --from, joining --lead-days later) to bring
    the list under the target by that day."""
    from flowcap.plan import plan_capacity
    from flowcap.plan.outlook import plan_recruitment

    flags = {"risk": "--risk", "recruit_from": "--from"}
    targets = dict(
        target_backlog_minutes=target_backlog_minutes,
        target_backlog_cases=target_backlog_cases,
        target_wait_weeks=target_wait_weeks,
    )
    with running(flags) as progress:
        first = _parse_date(start, "--start")
        until = _parse_date(by, "--by")
        begin = _parse_date(recruit_from, "--from")
        if until is None:
            for given, flag in (
                (recruit_from, "--from"),
                (lead_days != RECRUITMENT_LEAD_DAYS, "--lead-days"),
                (induction_days != INDUCTION_DAYS, "--induction-days"),
            ):
                if given:
                    raise FlowcapError(f"{flag} plans recruitment, and needs --by DATE")
        elif horizon is not None:
            raise FlowcapError("give --horizon or --by, not both (--by sets the horizon)")
        history = open_history(service_dir, service, progress)
        if until is not None:
            recruits = plan_recruitment(
                history,
                by=until,
                risk=risk,
                recruit_from=begin,
                lead_days=lead_days,
                induction_days=induction_days,
                replications=replications,
                seed=seed,
                start=first,
                device=device,
                progress=progress,
                warn=_note,
                **targets,
            )
        else:
            plans = plan_capacity(
                history,
                risk=risk,
                horizon=90 if horizon is None else horizon,
                replications=replications,
                seed=seed,
                start=first,
                device=device,
                progress=progress,
                warn=_note,
                **targets,
            )
    if until is not None:
        _print_recruitment(recruits, risk, as_json)
        return
    if as_json:
        sys.stdout.write(json.dumps([p.as_json() for p in plans], allow_nan=False) + "\n")
        return
    horizon = 90 if horizon is None else horizon
    table = Table(
        title=f"Minimum staff: P(backlog after {horizon} days > target) ≤ {risk:.0%}, "
        "backlog not growing"
    )
    for column in (
        "resource",
        "target (minutes)",
        "min staff",
        "minutes/working day",
        "P(exceed) at min",
        "stable",
        "or: minutes each",
        "minutes/working day",
        "FTE needed (now)",
    ):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for plan_of in plans:
        item, minutes = plan_of.staff, plan_of.minutes
        table.add_row(
            escape(item.resource),
            f"{plan_of.target_backlog_minutes:,.0f}",
            "not found" if item.min_staff is None else str(item.min_staff),
            "-" if item.min_capacity_minutes is None else f"{item.min_capacity_minutes:,.0f}",
            f"{item.p_exceed_at_min:.1%}",
            "yes" if item.stable else "no",
            "-"
            if minutes.min_minutes_per_staff is None
            else f"{minutes.min_minutes_per_staff:,.0f}",
            "-" if minutes.min_capacity_minutes is None else f"{minutes.min_capacity_minutes:,.0f}",
            "-"
            if plan_of.fte_needed is None
            else f"{plan_of.fte_needed:.1f} ({plan_of.fte_now:g})",
        )
    out.print(table)
    out.print(
        "Two ways to the target: the fewest people at their usual minutes, or the usual head "
        "count giving the fewest minutes each (to the minute). FTE needed: the posts (full-time "
        "equivalents) that give those fewest minutes with leave and absence as now.",
        soft_wrap=True,
    )


def _print_recruitment(recruits: list[RecruitPlan], risk: float, as_json: bool) -> None:
    from flowcap.plan.capacity import MAX_RECRUITS

    if as_json:
        sys.stdout.write(json.dumps([p.as_json() for p in recruits], allow_nan=False) + "\n")
        return
    if not recruits:
        out.print("No resource to plan.")
        return
    head = recruits[0]
    table = Table(
        title=f"Recruits to bring each list under its target by {head.by:%d %b %Y} "
        f"(P(over) ≤ {risk:.0%}): recruiting from {head.recruit_from:%d %b %Y}, joining "
        f"{head.joins:%d %b %Y}"
    )
    for column in (
        "resource",
        "target (minutes)",
        "FTE now",
        "P(over) with none",
        "recruits",
        "P(over) with them",
        "start recruiting by",
        "load after joining",
    ):
        table.add_column(column, justify="left" if column == "resource" else "right")
    for row in recruits:
        table.add_row(
            escape(row.resource),
            f"{row.target_backlog_minutes:,.0f}",
            "-" if row.head_count is None else f"{row.head_count:g}",
            f"{row.p_exceed_now:.1%}",
            f"more than {MAX_RECRUITS}" if row.recruits is None else str(row.recruits),
            f"{row.p_exceed:.1%}",
            "-" if row.latest_recruit_from is None else f"{row.latest_recruit_from:%d %b %Y}",
            _cell(row.load_after_joining, ".2f"),
        )
    out.print(table)
    out.print(
        "Recruits join after the lead time and give half their minutes during induction. "
        "Start recruiting by: the last day recruiting can start for as many recruits to be "
        "enough (the list is judged on the one date, so later help can still do). "
        "Load after joining: work falling due / capacity from their first day to the date "
        "(1 or more: the list grows again).",
        soft_wrap=True,
    )
