"""Sweeps without Dask: the sweep file's errors, the cells and their seeds, one cell checked
against ``flowcap simulate``'s own numbers and by hand, retries, failures and resuming.

The cells run one by one here (``workers=0``); tests/test_sweep_dask.py runs the same on a
two-worker cluster and checks it gives the same table.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import check_readable_png
from flowcap.errors import FlowcapError, InputError
from flowcap.history import open_folder
from flowcap.model.scenario import Demand
from flowcap.plan.outlook import simulate_ahead
from flowcap.plan.scenarios import compare_scenarios
from flowcap.simulate.daily import run as run_daily
from flowcap.sweep import (
    METRICS,
    Sweep,
    cell_seed,
    cells,
    parse_sweep,
    prepare_service,
    read_sweep,
    run_cell,
    run_sweep,
)
from flowcap.sweep.cell import cell_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
OVERTIME = "overtime for triage in January"
VACANCY = "lose an IDVA for three months"
#: Small enough to be quick, large enough that every number moves: 60 days from 1 Jan 2026
#: (stretched to Mon 2 March), where both options act.
SMALL = {"seed": 7, "replications": 120, "horizon_days": 60}


def problems(text: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_sweep(text)
    return [str(p) for p in caught.value.problems]


# --- the sweep file ---------------------------------------------------------------------------


def test_a_full_sweep_file_reads_as_written():
    sweep = parse_sweep(
        "seed: 1\nreplications: 10000\nhorizon_days: 365\nstart: 2026-04-01\n"
        "services: [examples/victim-support, Northshire Victim Support Hub]\n"
        "options: [baseline, agency IDVA for six weeks over summer]\n"
        "grid:\n  staff.idva: [2, 3, 4]\n  demand_factor: [1, 1.1]\n"
    )
    assert sweep.grid == {"staff.idva": [2, 3, 4], "demand_factor": [1.0, 1.1]}
    assert isinstance(sweep.grid["demand_factor"][0], float)
    assert str(sweep.start) == "2026-04-01"
    assert sweep.n_cells == 2 * 2 * 3 * 2
    defaults = parse_sweep("services: [a/b]\n")
    assert (defaults.options, defaults.grid, defaults.replications) == (["baseline"], {}, 10_000)
    assert (defaults.retries, defaults.common_random_numbers) == (2, True)


def test_every_problem_in_the_file_is_named_with_its_line_and_key():
    found = problems(
        "seed: -1\n"  # row 1
        "replications: 0\n"  # row 2
        "servces: [a/b]\n"  # row 3: a typo, and services is then missing
        "options: [baseline, baseline]\n"  # row 4
        "grid:\n"  # row 5
        "  staff.idva: [2, 2.5, 3, 3]\n"  # row 6
        "  demand_factor: [0, 1.1]\n"  # row 7
        "  agency_rate: [1]\n"  # row 8
    )
    text = "\n".join(found)
    assert "sweep.yaml, row 1, column seed: Input should be greater than or equal to 0" in text
    assert "sweep.yaml, row 2, column replications:" in text
    assert "sweep.yaml, row 3, column servces: unknown setting 'servces'" in text
    assert "sweep.yaml, row 1, column services: required setting 'services' is missing" in text
    assert "sweep.yaml, row 4, column options: given twice: 'baseline'" in text
    assert (
        "sweep.yaml, row 6, column grid.staff.idva.1: a head count is a whole number of people"
        in text
    )
    assert "sweep.yaml, row 6, column grid.staff.idva.3: 3 is given twice" in text
    assert "sweep.yaml, row 7, column grid.demand_factor.0: a demand factor is a number" in text
    assert "row 8, column grid.agency_rate: unknown parameter 'agency_rate'" in text
    assert len(found) == 9, found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "row 1: must be a mapping of settings"),
        ("", "must be a mapping of settings (services:, options:, ...), not nothing"),
        ("services: &s [a/b]\noptions: *s\n", "row 1: YAML anchors (&name) are not allowed"),
        ("services: [a/b]\nhorizon_days: .inf\n", "row 2, column horizon_days"),
        ("services: [a/b]\ngrid: {staff.idva: []}\n", "give a list of at least one value"),
        ("services: [a/b]\ngrid: {demand_factor: [true]}\n", "a demand factor is a number"),
        ("services: [a/b]\ngrid: {agency_day_rate: [-1]}\n", "an agency day rate is pounds"),
        ("services: [a/b]\nstart: 1 April\n", "row 2, column start: give a date as YYYY-MM-DD"),
        ("services: []\n", "row 1, column services: List should have at least 1 item"),
    ],
)
def test_a_bad_sweep_file_is_refused_with_a_clear_message(text, expected):
    assert any(expected in p for p in problems(text)), problems(text)


def test_a_sweep_too_large_is_refused():
    text = (
        "services: [a/b, c/d]\ngrid:\n  staff.idva: ["
        + ", ".join(map(str, range(1000)))
        + "]\n  demand_factor: ["
        + ", ".join(f"{1 + i / 1000}" for i in range(1000))
        + "]\n"
    )
    assert any("2,000,000 cells" in p and "limit is 1,000,000" in p for p in problems(text))


def test_read_sweep_names_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="sweep.yaml: file not found"):
        read_sweep(tmp_path / "sweep.yaml")


# --- cells and seeds --------------------------------------------------------------------------


def test_cells_come_in_the_files_order_with_the_last_key_fastest():
    sweep = Sweep(
        services=["a/x", "b/y"],
        options=["baseline", "o"],
        grid={"staff.idva": [2, 3], "demand_factor": [1.0, 1.5]},
    )
    found = cells(sweep)
    assert [c.index for c in found] == list(range(16))
    assert [(c.service, c.option, c.params) for c in found[:5]] == [
        ("a/x", "baseline", (("staff.idva", 2), ("demand_factor", 1.0))),
        ("a/x", "baseline", (("staff.idva", 2), ("demand_factor", 1.5))),
        ("a/x", "baseline", (("staff.idva", 3), ("demand_factor", 1.0))),
        ("a/x", "baseline", (("staff.idva", 3), ("demand_factor", 1.5))),
        ("a/x", "o", (("staff.idva", 2), ("demand_factor", 1.0))),
    ]
    assert found[-1].label() == "b/y / o / staff.idva=3 demand_factor=1.5"


@pytest.mark.parametrize("common", [True, False])
def test_a_cells_seed_depends_on_its_coordinates_not_its_place(common):
    grid = {"staff.idva": [2, 3], "demand_factor": [1.0, 1.5]}
    sweep = Sweep(
        services=["a/x", "b/y"], options=["baseline", "o"], grid=grid, common_random_numbers=common
    )
    shuffled = Sweep(
        services=["b/y", "c/z", "a/x"],
        options=["o", "baseline"],
        grid={"demand_factor": [1.5, 1.0], "staff.idva": [3, 2, 4]},
        common_random_numbers=common,
    )

    def seeds(s: Sweep) -> dict:
        return {(c.service, c.option, tuple(sorted(c.params))): c.seed for c in cells(s)}

    mine, theirs = seeds(sweep), seeds(shuffled)
    assert all(theirs[coordinates] == seed for coordinates, seed in mine.items())
    assert all(0 <= seed < 2**63 for seed in mine.values())
    by_service = {
        service: {s for (svc, *_), s in mine.items() if svc == service}
        for service in ("a/x", "b/y")
    }
    if common:  # every cell of a service on the same futures; services apart
        assert [len(v) for v in by_service.values()] == [1, 1]
        assert by_service["a/x"] != by_service["b/y"]
    else:
        assert len(set(mine.values())) == len(mine)
    other = Sweep(**{**sweep.model_dump(), "seed": 1})
    assert set(seeds(other).values()).isdisjoint(mine.values())


def test_the_seed_is_a_fixed_function_of_the_coordinates():
    """Pinned once: a change to the hashing would silently change every sweep's numbers."""
    params = (("staff.idva", 3), ("demand_factor", 1.1))
    assert cell_seed(1, "a/x", "o", params, common=True) == cell_seed(
        1, "a/x", "p", (), common=True
    )
    assert cell_seed(1, "a/x", "o", params, common=False) == cell_seed(
        1, "a/x", "o", tuple(reversed(params)), common=False
    )
    assert cell_seed(1, "a/x", "o", params, common=False) != cell_seed(
        1, "a/x", "o", (("staff.idva", 3), ("demand_factor", 1.2)), common=False
    )


# --- one cell, against the library's own numbers ----------------------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The bundled example, imported once under a key of its own; its history."""
    root = tmp_path_factory.mktemp("sweep")
    folder = root / "vs"
    shutil.copytree(EXAMPLES / "victim-support", folder, ignore=shutil.ignore_patterns(".flowcap"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY_FILE", str(root / "key"))
        patch.delenv("FLOWCAP_DATABASE_URL", raising=False)
        history = open_folder(folder)
    return folder, history


def small_sweep(**changes) -> Sweep:
    return Sweep(**{"services": ["vs"], **SMALL, **changes})


def summaries(report_result, resources) -> dict:
    return {r: report_result.summary(r) for r in resources}


def test_a_baseline_cell_gives_flowcap_simulates_numbers(example):
    folder, history = example
    sweep = small_sweep()
    (cell,) = cells(sweep)
    prepared = prepare_service(history, "vs", sweep)
    rows = run_cell(prepared, cell, _settings(sweep))
    report = simulate_ahead(
        history, horizon=60, replications=120, seed=cell.seed, threshold_minutes=2400.0
    )
    assert report.start == prepared.start and report.spec.horizon_days == 61
    assert [row["resource"] for row in rows] == list(report.spec.resources)
    for row in rows:
        summary = report.result.summary(row["resource"])
        for key in METRICS[:-1]:
            assert row[key] == summary[key] or (np.isnan(row[key]) and np.isnan(summary[key]))
        assert row["cost"] == report.baseline_cost(row["resource"])


def test_an_option_cell_gives_the_options_numbers_in_flowcap_simulate(example):
    folder, history = example
    sweep = small_sweep(options=[VACANCY])
    (cell,) = cells(sweep)
    rows = run_cell(prepare_service(history, "vs", sweep), cell, _settings(sweep))
    report = simulate_ahead(history, horizon=60, replications=120, seed=cell.seed)
    outcome = report.comparison.outcomes[VACANCY]
    for r, row in enumerate(rows):
        summary = outcome.result.summary(row["resource"])
        assert [row[k] for k in METRICS[:-1]] == pytest.approx(
            [summary[k] for k in METRICS[:-1]], rel=0, abs=0, nan_ok=True
        )
        assert row["cost"] == pytest.approx(float(outcome.cost[r].sum()), rel=1e-12)
    idva = next(row for row in rows if row["resource"] == "idva")
    base = report.comparison.outcomes["baseline"].result.summary("idva")
    assert idva["final_backlog_mean"] > base["final_backlog_mean"]  # a post empty: worse


def test_a_demand_factor_is_a_demand_change_for_every_case_type(example):
    folder, history = example
    sweep = small_sweep(grid={"demand_factor": [1.25]})
    (cell,) = cells(sweep)
    prepared = prepare_service(history, "vs", sweep)
    rows = run_cell(prepared, cell, _settings(sweep))
    last = prepared.start + timedelta(days=prepared.spec.horizon_days - 1)
    everywhere = [
        Demand(case_type=k, factor=1.25, start=prepared.start, end=last)
        for k in prepared.spec.case_types
    ]
    from flowcap.model.scenario import Scenario

    comparison = compare_scenarios(
        prepared.spec,
        prepared.start,
        prepared.service,
        [Scenario("more demand", tuple(everywhere))],
        replications=120,
        seed=cell.seed,
        threshold_minutes=2400.0,
    )
    outcome = comparison.outcomes["more demand"]
    for r, row in enumerate(rows):
        summary = outcome.result.summary(row["resource"])
        assert row["final_backlog_mean"] == summary["final_backlog_mean"]
        assert row["final_backlog_p90"] == summary["final_backlog_p90"]
        assert row["cost"] == pytest.approx(float(outcome.cost[r].sum()), rel=1e-12)


def test_a_head_count_rosters_that_many_on_every_working_day_and_costs_them(example):
    folder, history = example
    sweep = small_sweep(grid={"staff.idva": [6]})
    (cell,) = cells(sweep)
    prepared = prepare_service(history, "vs", sweep)
    spec, _ = cell_spec(prepared, cell)
    r = spec.resources.index("idva")
    before = prepared.spec.staff[r]
    assert set(np.unique(before[before > 0])) != {6}  # the roster had other head counts
    assert np.array_equal(spec.staff[r], np.where(before > 0, 6, 0))
    others = [i for i in range(len(spec.resources)) if i != r]
    assert np.array_equal(spec.staff[others], prepared.spec.staff[others])
    rows = run_cell(prepared, cell, _settings(sweep))
    # By hand: 6 people × each working day's minutes a person / 60 × £ an hour.
    rate = prepared.service.resources["idva"].cost_per_hour
    minutes = prepared.spec.minutes_per_staff[r][before > 0]
    assert rows[r]["cost"] == pytest.approx(6 * minutes.sum() / 60 * rate, rel=1e-12)
    hand = dataclasses.replace(
        prepared.spec,
        staff=np.where(np.arange(3)[:, None] == r, np.where(before > 0, 6, 0), prepared.spec.staff),
    )
    result = run_daily(
        hand, 120, cell.seed, threshold_minutes=2400.0, waits=True, target_working_days=2
    )
    assert rows[r]["final_backlog_mean"] == result.summary("idva")["final_backlog_mean"]


AGENCY = "agency IDVA for six weeks over summer"


def test_an_agency_day_rate_prices_the_options_agency_days_and_leaves_the_backlog(example):
    folder, history = example
    # 240 days from 1 January 2026, so the agency IDVA (13 July - 21 August) is in them.
    sweep = small_sweep(
        options=["baseline", AGENCY], grid={"agency_day_rate": [0, 900]}, horizon_days=240
    )
    prepared = prepare_service(history, "vs", sweep)
    settings = _settings(sweep)
    by_cell = {(c.option, dict(c.params)["agency_day_rate"]): c for c in cells(sweep)}
    own = next(c for c in cells(small_sweep(options=[AGENCY], horizon_days=240)))
    rows = {k: run_cell(prepared, c, settings) for k, c in by_cell.items()}
    rows["own rate"] = run_cell(prepared, own, settings)
    r = list(prepared.spec.resources).index("idva")
    idva = {k: v[r] for k, v in rows.items()}
    # The rate changes what the option costs, never what it does (same seed, same futures).
    for key in (AGENCY, 900.0), "own rate":
        for metric in METRICS[:-1]:
            assert idva[key][metric] == idva[AGENCY, 0.0][metric]
    # Agency person-days = the option's extra cost at its own £185 over 185; at £900 the extra
    # is 900 of them; the baseline has no agency, so its rate changes nothing.
    person_days = (idva["own rate"]["cost"] - idva[AGENCY, 0.0]["cost"]) / 185
    assert person_days >= 20  # at least the booking's min_days, so the test can tell
    assert idva[AGENCY, 900.0]["cost"] - idva[AGENCY, 0.0]["cost"] == pytest.approx(
        900 * person_days, rel=1e-12
    )
    assert rows["baseline", 0.0] == rows["baseline", 900.0]


def test_a_cell_naming_what_the_service_lacks_says_so(example):
    folder, history = example
    sweep = small_sweep(options=["four-day week"], grid={"staff.nurse": [2]})
    prepared = prepare_service(history, "vs", sweep)
    (cell,) = cells(sweep)
    with pytest.raises(FlowcapError, match="no resource 'nurse' to set staff.nurse"):
        run_cell(prepared, cell, _settings(sweep))
    (cell,) = cells(small_sweep(options=["four-day week"]))
    with pytest.raises(FlowcapError, match="vs has no option 'four-day week' in its scenarios"):
        run_cell(prepared, cell, _settings(sweep))


def _settings(sweep: Sweep):
    from flowcap.sweep import Settings

    return Settings.of(sweep)


# --- the whole sweep, one cell at a time --------------------------------------------------------


@pytest.fixture
def place(example, tmp_path, monkeypatch):
    """A folder holding the sweep file's services: the example as ``vs``."""
    folder, _ = example
    monkeypatch.setenv("FLOWCAP_KEY_FILE", str(folder.parent / "key"))
    return folder.parent


def test_a_sweep_gathers_every_cell_in_order_into_one_table(place, tmp_path):
    sweep = small_sweep(options=["baseline", OVERTIME], grid={"staff.idva": [3, 4]})
    result = run_sweep(sweep, base=place, workers=0)
    table = result.table()
    assert list(table.columns) == [
        "service", "option", "staff.idva", "seed", "start", "horizon_days", "resource", *METRICS,
    ]  # fmt: skip
    assert len(table) == 4 * 3 and not result.failed
    assert table[["option", "staff.idva"]].drop_duplicates().values.tolist() == [
        ["baseline", 3], ["baseline", 4], [OVERTIME, 3], [OVERTIME, 4],
    ]  # fmt: skip
    assert (table["start"] == "2026-01-01").all() and (table["horizon_days"] == 61).all()
    # one cell alone gives its rows: a cell does not depend on the others
    alone = run_sweep(
        small_sweep(options=[OVERTIME], grid={"staff.idva": [4]}), base=place, workers=0
    )
    pd.testing.assert_frame_equal(
        alone.table(), table.iloc[9:].reset_index(drop=True), check_exact=True
    )
    paths = result.write(tmp_path / "out")
    back = pd.read_parquet(paths["parquet"])
    pd.testing.assert_frame_equal(back, table, check_exact=True)
    csv = pd.read_csv(paths["csv"])
    assert csv["final_backlog_p90"].tolist() == pytest.approx(table["final_backlog_p90"].tolist())
    assert json.loads(paths["failed"].read_text()) == []
    check_readable_png(paths["chart"])


def test_the_json_has_the_issues_shape(place):
    sweep = small_sweep(options=["baseline", "no such option"], grid={"demand_factor": [1.0]})
    document = run_sweep(sweep, base=place, workers=0).as_json()
    assert list(document) == ["cells", "failed"]
    (cell,) = document["cells"]
    assert list(cell) == ["service", "option", "params", "resources"]
    assert cell["params"] == {"demand_factor": 1.0}
    assert list(cell["resources"]) == ["triage", "idva", "caseworker"]
    assert all(list(v) == list(METRICS) for v in cell["resources"].values())
    (failed,) = document["failed"]
    assert failed["option"] == "no such option" and failed["attempts"] == 3
    assert "vs has no option 'no such option'" in failed["error"]
    json.dumps(document, allow_nan=False)


def flaky_runner(log: list, fail_first: int):
    """A cell runner failing the first ``fail_first`` tries of each cell."""

    def run(prepared, cell, settings):
        log.append(cell.index)
        if log.count(cell.index) <= fail_first:
            raise RuntimeError(f"worker lost on try {log.count(cell.index)}")
        return run_cell(prepared, cell, settings)

    return run


def test_a_failing_cell_is_retried_then_reported_never_dropped(place):
    sweep = small_sweep(grid={"staff.idva": [3, 4]}, retries=2)
    reference = run_sweep(sweep, base=place, workers=0).table()
    log: list = []
    result = run_sweep(sweep, base=place, workers=0, runner=flaky_runner(log, fail_first=2))
    assert log == [0, 0, 0, 1, 1, 1]  # two failures each, the third try done
    pd.testing.assert_frame_equal(result.table(), reference, check_exact=True)
    log.clear()
    warned: list = []
    result = run_sweep(
        sweep, base=place, workers=0, runner=flaky_runner(log, fail_first=3), warn=warned.append
    )
    assert log == [0, 0, 0, 1, 1, 1] and not result.done
    assert [(o.cell.index, o.attempts, o.error) for o in result.failed] == [
        (0, 3, "RuntimeError: worker lost on try 3"),
        (1, 3, "RuntimeError: worker lost on try 3"),
    ]
    assert any("cell 1 (vs / baseline / staff.idva=3) failed after 3 tries" in w for w in warned)


def test_a_service_that_does_not_open_fails_its_cells_and_the_others_run(place):
    sweep = small_sweep(services=["vs", "./missing"], options=["baseline", OVERTIME])
    result = run_sweep(sweep, base=place, workers=0)
    assert [o.cell.service for o in result.done] == ["vs", "vs"]
    assert [(o.cell.service, o.attempts) for o in result.failed] == [("./missing", 0)] * 2
    assert all("the service could not be opened and modelled" in o.error for o in result.failed)


def test_a_rerun_skips_the_cells_already_done(place, tmp_path):
    sweep = small_sweep(grid={"staff.idva": [3, 4, 5]})
    out = tmp_path / "out"
    log: list = []
    first = run_sweep(sweep, base=place, workers=0, out=out, runner=flaky_runner(log, 0))
    assert log == [0, 1, 2] and len(list((out / "cells").glob("*.json"))) == 3
    log.clear()
    again = run_sweep(sweep, base=place, workers=0, out=out, runner=flaky_runner(log, 0))
    assert log == [] and again.resumed == 3
    pd.testing.assert_frame_equal(again.table(), first.table(), check_exact=True)
    # a cell lost (stopped mid-sweep) runs again, alone
    kept = sorted((out / "cells").glob("*.json"))
    lost = next(p for p in kept if json.loads(p.read_text())["params"] == {"staff.idva": 4})
    lost.unlink()
    third = run_sweep(sweep, base=place, workers=0, out=out, runner=flaky_runner(log, 0))
    assert log == [1] and third.resumed == 2
    pd.testing.assert_frame_equal(third.table(), first.table(), check_exact=True)
    # other settings are other cells: nothing kept is reused
    log.clear()
    run_sweep(
        small_sweep(grid={"staff.idva": [3, 4, 5]}, replications=60),
        base=place,
        workers=0,
        out=out,
        runner=flaky_runner(log, 0),
    )
    assert log == [0, 1, 2]
