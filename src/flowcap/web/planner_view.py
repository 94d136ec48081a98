"""The scenario planner's numbers in words and figures, formatted as ``flowcap simulate`` and
``flowcap plan`` print them: money in pounds, minutes and days with thousands separators,
chances as percentages (``P(met)`` to one decimal place, as the CLI), a dash for a figure
that cannot be computed; and each contingency option's change as a sentence.

Everything here reads a job's stored ``--json`` document (:mod:`flowcap.documents`) and its
options; nothing is computed that the CLI does not print.
"""

from __future__ import annotations

from datetime import date
from typing import Any

DASH = "-"


def cell(value: Any, spec: str) -> str:
    """A figure for a table cell as the CLI writes it, or "-" where there is none."""
    return DASH if value is None or value != value else format(value, spec)


def pounds(value: Any, places: int = 0) -> str:
    """``£1,234`` (a dash for none)."""
    return DASH if value is None or value != value else f"£{value:,.{places}f}"


def _day(value: Any) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return f"{value:%-d %b %Y}"


def _days(n: int, what: str = "day") -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _staff(n: int) -> str:
    return f"{n:,} {'person' if n == 1 else 'people'}"


def _span(fields: dict) -> str:
    start, end = fields.get("start"), fields.get("end")
    if start and end:
        return f"from {_day(start)} to {_day(end)}"
    return f"from {_day(start)}" if start else ""


def _factor(value: float) -> str:
    return f"×{value:g}"


def change_in_words(kind: str, fields: dict) -> str:
    """One change of an option (``kind`` and its fields as scenarios.yaml gives them) as a
    sentence a manager reads: ``1 agency person for idva from 3 Jul 2026 to 21 Aug 2026 at
    £185 a working day each; ...``."""
    f = fields
    if kind == "transfer":
        text = f"{_staff(f['staff'])} moved from {f['from']} to {f['to']} {_span(f)}"
        if f.get("handover_days"):
            text += f", after {_days(f['handover_days'])} of handover"
        return text
    if kind == "agency":
        text = (
            f"{_staff(f['staff'])} from an agency for {f['resource']} {_span(f)}"
            f" at {pounds(f['day_rate'])} a working day each"
        )
        extra = []
        if f.get("lead_days"):
            extra.append(f"arriving {_days(f['lead_days'])} after booking")
        if f.get("min_days"):
            extra.append(f"booked for at least {_days(f['min_days'], 'working day')}")
        if f.get("induction_days"):
            extra.append(f"{_days(f['induction_days'])} of induction")
        return text + (f" ({'; '.join(extra)})" if extra else "")
    if kind == "overtime":
        return (
            f"{f['minutes_per_day']:,g} minutes of overtime a day for each {f['resource']} "
            f"person {_span(f)}, paid {_factor(f['premium'])} "
            f"({_factor(f['sunday_premium'])} on Sundays and bank holidays)"
        )
    if kind == "demand":
        return f"{f['case_type']} referrals {_factor(f['factor'])} {_span(f)}"
    if kind == "triage":
        # the model counts steps from 0, the step targets' labels (and people) from 1
        return (
            f"{f['case_type']}'s step {f['step'] + 1} (step: {f['step']} in scenarios.yaml, "
            f"which counts from 0) takes {f['minutes']:,g} minutes a time"
        )
    if kind == "vacancy":
        pay = "still paid: no saving" if f.get("paid") else "its pay saved"
        return f"{_staff(f['staff'])} missing from {f['resource']} {_span(f)} ({pay})"
    if kind == "recruit":
        text = (
            f"{_staff(f['staff'])} recruited for {f['resource']}, recruiting {_span(f)}, at "
            f"{pounds(f['salary'])} a year each"
        )
        extra = []
        if f.get("lead_days") is not None:
            extra.append(f"first day {_days(f['lead_days'])} after recruiting starts")
        if f.get("induction_days"):
            output = f.get("induction_output")
            at = "" if output is None else f" at {output:.0%} output"
            extra.append(f"{_days(f['induction_days'])} of induction{at}")
        return text + (f" ({'; '.join(extra)})" if extra else "")
    return "; ".join(
        f"{key.replace('_', ' ')}: {value}" for key, value in f.items() if value is not None
    )


def options_in_words(kind: str, options: dict) -> str:
    """A job's options as asked for: ``90 days ahead, 1,000 simulated futures, ...``."""
    o = {key: value for key, value in options.items() if value is not None}
    parts = []
    if "horizon" in o:
        parts.append(f"{_days(o['horizon'])} ahead")
    if "replications" in o:
        parts.append(f"{o['replications']:,} simulated futures")
    if "threshold_minutes" in o:
        parts.append(f"backlog threshold {o['threshold_minutes']:,.0f} minutes")
    for key, unit in (
        ("target_backlog_minutes", "minutes of work waiting"),
        ("target_backlog_cases", "cases waiting"),
        ("target_wait_weeks", "weeks the oldest case waits"),
    ):
        if key in o:
            parts.append(f"target {o[key]:,g} {unit}")
    if "risk" in o:
        parts.append(f"accepted risk {o['risk']:.0%}")
    if o.get("optimise"):
        parts.append("cheapest combination searched")
    if "seed" in o:
        parts.append(f"seed {o['seed']}")
    return ", ".join(parts)


def simulation_view(result: dict) -> dict:
    """The tables of a finished simulation, as the CLI prints them: ``steps`` (the baseline's
    step targets, one ``P(met)`` column each), ``ranking`` (the baseline first, then the
    options best value first) and ``baseline`` (per resource)."""
    steps = [target["label"] for target in result["step_targets"].get("baseline", [])]
    baseline_met = {t["label"]: t["p_met"] for t in result["step_targets"].get("baseline", [])}
    ranking = [
        {
            "option": "(baseline)",
            "extra_cost": pounds(0),
            "avoided": DASH,
            "per_day": DASH,
            # the chance every backlog ends under the threshold: the CLI prints it for the
            # baseline from the run itself; --json has it for the options only
            "p_meet": DASH,
            "p_met": [cell(baseline_met.get(label), ".1%") for label in steps],
        }
    ]
    for row in result["ranking"]:
        met = {target["label"]: target["p_met"] for target in row["step_targets"]}
        ranking.append(
            {
                "option": row["scenario"],
                "extra_cost": pounds(row["extra_cost"]),
                "avoided": cell(row["wait_days_avoided"], ",.0f"),
                "per_day": pounds(row["cost_per_wait_day_avoided"]),
                "p_meet": cell(row["p_meet_target"], ".0%"),
                "p_met": [cell(met.get(label), ".1%") for label in steps],
            }
        )
    baseline = [
        {
            "resource": resource,
            "mean": cell(row["final_backlog_mean"], ",.0f"),
            "p50": cell(row["final_backlog_p50"], ",.0f"),
            "p90": cell(row["final_backlog_p90"], ",.0f"),
            "p_over": cell(row["p_final_backlog_over_threshold"], ".1%"),
            "wait": _mean_and_p90(row["mean_wait_days"], row["p90_wait_days"]),
            "first_contact": _mean_and_p90(
                row["mean_first_contact_wait_days"], row["p90_first_contact_wait_days"]
            ),
            "days_over_target": cell(row["days_over_target"], ",.1f"),
            "cost": pounds(row.get("cost")),
        }
        for resource, row in result["scenarios"]["baseline"].items()
    ]
    targets = [
        {
            "label": t["label"],
            "p_met": cell(t["p_met"], ".1%"),
            "days_over_target": cell(t["days_over_target"], ",.1f"),
            "met": cell(t["met"], ",.1f"),
            "late": cell(t["late"], ",.1f"),
            "waiting_past_target": cell(t["waiting_past_target"], ",.1f"),
        }
        for t in result["step_targets"].get("baseline", [])
    ]
    return {"steps": steps, "ranking": ranking, "baseline": baseline, "targets": targets}


def plan_view(result: list[dict]) -> list[dict]:
    """The rows of a finished plan, as ``flowcap plan`` prints them."""
    return [
        {
            "resource": row["resource"],
            "target": cell(row["target_backlog_minutes"], ",.0f"),
            "min_staff": "not found" if row["min_staff"] is None else str(row["min_staff"]),
            "min_capacity": cell(row["min_capacity_minutes"], ",.0f"),
            "p_exceed": cell(row["p_exceed_at_min"], ".1%"),
            "stable": "yes" if row["stable"] else "no",
            "minutes_each": cell(row["min_minutes_per_staff"], ",.0f"),
            "fewest_capacity": cell(row["fewest_capacity_minutes"], ",.0f"),
            "fte": DASH
            if row["fte_needed"] is None
            else f"{row['fte_needed']:.1f} ({row['fte_now']:g})",
        }
        for row in result
    ]


def _mean_and_p90(mean: Any, p90: Any) -> str:
    return DASH if mean is None or mean != mean else f"{mean:.1f} / {cell(p90, '.0f')}"
