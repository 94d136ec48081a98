"""Daily demand, capacity, activity and backlog in minutes, per critical resource; and from
the same replay of who was served when, the steps' contact targets met and the caseloads
per FTE."""

from flowcap.measures.caseload import Caseloads
from flowcap.measures.casework import CaseWork
from flowcap.measures.daily import MEASURE_COLUMNS, DailyMeasures, daily_measures
from flowcap.measures.measure import measure
from flowcap.measures.step_targets import StepTargets
from flowcap.measures.work import due_work

__all__ = [
    "MEASURE_COLUMNS",
    "CaseWork",
    "Caseloads",
    "DailyMeasures",
    "StepTargets",
    "daily_measures",
    "due_work",
    "measure",
]
