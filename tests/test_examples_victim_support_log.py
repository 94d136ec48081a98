"""The bundled example whose history is an event log (flowcap.examples.victim_support_log):
reproducible from its seed, a valid service folder, and the story holds."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from flowcap.cli.main import app
from flowcap.examples import generate_victim_support_log
from flowcap.examples.victim_support_log import FILES
from flowcap.io import read_service_folder

runner = CliRunner()
ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "victim-support-log"


def test_example_regenerates_byte_for_byte_and_is_small(tmp_path):
    generate_victim_support_log(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (EXAMPLE / name).read_bytes(), name
        assert (EXAMPLE / name).stat().st_size < 300_000, name
    assert "event_log" in (EXAMPLE / "README.md").read_text()
    assert not (EXAMPLE / "referrals.csv").exists() and not (EXAMPLE / "sessions.csv").exists()


def test_example_is_a_service_and_its_idva_backlog_builds_while_one_is_away(tmp_path):
    folder = shutil.copytree(EXAMPLE, tmp_path / "example", ignore=shutil.ignore_patterns(".*"))
    checked = read_service_folder(folder)
    with (folder / "events.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    mapped = {"Triage call", "Risk assessment", "IDVA contact", "Needs assessment"}
    mapped.add("Follow-up call")
    complete = [r for r in rows if r["Event"] in mapped and r["Status"] == "complete"]
    assert len(checked.referrals) == len({r["Case Ref"] for r in rows}) == 740
    assert len(checked.sessions) == len(complete)
    assert len(checked.notes) == 2
    result = runner.invoke(app, ["measures", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    table = pd.DataFrame(json.loads(result.stdout))
    idva = table[table["resource"] == "idva"].set_index("date")["backlog_minutes"]
    assert idva["2024-03-04":"2024-03-22"].mean() < 300
    assert idva["2024-04-15":"2024-04-19"].mean() > 3 * idva["2024-03-04":"2024-03-22"].mean()
    assert idva["2024-05-13":"2024-05-31"].mean() < 300
    result = runner.invoke(app, ["processmap", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["activities"]) == 7
    # A risk assessment's start and complete are one visit, not a hand-off to itself.
    starts = sum(r["Status"] == "start" for r in rows)
    assert document["left_out_events"] == {"start": starts} and starts > 100
    assert sum(a["events"] for a in document["activities"]) == len(rows) - starts
    assert {(e["from"], e["to"]) for e in document["rework"]} == {("IDVA contact", "IDVA contact")}
    risk = [e for e in document["edges"] if e["to"] == "Risk assessment"]
    assert risk and all(e["from"] != "Risk assessment" for e in risk)
