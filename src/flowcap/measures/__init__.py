"""Daily demand, capacity, activity and backlog in minutes, per critical resource."""

from flowcap.measures.daily import MEASURE_COLUMNS, DailyMeasures, daily_measures
from flowcap.measures.measure import measure
from flowcap.measures.work import due_work

__all__ = ["MEASURE_COLUMNS", "DailyMeasures", "daily_measures", "due_work", "measure"]
