"""Every command's ``--json`` on the bundled examples, against golden files
(``tests/golden/*.json.gz``, made by ``tests/golden/capture.sh``): captured before the service
moved into the store, and since changed only deliberately, file by file, with the keys that
changed checked by a diff (issue #10: the measures gained the waiting list's age bands, then the
bundled example's step targets met/missed/pending and caseloads per FTE by day; the
simulation's headline waits count work still waiting; the relief capacity is per working day;
forecast intervals no longer depend on the horizon; holiday effects say how many events;
plan gives the FTE that are enough, fte_now and fte_needed; simulate gives each option's
step contact targets (P(met), days over target) and its waiting list at the horizon, keys
added with every other number unchanged).

Each command runs twice: on the folder (its SQLite store), and with ``--service NAME`` on a
store holding the imported service and no folder at all (PostgreSQL where the test run has a
server, as ``.ci/run`` does). Both must give the golden document exactly: opening a service
from a folder or from the store is the same history.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import _postgres_database
from flowcap.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).with_name("golden")
#: The key the golden files were made with (pseudonyms decide some orders).
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
runner = CliRunner()

VS, LOG, ANCHOR = "victim-support", "victim-support-log", "anchor-lindley"
NAMES = {
    VS: "Northshire Victim Support Hub",
    LOG: "Northshire Victim Support Hub (event log)",
    ANCHOR: "Anchor model (daily Lindley recursion)",
}
#: golden file -> (example, command, options): as tests/golden/capture.sh runs them.
COMMANDS = {
    "measures": (VS, "measures", []),
    "measures-range": (VS, "measures", ["--from", "2025-06-01", "--to", "2025-06-30"]),
    "variation": (VS, "variation", []),
    "forecast": (VS, "forecast", ["--horizon", "28"]),
    "risk": (VS, "risk", ["--horizon", "28"]),
    "simulate": (VS, "simulate", ["--replications", "500", "--horizon", "60"]),
    "simulate-opt": (
        VS,
        "simulate",
        ["--replications", "300", "--horizon", "60", "--optimise"],
    ),
    "plan": (VS, "plan", ["--replications", "300", "--horizon", "60"]),
    "measures-log": (LOG, "measures", []),
    "processmap-log": (LOG, "processmap", []),
    "des": (VS, "des", ["--hours", "500", "--replications", "3"]),
    "calibrate-log": (LOG, "calibrate", ["--replications", "2"]),
    # The anchor has no history, so it starts today unless told: pinned, as the golden is.
    "simulate-anchor": (
        ANCHOR,
        "simulate",
        ["--replications", "2000", "--horizon", "100", "--start", "2026-12-02"],
    ),
    "plan-anchor": (
        ANCHOR,
        "plan",
        ["--replications", "500", "--horizon", "100", "--start", "2026-12-02"],
    ),
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    """Copies of the bundled examples, without any store."""
    root = tmp_path_factory.mktemp("golden")
    for name in NAMES:
        shutil.copytree(
            ROOT / "examples" / name, root / name, ignore=shutil.ignore_patterns(".flowcap")
        )
    return root


def golden(name: str):
    with gzip.open(GOLDEN / f"{name}.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)


def run_json(args: list[str]):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", COMMANDS)
def test_on_the_folder(name, examples, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    example, command, options = COMMANDS[name]
    assert run_json([command, str(examples / example), *options]) == golden(name)


@pytest.fixture(scope="module")
def stored(examples, tmp_path_factory):
    """A store with the three examples imported (PostgreSQL when the run has a server, else an
    SQLite file), and no folder: the copies are deleted after the import."""
    import os

    patch = pytest.MonkeyPatch()
    patch.setenv("FLOWCAP_KEY", KEY)
    admin = None
    if os.environ.get("FLOWCAP_TEST_POSTGRES_URL") or os.environ.get("CI") == "true":
        admin, database, url = _postgres_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'flowcap.db'}"
    patch.setenv("FLOWCAP_DATABASE_URL", url)
    moved = tmp_path_factory.mktemp("imported")
    for example in NAMES:
        folder = moved / example
        shutil.copytree(examples / example, folder, ignore=shutil.ignore_patterns(".flowcap"))
        result = runner.invoke(app, ["import", str(folder)])
        assert result.exit_code == 0, result.output
        shutil.rmtree(folder)
    yield url
    patch.undo()
    if admin is not None:
        from sqlalchemy import text

        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("name", COMMANDS)
def test_with_service_name_and_no_folder(name, stored, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", stored)
    example, command, options = COMMANDS[name]
    assert run_json([command, "--service", NAMES[example], *options]) == golden(name)


def test_the_store_lists_what_it_holds(stored, monkeypatch):
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", stored)
    document = run_json(["services"])
    listing = {entry["name"]: entry for entry in document["services"]}
    assert set(listing) == set(NAMES.values())
    hub = listing[NAMES[VS]]
    assert hub["settings"] == {"scenarios": 1, "school_holidays": 1, "service": 1}
    assert hub["referrals"] == 6165 and hub["events"] == 0
    assert listing[NAMES[LOG]]["events"] == 3416  # the log's events, kept with its referrals
    assert listing[NAMES[ANCHOR]]["referrals"] == 0
