"""A duration drawn at random: a service time in minutes, a patience in days.

``{dist: exponential, mean: 20}``, ``{dist: lognormal, mean: 45, sd: 30}``,
``{dist: gamma, mean: 3, sd: 2}``, ``{dist: fixed, mean: 15}`` or
``{dist: empirical, values: [12, 18, 25, ...]}`` (drawn uniformly from the values, as
calibration from an event log writes it). The unit is the field's: ``service_minutes`` are
minutes, ``patience_days`` are days.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowcap.model.limits import MAX_DURATION

DistName = Literal["exponential", "lognormal", "gamma", "fixed", "empirical"]


class Distribution(BaseModel):
    """A non-negative random duration given by its mean and standard deviation (or values)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    dist: DistName = "exponential"
    mean: float | None = Field(default=None, gt=0, le=MAX_DURATION)
    sd: float | None = Field(default=None, gt=0, le=MAX_DURATION)
    values: tuple[float, ...] | None = Field(default=None, min_length=1, max_length=1_000_000)

    @model_validator(mode="after")
    def _parameters_fit_the_dist(self) -> Distribution:
        if self.dist == "empirical":
            if self.values is None:
                raise ValueError("an empirical distribution needs values")
            if self.mean is not None or self.sd is not None:
                raise ValueError("an empirical distribution takes values only (no mean or sd)")
            if any(not (0 <= v <= MAX_DURATION) for v in self.values):
                raise ValueError(f"empirical values must be numbers from 0 to {MAX_DURATION:,}")
            return self
        if self.values is not None:
            raise ValueError(f"values are only for dist: empirical, not {self.dist}")
        if self.mean is None:
            raise ValueError(f"a {self.dist} distribution needs mean")
        if self.dist in ("lognormal", "gamma") and self.sd is None:
            raise ValueError(f"a {self.dist} distribution needs sd")
        if self.dist in ("exponential", "fixed") and self.sd is not None:
            # An exponential's sd is its mean and a fixed time has none: a given sd would be
            # silently ignored, so it is more likely a mistake (lognormal or gamma meant).
            raise ValueError(f"sd is not used by a {self.dist} distribution: remove it, or use "
                             "lognormal or gamma")  # fmt: skip
        return self

    @property
    def expected(self) -> float:
        """The distribution's mean, in the field's unit."""
        if self.values is not None:
            return sum(self.values) / len(self.values)
        assert self.mean is not None
        return self.mean

    def as_tuple(self) -> tuple[str, float, float]:
        """``(dist, mean, sd)`` as the engines take it (sd 0 where the dist has none)."""
        return (self.dist, self.expected, self.sd or 0.0)
