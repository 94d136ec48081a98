"""The CLI's ``--json`` documents against the models of :mod:`flowcap.documents` (the models
the API declares): the real output of each command on the bundled example, and the golden
files (which ``tests/test_golden.py`` holds equal to the commands' output), validated with
``extra="forbid"``, so that a key added to one side and not the other fails here.

The API's answers are checked against the same models in ``tests/test_web_documents.py``.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError
from typer.testing import CliRunner

from flowcap import documents
from flowcap.cli.main import app
from flowcap.errors import InputError
from flowcap.errors import Problem as LibraryProblem
from flowcap.manage import validate_folder
from flowcap.measures.daily import BAND_COLUMNS, MEASURE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
EXAMPLE = ROOT / "examples" / "victim-support"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
runner = CliRunner()

MEASURES = TypeAdapter(list[documents.MeasuresDay])
PLAN = TypeAdapter(list[documents.PlanRecord])


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("documents") / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    return folder


def run_json(args: list[str]):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def golden(name: str):
    with gzip.open(GOLDEN / f"{name}.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)


# --- measures ---------------------------------------------------------------------------------


def test_measures_json_is_a_list_of_measures_days(example, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    document = run_json(["measures", str(example), "--from", "2025-06-01", "--to", "2025-06-30"])
    days = MEASURES.validate_python(document)
    assert len(days) == 30 * 3  # three resources, every calendar day of June
    # the example has step targets and caseloads: their keys are there, on every row
    assert all("step_targets_met" in row and "open_cases_per_fte" in row for row in document)
    # the model round-trips the document exactly (no key dropped, none renamed)
    again = json.loads(MEASURES.dump_json(days, exclude_unset=True))
    assert again == document


@pytest.mark.parametrize("name", ["measures", "measures-range", "measures-log"])
def test_the_golden_measures_validate(name):
    document = golden(name)
    assert len(MEASURES.validate_python(document)) == len(document) > 0  # raises on a drift


def test_the_measures_model_names_the_librarys_columns():
    fields = list(documents.MeasuresDay.model_fields)
    assert fields[: len(MEASURE_COLUMNS) + len(BAND_COLUMNS)] == [*MEASURE_COLUMNS, *BAND_COLUMNS]


def test_a_key_the_model_does_not_name_fails():
    row = golden("measures-range")[0]
    with pytest.raises(ValidationError, match="extra_forbidden"):
        documents.MeasuresDay.model_validate({**row, "backlog_hours": 1.0})
    with pytest.raises(ValidationError, match="missing"):
        documents.MeasuresDay.model_validate({k: v for k, v in row.items() if k != "date"})


# --- simulate and plan ------------------------------------------------------------------------


def test_simulate_json_is_a_simulation_document(example, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    document = run_json(["simulate", str(example), "--horizon", "20", "--replications", "50"])
    simulated = documents.SimulationDocument.model_validate(document)
    assert list(simulated.scenarios)[0] == "baseline"
    assert len(simulated.ranking) == len(simulated.scenarios) - 1 >= 3
    assert simulated.cheapest_combination is None
    assert all(row.step_targets for row in simulated.ranking)  # the example's step target
    again = json.loads(simulated.model_dump_json(exclude_unset=True))
    assert again == document


@pytest.mark.parametrize("name", ["simulate", "simulate-opt", "simulate-anchor"])
def test_the_golden_simulations_validate(name):
    simulated = documents.SimulationDocument.model_validate(golden(name))
    assert (simulated.cheapest_combination is not None) == (name == "simulate-opt")


def test_plan_json_is_a_list_of_plan_records(example, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    document = run_json(["plan", str(example), "--horizon", "20", "--replications", "30"])
    records = PLAN.validate_python(document)
    assert [r.resource for r in records] == ["triage", "idva", "caseworker"]
    assert json.loads(PLAN.dump_json(records)) == document


@pytest.mark.parametrize("name", ["plan", "plan-anchor"])
def test_the_golden_plans_validate(name):
    document = golden(name)
    assert len(PLAN.validate_python(document)) == len(document) > 0  # raises on a drift


def test_a_job_status_takes_either_result():
    base = {
        "id": 1,
        "service": "s",
        "kind": "plan",
        "options": {},
        "status": "done",
        "progress": 1.0,
        "message": "",
        "notes": [],
        "error": None,
        "created_by": "a@b.test",
        "created_at": "2026-01-01T00:00:00+00:00",
        "started_at": None,
        "finished_at": None,
    }
    plan = documents.JobStatus.model_validate({**base, "result": golden("plan")})
    assert isinstance(plan.result, list) and plan.result[0].resource == "triage"
    simulated = documents.JobStatus.model_validate(
        {**base, "kind": "simulate", "result": golden("simulate")}
    )
    assert isinstance(simulated.result, documents.SimulationDocument)
    with pytest.raises(ValidationError):
        documents.JobStatus.model_validate({**base, "result": {"scenarios": {}}})


# --- services ---------------------------------------------------------------------------------


def test_services_json_is_a_services_document(example, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    imported = runner.invoke(app, ["import", str(example)])
    assert imported.exit_code == 0, imported.output
    listing = documents.ServicesDocument.model_validate(run_json(["services"]))
    [service] = listing.services
    assert service.name == "Northshire Victim Support Hub"
    referrals = sum(1 for _ in (example / "referrals.csv").open()) - 1
    assert service.referrals == referrals
    assert service.settings["service"] == 1


# --- validate: problems by file, row and column -----------------------------------------------


def test_a_problem_is_the_librarys_problem():
    fields = set(documents.Problem.model_fields)
    assert fields == {"file", "row", "column", "message"}
    assert fields == set(LibraryProblem.__dataclass_fields__)


def test_validate_problems_fit_the_model(example, tmp_path, monkeypatch):
    """A broken copy of the example: the problems ``flowcap validate`` prints, as the
    document the API sends (:func:`flowcap.documents.problems_document`)."""
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    broken = tmp_path / "broken"
    shutil.copytree(example, broken, ignore=shutil.ignore_patterns(".flowcap"))
    lines = (broken / "referrals.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[3].split(",")
    row[header.index("referral_date")] = "not a date"
    lines[3] = ",".join(row)
    (broken / "referrals.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as raised:
        validate_folder(broken)
    document = documents.problems_document(raised.value)
    problems = documents.Problems.model_validate(document).problems
    found = [p for p in problems if p.file == "referrals.csv" and p.column == "referral_date"]
    assert found and found[0].row == 4  # the header is row 1: the fourth line
    printed = runner.invoke(app, ["validate", str(broken)])
    assert printed.exit_code != 0
    assert str(raised.value.problems[0]) in " ".join(printed.output.split())
