"""Daily Monte Carlo of backlogs: a spec of plain arrays, a reference loop, a vectorised engine.

``spec`` holds the model (:class:`DailySpec`) and what comes out (:class:`DailyResult`);
``reference`` defines correct behaviour one replication at a time; ``numpy`` runs many
replications at once. Only NumPy and the standard library are imported.
"""

from .numpy import draw_inputs, run
from .reference import run_reference
from .spec import (
    DailyPaths,
    DailyResult,
    DailySpec,
    Draws,
    histogram_mean,
    histogram_quantile,
    patience_survival,
)

__all__ = [
    "DailyPaths",
    "DailyResult",
    "DailySpec",
    "Draws",
    "draw_inputs",
    "histogram_mean",
    "histogram_quantile",
    "patience_survival",
    "run",
    "run_reference",
]
