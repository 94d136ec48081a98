"""Sweeps: many services × options × parameters, simulated on Dask distributed.

A commissioner asks what every hub in the region would look like with one more IDVA, or with
demand 10% up, under each contingency option. :func:`read_sweep` reads the question
(:mod:`.file`), :func:`cells` lists its cells and seeds each from its coordinates
(:mod:`.grid`), :func:`run_cell` simulates one (:mod:`.cell`), :func:`run_sweep` runs them all
on a Dask cluster, retrying and resuming (:mod:`.runner`), and :class:`SweepResult` gathers
them into one table (:mod:`.results`). Dask is imported only when a sweep runs on it.
"""

from .cell import METRICS, PreparedService, Settings, prepare_service, run_cell
from .file import Sweep, parse_sweep, read_sweep
from .grid import Cell, cell_seed, cells
from .results import Outcome, SweepResult
from .runner import run_cells, run_sweep

__all__ = [
    "METRICS",
    "Cell",
    "Outcome",
    "PreparedService",
    "Settings",
    "Sweep",
    "SweepResult",
    "cell_seed",
    "cells",
    "parse_sweep",
    "prepare_service",
    "read_sweep",
    "run_cell",
    "run_cells",
    "run_sweep",
]
