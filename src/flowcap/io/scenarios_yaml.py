"""Read ``scenarios.yaml``: a manager's contingency options, each a list of dated changes.

A hub expecting a summer surge might write three options: book an agency IDVA for six weeks,
pay the triage team overtime in January, or move a caseworker to the IDVA team in August::

    agency IDVA for six weeks over summer:
      - agency: {resource: idva, staff: 1, day_rate: 185, lead_days: 7, min_days: 20,
                 start: 2025-07-14, end: 2025-08-22}
    transfer a caseworker to IDVA in August:
      - transfer: {from: caseworker, to: idva, staff: 1, start: 2025-08-01, end: 2025-08-29}

A post left empty for three months, or a new IDVA recruited (joining 12 weeks later, at half
output for four weeks)::

    lose an IDVA for three months:
      - vacancy: {resource: idva, staff: 1, start: 2026-02-02, end: 2026-05-01}
    recruit an IDVA:
      - recruit: {resource: idva, staff: 1, start: 2026-01-05, salary: 33000}

Each change is exactly one of ``transfer``, ``agency``, ``overtime``, ``demand``, ``triage``,
``vacancy`` or ``recruit`` (:mod:`flowcap.model.scenario` has their fields and defaults).
Dates are ``YYYY-MM-DD``, ``end`` inclusive.
Every problem in the file is reported at once, each with its line (row) and key path (column),
as :class:`~flowcap.errors.InputError`. What the changes do to the simulation and what they
cost is :func:`flowcap.plan.scenarios.apply_scenario`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flowcap.errors import InputError, Problem, capped
from flowcap.io.safe_yaml import MAX_YAML_BYTES, LineMap, load_yaml
from flowcap.io.source import read_bytes
from flowcap.model import Service
from flowcap.model.scenario import BASELINE, CHANGE_KINDS, Change, Scenario, _Item

#: The most contingency options one scenarios.yaml may hold: every command that compares
#: them (simulate, plan, report, the planner) simulates each in full.
MAX_OPTIONS = 100


def read_scenarios(path: Path, service: Service) -> tuple[Scenario, ...]:
    """The options in file order, each with its changes in order; raise :class:`InputError`.

    An empty file means no options. Checked against ``service``: resources and case types
    must exist, a triage ``step`` must be one of the case type's steps, a transfer cannot move
    (nor a vacancy empty) more posts than the resource has.
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
    return parse_scenarios_bytes(read_bytes(path), service, file=name)


def parse_scenarios_bytes(
    raw: bytes, service: Service, *, file: str = "scenarios.yaml"
) -> tuple[Scenario, ...]:
    """:func:`read_scenarios` on the bytes of a file (a folder's, or the store's copy)."""
    if len(raw) > MAX_YAML_BYTES:
        raise InputError(
            [Problem(file, f"file is {len(raw):,} bytes; the limit is {MAX_YAML_BYTES:,}")]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError([Problem(file, "not UTF-8 text: save the file as UTF-8", line)]) from None
    return parse_scenarios(text, service, file=file)


def parse_scenarios(
    text: str, service: Service, *, file: str = "scenarios.yaml"
) -> tuple[Scenario, ...]:
    """:func:`read_scenarios` on the text of a file."""
    if not text.strip():
        return ()
    data, lines, problems = load_yaml(text, file)
    if problems:
        raise InputError(problems)
    if data is None:
        return ()
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise InputError(
            [Problem(file, f"must be a mapping of option name to a list of changes, not {kind}", 1)]
        )
    if len(data) > MAX_OPTIONS:
        raise InputError(
            [
                Problem(
                    file,
                    f"{len(data):,} options; the limit is {MAX_OPTIONS} (each is simulated in "
                    "full beside the baseline, so 400 took minutes): keep the ones worth "
                    "comparing, or run many with flowcap sweep",
                    1,
                )
            ]
        )
    options: list[Scenario] = []
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
        changes: list[Change] = []
        for i, item in enumerate(items):
            for (kind, key), message in _check_names(item, service):
                problems.append(_problem(file, message, here + (i, kind, key), lines))
            try:
                changes.append(_Item.model_validate(item).change)
            except ValidationError as exc:
                problems += _problems_from(exc, file, here + (i,), lines)
        options.append(Scenario(option, tuple(changes)))
    if problems:
        raise InputError(capped(problems, file))
    return tuple(options)


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
    sending, staff = resources.get(_name(fields.get("from"))), fields.get("staff")
    if (
        kind == "transfer"
        and sending is not None
        and isinstance(staff, (int, float))
        and staff > sending.staff
    ):
        found.append(
            ((kind, "staff"), f"moves {staff} people but {fields['from']!r} has {sending.staff:g}")
        )
    vacant = resources.get(_name(fields.get("resource")))
    if (
        kind == "vacancy"
        and vacant is not None
        and isinstance(staff, (int, float))
        and staff > vacant.staff
    ):
        found.append(
            (
                (kind, "staff"),
                f"empties {staff} posts but {fields['resource']!r} has {vacant.staff:g}",
            )
        )
    return found


def _name(value: Any) -> str | None:
    """``value`` when it is text (a name to look up), else ``None``: a list or a mapping
    where a name goes is the model's to report."""
    return value if isinstance(value, str) else None


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
