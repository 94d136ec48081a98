"""Read ``service.yaml`` into a :class:`~flowcap.model.Service`, reporting every problem."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from flowcap.errors import InputError, Problem, capped
from flowcap.io.safe_yaml import MAX_YAML_BYTES, LineMap, load_yaml
from flowcap.model import Service


def read_service_yaml(path: Path) -> Service:
    """Load and validate a service definition; raise :class:`InputError` listing every problem."""
    service, problems = check_service_yaml(path)
    if problems or service is None:
        raise InputError(problems)
    return service


def check_service_yaml(path: Path) -> tuple[Service | None, list[Problem]]:
    """Like :func:`read_service_yaml` but returns the problems instead of raising."""
    name = path.name
    if not path.is_file():
        return None, [Problem(name, f"file not found in {path.parent}")]
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        return None, [Problem(name, f"file is {size:,} bytes; the limit is {MAX_YAML_BYTES:,}")]
    raw = path.read_bytes()
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
    try:
        return Service.model_validate(data), []
    except ValidationError as exc:
        return None, capped(_problems_from(exc, name, lines), name)


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
