"""A service as its manager describes it: the people who do the work and the work each case needs.

An IDVA service has two advocates (``resources: {idva: {staff: 2, minutes_per_day: 240}}``);
a high-risk domestic-abuse referral needs a triage call today, a two-hour risk assessment
tomorrow and eight weekly one-hour sessions after that (``case_types: {...: {steps: [...]}}``).
Everything flowcap measures, forecasts and simulates is read from this one typed object.

The models are frozen and reject unknown keys, so a typo in ``service.yaml`` is an error
rather than a silently ignored setting. Later features add optional keys with defaults, so
older folders stay valid.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from flowcap.model._frozen import _Frozen
from flowcap.model.alerts import AlertSettings
from flowcap.model.distribution import Distribution
from flowcap.model.eventlog import EventLogConfig, inside_folder
from flowcap.model.limits import (
    MAX_CASES_PER_DAY,
    MAX_COST_PER_HOUR,
    MAX_DAYS,
    MAX_PRIORITY,
    MAX_REPEAT,
    MAX_SPC_TARGET,
    MAX_STAFF,
    MAX_STEP_MINUTES,
)
from flowcap.model.pathway import DEFAULT_KEY, Pathway

DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Region = Literal["GB-ENG", "GB-WLS", "GB-SCT", "GB-NIR"]

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Resource(_Frozen):
    """A critical resource: a team of people who do one kind of work (triage, IDVA, caseworker).

    Capacity on a working day is ``staff * minutes_per_day`` minutes unless the roster says
    otherwise for that day. ``staff`` is in full-time equivalents (FTE): a part-timer on three
    days of five is 0.6, and ``minutes_per_day`` is what one full-time person gives.
    """

    staff: float = Field(
        ge=0,
        le=MAX_STAFF,
        description="People in post in full-time equivalents (FTE): 2.6 with a 0.6 part-timer.",
    )
    minutes_per_day: float = Field(
        gt=0, le=1440, description="Minutes each person gives to this work on a working day."
    )
    day_starts: str = Field(
        default="09:00", description="HH:MM; a person is on duty for minutes_per_day from then."
    )
    cost_per_hour: float | None = Field(
        default=None,
        ge=0,
        le=MAX_COST_PER_HOUR,
        description="Cost of one person-hour in pounds, on-costs included.",
    )
    absence_rate: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Probability a person is absent on a working day (simulation only).",
    )

    @field_validator("day_starts")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"day_starts must be HH:MM on a 24-hour clock, not {value!r}")
        return value

    @property
    def capacity_minutes_per_day(self) -> float:
        """Minutes of capacity on an ordinary working day with everyone in."""
        return self.staff * self.minutes_per_day

    @property
    def start_time(self) -> time:
        hours, minutes = self.day_starts.split(":")
        return time(int(hours), int(minutes))


class Step(_Frozen):
    """One piece of work a case needs from one resource.

    Its ``minutes`` fall due on referral date + ``after_days``, and again every
    ``every_days`` until it has happened ``repeat`` times. ``target_working_days`` (optional)
    is a contact target for the step: each occurrence is done within that many working days
    of the day it falls due, counted as the first-contact target counts from the referral
    (:func:`flowcap.targets.past_contact_target`): due Monday with a target of 1, it is met
    if done by the end of Tuesday. A first step due on the referral day thus counts from the
    referral, like ``first_contact_target_working_days``.
    """

    resource: str
    minutes: float = Field(
        gt=0, le=MAX_STEP_MINUTES, description="Minutes of the resource's time per occurrence."
    )
    after_days: int = Field(
        default=0, ge=0, le=MAX_DAYS, description="Calendar days after the referral."
    )
    repeat: int = Field(default=1, ge=1, le=MAX_REPEAT)
    every_days: int | None = Field(
        default=None, ge=1, le=MAX_DAYS, description="Calendar days between repeats."
    )
    target_working_days: int | None = Field(
        default=None,
        ge=0,
        le=365,
        description=(
            "Done within this many working days of falling due (every occurrence of a repeated "
            "step); the same rule as the first-contact target."
        ),
    )

    @model_validator(mode="after")
    def _repeat_needs_interval(self) -> Step:
        if self.repeat > 1 and self.every_days is None:
            raise ValueError("a step with repeat > 1 needs every_days")
        last = self.after_days + (self.repeat - 1) * (self.every_days or 0)
        if last > MAX_DAYS:
            raise ValueError(
                f"the step's last occurrence falls {last:,} days after the referral "
                f"(after_days + (repeat - 1) × every_days); a case's work must end within "
                f"{MAX_DAYS:,} days (10 years)"
            )
        return self

    def due_offsets(self) -> list[int]:
        """Days after referral on which this step's minutes fall due."""
        every = self.every_days or 0
        return [self.after_days + k * every for k in range(self.repeat)]


class DemandModel(_Frozen):
    """A what-if demand model for simulation: new cases of this type per calendar day.

    When a case type carries one, simulation draws from it instead of fitting the history
    (useful with no history, and for checking the engine against theory).
    """

    dist: Literal["poisson", "negative_binomial"] = "poisson"
    per_day: float = Field(
        ge=0, le=MAX_CASES_PER_DAY, description="Mean new cases per calendar day."
    )
    dispersion: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="Negative binomial size r (variance = mean + mean²/r).",
    )

    @model_validator(mode="after")
    def _size_for_negative_binomial(self) -> DemandModel:
        if self.dist == "negative_binomial" and self.dispersion is None:
            raise ValueError("a negative_binomial demand model needs dispersion")
        if self.dist == "poisson" and self.dispersion is not None:
            raise ValueError(
                "dispersion is not used by a poisson demand model: remove it, or use "
                "dist: negative_binomial"
            )
        return self


class CaseType(_Frozen):
    """A kind of case (high-risk domestic abuse, burglary, fraud) and the work one case needs.

    Either the shorthand ``resource`` + ``minutes`` (one piece of work on the referral day) or an
    ordered list of ``steps``.
    """

    priority: int = Field(ge=1, le=MAX_PRIORITY, description="1 is the most urgent.")
    resource: str | None = None
    minutes: float | None = Field(default=None, gt=0, le=MAX_STEP_MINUTES)
    steps: tuple[Step, ...] | None = None
    description: str | None = Field(default=None, max_length=200)
    demand: DemandModel | None = None
    caseload_per_staff: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        description=(
            "Caseload standard: open cases of this type one full-time person of its case "
            "holder (caseload_resource) should hold at most, e.g. 20-25 high-risk cases per IDVA."
        ),
    )
    patience_days: Distribution | None = Field(
        default=None,
        description="How long (days) someone waits for first contact before giving up.",
    )

    @field_validator("patience_days")
    @classmethod
    def _no_empirical_patience(cls, value: Distribution | None) -> Distribution | None:
        if value is not None and value.dist == "empirical":
            raise ValueError("patience_days takes exponential, lognormal, gamma or fixed")
        return value

    @model_validator(mode="after")
    def _one_way_of_giving_work(self) -> CaseType:
        shorthand = self.resource is not None or self.minutes is not None
        if shorthand and self.steps is not None:
            raise ValueError("give either resource + minutes or steps, not both")
        if self.steps is None:
            if self.resource is None or self.minutes is None:
                raise ValueError("a case type needs steps, or both resource and minutes")
        elif len(self.steps) == 0:
            raise ValueError("steps must list at least one step")
        return self

    @property
    def work(self) -> tuple[Step, ...]:
        """The case type's steps, with the shorthand expanded to a single step."""
        if self.steps is not None:
            return self.steps
        assert self.resource is not None and self.minutes is not None
        return (Step(resource=self.resource, minutes=self.minutes),)

    @property
    def caseload_resource(self) -> str:
        """The case holder: the resource giving a case of this type the most minutes over its
        life (the first listed on ties). ``caseload_per_staff`` is per FTE of this resource."""
        totals = self.minutes_by_resource()
        return max(totals, key=lambda name: totals[name])

    def minutes_by_resource(self) -> dict[str, float]:
        """Total minutes one case needs from each resource over its whole life."""
        totals: dict[str, float] = {}
        for step in self.work:
            totals[step.resource] = totals.get(step.resource, 0.0) + step.minutes * step.repeat
        return totals


#: What an SPC chart of minutes measures, per resource (``flowcap variation``).
SPC_MINUTE_MEASURES = ("demand", "activity", "backlog")


class SPCTarget(_Frozen):
    """A target for one SPC chart, for Making Data Count's assurance icon (``spc_targets:``).

    ``better`` is the improvement direction (``higher`` or ``lower``), which also colours the
    variation icon improving or concerning; ``day`` and ``week`` are the target for a point
    of ``flowcap variation --period day`` (a working day) and ``--period week`` (an ISO
    week's total; backlog: as it stood at the week's end). Either may be left out: that
    period then gets the direction but no assurance icon.
    """

    better: Literal["higher", "lower"]
    day: float | None = Field(default=None, ge=0, le=MAX_SPC_TARGET)
    week: float | None = Field(default=None, ge=0, le=MAX_SPC_TARGET)


class Service(_Frozen):
    """A service: its calendar, its critical resources and its case types (``service.yaml``)."""

    name: str = Field(min_length=1, max_length=200)
    region: Region = "GB-ENG"
    timezone: str = "Europe/London"
    working_days: tuple[DayName, ...] = ("mon", "tue", "wed", "thu", "fri")
    work_bank_holidays: bool = False
    first_contact_target_working_days: int = Field(default=2, ge=0, le=365)
    #: Accept a date years apart from the rest of the data. Off, such a date is refused as a
    #: likely mistake (a spreadsheet's zero date 1900-01-01, a two-digit year read as 1970),
    #: since the measures would stretch over every year between.
    allow_distant_dates: bool = False
    resources: dict[str, Resource] = Field(min_length=1)
    case_types: dict[str, CaseType] = Field(min_length=1)
    event_log: EventLogConfig | None = None
    pathway: Pathway | None = None
    #: Targets for SPC charts, by chart: "RESOURCE demand|activity|backlog" (minutes),
    #: "referrals" (all), "referrals CASE_TYPE" or "source SOURCE" (referral counts).
    spc_targets: dict[str, SPCTarget] = Field(default_factory=dict)
    #: What ``flowcap monitor`` watches and where its alerts go (defaults: watch, send nowhere).
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/London)"
            ) from None
        return value

    @field_validator("event_log")
    @classmethod
    def _log_in_the_folder(cls, value: EventLogConfig | None) -> EventLogConfig | None:
        # A service.yaml may come from someone else (an upload, a shared folder): naming a
        # file outside its folder would let it read, and quote in errors, any file here.
        if value is not None and not inside_folder(value.file):
            raise ValueError(
                "event_log.file must name a file in the service folder, by a path relative to "
                f"it without '..', not {value.file[:80]!r}: copy the log into the folder"
            )
        return value

    @field_validator("working_days")
    @classmethod
    def _distinct_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("working_days lists a day twice")
        return value

    @model_validator(mode="after")
    def _steps_use_known_resources(self) -> Service:
        known = sorted(self.resources)
        for name, case_type in self.case_types.items():
            for step in case_type.work:
                if step.resource not in self.resources:
                    raise ValueError(
                        f"case type {name!r} uses unknown resource {step.resource!r}; "
                        f"resources are: {', '.join(known)}"
                    )
        if self.event_log is not None:
            self._check_event_log(self.event_log, known)
        if self.pathway is not None:
            self._check_pathway(self.pathway, known)
            self._check_pathway_exits(self.pathway)
        for chart in self.spc_targets:
            self._check_spc_chart(chart, known)
        return self

    def _check_spc_chart(self, chart: str, known: list[str]) -> None:
        """An ``spc_targets`` key names a chart ``flowcap variation`` draws."""
        words = chart.split()
        if words == ["referrals"] or (len(words) >= 2 and words[0] == "source"):
            return  # sources are known only from the data
        if len(words) == 2 and words[0] == "referrals":
            if words[1] not in self.case_types:
                raise ValueError(
                    f"spc_targets: {chart!r}: unknown case type {words[1]!r}; case types are: "
                    f"{', '.join(self.case_types)}"
                )
            return
        if len(words) == 2 and words[0] in self.resources and words[1] in SPC_MINUTE_MEASURES:
            return
        raise ValueError(
            f"spc_targets: {chart!r} is not a chart: use 'RESOURCE MEASURE' (resources: "
            f"{', '.join(known)}; measures: {', '.join(SPC_MINUTE_MEASURES)}), 'referrals', "
            "'referrals CASE_TYPE' or 'source SOURCE'"
        )

    def _check_pathway_exits(self, pathway: Pathway) -> None:
        """Every case type can leave the pathway from every step it can reach: routing that
        sends cases round a loop for ever is refused rather than simulated."""
        steps = list(pathway.steps)
        for case_type in self.case_types:
            # Steps from which a case of this type can leave: those whose choices add up to
            # less than 1, then any step that can move to one of them.
            can_leave = {
                name
                for name, step in pathway.steps.items()
                if sum(step.next_for(case_type).values()) < 1 - 1e-9
            }
            grew = True
            while grew:
                grew = False
                for name, step in pathway.steps.items():
                    choices = step.next_for(case_type)
                    if name not in can_leave and any(
                        p > 0 and target in can_leave for target, p in choices.items()
                    ):
                        can_leave.add(name)
                        grew = True
            trapped = [name for name in steps if name not in can_leave]
            if trapped:
                raise ValueError(
                    f"pathway: cases of type {case_type!r} can never leave once they reach "
                    f"{', '.join(trapped)} (their next probabilities add up to 1 in a loop)"
                )

    def _check_event_log(self, log: EventLogConfig, known: list[str]) -> None:
        for activity, work in log.activities.items():
            if work.resource not in self.resources:
                raise ValueError(
                    f"event_log: activity {activity!r} uses unknown resource {work.resource!r}; "
                    f"resources are: {', '.join(known)}"
                )
        if log.default_case_type is not None and log.default_case_type not in self.case_types:
            raise ValueError(
                f"event_log: default_case_type {log.default_case_type!r} is not a case type; "
                f"case types are: {', '.join(self.case_types)}"
            )
        if log.case_type is None and log.default_case_type is None and len(self.case_types) > 1:
            raise ValueError(
                "event_log: give a case_type column or a default_case_type "
                "(the service has several case types)"
            )

    def _check_pathway(self, pathway: Pathway, known: list[str]) -> None:
        types = ", ".join(self.case_types)
        for case_type in pathway.arrivals or {}:
            if case_type not in self.case_types:
                raise ValueError(
                    f"pathway.arrivals: unknown case type {case_type!r}; case types are: {types}"
                )
        for name, step in pathway.steps.items():
            if step.resource not in self.resources:
                raise ValueError(
                    f"pathway step {name!r} uses unknown resource {step.resource!r}; "
                    f"resources are: {', '.join(known)}"
                )
            if step.routes_by_case_type:
                for key in step.next:
                    if key != DEFAULT_KEY and key not in self.case_types:
                        raise ValueError(
                            f"pathway step {name!r}: next for unknown case type {key!r}; "
                            f"case types are: {types}"
                        )
                missing = [t for t in self.case_types if t not in step.next]
                if missing and DEFAULT_KEY not in step.next:
                    raise ValueError(
                        f"pathway step {name!r}: next has no entry for {', '.join(missing)} "
                        "and no default (give default: {} if they leave here)"
                    )
            if isinstance(step.service_minutes, dict):
                for key in step.service_minutes:
                    if key != DEFAULT_KEY and key not in self.case_types:
                        raise ValueError(
                            f"pathway step {name!r}: service_minutes for unknown case type "
                            f"{key!r}; case types are: {types}"
                        )
                missing = [t for t in self.case_types if t not in step.service_minutes]
                if missing and DEFAULT_KEY not in step.service_minutes:
                    raise ValueError(
                        f"pathway step {name!r}: service_minutes has no entry for "
                        f"{', '.join(missing)} and no default"
                    )

    @property
    def weekday_numbers(self) -> frozenset[int]:
        """Working days as Python weekday numbers (Monday = 0)."""
        return frozenset(DAY_NAMES.index(day) for day in self.working_days)
