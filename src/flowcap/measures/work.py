"""The work each case brings: its case type's steps turned into minutes due on dates.

A high-risk domestic-abuse referral on 3 March with steps ``triage 30`` (day 0), ``idva 120``
(day 1) and ``idva 60`` × 8 every 7 days becomes ten rows: 30 triage minutes due 3 March,
120 IDVA minutes due 4 March, then 60 IDVA minutes due 4, 11, 18 March, and so on.
"""

from __future__ import annotations

import pandas as pd

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
    return pd.DataFrame(rows, columns=["case_type", "offset_days", "resource", "minutes", "priority"])


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
    ``priority``, ``resource``, ``due_date`` and ``minutes``, ordered by case and due date.
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
    steps = step_table(service)
    items = cases.merge(steps, on="case_type", how="inner", sort=False)
    items["due_date"] = items["case_date"] + pd.to_timedelta(items["offset_days"], unit="D")
    return items.drop(columns="offset_days")
