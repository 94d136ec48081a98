"""Read ``scenarios.yaml``: a manager's contingency options, each a list of dated changes.

A hub expecting a summer surge might write three options: book an agency IDVA for six weeks,
pay the triage team overtime in January, or move a caseworker to the IDVA team in August::

    agency IDVA for six weeks over summer:
      - agency: {resource: idva, staff: 1, day_rate: 185, lead_days: 7, min_days: 20,
                 start: 2025-07-14, end: 2025-08-22}
    transfer a caseworker to IDVA in August:
      - transfer: {from: caseworker, to: idva, staff: 1, start: 2025-08-01, end: 2025-08-29}

Each change is exactly one of ``transfer``, ``agency``, ``overtime``, ``demand`` or ``triage``
(see the models below for their fields). Dates are ``YYYY-MM-DD`` and ``end`` is inclusive.
Every problem in the file is reported at once, each with its line (row) and key path (column),
as :class:`~flowcap.errors.InputError`. What the changes do to the simulation and what they
cost is :func:`flowcap.plan.scenarios.apply_scenario`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from flowcap.errors import InputError, Problem, capped
from flowcap.io.safe_yaml import MAX_YAML_BYTES, LineMap, load_yaml
from flowcap.model import Service

#: The name the comparison gives the unchanged service; an option may not use it.
BASELINE = "baseline"
CHANGE_KINDS = ("transfer", "agency", "overtime", "demand", "triage")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    """Accept a date or a ``YYYY-MM-DD`` string only (not numbers or date-times)."""
    if isinstance(value, datetime):
        raise ValueError("give a date as YYYY-MM-DD, without a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        return value.strip()
    raise ValueError(f"give a date as YYYY-MM-DD, not {value!r}")


Day = Annotated[date, BeforeValidator(_iso_date)]


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

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
    staff: int = Field(gt=0, description="People moved.")
    start: Day
    end: Day
    handover_days: int = Field(default=0, ge=0, description="Calendar days before they help.")

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
    staff: int = Field(gt=0)
    day_rate: float = Field(ge=0, description="Pounds per agency person per working day.")
    lead_days: int = Field(default=0, ge=0)
    min_days: int = Field(default=0, ge=0)
    induction_days: int = Field(default=0, ge=0)
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
    premium: float = Field(default=1.5, ge=0)
    sunday_premium: float = Field(default=2.0, ge=0)
    start: Day
    end: Day

    @model_validator(mode="after")
    def _dates(self) -> Overtime:
        _end_not_before(self.start, self.end)
        return self


class Demand(_Change):
    """Multiply a case type's expected new cases by ``factor`` from ``start`` to ``end``."""

    case_type: str
    factor: float = Field(ge=0)
    start: Day
    end: Day

    @model_validator(mode="after")
    def _dates(self) -> Demand:
        _end_not_before(self.start, self.end)
        return self


class Triage(_Change):
    """New cases of ``case_type`` need ``minutes`` (per occurrence) for step ``step`` (0-based)."""

    case_type: str
    step: int = Field(default=0, ge=0)
    minutes: float = Field(ge=0)


Change = Transfer | Agency | Overtime | Demand | Triage


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    transfer: Transfer | None = None
    agency: Agency | None = None
    overtime: Overtime | None = None
    demand: Demand | None = None
    triage: Triage | None = None

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
        return data

    @property
    def change(self) -> Change:
        return next(getattr(self, k) for k in CHANGE_KINDS if getattr(self, k) is not None)


def read_scenarios(path: Path, service: Service) -> dict[str, tuple[Change, ...]]:
    """Options by name (file order), each its changes in order; raise :class:`InputError`.

    An empty file means no options. Checked against ``service``: resources and case types
    must exist, a triage ``step`` must be one of the case type's steps, a transfer cannot move
    more people than the sending resource has.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InputError([Problem(name, f"file not found in {path.parent}")])
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise InputError(
            [Problem(name, f"file is {size:,} bytes; the limit is {MAX_YAML_BYTES:,}")]
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError([Problem(name, "not UTF-8 text: save the file as UTF-8", line)]) from None
    return parse_scenarios(text, service, file=name)


def parse_scenarios(text: str, service: Service, *, file: str = "scenarios.yaml"):
    """:func:`read_scenarios` on the text of a file."""
    if not text.strip():
        return {}
    data, lines, problems = load_yaml(text, file)
    if problems:
        raise InputError(problems)
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise InputError(
            [Problem(file, f"must be a mapping of option name to a list of changes, not {kind}", 1)]
        )
    options: dict[str, tuple[Change, ...]] = {}
    for option, items in data.items():
        here = (option,)
        if not isinstance(option, str) or not option.strip():
            problems.append(_problem(file, "an option's name must be text", here, lines))
            continue
        if option.strip().lower() == BASELINE:
            problems.append(
                _problem(
                    file, f"{BASELINE!r} is the unchanged service; pick another name", here, lines
                )
            )
            continue
        if not isinstance(items, list) or not items:
            problems.append(
                _problem(file, "give the option a list of changes (- agency: {...})", here, lines)
            )
            continue
        changes = []
        for i, item in enumerate(items):
            for (kind, key), message in _check_names(item, service):
                problems.append(_problem(file, message, here + (i, kind, key), lines))
            try:
                changes.append(_Item.model_validate(item).change)
            except ValidationError as exc:
                problems += _problems_from(exc, file, here + (i,), lines)
        options[option] = tuple(changes)
    if problems:
        raise InputError(capped(problems, file))
    return options


def _check_names(item: Any, service: Service) -> list[tuple[tuple[str, str], str]]:
    """((kind, key), message) for each resource, case type or step the service does not have.

    Checked on the raw mapping, so these are reported together with any other problem.
    """
    if not isinstance(item, dict) or len(item) != 1:
        return []
    ((kind, fields),) = item.items()
    if kind not in CHANGE_KINDS or not isinstance(fields, dict):
        return []
    found = []
    resources, case_types = service.resources, service.case_types
    for key in ("from", "to", "resource"):
        value = fields.get(key)
        if key in fields and isinstance(value, str) and value not in resources:
            found.append(
                ((kind, key), f"unknown resource {value!r} (resources: {', '.join(resources)})")
            )
    name = fields.get("case_type")
    if "case_type" in fields and isinstance(name, str):
        if name not in case_types:
            found.append(
                (
                    (kind, "case_type"),
                    f"unknown case type {name!r} (case types: {', '.join(case_types)})",
                )
            )
        elif kind == "triage" and isinstance(fields.get("step", 0), int):
            step, n_steps = fields.get("step", 0), len(case_types[name].work)
            if step >= n_steps:
                found.append(
                    (
                        (kind, "step"),
                        f"step {step} is out of range: {name!r} has {n_steps} step(s), "
                        "numbered from 0",
                    )
                )
    sending, staff = resources.get(fields.get("from")), fields.get("staff")
    if (
        kind == "transfer"
        and sending is not None
        and isinstance(staff, int)
        and staff > sending.staff
    ):
        found.append(
            ((kind, "staff"), f"moves {staff} people but {fields['from']!r} has {sending.staff}")
        )
    return found


def _problems_from(exc: ValidationError, file: str, prefix: tuple, lines: LineMap) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = prefix + tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown setting {loc[-1]!r} (check the spelling)"
            if len(loc) == len(prefix) + 1:
                message += f"; a change is one of: {', '.join(CHANGE_KINDS)}"
        elif error["type"] == "missing":
            message = f"required setting {loc[-1]!r} is missing"
        problems.append(_problem(file, message, loc, lines))
    return problems


def _problem(file: str, message: str, loc: tuple, lines: LineMap) -> Problem:
    line = None
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            line = lines[loc[:end]]
            break
    return Problem(file, message, line, ".".join(str(part) for part in loc) or None)
