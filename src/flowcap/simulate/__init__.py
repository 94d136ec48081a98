"""Simulation engines for backlogs.

``flowcap.simulate.daily`` is the daily Monte Carlo of every critical resource: each day new
cases arrive, their steps' minutes fall due at resources, the staff who turn up work through the
backlog by priority and oldest first, and people who wait too long may give up. Build a
:class:`~flowcap.simulate.daily.DailySpec`, then :func:`~flowcap.simulate.daily.run` it (NumPy,
vectorised over replications; with ``device="cuda"`` PyTorch on a GPU, ``pip install
'flowcap[gpu]'``) or :func:`~flowcap.simulate.daily.run_reference` it (one replication, plain
loops: the definition the fast path is tested against). ``flowcap.simulate.horizon`` reads a
result's waiting list at the end of the horizon (by case type, in the measures' working-day
bands) and its step contact targets.
"""

from .daily import DailyPaths, DailyResult, DailySpec, Draws, draw_inputs, run, run_reference

__all__ = [
    "DailyPaths",
    "DailyResult",
    "DailySpec",
    "Draws",
    "draw_inputs",
    "run",
    "run_reference",
]
