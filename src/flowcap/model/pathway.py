"""The case-level pathway (``pathway:`` in service.yaml): where a case goes, step by step.

A referral arrives at the first step listed (triage), waits for someone at that step's
resource, is served for a random number of minutes, then moves on to another step with the
probabilities in ``next`` or leaves the pathway. Several steps may use the same resource (an
IDVA does both the risk assessment and the follow-up), so they share its people::

    pathway:
      arrivals:                      # optional: by default the referrals history's rates
        da_high_risk: {per_hour: 0.08, weekday: [1.2, 1, 1, 1, 0.9, 0.4, 0.3]}
      steps:
        triage:
          resource: triage
          service_minutes: {dist: lognormal, mean: 25, sd: 10}
          next:                       # per case type (or one map for all)
            da_high_risk: {assessment: 1.0}
            default: {assessment: 0.2}  # 80% of the others leave after triage
        assessment:
          resource: idva
          service_minutes:           # per case type, with a default
            default: {dist: gamma, mean: 90, sd: 30}
            da_high_risk: {dist: gamma, mean: 120, sd: 40}

The people on duty at a step are the resource's staff on duty: ``minutes_per_day`` from
``day_starts`` on working days, as the roster says for each date.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from flowcap.model._frozen import _Frozen
from flowcap.model.distribution import Distribution
from flowcap.model.limits import MAX_ARRIVALS_PER_HOUR, MAX_PROFILE_WEIGHT

DEFAULT_KEY = "default"


class Arrivals(_Frozen):
    """Referrals of one case type arriving at random (Poisson) at ``per_hour`` on average.

    ``weekday`` (7 numbers, Monday first) and ``hour`` (24 numbers, midnight first) scale the
    rate: the rate in hour ``h`` of weekday ``d`` is ``per_hour * weekday[d] * hour[h]``, each
    profile normalised to average 1 so ``per_hour`` stays the mean over the week.
    """

    per_hour: float = Field(
        ge=0, le=MAX_ARRIVALS_PER_HOUR, description="Mean referrals per hour over the week."
    )
    weekday: tuple[float, ...] | None = Field(default=None, min_length=7, max_length=7)
    hour: tuple[float, ...] | None = Field(default=None, min_length=24, max_length=24)

    @field_validator("weekday", "hour")
    @classmethod
    def _profile(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is None:
            return None
        if any(not (0 <= v <= MAX_PROFILE_WEIGHT) for v in value) or sum(value) <= 0:
            raise ValueError(
                f"a profile needs numbers from 0 to {MAX_PROFILE_WEIGHT:,}, not all zero"
            )
        return value

    def hourly_rates(self) -> list[float]:
        """Arrivals per hour in each of the week's 168 hours (Monday 00:00 first)."""
        week = [1.0] * 7 if self.weekday is None else _normalised(self.weekday)
        day = [1.0] * 24 if self.hour is None else _normalised(self.hour)
        return [self.per_hour * w * h for w in week for h in day]


def _normalised(profile: tuple[float, ...]) -> list[float]:
    mean = sum(profile) / len(profile)
    return [v / mean for v in profile]


class PathwayStep(_Frozen):
    """One step of the pathway: who does it, how long it takes, where the case goes next."""

    resource: str
    #: One distribution for every case type, or a map of case type (and ``default``) to one.
    service_minutes: Distribution | dict[str, Distribution]
    #: Step name -> probability of going there next; the rest leave the pathway. Or, per
    #: case type, a map of case type (and ``default``) to such a map.
    next: dict[str, float] | dict[str, dict[str, float]] = Field(default_factory=dict)

    @field_validator("service_minutes", mode="before")
    @classmethod
    def _one_or_per_type(cls, value: Any) -> Any:
        # A mapping with a ``dist``/``mean``/``values`` key is one distribution; any other
        # mapping is per case type. Deciding here gives clearer errors than a bare union.
        if isinstance(value, dict) and not ({"dist", "mean", "values", "sd"} & set(value)):
            return {key: Distribution.model_validate(v) for key, v in value.items()}
        return Distribution.model_validate(value)

    @field_validator("next")
    @classmethod
    def _probabilities(cls, value: dict) -> dict:
        per_type = value and all(isinstance(v, dict) for v in value.values())
        for label, choices in value.items() if per_type else [("", value)]:
            where = f"next{'.' + label if label else ''}"
            if any(isinstance(p, dict) for p in choices.values()):
                raise ValueError(f"{where}: give step probabilities, or a map per case type")
            if any(not (0 <= p <= 1) for p in choices.values()):
                raise ValueError(f"{where}: each probability must be between 0 and 1")
            if sum(choices.values()) > 1 + 1e-9:
                total = sum(choices.values())
                raise ValueError(f"{where}: probabilities add up to {total:g}, over 1")
        return value

    @property
    def routes_by_case_type(self) -> bool:
        """Whether ``next`` is given per case type."""
        return bool(self.next) and all(isinstance(v, dict) for v in self.next.values())

    def next_for(self, case_type: str) -> dict[str, float]:
        """Where a case of ``case_type`` goes after this step: step name -> probability."""
        if not self.routes_by_case_type:
            return self.next  # type: ignore[return-value]
        return self.next.get(case_type, self.next.get(DEFAULT_KEY, {}))  # type: ignore[return-value]

    def service_for(self, case_type: str) -> Distribution:
        """The service-time distribution (minutes) for a case of ``case_type``."""
        if isinstance(self.service_minutes, Distribution):
            return self.service_minutes
        if case_type in self.service_minutes:
            return self.service_minutes[case_type]
        return self.service_minutes[DEFAULT_KEY]


class Pathway(_Frozen):
    """Steps in order (cases arrive at the first) and, optionally, arrival rates by type."""

    arrivals: dict[str, Arrivals] | None = None
    steps: dict[str, PathwayStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _next_steps_exist(self) -> Pathway:
        for name, step in self.steps.items():
            choices = step.next.values() if step.routes_by_case_type else [step.next]
            for target in (t for choice in choices for t in choice):
                if target not in self.steps:
                    raise ValueError(
                        f"step {name!r}: next names unknown step {target!r}; "
                        f"steps are: {', '.join(self.steps)}"
                    )
        return self

    @property
    def entry_step(self) -> str:
        """The step where cases arrive: the first one listed."""
        return next(iter(self.steps))
