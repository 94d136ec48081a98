"""The API's response bodies, typed for the OpenAPI document at ``/docs``.

:class:`MeasuresDay` is one object of ``flowcap measures --json``
(:meth:`flowcap.measures.DailyMeasures.as_json`): the measures route sends those objects as
the library makes them, and the model documents them (its extra keys: the step-target and
caseload columns of a service that has them).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class ServiceSummary(BaseModel):
    """A service the user may see: their ``role`` in it, and when its data or settings last
    changed (UTC; ``None`` when nothing is stored yet)."""

    name: str
    role: Literal["viewer", "editor", "admin"]
    last_updated: datetime | None


class MeasuresDay(BaseModel):
    """One resource on one day: minutes and cases of demand, capacity, activity and backlog,
    and the cases waiting at the end of the day by age in working days."""

    model_config = ConfigDict(extra="allow")

    date: date
    resource: str
    demand_minutes: float
    capacity_minutes: float
    activity_minutes: float
    opening_backlog_minutes: float
    backlog_minutes: float
    demand_cases: int
    activity_cases: int
    backlog_cases: int
    waiting_0_2_working_days: int
    waiting_3_5_working_days: int
    waiting_6_10_working_days: int
    waiting_11_20_working_days: int
    waiting_over_20_working_days: int


class Problem(BaseModel):
    detail: str
