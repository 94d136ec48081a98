"""The cells of a sweep, in a fixed order, and the seed of each.

A sweep over 3 services, 2 options and ``staff.idva: [2, 3]`` has 12 cells: services in the
file's order, then options, then every combination of the grid's values (its keys in the
file's order, the last varying fastest). The results table keeps that order whatever order
the cells finish in.

Each cell's seed comes from the sweep's seed and the cell's coordinates alone, never from
its place in the queue or the worker that runs it, so a cell gives the same numbers on one
worker or sixty-four, and in a sweep of any size::

    words = SHA-256 of the coordinates as canonical JSON, as eight 32-bit words
    seed  = SeedSequence([sweep seed, *words]).generate_state(1, uint64)[0] >> 1

(63 bits, so it fits a signed 64-bit column). With ``common_random_numbers`` (the default)
the coordinates are the service alone: every option and parameter of one service runs on the
same simulated futures (the same referrals drawn for the same expected demand, the same
absences), as ``flowcap simulate`` compares its options, so their differences are the
options' and not the dice's. Without it the coordinates are the service, the option and the
parameters (sorted by key).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass

import numpy as np

from flowcap.sweep.file import Sweep

Params = tuple[tuple[str, int | float], ...]


@dataclass(frozen=True)
class Cell:
    """One cell: ``index`` its place in the sweep's order; ``service`` as the sweep file
    names it (a folder or a stored name); ``option`` a scenario name or ``baseline``;
    ``params`` the grid's values as ``((key, value), ...)`` in the file's key order;
    ``seed`` the seed it runs with."""

    index: int
    service: str
    option: str
    params: Params
    seed: int

    @property
    def params_dict(self) -> dict[str, int | float]:
        return dict(self.params)

    def label(self) -> str:
        """``service / option / key=value ...``, for progress and failures."""
        params = " ".join(f"{key}={value:g}" for key, value in self.params)
        return " / ".join(part for part in (self.service, self.option, params) if part)

    def coordinates(self) -> dict:
        """What identifies the cell: ``{"service", "option", "params"}``."""
        return {"service": self.service, "option": self.option, "params": self.params_dict}


def cells(sweep: Sweep) -> list[Cell]:
    """Every cell of ``sweep`` in its fixed order (see the module), each with its seed."""
    keys = list(sweep.grid)
    combinations = list(itertools.product(*(sweep.grid[key] for key in keys)))
    found = []
    for service in sweep.services:
        for option in sweep.options:
            for values in combinations:
                params = tuple(zip(keys, values, strict=True))
                seed = cell_seed(
                    sweep.seed, service, option, params, common=sweep.common_random_numbers
                )
                found.append(Cell(len(found), service, option, params, seed))
    return found


def cell_seed(seed: int, service: str, option: str, params: Params, *, common: bool) -> int:
    """The seed of the cell at these coordinates (see the module); a whole number from 0 to
    2**63 − 1."""
    coordinates: list = [service]
    if not common:
        coordinates += [option, sorted([key, value] for key, value in params)]
    text = json.dumps(coordinates, ensure_ascii=False, separators=(",", ":"))
    words = np.frombuffer(hashlib.sha256(text.encode("utf-8")).digest(), dtype="<u4")
    state = np.random.SeedSequence([seed, *(int(w) for w in words)]).generate_state(1, np.uint64)
    return int(state[0]) >> 1
