"""Read ``service.yaml`` into a :class:`~flowcap.model.Service`, reporting every problem."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from flowcap.errors import InputError, Problem, capped
from flowcap.io.safe_yaml import MAX_YAML_BYTES, LineMap, load_yaml
from flowcap.io.source import read_bytes
from flowcap.model import Service
from flowcap.model.service import SPC_MINUTE_MEASURES


def read_service_yaml(path: Path, raw: bytes | None = None) -> Service:
    """Load and validate a service definition; raise :class:`InputError` listing every problem.

    ``raw`` is the file's content when it came from elsewhere (the store); ``path`` then only
    names it.
    """
    service, problems = check_service_yaml(path, raw)
    if problems or service is None:
        raise InputError(problems)
    return service


def check_service_yaml(
    path: Path, raw: bytes | None = None
) -> tuple[Service | None, list[Problem]]:
    """Like :func:`read_service_yaml` but returns the problems instead of raising."""
    name = path.name
    if raw is None:
        if not path.is_file():
            return None, [Problem(name, f"file not found in {path.parent}")]
        size = path.stat().st_size
    else:
        size = len(raw)
    if size > MAX_YAML_BYTES:
        return None, [Problem(name, f"file is {size:,} bytes; the limit is {MAX_YAML_BYTES:,}")]
    raw = read_bytes(path) if raw is None else raw
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(name, "not UTF-8 text: save the file as UTF-8", line)]
    if not text.strip():
        return None, [Problem(name, "file is empty")]
    data, lines, problems = load_yaml(text, name)
    if problems:
        return None, problems
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "nothing"
        return None, [
            Problem(name, f"must be a YAML mapping of settings (key: value), not {kind}", 1)
        ]
    unknown = _unknown_step_resources(data, name, lines) + _unknown_spc_charts(data, name, lines)
    try:
        service = Service.model_validate(data)
    except ValidationError as exc:
        found = [
            p
            for p in _problems_from(exc, name, lines)
            if "uses unknown resource" not in p.message
            and not p.message.startswith("spc_targets: ")
        ]
        return None, capped(unknown + found, name)
    return (service, []) if not unknown else (None, unknown)


def _unknown_step_resources(data: dict, file: str, lines: LineMap) -> list[Problem]:
    """Steps (and pathway steps, log activities) naming a resource the service does not
    define, each at its own line.

    The model checks this too, but only once every field is valid and without a line number;
    checking the raw mapping first reports it together with the other problems.
    """
    resources = data.get("resources")
    case_types = data.get("case_types")
    if not isinstance(resources, dict) or not isinstance(case_types, dict):
        return []
    known = ", ".join(sorted(map(str, resources)))
    problems, places = [], []
    for name, spec in case_types.items():
        if not isinstance(spec, dict):
            continue
        places.append((("case_types", name, "resource"), spec.get("resource")))
        steps = spec.get("steps")
        if isinstance(steps, list):
            places += [
                (("case_types", name, "steps", i, "resource"), step.get("resource"))
                for i, step in enumerate(steps)
                if isinstance(step, dict)
            ]
    for section, key in (("pathway", "steps"), ("event_log", "activities")):
        mapping = data.get(section)
        entries = mapping.get(key) if isinstance(mapping, dict) else None
        if isinstance(entries, dict):
            places += [
                ((section, key, name, "resource"), spec.get("resource"))
                for name, spec in entries.items()
                if isinstance(spec, dict)
            ]
    for path, resource in places:
        # A resource that is not text (a list, a mapping) is the model's to report: its type.
        if isinstance(resource, str) and resource not in resources:
            problems.append(
                Problem(
                    file,
                    f"unknown resource {resource!r} (resources: {known})",
                    _line_of(path, lines),
                    ".".join(map(str, path)),
                )
            )
    return problems


def _unknown_spc_charts(data: dict, file: str, lines: LineMap) -> list[Problem]:
    """``spc_targets`` keys that name no chart, each at its own line (the model checks them
    too, without a line; :meth:`Service._check_spc_chart` says what a chart name is)."""
    targets, resources = data.get("spc_targets"), data.get("resources")
    case_types = data.get("case_types")
    if not all(isinstance(x, dict) for x in (targets, resources, case_types)):
        return []
    problems = []
    for chart in targets:
        words = str(chart).split()
        if words == ["referrals"] or (len(words) >= 2 and words[0] == "source"):
            continue
        if len(words) == 2 and words[0] == "referrals":
            if words[1] in case_types:
                continue
            message = f"unknown case type {words[1]!r} (case types: {', '.join(case_types)})"
        elif len(words) == 2 and words[0] in resources and words[1] in SPC_MINUTE_MEASURES:
            continue
        else:
            message = (
                f"{chart!r} is not a chart: use 'RESOURCE MEASURE' (resources: "
                f"{', '.join(map(str, resources))}; measures: {', '.join(SPC_MINUTE_MEASURES)}), "
                "'referrals', 'referrals CASE_TYPE' or 'source SOURCE'"
            )
        path = ("spc_targets", chart)
        problems.append(Problem(file, message, _line_of(path, lines), f"spc_targets.{chart}"))
    return problems


def _problems_from(exc: ValidationError, file: str, lines: LineMap) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown setting {loc[-1]!r} (check the spelling)"
        elif error["type"] == "missing":
            message = f"required setting {loc[-1]!r} is missing"
        column = ".".join(str(part) for part in loc) or None
        problems.append(Problem(file, message, _line_of(loc, lines), column))
    return problems


def _line_of(loc: tuple, lines: LineMap) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
