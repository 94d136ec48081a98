"""One rule per argument, checked once, in the library.

Each check raises :class:`ArgumentError` naming the *parameter* (``risk_target``,
``replications``); the CLI maps the name to its flag (``--risk``) and the web app to its form
field, so the rule and its wording live here only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from flowcap.errors import FlowcapError

#: The longest horizon ahead (days): 10 years. Past that a daily plan says nothing useful
#: and the arrays grow without bound.
MAX_HORIZON_DAYS = 3653
#: The longest pathway simulation (hours): 100 years of simulated time.
MAX_HOURS = 876_600


class ArgumentError(FlowcapError, ValueError):
    """An argument outside its rule. ``parameter`` is the library's name for it; ``rule`` says
    what it must be, so a caller can print ``f"{its own name} {rule}"``. A ``ValueError`` too,
    as a bad value is to Python."""

    def __init__(self, parameter: str, rule: str):
        self.parameter = parameter
        self.rule = rule
        super().__init__(f"{parameter} {rule}")


def check_horizon(horizon_days: int, parameter: str = "horizon") -> None:
    """Days ahead: a whole number from 1 to :data:`MAX_HORIZON_DAYS`."""
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise ArgumentError(
            parameter, f"must be from 1 to {MAX_HORIZON_DAYS:,} days (10 years), not {horizon_days}"
        )


def check_replications(replications: int, minimum: int = 1) -> None:
    """Simulated runs: at least ``minimum`` (2 where intervals need two)."""
    if replications < minimum:
        why = " (the intervals need two)" if minimum == 2 else ""
        raise ArgumentError("replications", f"must be at least {minimum}{why}")


def check_seed(seed: int) -> None:
    """A seed: 0 or more (NumPy's SeedSequence takes no negative numbers)."""
    if seed < 0:
        raise ArgumentError("seed", f"must be 0 or more, not {seed}")


def check_risk(risk: float, parameter: str = "risk_target") -> None:
    """An accepted chance of a bad outcome: strictly between 0 and 1 (0 cannot be met by
    any finite staff in a model with random demand; 1 asks for nothing)."""
    if not (isinstance(risk, int | float) and 0 < risk < 1):
        raise ArgumentError(parameter, "must be between 0 and 1")


def check_minutes(minutes: float, parameter: str) -> None:
    """A backlog in minutes: a finite number, 0 or more."""
    if not (isinstance(minutes, int | float) and math.isfinite(minutes) and minutes >= 0):
        raise ArgumentError(parameter, "must be a number of minutes, 0 or more")


def check_ratios(ks: Iterable[float]) -> None:
    """Ratios of demand to capacity: finite numbers more than 0."""
    if not all(math.isfinite(k) and k > 0 for k in ks):
        raise ArgumentError("ks", "must be a number more than 0")


def check_hours(hours: float, parameter: str = "hours", allow_zero: bool = False) -> None:
    """Simulated hours: more than 0 (or 0 where allowed) and at most 100 years."""
    low_ok = hours >= 0 if allow_zero else hours > 0
    if not (math.isfinite(hours) and low_ok and hours <= MAX_HOURS):
        low = "between 0 and" if allow_zero else "more than 0 and at most"
        raise ArgumentError(parameter, f"must be {low} {MAX_HOURS:,} (100 years)")


def check_at_least_one(value: int | None, parameter: str) -> None:
    """A count that may be left out (``None``) but, given, is 1 or more."""
    if value is not None and value < 1:
        raise ArgumentError(parameter, f"must be at least 1, not {value}")
