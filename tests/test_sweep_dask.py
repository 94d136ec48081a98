"""Sweeps on Dask distributed: a two-worker ``LocalCluster`` gives exactly the table of the
cells run one by one, retries a failing cell and reports it, resumes, and ``flowcap sweep
--json`` prints the cells in the sweep's order whatever the number of workers.

One cluster serves the module: two single-threaded worker *processes* (as ``flowcap sweep``
starts them), so each cell is pickled to another interpreter and back, as on a real cluster.
It starts in about two seconds; each worker imports flowcap on its first cell.
"""

from __future__ import annotations

import json
import shutil
import sys
from functools import partial
from pathlib import Path

import cloudpickle
import pandas as pd
import pytest
from typer.testing import CliRunner

from flowcap.sweep import Sweep, run_cell, run_sweep

distributed = pytest.importorskip("distributed")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
OVERTIME = "overtime for triage in January"
VACANCY = "lose an IDVA for three months"
SWEEP = {
    "services": ["vs"],
    "options": ["baseline", OVERTIME, VACANCY],
    "grid": {"staff.idva": [3, 4], "demand_factor": [1.0, 1.2]},
    "seed": 11,
    "replications": 120,
    "horizon_days": 60,
}
SWEEP_YAML = """\
seed: 11
replications: 120
horizon_days: 60
services: [vs]
options: [baseline, overtime for triage in January, lose an IDVA for three months]
grid:
  staff.idva: [3, 4]
  demand_factor: [1.0, 1.2]
"""

# The flaky runner below lives in this test module, which the workers cannot import: send
# its code with it.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A folder holding the example as ``vs``, imported once under a key of its own."""
    root = tmp_path_factory.mktemp("sweep-dask")
    shutil.copytree(
        EXAMPLES / "victim-support", root / "vs", ignore=shutil.ignore_patterns(".flowcap")
    )
    return root


@pytest.fixture
def key(place, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY_FILE", str(place / "key"))


@pytest.fixture(scope="module")
def serial(place):
    """The cells one by one in this process: the reference."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY_FILE", str(place / "key"))
        return run_sweep(Sweep(**SWEEP), base=place, workers=0)


def test_two_workers_give_exactly_the_table_of_the_cells_run_one_by_one(client, place, key, serial):
    assert len(client.scheduler_info()["workers"]) == 2
    progress: list = []
    with distributed.get_task_stream(client) as stream:
        result = run_sweep(
            Sweep(**SWEEP), base=place, client=client, progress=lambda *told: progress.append(told)
        )
    assert not result.failed and len(result.done) == 12
    pd.testing.assert_frame_equal(result.table(), serial.table(), check_exact=True)
    assert result.as_json() == serial.as_json()
    assert progress[-1] == ("12 of 12 cells done", 12, 12)
    # both workers ran cells: the table does not depend on who ran what
    cells_run = [t for t in stream.data if t["key"].startswith("flowcap-sweep-cell-")]
    assert len(cells_run) == 12 and len({t["worker"] for t in cells_run}) == 2


def flaky(marks: Path, fail_first: int, prepared, cell, settings):
    """Fails each cell's first ``fail_first`` tries (counted in files: tries run in other
    processes)."""
    mark = marks / f"cell-{cell.index}"
    tries = len(mark.read_text()) + 1 if mark.exists() else 1
    mark.write_text("x" * tries)
    if tries <= fail_first:
        raise RuntimeError(f"lost on try {tries}")
    return run_cell(prepared, cell, settings)


def test_on_dask_a_failing_cell_is_retried_then_reported(client, place, key, serial, tmp_path):
    small = Sweep(**{**SWEEP, "options": ["baseline"], "retries": 1})
    marks = tmp_path / "once"
    marks.mkdir()
    result = run_sweep(small, base=place, client=client, runner=partial(flaky, marks, 1))
    assert not result.failed
    assert sorted(p.read_text() for p in marks.iterdir()) == ["xx"] * 4  # each tried twice
    pd.testing.assert_frame_equal(
        result.table(), serial.table().iloc[:12].reset_index(drop=True), check_exact=True
    )
    marks = tmp_path / "always"
    marks.mkdir()
    result = run_sweep(small, base=place, client=client, runner=partial(flaky, marks, 5))
    assert not result.done
    assert [(o.cell.index, o.attempts, o.error) for o in result.failed] == [
        (i, 2, "RuntimeError: lost on try 2") for i in range(4)
    ]


def test_on_dask_a_bad_option_fails_its_cells_alone(client, place, key, serial):
    sweep = Sweep(**{**SWEEP, "options": ["baseline", "four-day week"], "retries": 0})
    result = run_sweep(sweep, base=place, client=client)
    assert [o.cell.option for o in result.failed] == ["four-day week"] * 4
    assert all("vs has no option 'four-day week'" in o.error for o in result.failed)
    pd.testing.assert_frame_equal(
        result.table(), serial.table().iloc[:12].reset_index(drop=True), check_exact=True
    )


def test_on_dask_a_rerun_skips_the_cells_already_done(client, place, key, serial, tmp_path):
    out = tmp_path / "out"
    first = run_sweep(Sweep(**SWEEP), base=place, client=client, out=out)
    marks = tmp_path / "marks"
    marks.mkdir()
    again = run_sweep(
        Sweep(**SWEEP), base=place, client=client, out=out, runner=partial(flaky, marks, 99)
    )
    assert again.resumed == 12 and not again.failed and not list(marks.iterdir())
    pd.testing.assert_frame_equal(again.table(), first.table(), check_exact=True)
    pd.testing.assert_frame_equal(first.table(), serial.table(), check_exact=True)


def sweep_json(place: Path, tmp_path: Path, *options: str) -> dict:
    from flowcap.cli import sweep as _  # noqa: F401  (registers the command)
    from flowcap.cli.app import app

    path = place / "sweep.yaml"
    path.write_text(SWEEP_YAML)
    result = CliRunner().invoke(
        app, ["sweep", str(path), "--json", "--out", str(tmp_path / "out"), *options]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_json_is_in_the_sweeps_order_whatever_the_workers(place, key, serial, tmp_path):
    one_by_one = sweep_json(place, tmp_path / "a", "--workers", "0")
    two = sweep_json(place, tmp_path / "b", "--workers", "2")
    assert one_by_one == two == serial.as_json()
    assert [(c["option"], c["params"]) for c in two["cells"][:3]] == [
        ("baseline", {"staff.idva": 3, "demand_factor": 1.0}),
        ("baseline", {"staff.idva": 3, "demand_factor": 1.2}),
        ("baseline", {"staff.idva": 4, "demand_factor": 1.0}),
    ]
    assert two["failed"] == []
    table = pd.read_parquet(tmp_path / "b" / "out" / "results.parquet")
    pd.testing.assert_frame_equal(table, serial.table(), check_exact=True)
