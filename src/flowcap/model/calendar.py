"""Which days are working days: the service's week, less its region's bank holidays."""

from __future__ import annotations

from datetime import date

import holidays
import numpy as np
import pandas as pd

from flowcap.model.service import Service

_SUBDIVISION = {"GB-ENG": "ENG", "GB-WLS": "WLS", "GB-SCT": "SCT", "GB-NIR": "NIR"}


def bank_holidays(region: str, start: date, end: date) -> dict[date, str]:
    """Bank holidays of a UK nation between ``start`` and ``end`` inclusive, by date."""
    years = range(start.year, end.year + 1)
    table = holidays.country_holidays("GB", subdiv=_SUBDIVISION[region], years=years)
    return {day: name for day, name in sorted(table.items()) if start <= day <= end}


def working_calendar(service: Service, start: date, end: date) -> pd.DataFrame:
    """One row per calendar day from ``start`` to ``end`` inclusive.

    Columns: ``date`` (datetime64, midnight), ``is_working_day`` (bool), ``bank_holiday``
    (the holiday's name or empty).
    """
    days = pd.date_range(start, end, freq="D")
    holiday_names = bank_holidays(service.region, start, end)
    names = np.array([holiday_names.get(d.date(), "") for d in days], dtype=object)
    working = np.isin(days.day_of_week, sorted(service.weekday_numbers))
    if not service.work_bank_holidays:
        working &= names == ""
    return pd.DataFrame({"date": days, "is_working_day": working, "bank_holiday": names})
