"""What the two example generators share: the folder and its ``service.yaml``, the work each
case's steps put in the teams' queues and the order it is taken in, and the command line.

:mod:`flowcap.examples.victim_support` and :mod:`flowcap.examples.victim_support_log` do
the same work the same way (priority first, oldest due first); they differ in what they
record of it (sessions, or a case system's events).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from flowcap.io import read_service_yaml
from flowcap.model import Service

#: One piece of work: (resource index, due day, priority, case, step number, minutes).
WorkItem = tuple[int, int, int, int, int, float]


def new_folder(
    folder: Path, service_yaml: str, case_types: Iterable[str], days: int
) -> tuple[Path, Service]:
    """Create ``folder``, write ``service_yaml`` there and read it back as a :class:`Service`.

    ``case_types`` are those the generator draws (its case mix): they must be the service's.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.yaml").write_bytes(service_yaml.encode("utf-8"))
    service = read_service_yaml(folder / "service.yaml")
    assert set(service.case_types) == set(case_types), "CASE_MIX and service.yaml disagree"
    return folder, service


def work_items(
    service: Service, case_days: Iterable[int], case_types: Iterable[str], days: int
) -> list[WorkItem]:
    """Every piece of work that falls due before day ``days``: each step of each case (one
    per repeat), the case referred on day ``case_days[case]`` (day 0 is the first day)."""
    names = list(service.resources)
    items = []
    for case, (day, case_type) in enumerate(zip(case_days, case_types, strict=True)):
        kind = service.case_types[case_type]
        occurrences = [(step, offset) for step in kind.work for offset in step.due_offsets()]
        items += [
            (names.index(step.resource), day + offset, kind.priority, case, number, step.minutes)
            for number, (step, offset) in enumerate(occurrences)
            if day + offset < days
        ]
    return items


def due_queues(
    items: Sequence[WorkItem], n_resources: int, days: int
) -> Iterator[tuple[int, int, list[int]]]:
    """Yield ``(day, r, queue)`` for each day and resource index: ``queue`` lists the items
    (indices into ``items``) due at ``r`` by ``day`` and not yet done, in the order they are
    taken (priority 1 first, then oldest due first, then by case and step). The caller leaves
    in ``queue`` (in place) what it did not do; that is still due the next day."""
    due = sorted(range(len(items)), key=lambda i: (items[i][1], i))
    queues: list[list[int]] = [[] for _ in range(n_resources)]
    next_due = 0
    for day in range(days):
        while next_due < len(due) and items[due[next_due]][1] <= day:
            queues[items[due[next_due]][0]].append(due[next_due])
            next_due += 1
        for r, queue in enumerate(queues):
            queue.sort(key=lambda i: (items[i][2], items[i][1], items[i][3], items[i][4]))
            yield day, r, queue


def command_line(doc: str, default_seed: int) -> argparse.ArgumentParser:
    """The parser of ``python -m flowcap.examples.… FOLDER [--seed N]`` (add any others)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=default_seed)
    return parser


def print_files(folder: Path, files: Iterable[str]) -> None:
    """Say what was written: each file's size and lines."""
    for path in (folder / name for name in files):
        lines = path.read_bytes().count(b"\n")
        print(f"{path}: {path.stat().st_size:,} bytes, {lines:,} lines")
