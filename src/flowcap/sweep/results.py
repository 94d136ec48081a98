"""What a sweep gives: one row per cell and resource, the failed cells beside them, and the
folder that keeps both so a stopped sweep resumes where it was.

The folder (``--out DIR``)::

    cells/KEY.json     one finished cell's rows, written as it finishes (a rerun skips it)
    results.parquet    the table, cells in the sweep's order (results.csv the same)
    failed.json        the cells that failed after their retries, with the error
    summary.png        the final backlog's 90th percentile of each cell, worst first

A cell's KEY is a hash of its coordinates, its seed, the replications, the threshold and
the service's model as the sweep built it (its data, settings and options): change any of
them and the cell is run again rather than reused.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from flowcap._json import json_number
from flowcap.sweep.cell import METRICS, PreparedService, Settings
from flowcap.sweep.file import STAFF, Sweep
from flowcap.sweep.grid import Cell

#: Columns of the table before the grid's keys, and after them.
LEADING = ("service", "option")
TRAILING = ("seed", "start", "horizon_days", "resource", *METRICS)


@dataclass(frozen=True)
class Outcome:
    """One cell's outcome: its ``rows`` (per resource, :func:`~flowcap.sweep.cell.run_cell`)
    when it finished, else the ``error`` it failed with after ``attempts`` tries.
    ``resumed``: read back from an earlier run's folder. ``start`` and ``horizon_days``: the
    first day simulated and the days simulated (``None`` for a service that did not open)."""

    cell: Cell
    rows: list[dict] | None = None
    error: str | None = None
    attempts: int = 0
    start: str | None = None
    horizon_days: int | None = None
    resumed: bool = False

    @property
    def ok(self) -> bool:
        return self.rows is not None


@dataclass
class SweepResult:
    """Every cell's :class:`Outcome`, in the sweep's order."""

    sweep: Sweep
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def done(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def resumed(self) -> int:
        return sum(o.resumed for o in self.outcomes)

    def table(self) -> pd.DataFrame:
        """One row per finished cell and resource, in the sweep's order: ``service``,
        ``option``, one column per grid key, ``seed``, ``start`` (YYYY-MM-DD),
        ``horizon_days``, ``resource`` and the :data:`~flowcap.sweep.cell.METRICS`."""
        keys = list(self.sweep.grid)
        records = []
        for outcome in self.done:
            cell = outcome.cell
            for row in outcome.rows:
                records.append(
                    {
                        "service": cell.service,
                        "option": cell.option,
                        **cell.params_dict,
                        "seed": cell.seed,
                        "start": outcome.start,
                        "horizon_days": outcome.horizon_days,
                        **row,
                    }
                )
        columns = [*LEADING, *keys, *TRAILING]
        table = pd.DataFrame.from_records(records, columns=columns)
        types = {"seed": "int64", "horizon_days": "int64", **dict.fromkeys(METRICS, "float64")}
        types |= {key: "int64" if key.startswith(STAFF) else "float64" for key in keys}
        return table.astype(types)

    def as_json(self) -> dict:
        """``{"cells": [{"service", "option", "params", "resources": {R: {metric: value}}}],
        "failed": [{"service", "option", "params", "error", "attempts"}]}``, both in the
        sweep's order; numbers to six significant figures, ``null`` where there is none."""
        cells = []
        for outcome in self.done:
            resources = {}
            for row in outcome.rows:
                values = {key: json_number(row[key]) for key in METRICS}
                if values["cost"] is not None:
                    values["cost"] = round(row["cost"], 2)
                resources[row["resource"]] = values
            cells.append({**outcome.cell.coordinates(), "resources": resources})
        failed = [
            {**o.cell.coordinates(), "error": o.error, "attempts": o.attempts} for o in self.failed
        ]
        return {"cells": cells, "failed": failed}

    def write(self, out: Path) -> dict[str, Path]:
        """Write the table (Parquet and CSV), the failed cells (JSON) and the summary chart
        (PNG) into ``out``; the paths by kind."""
        from flowcap.report.sweep_chart import write_sweep_chart

        out.mkdir(parents=True, exist_ok=True)
        table = self.table()
        paths = {
            "parquet": out / "results.parquet",
            "csv": out / "results.csv",
            "failed": out / "failed.json",
            "chart": out / "summary.png",
        }
        table.to_parquet(paths["parquet"], index=False)
        table.to_csv(paths["csv"], index=False)
        _write_atomically(
            paths["failed"], json.dumps(self.as_json()["failed"], indent=2, ensure_ascii=False)
        )
        write_sweep_chart(table, paths["chart"], self.sweep.threshold_minutes)
        return paths


def cell_key(cell: Cell, prepared: PreparedService, settings: Settings) -> str:
    """The hash that names a finished cell in the folder (see the module)."""
    text = json.dumps(
        {
            **cell.coordinates(),
            "seed": cell.seed,
            "replications": settings.replications,
            "threshold_minutes": settings.threshold_minutes,
            "model": prepared.fingerprint,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Finished:
    """The finished cells kept in ``out/cells``: read one back by its key, or keep one."""

    def __init__(self, out: Path):
        self.folder = Path(out) / "cells"

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The kept record (``rows``, ``start``, ``horizon_days``), or ``None`` when there is
        none (or it cannot be read: the cell is then run again)."""
        path = self._path(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        rows = record.get("rows")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return None
        return record

    def keep(self, key: str, outcome: Outcome) -> None:
        """Keep a finished cell (written whole or not at all)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {
            "key": key,
            **outcome.cell.coordinates(),
            "seed": outcome.cell.seed,
            "start": outcome.start,
            "horizon_days": outcome.horizon_days,
            "rows": outcome.rows,
        }
        # Python's JSON writes each float so that it reads back to the same bits (NaN too).
        _write_atomically(self._path(key), json.dumps(record, ensure_ascii=False))


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
