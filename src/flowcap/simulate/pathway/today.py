"""Today's waiting list as the pathway simulation's starting point (``flowcap des
--from-today``): the cases still waiting at the end of the data, each in the queue of the
step it waits for, since the day its work fell due.

The daily measures say which pieces of work wait at which resource at the end of the last
day measured, and since when (:class:`~flowcap.measures.waiting.WaitingList`: one row per
case and resource, by its oldest piece there). Each becomes a case carried in
(:class:`~flowcap.simulate.pathway.spec.CarriedCases`) at the step of its case type's pathway
at that resource:

- **built from the case types' steps** (no ``pathway:``), the step is the visit the piece
  is: ``idva day 8`` for work due 8 days after the referral;
- **a ``pathway:`` section** has no days: the piece goes to the first step at its resource
  on its case type's pathway (in the order the routing reaches them), and is served with that
  step's times. Work the pathway leaves out (the example's weekly sessions) is thereby loaded
  as the pathway's work at that resource; a piece at a resource its case type's pathway
  never visits cannot be loaded, and is counted apart.

A case waiting at several steps at once (the measures let a case's pieces of work wait at
two resources together; a case in the pathway is in one place) is carried in at each, and only
the one furthest along its pathway goes on after being served; the others leave.

It waits since midnight of the day its work fell due, that day counted: the simulation starts
at midnight after the last day measured, so work due on that day has waited a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from flowcap.simulate.pathway.spec import CarriedCases, PathwaySpec

if TYPE_CHECKING:
    from flowcap.measures import DailyMeasures
    from flowcap.model.service import Service
    from flowcap.model.tables import ServiceTables

MINUTES_PER_DAY = 1440.0
#: Columns of :attr:`WaitingStart.cases`.
CASE_COLUMNS = (
    "case",
    "resource",
    "case_type",
    "step",
    "due_date",
    "age_working_days",
    "waiting_since_minutes",
    "leaves",
)


@dataclass(frozen=True)
class WaitingStart:
    """The waiting list at the end of the data, as cases carried into the simulation.

    ``data_end`` is the last day measured (the simulation starts at midnight after it);
    ``cases`` one row per case carried in (:data:`CASE_COLUMNS`; ``step`` a name,
    ``age_working_days`` as the measures' waiting list counts it); ``not_loaded`` the cases
    waiting at a resource their case type's pathway never visits (``resource``,
    ``case_type``, ``cases``); ``steps`` the spec's steps, in order.
    """

    data_end: date
    cases: pd.DataFrame
    not_loaded: pd.DataFrame
    steps: tuple[str, ...]
    step_resource: tuple[str | None, ...]
    case_types: tuple[str, ...]

    def carried(self) -> CarriedCases:
        """The cases as the engine takes them."""
        return CarriedCases(
            pd.Index(self.case_types).get_indexer(self.cases["case_type"]),
            pd.Index(self.steps).get_indexer(self.cases["step"]),
            self.cases["waiting_since_minutes"].to_numpy(float),
            self.cases["leaves"].to_numpy(bool),
        )

    def by_step(self) -> dict[str, dict]:
        """Per step with cases carried in, in the pathway's order: ``resource``, ``cases``,
        the oldest's ``oldest_due_date`` (ISO date) and ``oldest_working_days``, and
        ``by_case_type`` (cases per case type, those with any)."""
        found = {}
        for s, name in enumerate(self.steps):
            mine = self.cases[self.cases["step"] == name]
            if mine.empty:
                continue
            counts = mine["case_type"].value_counts()
            found[name] = {
                "resource": self.step_resource[s],
                "cases": len(mine),
                "oldest_due_date": min(mine["due_date"]).isoformat(),
                "oldest_working_days": int(mine["age_working_days"].max()),
                "by_case_type": {t: int(counts[t]) for t in self.case_types if t in counts},
            }
        return found

    def as_json(self, start: date) -> dict:
        """``data_end``, ``start`` (the simulation's first day), ``cases`` carried in,
        ``steps`` (:meth:`by_step`), ``not_loaded`` ({resource: {case_type: cases}}), and
        ``waits_include_time_before_start`` (always true: waits count from when each case
        began waiting)."""
        missing: dict[str, dict[str, int]] = {}
        for row in self.not_loaded.itertuples(index=False):
            missing.setdefault(row.resource, {})[row.case_type] = int(row.cases)
        return {
            "data_end": self.data_end.isoformat(),
            "start": start.isoformat(),
            "cases": len(self.cases),
            "steps": self.by_step(),
            "not_loaded": missing,
            "waits_include_time_before_start": True,
        }


def case_days(tables: ServiceTables, first_day: pd.Timestamp) -> np.ndarray:
    """The day number (from ``first_day``) on which each case began, numbered as
    :func:`flowcap.measures.daily_measures` numbers them: the referrals, then the cases
    already waiting (from ``waiting_since``), each in ``case_key`` order."""
    referrals = tables.referrals.sort_values("case_key", kind="stable")
    waiting = tables.waiting.sort_values("case_key", kind="stable")
    dates = np.concatenate(
        [
            referrals["referral_date"].to_numpy("datetime64[ns]"),
            waiting["waiting_since"].to_numpy("datetime64[ns]"),
        ]
    )
    return ((dates - np.datetime64(first_day, "ns")) // np.timedelta64(1, "D")).astype(np.int64)


def _reach(spec: PathwaySpec, t: int) -> dict[int, int]:
    """Step -> how many moves from case type ``t``'s entry step it is first reached in (the
    steps its routing can take it to)."""
    routing = spec.routing_by_case_type[t]
    depth = {int(spec.entry_step[t]): 0}
    frontier = [int(spec.entry_step[t])]
    while frontier:
        following = []
        for s in frontier:
            for j in np.flatnonzero(routing[s] > 0):
                if int(j) not in depth:
                    depth[int(j)] = depth[s] + 1
                    following.append(int(j))
        frontier = following
    return depth


def waiting_start(
    service: Service, measures: DailyMeasures, tables: ServiceTables, spec: PathwaySpec
) -> WaitingStart:
    """The cases still waiting at the end of the measured days, placed on ``spec``'s steps
    (see the module doc). ``spec`` is :func:`~flowcap.simulate.pathway.build.build_pathway_spec`'s
    for ``service``: without a ``pathway:`` its steps are named ``RESOURCE day N``."""
    waiting = measures.waiting
    assert waiting is not None
    dates = waiting.dates
    last = len(dates) - 1
    on = waiting.ages_on(last)
    resources = list(waiting.resources)
    step_names = list(spec.steps)
    reach = [_reach(spec, t) for t in range(len(spec.case_types))]
    type_index = [spec.case_types.index(name) for name in waiting.case_types]
    by_day = service.pathway is None
    if by_day and len(on):
        begun = case_days(tables, dates[0])[on["case"].to_numpy()]
        offsets = on["due_day"].to_numpy() - begun
    else:
        offsets = np.zeros(len(on), np.int64)

    def step_of(resource: int, case_type: int, offset: int) -> int:
        t = type_index[case_type]
        r = spec.resources.index(resources[resource])
        if by_day:
            name = f"{resources[resource]} day {offset}"
            s = step_names.index(name) if name in step_names else -1
            return s if s in reach[t] else -1
        mine = [s for s in reach[t] if spec.step_resource[s] == r]
        return min(mine, key=lambda s: (reach[t][s], s)) if mine else -1

    step = np.array(
        [
            step_of(r, k, int(d))
            for r, k, d in zip(on["resource"], on["case_type"], offsets, strict=True)
        ],
        dtype=np.int64,
    )
    due = dates[0] + pd.to_timedelta(on["due_day"].to_numpy(), unit="D")
    frame = pd.DataFrame(
        {
            "case": on["case"].to_numpy(),
            "resource": np.asarray(resources, dtype=object)[on["resource"].to_numpy()],
            "case_type": np.asarray(waiting.case_types, dtype=object)[on["case_type"].to_numpy()],
            "step_index": step,
            "due_date": [d.date() for d in due],
            "age_working_days": on["age"].to_numpy(np.int64),
            "waiting_since_minutes": (on["due_day"].to_numpy() - len(dates)) * MINUTES_PER_DAY,
        }
    )
    placed = frame[frame["step_index"] >= 0].copy()
    missing = (
        frame[frame["step_index"] < 0]
        .groupby(["resource", "case_type"], sort=False)
        .size()
        .rename("cases")
        .reset_index()
    )
    # The furthest along its pathway goes on; a case's other pieces leave after their step.
    t_of = pd.Index(spec.case_types).get_indexer(placed["case_type"])
    placed["depth"] = [reach[t][s] for t, s in zip(t_of, placed["step_index"], strict=True)]
    placed = placed.sort_values(["case", "depth", "step_index"], kind="stable")
    placed["leaves"] = placed["case"].duplicated(keep="last")
    placed["step"] = np.asarray(step_names, dtype=object)[placed["step_index"].to_numpy()]
    placed = placed.sort_values(["waiting_since_minutes", "case", "step_index"], kind="stable")
    return WaitingStart(
        data_end=dates[-1].date(),
        cases=placed[list(CASE_COLUMNS)].reset_index(drop=True),
        not_loaded=missing,
        steps=spec.steps,
        step_resource=tuple(
            None if r < 0 else spec.resources[r] for r in spec.step_resource.tolist()
        ),
        case_types=spec.case_types,
    )
