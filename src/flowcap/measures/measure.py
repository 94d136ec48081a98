"""The measures of a service over the days a user asks for (``flowcap measures``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from flowcap.checks import ArgumentError, check_period
from flowcap.errors import FlowcapError
from flowcap.measures.daily import DailyMeasures, daily_measures
from flowcap.progress import Progress, quiet

if TYPE_CHECKING:
    from flowcap.history import ServiceHistory


def measure(
    history: ServiceHistory,
    start: date | None = None,
    end: date | None = None,
    progress: Progress = quiet,
) -> DailyMeasures:
    """The daily measures with the table cut to ``start``..``end`` (either may be ``None``).

    Measuring always runs from the first day of data, so the backlog on ``start`` is right.
    With modelled activity ``end`` may lie after the data (the backlog worked off); with
    recorded sessions it may not, since no activity is recorded there.
    """
    check_period(start, end)
    progress("Measuring")
    measures = history.require_measures("measuring")
    if end is not None and pd.Timestamp(end) > measures.period[1]:
        # Only days after the data need measuring again (the backlog worked off); a range
        # inside the data is a cut of the whole table: every measure runs from the first
        # referral, so the day's numbers do not depend on where the range stops.
        measures = daily_measures(history.service, history.tables, until=end)
    data = history.tables
    if measures.recorded and end is not None:
        last = max(data.sessions["date"].max(), data.referrals["referral_date"].max())
        if pd.Timestamp(end) > last:
            raise ArgumentError(
                "end",
                f"{end} is after the last recorded data ({last:%Y-%m-%d}): no activity is "
                "recorded after it, so the backlog would only grow",
            )
    table = measures.between(start, end)
    if table.empty:
        span = f"from {start}" if end is None else f"between {start or 'the start'} and {end}"
        raise FlowcapError(
            f"no days {span}: the measures run from the first referral date to the last day of data"
        )
    return replace(measures, table=table)
