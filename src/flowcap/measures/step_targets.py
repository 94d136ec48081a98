"""Step contact targets met: was each piece of work with a target done in time?

A high-risk domestic-abuse referral's IDVA risk assessment falls due the day after the
referral, with ``target_working_days: 1`` in service.yaml: due on a Monday, it meets the
target if it is done by the end of Tuesday and misses it if it is done on Wednesday or later,
or is still waiting at the end of Tuesday. Every occurrence of a repeated step is judged from
the day that occurrence fell due.

The rule is the first-contact target's (:func:`flowcap.targets.past_contact_target`): the
working days after the day the work fell due, up to and including the day it was done, are
at most the target. Work still waiting at the end of the data is *missed* once that rule
says it is past its target and *pending* until then; pending work is left out of the share
met, as it has no outcome yet. Done days come from the measures' replay of who was served
when (:class:`~flowcap.measures.casework.CaseWork`): recorded sessions, else the modelled
activity.

Occurrences are counted in the calendar month they fell due ("of the risk assessments due in
March, 87% were done within a working day"), and only those falling due on or after the
first day measured: the opening backlog's work due before the data begin has no known
history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from flowcap.measures.casework import CaseWork
from flowcap.model import Service
from flowcap.targets import past_contact_target

#: How an occurrence of a step with a target stands at the end of the data.
STATUSES = ("met", "missed", "pending")
#: The columns naming a step with a target, in the order service.yaml lists them.
STEP_COLUMNS = ("case_type", "step", "resource", "target_working_days")


def targeted_steps(service: Service) -> pd.DataFrame:
    """The steps that have ``target_working_days``: :data:`STEP_COLUMNS`, ``step`` counted
    from 1 in its case type's list, in service.yaml's order."""
    rows = [
        (name, number, step.resource, step.target_working_days)
        for name, case_type in service.case_types.items()
        for number, step in enumerate(case_type.work, start=1)
        if step.target_working_days is not None
    ]
    return pd.DataFrame(rows, columns=list(STEP_COLUMNS)).astype(
        {"step": np.int64, "target_working_days": np.int64}
    )


def step_target_outcomes(casework: CaseWork) -> pd.DataFrame:
    """One row per occurrence of a step with a target, due on or after the first day measured.

    Columns: :data:`STEP_COLUMNS`, ``case`` (number), ``due_date``, ``done_date`` (NaT if not
    done by the last day measured), ``working_days_taken`` (working days after the due day
    up to and including the done day; NaN if not done) and ``status`` (:data:`STATUSES`),
    in the order the work fell due.
    """
    service = casework.service
    types = list(service.case_types)
    longest = max(len(case_type.work) for case_type in service.case_types.values())
    # target[type, step]: the step's target in working days, -1 for a step without one.
    target_of = np.full((len(types), longest + 1), -1, dtype=np.int64)
    for row in targeted_steps(service).itertuples(index=False):
        target_of[types.index(row.case_type), row.step] = row.target_working_days
    work = casework.work
    target = target_of[work["case_type"].to_numpy(), work["step"].to_numpy()]
    keep = (target >= 0) & (work["due_day"].to_numpy() >= 0)
    work, target = work[keep], target[keep]

    due, done = work["due_day"].to_numpy(), work["done_day"].to_numpy()
    last = casework.n_days - 1
    is_done = done <= last
    taken = casework.working_days_between(due, np.minimum(done, last))
    so_far = casework.working_days_between(due, np.full(len(due), last))
    status = np.where(
        is_done,
        np.where(taken <= target, "met", "missed"),
        np.where(past_contact_target(so_far, target), "missed", "pending"),
    )
    first = np.datetime64(casework.dates[0], "ns")
    outcomes = pd.DataFrame(
        {
            "case_type": np.array(types, dtype=object)[work["case_type"].to_numpy()],
            "step": work["step"].to_numpy(),
            "resource": np.array(list(service.resources), dtype=object)[
                work["resource"].to_numpy()
            ],
            "target_working_days": target,
            "case": work["case"].to_numpy(),
            "due_date": first + due.astype("timedelta64[D]"),
            "done_date": np.where(
                is_done, first + done.astype("timedelta64[D]"), np.datetime64("NaT")
            ),
            "working_days_taken": np.where(is_done, taken, np.nan),
            "status": status,
        }
    )
    return outcomes.sort_values(["due_date", "case"], kind="stable", ignore_index=True)


@dataclass(frozen=True)
class StepTargets:
    """Occurrences of the steps with targets and how each stands (met, missed, pending).

    ``steps`` lists every step with a target (:func:`targeted_steps`), even one with nothing
    due yet; ``outcomes`` has one row per occurrence (:func:`step_target_outcomes`).
    """

    steps: pd.DataFrame
    outcomes: pd.DataFrame

    @classmethod
    def measure(cls, casework: CaseWork) -> StepTargets:
        """The outcomes of every occurrence due in the measured days."""
        return cls(targeted_steps(casework.service), step_target_outcomes(casework))

    def between(self, start: date | pd.Timestamp, end: date | pd.Timestamp) -> StepTargets:
        """Only the occurrences that fell due from ``start`` to ``end`` inclusive (outcomes
        as they stand at the end of the data)."""
        due = self.outcomes["due_date"]
        keep = (due >= pd.Timestamp(start)) & (due <= pd.Timestamp(end))
        return StepTargets(self.steps, self.outcomes[keep].reset_index(drop=True))

    def by_step(self) -> pd.DataFrame:
        """One row per step with a target: :data:`STEP_COLUMNS`, ``met``, ``missed``,
        ``pending`` (occurrences) and ``share_met`` (met / (met + missed); NaN with none
        decided)."""
        counts = _counts(self.outcomes, list(STEP_COLUMNS))
        table = self.steps.merge(counts, on=list(STEP_COLUMNS), how="left")
        return _with_share(table.fillna({status: 0 for status in STATUSES}))

    def by_case_type(self) -> pd.DataFrame:
        """One row per case type with a step with a target: ``case_type``, the counts and
        ``share_met`` over all its steps with targets."""
        table = self.by_step().groupby("case_type", sort=False)[list(STATUSES)].sum()
        return _with_share(table.reset_index())

    def by_month(self, per_step: bool = False) -> pd.DataFrame:
        """One row per calendar month that work with a target fell due in (per step when
        ``per_step``): ``month`` (``YYYY-MM``), the counts and ``share_met``."""
        keys = [*STEP_COLUMNS, "month"] if per_step else ["month"]
        months = self.outcomes.assign(month=self.outcomes["due_date"].dt.strftime("%Y-%m"))
        return _with_share(_counts(months, keys).sort_values(keys, kind="stable"))

    def by_day(self, days: pd.DataFrame) -> pd.DataFrame:
        """For each row of ``days`` (``date``, ``resource``) at a resource with a step with a
        target, the occurrences there that fell due that day by how they stand now:
        ``date``, ``resource``, ``met``, ``missed``, ``pending``."""
        days = days[days["resource"].isin(self.steps["resource"])].reset_index(drop=True)
        index = pd.MultiIndex.from_frame(days[["date", "resource"]])
        for status in STATUSES:
            mine = self.outcomes[self.outcomes["status"] == status]
            counts = mine.groupby(["due_date", "resource"]).size()
            days[status] = counts.reindex(index, fill_value=0).to_numpy(np.int64)
        return days

    def overall(self) -> dict:
        """Every occurrence of every step with a target: the counts and ``share_met``."""
        counts = self.outcomes["status"].value_counts()
        row = {status: int(counts.get(status, 0)) for status in STATUSES}
        decided = row["met"] + row["missed"]
        return {**row, "share_met": row["met"] / decided if decided else float("nan")}

    def as_json(self) -> list[dict]:
        """One object per step with a target: :data:`STEP_COLUMNS`, ``met``, ``missed``,
        ``pending``, ``share_met`` (4 decimals; null with none decided) and ``by_month``
        (``month``, ``met``, ``missed``, ``pending``, ``share_met``)."""
        months = self.by_month(per_step=True)
        document = []
        for step in _records(self.by_step()):
            mine = months
            for column in STEP_COLUMNS:
                mine = mine[mine[column] == step[column]]
            step["by_month"] = _records(mine[["month", *STATUSES, "share_met"]])
            document.append(step)
        return document


def _counts(outcomes: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Occurrences met, missed and pending per ``keys`` (a column each, zeros filled)."""
    table = (
        outcomes.groupby([*keys, "status"], sort=False)
        .size()
        .unstack("status", fill_value=0)
        .reindex(columns=list(STATUSES), fill_value=0)
    )
    table.columns.name = None
    return table.reset_index()


def _with_share(table: pd.DataFrame) -> pd.DataFrame:
    table = table.astype({status: np.int64 for status in STATUSES})
    decided = table["met"] + table["missed"]
    table["share_met"] = np.where(decided > 0, table["met"] / decided.where(decided > 0, 1), np.nan)
    return table.reset_index(drop=True)


def _records(table: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: whole numbers as int, shares to 4 decimals (NaN as null)."""
    records = []
    for row in table.to_dict(orient="records"):
        for key, value in row.items():
            if isinstance(value, np.integer) or key in (*STATUSES, "step", "target_working_days"):
                row[key] = int(value)
            elif key == "share_met":
                row[key] = None if value != value else round(float(value), 4)
        records.append(row)
    return records
