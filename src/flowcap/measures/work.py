"""The work each case brings: its case type's steps turned into minutes due on dates.

A high-risk domestic-abuse referral on 3 March with steps ``triage 30`` (day 0), ``idva 120``
(day 1) and ``idva 60`` × 8 every 7 days from day 8 (``after_days: 8, repeat: 8,
every_days: 7``, as in the bundled example) becomes ten rows: 30 triage minutes due 3 March,
120 IDVA minutes due 4 March, then 60 IDVA minutes due 11, 18 and 25 March and 1, 8, 15, 22
and 29 April. Offsets are calendar days after the referral
(:meth:`flowcap.model.service.Step.due_offsets`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from flowcap.errors import FlowcapError
from flowcap.model import Service


def step_table(service: Service) -> pd.DataFrame:
    """One row per occurrence of each case type's steps.

    Columns: ``case_type``, ``offset_days`` (calendar days after referral), ``resource``,
    ``minutes``, ``priority``.
    """
    rows = []
    for name, case_type in service.case_types.items():
        for step in case_type.work:
            for offset in step.due_offsets():
                rows.append((name, offset, step.resource, float(step.minutes), case_type.priority))
    return pd.DataFrame(
        rows, columns=["case_type", "offset_days", "resource", "minutes", "priority"]
    )


def due_work(service: Service, referrals: pd.DataFrame, waiting: pd.DataFrame) -> pd.DataFrame:
    """Every piece of work every case needs, with the day it falls due.

    Parameters
    ----------
    referrals : DataFrame with ``case_key``, ``referral_date``, ``case_type``.
    waiting : DataFrame with ``case_key``, ``case_type``, ``waiting_since`` (the opening
        backlog: cases referred before the data starts; their work falls due from
        ``waiting_since`` as if that were the referral date).

    Returns
    -------
    DataFrame with ``case_key``, ``case_date`` (referral or waiting-since date), ``case_type``,
    ``priority``, ``resource``, ``due_date`` and ``minutes``: one row per occurrence of each
    step, cases in the order given, each case's steps in the order its case type lists them.
    """
    cases = pd.concat(
        [
            referrals[["case_key", "referral_date", "case_type"]].rename(
                columns={"referral_date": "case_date"}
            ),
            waiting[["case_key", "waiting_since", "case_type"]].rename(
                columns={"waiting_since": "case_date"}
            ),
        ],
        ignore_index=True,
    )
    return expand_steps(service, cases)


def expand_steps(service: Service, cases: pd.DataFrame) -> pd.DataFrame:
    """Repeat each case once per step occurrence of its case type.

    ``cases`` needs ``case_date`` and ``case_type``; its other columns are carried along.
    """
    case_row, steps = step_positions(service, cases["case_type"])
    items = cases.iloc[case_row].reset_index(drop=True)
    for column in ("resource", "minutes", "priority"):
        items[column] = steps[column]
    items["due_date"] = items["case_date"] + pd.to_timedelta(steps["offset_days"], unit="D")
    return items


def step_positions(service: Service, case_types: pd.Series) -> tuple[np.ndarray, dict]:
    """For every step occurrence of every case: the case's row and the step's fields.

    Vectorised with ``numpy.repeat`` rather than a merge: a million referrals expand in a
    fraction of a second.

    Returns
    -------
    case_row : ndarray of int, shape (n_items,) — row of ``case_types`` each item belongs to.
    steps : dict of arrays, shape (n_items,) — ``offset_days``, ``resource`` (name),
        ``resource_index`` (position in ``service.resources``), ``minutes``, ``priority``,
        ``step`` (the step's place in its case type's list, from 1).
    """
    table = step_table(service)
    names = list(service.case_types)
    table_type = pd.Categorical(table["case_type"], categories=names).codes
    per_type = np.bincount(table_type, minlength=len(names))
    first_step = np.concatenate([[0], np.cumsum(per_type)[:-1]])
    case_type = pd.Categorical(case_types, categories=names).codes
    if (case_type < 0).any():
        unknown = sorted(set(np.asarray(case_types, dtype=object)[case_type < 0]))
        raise FlowcapError(
            f"the store holds case types that service.yaml does not define: {', '.join(unknown)}"
        )
    per_case = per_type[case_type]
    case_row = np.repeat(np.arange(len(case_type)), per_case)
    within = np.arange(len(case_row)) - np.repeat(np.cumsum(per_case) - per_case, per_case)
    step_row = first_step[case_type][case_row] + within
    resource_index = table["resource"].map({n: i for i, n in enumerate(service.resources)})
    steps = {
        "offset_days": table["offset_days"].to_numpy(np.int64)[step_row],
        "resource": table["resource"].to_numpy(dtype=object)[step_row],
        "resource_index": resource_index.to_numpy(np.int64)[step_row],
        "minutes": table["minutes"].to_numpy(float)[step_row],
        "priority": table["priority"].to_numpy(np.int64)[step_row],
        "step": _step_numbers(service)[step_row],
    }
    return case_row, steps


def _step_numbers(service: Service) -> np.ndarray:
    """For each row of :func:`step_table`, its step's place in its case type's list (from 1)."""
    return np.array(
        [
            number
            for case_type in service.case_types.values()
            for number, step in enumerate(case_type.work, start=1)
            for _ in step.due_offsets()
        ],
        dtype=np.int64,
    )
