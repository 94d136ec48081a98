"""Read a sweep file: which services, options and parameters a national sweep runs.

A commissioner comparing every hub in a region writes one file::

    seed: 1
    replications: 10000
    horizon_days: 365
    start: 2026-04-01              # optional; else each service's day after its data
    services: [examples/victim-support, Northshire Victim Support Hub]   # folders or names
    options: [baseline, agency IDVA for six weeks over summer]           # from scenarios.yaml
    grid:                          # optional; every combination is a cell
      staff.idva: [2, 3, 4]        # RESOURCE head count: people rostered a working day
      demand_factor: [1.0, 1.1]    # every case type's expected new cases scaled
      agency_day_rate: [350, 450]  # pounds a day each agency person of an option is paid

Also ``threshold_minutes`` (the backlog whose exceedance is reported, 2,400 by default, as
``flowcap simulate``), ``retries`` (how many more times a failed cell is tried, 2) and
``common_random_numbers`` (true: every cell of a service draws the same random numbers, so
options and parameters are compared on the same simulated futures, as ``flowcap simulate``
compares options; false: each cell its own). Every problem in the file is reported at once,
each with its line (row) and key path (column), as :class:`~flowcap.errors.InputError`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flowcap.checks import MAX_HORIZON_DAYS, MAX_REPLICATIONS
from flowcap.errors import InputError, Problem, capped
from flowcap.io.safe_yaml import MAX_YAML_BYTES, LineMap, load_yaml
from flowcap.io.source import read_bytes
from flowcap.model.limits import MAX_DAY_RATE
from flowcap.model.scenario import BASELINE, Day

#: The grid key that scales every case type's expected new cases.
DEMAND_FACTOR = "demand_factor"
#: The grid key that sets the day rate (pounds per person per working day) of every agency
#: change in the cell's option (no effect on an option without one, or the baseline).
AGENCY_DAY_RATE = "agency_day_rate"
#: The prefix of a grid key that sets a resource's head count (``staff.idva``).
STAFF = "staff."
#: The most people a head count may name, and the largest demand factor.
MAX_HEAD_COUNT = 100_000
MAX_DEMAND_FACTOR = 1_000.0
#: The most cells one sweep may hold (services × options × grid combinations).
MAX_CELLS = 1_000_000
#: The most times a failed cell is tried again.
MAX_RETRIES = 10

GridValue = int | float


class Sweep(BaseModel):
    """A sweep: every service × option × grid combination is a cell, run ``replications``
    times over ``horizon_days`` calendar days (see the module)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    services: Annotated[list[str], Field(min_length=1)]
    options: Annotated[list[str], Field(min_length=1)] = [BASELINE]
    grid: dict[str, list[GridValue]] = {}
    seed: int = Field(default=0, ge=0)
    replications: int = Field(default=10_000, ge=1, le=MAX_REPLICATIONS)
    horizon_days: int = Field(default=90, ge=1, le=MAX_HORIZON_DAYS)
    start: Day | None = None
    threshold_minutes: float = Field(default=2400.0, ge=0)
    retries: int = Field(default=2, ge=0, le=MAX_RETRIES)
    common_random_numbers: bool = True

    @field_validator("services", "options")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name.strip():
                raise ValueError("a name cannot be blank")
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"given twice: {', '.join(repr(n) for n in twice)}")
        return names

    @field_validator("grid")
    @classmethod
    def _grid(cls, grid: dict[str, list[GridValue]]) -> dict[str, list[GridValue]]:
        problems = grid_problems(grid)
        if problems:
            loc, message = problems[0]
            raise ValueError(f"{'.'.join(str(p) for p in loc)}: {message}")
        return {key: [_normal(key, v) for v in values] for key, values in grid.items()}

    @property
    def n_cells(self) -> int:
        """Services × options × grid combinations."""
        return (
            len(self.services) * len(self.options) * math.prod(len(v) for v in self.grid.values())
        )


def grid_problems(grid: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Each problem of a raw ``grid:`` mapping, as (key path below ``grid``, message).

    A key is ``demand_factor`` (values more than 0, at most :data:`MAX_DEMAND_FACTOR`),
    ``agency_day_rate`` (pounds, 0 to :data:`~flowcap.model.limits.MAX_DAY_RATE`) or
    ``staff.RESOURCE`` (whole numbers of people, 0 to :data:`MAX_HEAD_COUNT`); each lists at
    least one value, none twice.
    """
    if not isinstance(grid, dict):
        return []  # pydantic names the type
    found: list[tuple[tuple[str | int, ...], str]] = []
    for key, values in grid.items():
        here: tuple[str | int, ...] = (key,)
        if not isinstance(key, str) or not (
            key in (DEMAND_FACTOR, AGENCY_DAY_RATE)
            or (key.startswith(STAFF) and key[len(STAFF) :].strip())
        ):
            found.append(
                (
                    here,
                    f"unknown parameter {key!r}: use {DEMAND_FACTOR}, {AGENCY_DAY_RATE} or "
                    "staff.RESOURCE",
                )
            )
            continue
        if not isinstance(values, list) or not values:
            found.append((here, "give a list of at least one value, e.g. [2, 3, 4]"))
            continue
        seen: list[float] = []
        for i, value in enumerate(values):
            message = _value_problem(key, value)
            if message is None and value in seen:
                message = f"{value!r} is given twice"
            if message is not None:
                found.append((here + (i,), message))
            else:
                seen.append(value)
    return found


def _value_problem(key: str, value: Any) -> str | None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if key == DEMAND_FACTOR:
        if not (number and math.isfinite(value) and 0 < value <= MAX_DEMAND_FACTOR):
            return (
                f"a demand factor is a number more than 0 and at most {MAX_DEMAND_FACTOR:,.0f}, "
                f"not {value!r}"
            )
        return None
    if key == AGENCY_DAY_RATE:
        if not (number and math.isfinite(value) and 0 <= value <= MAX_DAY_RATE):
            return f"an agency day rate is pounds from 0 to {MAX_DAY_RATE:,}, not {value!r}"
        return None
    whole = number and math.isfinite(value) and float(value).is_integer()
    if not (whole and 0 <= value <= MAX_HEAD_COUNT):
        return f"a head count is a whole number of people, 0 to {MAX_HEAD_COUNT:,}, not {value!r}"
    return None


def _normal(key: str, value: GridValue) -> GridValue:
    """Head counts as ``int``, demand factors and day rates as ``float`` (so 1 and 1.0 are
    one cell)."""
    return float(value) if key in (DEMAND_FACTOR, AGENCY_DAY_RATE) else int(value)


def read_sweep(path: str | Path) -> Sweep:
    """The sweep in ``path``; an :class:`InputError` naming every problem with its line."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InputError([Problem(name, f"file not found in {path.parent}")])
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise InputError(
            [Problem(name, f"file is {size:,} bytes; the limit is {MAX_YAML_BYTES:,}")]
        )
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError([Problem(name, "not UTF-8 text: save the file as UTF-8", line)]) from None
    return parse_sweep(text, file=name)


def parse_sweep(text: str, *, file: str = "sweep.yaml") -> Sweep:
    """:func:`read_sweep` on the text of a file."""
    data, lines, problems = load_yaml(text, file)
    if problems:
        raise InputError(problems)
    if not isinstance(data, dict):
        kind = "nothing" if data is None else type(data).__name__
        raise InputError(
            [
                Problem(
                    file, f"must be a mapping of settings (services:, options:, ...), not {kind}", 1
                )
            ]
        )
    grid = grid_problems(data.get("grid"))
    problems = [_problem(file, message, ("grid", *loc), lines) for loc, message in grid]
    try:
        sweep = Sweep.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            if grid and loc[:1] == ("grid",):
                continue  # already named, key by key
            problems.append(_problem(file, _message(error, loc), loc, lines))
    else:
        if sweep.n_cells > MAX_CELLS:
            problems.append(
                _problem(
                    file,
                    f"{sweep.n_cells:,} cells (services × options × grid values); the limit is "
                    f"{MAX_CELLS:,}",
                    ("services",),
                    lines,
                )
            )
    if problems:
        raise InputError(capped(problems, file))
    return sweep


def _message(error: dict, loc: tuple) -> str:
    if error["type"] == "extra_forbidden":
        known = ", ".join(Sweep.model_fields)
        return f"unknown setting {loc[-1]!r} (check the spelling; settings: {known})"
    if error["type"] == "missing":
        return f"required setting {loc[-1]!r} is missing"
    return error["msg"].removeprefix("Value error, ")


def _problem(file: str, message: str, loc: tuple, lines: LineMap) -> Problem:
    """A problem at the line of ``loc``'s deepest key the file has (the file's first line
    for a setting that is missing)."""
    line = 1
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            line = lines[loc[:end]]
            break
    return Problem(file, message, line, ".".join(str(part) for part in loc) or None)
