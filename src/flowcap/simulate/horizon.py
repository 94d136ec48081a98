"""The simulated waiting list at the end of the horizon, as a manager reads a real one, and the
step contact targets: read off a :class:`~flowcap.simulate.daily.DailyResult` run with waits.

At the end of the last simulated day some work still waits at each resource. The measures
show today's list by case type, aged in working days and banded 0–2, 3–5, 6–10, 11–20 and
over 20 (:mod:`flowcap.measures.waiting`); :func:`waiting_at_horizon` shows the simulated one
the same way. Two differences, said where it is shown:

- **Contacts, not cases.** The engine keeps minutes of work, not cases, so the list counts
  pieces of work (one occurrence of a step: a contact or a session). A case with two
  sessions overdue counts twice.
- **Means over the futures.** Counts are the mean over the simulated futures (each future's
  list, averaged); ages (oldest, median, 90th percentile) come from every future's waiting
  work pooled, so the oldest is the oldest anywhere in any future.

Only the work of cases referred in the horizon has a case type in the engine; existing
cases' work (the opening backlog, sessions already due ahead) is not in these counts.

Ages are working days of the resource since the work fell due, that day not counted (work
due on Monday and still waiting at the end of Wednesday is 2 working days old), as the
measures and the contact targets (:func:`flowcap.targets.past_contact_target`) count them.
"""

from __future__ import annotations

import math

import numpy as np

from flowcap.measures.waiting import BAND_LABELS, BAND_STARTS
from flowcap.simulate.daily import DailyResult, histogram_quantile

#: The band :func:`waiting_totals` singles out: work waiting over 20 working days.
OLDEST_BAND = BAND_LABELS[-1]


def waiting_at_horizon(result: DailyResult) -> list[dict]:
    """The waiting list at the end of the last day, one row per resource and case type with
    work still waiting there in some future (resources, then case types, in the spec's order).

    Each row: ``resource``, ``case_type``, ``contacts_waiting`` (mean over the futures),
    ``bands`` (label → mean contacts waiting that many working days, :data:`BAND_LABELS`),
    ``oldest_working_days``, ``median_working_days``, ``p90_working_days`` (over every
    future's waiting work pooled; the percentiles the smallest whole number of working days
    that half, or 90%, waited no longer than). Empty without waits measured.
    """
    if result.contacts_waiting_by_working_age is None:
        return []
    rows = []
    for r, resource in enumerate(result.resources):
        for k, case_type in enumerate(result.case_types):
            pooled = result.contacts_waiting_by_working_age[r, k]
            if not pooled.sum() > 1e-9:
                continue
            mean = pooled / result.replications
            rows.append(
                {
                    "resource": resource,
                    "case_type": case_type,
                    "contacts_waiting": float(mean.sum()),
                    "bands": dict(zip(BAND_LABELS, _bands(mean), strict=True)),
                    "oldest_working_days": float(np.flatnonzero(pooled > 1e-9)[-1]),
                    "median_working_days": histogram_quantile(pooled, 0.5),
                    "p90_working_days": histogram_quantile(pooled, 0.9),
                }
            )
    return rows


def waiting_totals(result: DailyResult) -> dict[str, dict[str, float]]:
    """Per resource: ``contacts_waiting`` at the end and those waiting over 20 working days
    (``over_20_working_days``), means over the futures (NaN without waits measured)."""
    totals = {}
    by_age = result.contacts_waiting_by_working_age
    for r, resource in enumerate(result.resources):
        if by_age is None:
            totals[resource] = {"contacts_waiting": math.nan, "over_20_working_days": math.nan}
            continue
        mean = by_age[r].sum(axis=0) / result.replications
        totals[resource] = {
            "contacts_waiting": float(mean.sum()),
            "over_20_working_days": float(mean[BAND_STARTS[-1] :].sum()),
        }
    return totals


def _bands(counts: np.ndarray) -> list[float]:
    edges = [*BAND_STARTS[1:], len(counts)]
    return [float(counts[lo:hi].sum()) for lo, hi in zip(BAND_STARTS, edges, strict=True)]


def step_label(case_type: str, step: int, resource: str, target: float) -> str:
    """``da_high_risk: idva step 2 (target 1 working day)`` (``step`` counted from 1)."""
    days = f"{target:g} working day{'' if target == 1 else 's'}"
    return f"{case_type}: {resource} step {step} (target {days})"


def step_targets(result: DailyResult) -> list[dict]:
    """Each step target's simulated outcome (:meth:`DailyResult.step_targets`), with its
    ``step`` counted from 1 in its case type's list (as service.yaml lists them and the
    measures count them) and a ``label`` for people."""
    rows = []
    for row in result.step_targets():
        target = row["target_working_days"]
        whole = int(target) if float(target).is_integer() else target
        row = {**row, "step": int(row["step"]) + 1, "target_working_days": whole}
        label = step_label(
            row["case_type"], row["step"], row["resource"], row["target_working_days"]
        )
        rows.append({"label": label, **row})
    return rows
