"""Case-level pathway simulation of a service folder (``flowcap des``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from flowcap.errors import FlowcapError
from flowcap.simulate.pathway.build import build_pathway_spec
from flowcap.simulate.pathway.spec import PathwaySpec
from flowcap.workflow.data import Progress, _history, _quiet

if TYPE_CHECKING:  # the engine is imported when simulating: Numba compiles it then
    from flowcap.simulate.pathway import PathwayResult


@dataclass(frozen=True)
class PathwayReport:
    """A pathway simulation of one service: what was run, from when, and its result."""

    service_name: str
    start: date
    spec: PathwaySpec
    result: PathwayResult

    def as_json(self) -> dict:
        document = self.result.summary()
        document["start"] = self.start.isoformat()
        return document


def des_folder(
    folder: str | Path,
    *,
    hours: float = 24 * 7 * 13,
    warmup_hours: float = 24 * 7 * 2,
    replications: int = 20,
    seed: int = 0,
    start: date | None = None,
    progress: Progress = _quiet,
) -> PathwayReport:
    """Simulate the folder's ``pathway:`` ``replications`` times over ``warmup_hours`` +
    ``hours`` from midnight on ``start`` (default: the day after the last referral, or today
    with no history); statistics cover the ``hours`` after the warm-up."""
    if hours <= 0:
        raise FlowcapError("--hours must be more than 0")
    if warmup_hours < 0:
        raise FlowcapError("--warmup-hours must not be negative")
    if replications < 1:
        raise FlowcapError("--replications must be at least 1")
    from flowcap.simulate.pathway import simulate_pathway

    service, data, _ = _history(folder, progress)
    if service.pathway is None:
        raise FlowcapError(
            f"{Path(folder) / 'service.yaml'} has no pathway: section (the steps a case goes "
            "through, each with resource, service_minutes and next); see the README"
        )
    referrals = data.referrals if len(data.referrals) else None
    if start is None:
        if referrals is not None:
            start = (pd.Timestamp(referrals["referral_date"].max()) + pd.Timedelta(days=1)).date()
        else:
            start = date.today()
    days = math.ceil((warmup_hours + hours) / 24) + 1
    spec = build_pathway_spec(
        service, start=start, days=days, referrals=referrals, roster=data.roster
    )

    def tick(done: int) -> None:
        progress(f"Simulated {done} of {replications} replications")

    progress(f"Simulating {replications} replications of {hours + warmup_hours:,.0f} hours")
    result = simulate_pathway(
        spec,
        hours=hours,
        warmup_hours=warmup_hours,
        replications=replications,
        seed=seed,
        progress=tick,
    )
    return PathwayReport(service.name, start, spec, result)
