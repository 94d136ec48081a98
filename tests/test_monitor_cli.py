"""flowcap monitor on the command line: a stored service by name, then --all, each alert once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from flowcap.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
NAME = "Northshire Victim Support Hub"


def test_monitor_a_stored_service_then_all_finds_nothing_new_the_second_time(tmp_path, monkeypatch):
    folder = tmp_path / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(folder)]).exit_code == 0

    first = runner.invoke(app, ["monitor", "--service", NAME, "--json", "--notify"])
    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    assert document["data_end"] == "2025-12-31"
    kinds = {alert["kind"] for alert in document["new"]}
    assert kinds == {"spc", "risk", "backlog", "first_contact"}
    assert document["deliveries"] == []  # the example sends nothing
    assert all("VS-20" not in alert["message"] for alert in document["new"])

    again = runner.invoke(app, ["monitor", "--all", "--json"])
    assert again.exit_code == 0, again.output
    (service,) = json.loads(again.stdout)
    assert service["service"] == NAME and service["new"] == [] and service["error"] is None

    table = runner.invoke(app, ["monitor", "--service", NAME])
    assert table.exit_code == 0
    assert f"No new alerts for {NAME}, data to Wed 31 Dec 2025." in table.stdout


def test_monitor_refuses_a_folder_with_all(tmp_path):
    result = CliRunner().invoke(app, ["monitor", str(tmp_path), "--all"])
    assert result.exit_code == 1
    assert "--all takes no folder" in result.output


def test_monitor_refuses_a_bad_day(tmp_path):
    result = CliRunner().invoke(app, ["monitor", str(EXAMPLE), "--day", "31/12/2025"])
    assert result.exit_code == 1
    assert "--day '31/12/2025' is not a date" in result.output
