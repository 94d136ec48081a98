"""Daily Monte Carlo of backlogs: a spec of plain arrays, a reference loop, a vectorised engine.

``spec`` holds the model (:class:`DailySpec`) and what comes out (:class:`DailyResult`);
``reference`` defines correct behaviour one replication at a time; ``numpy`` runs many
replications at once; ``torch`` runs the same model on a CUDA GPU through PyTorch.
:func:`run` picks the engine by ``device`` (``backends``). Only NumPy and the standard library
are imported; PyTorch only when a GPU is asked for (``pip install 'flowcap[gpu]'``).
"""

from .backends import GPU_INSTALL, DeviceUnavailableError, check_device, run
from .numpy import RunSettings, draw_inputs
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
    "DeviceUnavailableError",
    "Draws",
    "GPU_INSTALL",
    "RunSettings",
    "check_device",
    "draw_inputs",
    "histogram_mean",
    "histogram_quantile",
    "patience_survival",
    "run",
    "run_reference",
]
