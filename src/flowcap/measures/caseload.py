"""Caseloads: open cases per full-time person of their case holder, against the standard.

An IDVA team of 4 FTE with ``caseload_per_staff: 22`` on high-risk domestic abuse can hold
88 such cases; with 31 open, each full-time IDVA holds 7.8, 35% of the standard. This module
counts, for every case type with a ``caseload_per_staff``, its open cases at the end of
each measured day and sets them against its case holder
(:attr:`~flowcap.model.service.CaseType.caseload_resource`, the resource giving such a
case the most minutes).

**Open.** A case is open at the end of each day from its referral date (``waiting_since``
for the opening backlog) until it closes: it closes at the end of the later of the day its
last step falls due and the day its last piece of work was done. Work still not done at the
end of the data keeps the case open, as it keeps it on the waiting list: a case whose work
is never recorded as done stays open. A case referred on 3 March whose last weekly contact
falls due on 29 April and is done on 2 May is open at the end of every day from 3 March to
1 May.

**FTE** is the case holder's ``staff`` in service.yaml: the posts, not the people on duty
that day. A caseload belongs to a post; a sick day or a day's leave does not change it.

When several case types share a case holder, its combined load is the sum over the types of
open / (standard × FTE): 1 (100%) is a full caseload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from flowcap.measures.casework import CaseWork
from flowcap.model import Service

#: The columns of the daily series, one row per day and case type with a standard.
DAILY_COLUMNS = (
    "date",
    "case_type",
    "resource",
    "open_cases",
    "fte",
    "open_cases_per_fte",
    "caseload_per_staff",
    "share_of_standard",
)
_NEVER = -(10**9)


def caseload_standards(service: Service) -> pd.DataFrame:
    """The case types with a ``caseload_per_staff``, in service.yaml's order: ``case_type``,
    ``resource`` (the case holder), ``fte`` (its staff in post) and ``caseload_per_staff``."""
    rows = [
        (
            name,
            case_type.caseload_resource,
            float(service.resources[case_type.caseload_resource].staff),
            float(case_type.caseload_per_staff),
        )
        for name, case_type in service.case_types.items()
        if case_type.caseload_per_staff is not None
    ]
    return pd.DataFrame(rows, columns=["case_type", "resource", "fte", "caseload_per_staff"])


def open_spells(casework: CaseWork) -> pd.DataFrame:
    """When each case of a type with a standard is open: ``case``, ``case_type`` (name),
    ``opens`` and ``closes`` (day numbers: open at the end of days ``opens`` to
    ``closes - 1``; ``closes`` is at most the number of days measured, for cases open at the
    end)."""
    service = casework.service
    types = list(service.case_types)
    # The last step's due day, in days after the referral, per case type (position).
    last_offset = np.array(
        [
            max(max(step.due_offsets()) for step in case_type.work)
            for case_type in service.case_types.values()
        ],
        dtype=np.int64,
    )
    held = np.isin(
        np.arange(len(types)),
        [types.index(name) for name in caseload_standards(service)["case_type"]],
    )
    cases = casework.cases[held[casework.cases["case_type"].to_numpy()]]
    case = cases["case"].to_numpy()
    case_type = cases["case_type"].to_numpy()
    last_due = cases["case_day"].to_numpy() + last_offset[case_type]
    # The day each case's last piece of work was done (len(dates) if some is not done yet);
    # a case with none replayed (all of it history before the data) closes when due.
    work = casework.work[held[casework.work["case_type"].to_numpy()]]
    last_done = np.full(len(casework.cases), _NEVER, dtype=np.int64)
    np.maximum.at(last_done, work["case"].to_numpy(), work["done_day"].to_numpy())
    return pd.DataFrame(
        {
            "case": case,
            "case_type": np.array(types, dtype=object)[case_type],
            "opens": np.maximum(cases["case_day"].to_numpy(), 0),
            "closes": np.minimum(np.maximum(last_due, last_done[case]), casework.n_days),
        }
    )


@dataclass(frozen=True)
class Caseloads:
    """Open cases per FTE of their case holder, day by day, against the standard.

    ``daily`` has :data:`DAILY_COLUMNS`: per day and case type with a standard, the
    ``open_cases`` at the end of the day, the case holder's ``fte``, ``open_cases_per_fte``
    (NaN with no staff), the ``caseload_per_staff`` standard and ``share_of_standard``
    (per FTE / standard: 1 is a full caseload).
    """

    daily: pd.DataFrame

    @classmethod
    def measure(cls, casework: CaseWork) -> Caseloads:
        """Every measured day's caseloads."""
        standards = caseload_standards(casework.service)
        spells = open_spells(casework)
        n_days, frames = casework.n_days, []
        for row in standards.itertuples(index=False):
            mine = spells[spells["case_type"] == row.case_type]
            mine = mine[mine["closes"] > mine["opens"]]
            change = np.zeros(n_days + 1, dtype=np.int64)
            np.add.at(change, mine["opens"].to_numpy(), 1)
            np.add.at(change, mine["closes"].to_numpy(), -1)
            open_cases = np.cumsum(change)[:n_days]
            per_fte = open_cases / row.fte if row.fte > 0 else np.full(n_days, np.nan)
            frames.append(
                pd.DataFrame(
                    {
                        "date": casework.dates,
                        "case_type": row.case_type,
                        "resource": row.resource,
                        "open_cases": open_cases,
                        "fte": row.fte,
                        "open_cases_per_fte": per_fte,
                        "caseload_per_staff": row.caseload_per_staff,
                        "share_of_standard": per_fte / row.caseload_per_staff,
                    }
                )
            )
        daily = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=list(DAILY_COLUMNS))
        )
        return cls(daily)

    def between(self, start: date | pd.Timestamp, end: date | pd.Timestamp) -> Caseloads:
        """Only the days from ``start`` to ``end`` inclusive."""
        days = self.daily["date"]
        keep = (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))
        return Caseloads(self.daily[keep].reset_index(drop=True))

    def by_resource(self) -> pd.DataFrame:
        """Per day and case holder: ``date``, ``resource``, ``open_cases`` (all its case types
        with a standard), ``open_cases_per_fte`` and ``caseload_share`` (the sum over its
        types of open / (standard × FTE): 1 is a full caseload)."""
        grouped = self.daily.groupby(["date", "resource"], sort=False)
        table = grouped.agg(
            open_cases=("open_cases", "sum"),
            fte=("fte", "first"),
            caseload_share=("share_of_standard", "sum"),
        ).reset_index()
        has_staff = table["fte"] > 0
        table["open_cases_per_fte"] = np.where(
            has_staff, table["open_cases"] / table["fte"].where(has_staff, 1), np.nan
        )
        table.loc[~has_staff, "caseload_share"] = np.nan
        return table[["date", "resource", "open_cases", "open_cases_per_fte", "caseload_share"]]

    def summary(self) -> pd.DataFrame:
        """One row per case type with a standard, on the last day: ``case_type``,
        ``resource``, ``open_cases``, ``fte``, ``open_cases_per_fte``,
        ``caseload_per_staff``, ``share_of_standard``, and the period's
        ``peak_open_cases`` with its ``peak_date`` (the first, on a tie)."""
        rows = []
        for _, days in self.daily.groupby("case_type", sort=False):
            now = days.iloc[-1]
            peak = days.loc[days["open_cases"].idxmax()]
            rows.append(
                {
                    **{column: now[column] for column in DAILY_COLUMNS[1:]},
                    "peak_open_cases": int(peak["open_cases"]),
                    "peak_date": peak["date"],
                }
            )
        columns = [*DAILY_COLUMNS[1:], "peak_open_cases", "peak_date"]
        return pd.DataFrame(rows, columns=columns)

    def shared(self) -> pd.DataFrame:
        """Case holders with more than one case type with a standard, on the last day:
        ``resource``, ``case_types`` (names, comma-separated) and ``caseload_share``."""
        if self.daily.empty:
            return pd.DataFrame(columns=["resource", "case_types", "caseload_share"])
        last = self.daily[self.daily["date"] == self.daily["date"].max()]
        combined = self.by_resource()
        combined = combined[combined["date"] == self.daily["date"].max()].set_index("resource")
        rows = [
            {
                "resource": resource,
                "case_types": ", ".join(types["case_type"]),
                "caseload_share": float(combined.loc[resource, "caseload_share"]),
            }
            for resource, types in last.groupby("resource", sort=False)
            if len(types) > 1
        ]
        return pd.DataFrame(rows, columns=["resource", "case_types", "caseload_share"])

    def as_json(self) -> dict:
        """``summary`` (:meth:`summary`, dates ISO) and ``daily`` (:meth:`by_resource`):
        whole numbers as int, ratios to 4 decimals, NaN as null."""
        summary = self.summary().assign(peak_date=lambda t: t["peak_date"].dt.strftime("%Y-%m-%d"))
        daily = self.by_resource().assign(date=lambda t: t["date"].dt.strftime("%Y-%m-%d"))
        return {"summary": json_records(summary), "daily": json_records(daily)}


def json_records(table: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: counts as int, other numbers to 4 decimals, NaN as null."""
    records = table.to_dict(orient="records")
    for record in records:
        for key, value in record.items():
            if key in ("open_cases", "peak_open_cases"):
                record[key] = int(value)
            elif isinstance(value, float | np.floating):
                record[key] = None if value != value else round(float(value), 4)
    return records
