"""YAML loading that cannot construct objects or blow up.

``yaml.safe_load`` already refuses Python object tags, but it still expands aliases (the
"billion laughs" attack) and accepts tags such as ``!!binary``. A service definition needs
neither, so any anchor, alias or explicit tag is refused outright, with its line number.
The keys' line numbers are kept so that validation errors can point at the right line.
"""

from __future__ import annotations

from typing import Any

import yaml

from flowcap.errors import Problem

#: A service.yaml is a few kilobytes; anything near this is not one.
MAX_YAML_BYTES = 1_000_000
#: The deepest nesting of lists and mappings a settings file may have: a service.yaml's
#: deepest setting (pathway.steps.STEP.service_minutes.CASE_TYPE.dist) is six levels down.
#: PyYAML composes deep nesting in time growing with the square of its depth (10,000 levels
#: took 20 s), so the depth is counted on the parser's events, which stop early.
MAX_YAML_DEPTH = 50

LineMap = dict[tuple[str | int, ...], int]
_TOO_DEEP = "YAML is nested too deeply to be a service definition"


def load_yaml(text: str, file: str) -> tuple[Any, LineMap, list[Problem]]:
    """Parse ``text`` safely.

    Returns the data (``None`` when there are problems), a map from key path (tuple of keys
    and list indices) to 1-based line number, and the problems found.
    """
    problems: list[Problem] = []
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    return None, {}, [Problem(file, _TOO_DEEP)]
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.AliasEvent):
                problems.append(Problem(file, "YAML aliases (*name) are not allowed", line))
            elif getattr(event, "anchor", None):
                problems.append(Problem(file, "YAML anchors (&name) are not allowed", line))
            tag = getattr(event, "tag", None)
            if tag is not None:  # parse events carry a tag only when the document writes one
                problems.append(Problem(file, f"YAML tags ({tag}) are not allowed", line))
        if problems:
            return None, {}, problems
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except RecursionError:
        return None, {}, [Problem(file, _TOO_DEEP)]
    except (ValueError, OverflowError) as exc:
        # PyYAML reads a plain 2024-13-45 as a timestamp and builds the date unchecked.
        return None, {}, [Problem(file, f"not a valid value: {exc} (a date must be YYYY-MM-DD)")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return None, {}, [Problem(file, f"not valid YAML: {reason}", line)]
    lines: LineMap = {}
    duplicates: list[Problem] = []
    if node is not None:
        _map_lines(node, (), lines, duplicates, file)
    if duplicates:
        return None, lines, duplicates
    return data, lines, []


def _map_lines(
    node: yaml.Node,
    path: tuple[str | int, ...],
    lines: LineMap,
    duplicates: list[Problem],
    file: str,
) -> None:
    """Record each key's line; a key given twice in one mapping is a problem (YAML keeps the
    last silently, which would quietly change a setting)."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                duplicates.append(
                    Problem(
                        file,
                        f"{key!r} is given twice (first on row {seen[key]})",
                        line,
                        ".".join(str(p) for p in path + (key,)),
                    )
                )
            seen[key] = line
            _map_lines(value_node, path + (key,), lines, duplicates, file)
            lines[path + (key,)] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, path + (index,), lines, duplicates, file)
