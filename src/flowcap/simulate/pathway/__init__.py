"""Case-level simulation of a service's pathway: each referral through triage, advocacy and
follow-up, waiting for the people on duty (discrete events, compiled with Numba).

Describe the pathway as a :class:`PathwaySpec` (plain arrays; :mod:`.build` makes one from a
service folder), run it with :func:`simulate_pathway`, read waits, utilisation, queue lengths
and reneging from the :class:`PathwayResult`.

The engine (Numba, SciPy) is imported on first use of ``simulate_pathway`` or
``PathwayResult``, so importing the spec or the builder stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .spec import CarriedCases, Duration, PathwaySpec

if TYPE_CHECKING:
    from .result import PathwayResult
    from .run import simulate_pathway

__all__ = ["CarriedCases", "Duration", "PathwayResult", "PathwaySpec", "simulate_pathway"]


def __getattr__(name: str):
    if name == "simulate_pathway":
        from .run import simulate_pathway

        return simulate_pathway
    if name == "PathwayResult":
        from .result import PathwayResult

        return PathwayResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
