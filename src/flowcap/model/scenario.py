"""A scenario: a manager's contingency option, as a list of dated changes to the service.

Each change is exactly one of :class:`Transfer`, :class:`Agency`, :class:`Overtime`,
:class:`Demand`, :class:`Triage`, :class:`Vacancy` or :class:`Recruit` (the :data:`Change`
union). Dates are ``YYYY-MM-DD`` and
``end`` is inclusive. They are read from ``scenarios.yaml`` by
:func:`flowcap.io.scenarios_yaml.read_scenarios`; what they do to the simulation and what they
cost is :func:`flowcap.plan.scenarios.apply_scenario`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from flowcap.model.limits import (
    FIRST_DATE,
    LAST_DATE,
    MAX_DAY_RATE,
    MAX_DAYS,
    MAX_DEMAND_FACTOR,
    MAX_PREMIUM,
    MAX_SALARY,
    MAX_STAFF,
    MAX_STEP_MINUTES,
)

__all__ = [
    "BASELINE",
    "CHANGE_KINDS",
    "INDUCTION_DAYS",
    "INDUCTION_OUTPUT",
    "RECRUITMENT_LEAD_DAYS",
    "Agency",
    "Change",
    "Day",
    "Demand",
    "Overtime",
    "Recruit",
    "Scenario",
    "Transfer",
    "Triage",
    "Vacancy",
]

#: The name the comparison gives the unchanged service; an option may not use it.
BASELINE = "baseline"
CHANGE_KINDS = ("transfer", "agency", "overtime", "demand", "triage", "vacancy", "recruit")
#: Calendar days from starting to recruit to a new person's first day (an assumption, L):
#: about six weeks from advert to accepted offer (the UK public sector's average time to hire,
#: standout-cv.com's survey of 497 employers; four to eight weeks in charities, The Principle
#: Partnership), a month's notice, and a week for the contract and checks (DBS): 12 weeks, as
#: a not-for-profit recruiter's timeline adds it up (Gembridge, 2024). research/domain.md has
#: no figure; replace it with the service's own.
RECRUITMENT_LEAD_DAYS = 84
#: Calendar days a new recruit works at reduced output (shadowing, training; assumption, L).
INDUCTION_DAYS = 28
#: Share of a full person's minutes a recruit gives during induction (assumption, L).
INDUCTION_OUTPUT = 0.5
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    """Accept a date or a ``YYYY-MM-DD`` string only (not numbers or date-times)."""
    if isinstance(value, datetime):
        raise ValueError("give a date as YYYY-MM-DD, without a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        return value.strip()
    raise ValueError(f"give a date as YYYY-MM-DD, not {str(value)[:40]!r}")


def _in_range(value: date) -> date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(f"give a date from {FIRST_DATE} to {LAST_DATE}, not {value}")
    return value


Day = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_in_range)]


class _Change(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    @property
    def kind(self) -> str:
        return type(self).__name__.lower()


def _end_not_before(start: date, end: date | None, what: str = "start") -> None:
    if end is not None and end < start:
        raise ValueError(f"end ({end}) is before {what} ({start})")


class Transfer(_Change):
    """Move ``staff`` people from a less critical resource to another from ``start`` to ``end``.

    On each day both resources work, the sending resource loses up to ``staff`` people (no
    more than it has rostered that day) and the receiving resource gains exactly those, at its
    hours, from ``start + handover_days`` (days of handover, lost to both). Nobody moves on a
    day the receiving resource does not work. See :func:`flowcap.plan.scenarios.apply_scenario`.
    """

    from_: str = Field(alias="from")
    to: str
    staff: int = Field(gt=0, le=MAX_STAFF, description="People moved.")
    start: Day
    end: Day
    handover_days: int = Field(
        default=0, ge=0, le=MAX_DAYS, description="Calendar days before they help."
    )

    @model_validator(mode="after")
    def _dates(self) -> Transfer:
        _end_not_before(self.start, self.end)
        if self.from_ == self.to:
            raise ValueError("a transfer needs two different resources")
        return self


class Agency(_Change):
    """Book ``staff`` agency people at ``resource`` for ``day_rate`` pounds a person a day.

    They arrive ``lead_days`` calendar days after ``start`` and are paid from then on each of
    the resource's working days until ``end`` (or the horizon), and for at least ``min_days``
    working days; they do the work from ``induction_days`` days after arriving.
    """

    resource: str
    staff: int = Field(gt=0, le=MAX_STAFF)
    day_rate: float = Field(
        ge=0, le=MAX_DAY_RATE, description="Pounds per agency person per working day."
    )
    lead_days: int = Field(default=0, ge=0, le=MAX_DAYS)
    min_days: int = Field(default=0, ge=0, le=MAX_DAYS)
    induction_days: int = Field(default=0, ge=0, le=MAX_DAYS)
    start: Day
    end: Day | None = None

    @model_validator(mode="after")
    def _dates(self) -> Agency:
        _end_not_before(self.start, self.end)
        if self.end is not None and (self.end - self.start).days < self.lead_days:
            raise ValueError(
                f"the agency staff arrive {self.lead_days} days after start, after end ({self.end})"
            )
        return self


class Overtime(_Change):
    """Each of the resource's own rostered people works ``minutes_per_day`` more on working days.

    Paid at ``cost_per_hour × premium`` (``sunday_premium`` on Sundays and bank holidays).
    """

    resource: str
    minutes_per_day: float = Field(gt=0, le=720)
    premium: float = Field(default=1.5, ge=0, le=MAX_PREMIUM)
    sunday_premium: float = Field(default=2.0, ge=0, le=MAX_PREMIUM)
    start: Day
    end: Day

    @model_validator(mode="after")
    def _dates(self) -> Overtime:
        _end_not_before(self.start, self.end)
        return self


class Demand(_Change):
    """Multiply a case type's expected new cases by ``factor`` from ``start`` to ``end``."""

    case_type: str
    factor: float = Field(ge=0, le=MAX_DEMAND_FACTOR)
    start: Day
    end: Day

    @model_validator(mode="after")
    def _dates(self) -> Demand:
        _end_not_before(self.start, self.end)
        return self


class Triage(_Change):
    """New cases of ``case_type`` need ``minutes`` (per occurrence) for step ``step`` (0-based)."""

    case_type: str
    step: int = Field(default=0, ge=0, le=1_000)
    minutes: float = Field(ge=0, le=MAX_STEP_MINUTES)


class Vacancy(_Change):
    """``staff`` fewer people rostered at ``resource`` from ``start`` to ``end`` (inclusive):
    a post left empty, or a long-term sickness.

    Never below zero: on each working day the resource loses up to ``staff`` of the people
    rostered that day. ``paid``: whether their pay is still paid. An empty post is not
    (``paid: false``, the default: the option saves ``staff × minutes / 60 × cost_per_hour``
    on each working day lost); a long-term sickness usually is (``paid: true``: sick pay, no
    saving). See :func:`flowcap.plan.scenarios.apply_scenario`.
    """

    resource: str
    staff: int = Field(gt=0, le=MAX_STAFF, description="People (posts) missing.")
    start: Day
    end: Day
    paid: bool = Field(default=False, description="Still paid (long-term sickness): no saving.")

    @model_validator(mode="after")
    def _dates(self) -> Vacancy:
        _end_not_before(self.start, self.end)
        return self


class Recruit(_Change):
    """Recruit ``staff`` permanent people to ``resource``, starting the recruitment on ``start``.

    They join ``lead_days`` calendar days later (default :data:`RECRUITMENT_LEAD_DAYS`) and
    stay; for their first ``induction_days`` calendar days (default :data:`INDUCTION_DAYS`)
    they give ``induction_output`` of a person's minutes (default :data:`INDUCTION_OUTPUT`,
    half), then the resource's full minutes. Each costs ``salary`` pounds a year (the cost to
    the employer, on-costs included: research/domain.md rows 25-26, an IDVA's median £26,432
    × 1.13-1.30), pro rata per calendar day from the day they join.
    """

    resource: str
    staff: int = Field(gt=0, le=MAX_STAFF, description="People recruited.")
    start: Day
    salary: float = Field(
        ge=0, le=MAX_SALARY, description="Pounds a year per person, on-costs included."
    )
    lead_days: int = Field(default=RECRUITMENT_LEAD_DAYS, ge=0, le=MAX_DAYS)
    induction_days: int = Field(default=INDUCTION_DAYS, ge=0, le=MAX_DAYS)
    induction_output: float = Field(default=INDUCTION_OUTPUT, ge=0, le=1)

    @property
    def joins(self) -> date:
        """The new people's first day: ``start + lead_days``."""
        return self.start + timedelta(days=self.lead_days)


Change = Transfer | Agency | Overtime | Demand | Triage | Vacancy | Recruit


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    transfer: Transfer | None = None
    agency: Agency | None = None
    overtime: Overtime | None = None
    demand: Demand | None = None
    triage: Triage | None = None
    vacancy: Vacancy | None = None
    recruit: Recruit | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"each change is a mapping with one of: {', '.join(CHANGE_KINDS)}")
        kinds = [k for k in data if k in CHANGE_KINDS]
        if len(kinds) > 1:
            raise ValueError(f"give one change per list item, not {' and '.join(kinds)}")
        if not data:
            raise ValueError(f"an empty change: give one of {', '.join(CHANGE_KINDS)}")
        if len(kinds) == 1 and data[kinds[0]] is None:
            raise ValueError(f"{kinds[0]} has no settings: give them ({kinds[0]}: {{...}})")
        return data

    @property
    def change(self) -> Change:
        return next(getattr(self, k) for k in CHANGE_KINDS if getattr(self, k) is not None)


@dataclass(frozen=True)
class Scenario:
    """One named option and its changes, in order (one of the options
    :func:`flowcap.io.scenarios_yaml.read_scenarios` returns, in file order)."""

    name: str
    changes: tuple[Change, ...]

    @classmethod
    def of(cls, name: str, *changes: Change) -> Scenario:
        """``Scenario.of("agency IDVA", Agency(...), ...)``: the option ``name`` with these
        changes, in order."""
        return cls(name, changes)
